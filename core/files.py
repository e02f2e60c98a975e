"""Writing a file so that nobody ever sees half of it: model files and reports alike.

The content goes to a fresh hidden name beside the destination (same file system, so the rename is
atomic), created with the user's usual permissions, and replaces the destination only when it is
complete; an error or a cancel removes it and leaves an older file untouched.
"""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any, Union

#: A file name as text or as a path object.
StrPath = Union[str, "os.PathLike[str]"]


@contextmanager
def written_atomically(path: StrPath, binary: bool = False) -> Iterator[IO[Any]]:
    """Yields a stream to write ``path``'s new content to; renamed to ``path`` when the block ends."""
    folder, name = os.path.split(os.path.abspath(path))
    temporary = os.path.join(folder, f".{name}.{uuid.uuid4().hex[:8]}.part")
    try:
        with open(temporary, "xb" if binary else "x", encoding=None if binary else "utf-8") as stream:
            yield stream
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
