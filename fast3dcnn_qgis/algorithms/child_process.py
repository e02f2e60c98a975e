"""Native code that must not run inside QGIS's own process runs in a child Python instead.

scikit-learn's libsvm and liblinear crash QGIS 3.44 on Python 3.14 (Debian unstable) with a
segmentation fault when called inside the QGIS process (``qgis_process`` and the desktop alike),
although the same calls run in a plain Python that has imported QGIS: a library QGIS loads clashes
with them. A crash there would take QGIS down with the user's unsaved project, so the SVM baseline
runs in a child interpreter (QGIS's own Python, with this process's ``sys.path``), whatever the
QGIS version. The function, its arguments and its result travel as pickles in a private temporary
folder; the child is this module run with ``-m`` in that folder, so that it imports this very plugin
(``-m`` puts the working folder first on ``sys.path``, where another copy may lie).
"""
import importlib
import os
import pickle
import subprocess
import sys
import tempfile

from ..setup.installer import find_python


class ChildError(RuntimeError):
    """The child process failed or crashed; the message holds its exit status and last output."""


def run_in_child(function, *arguments):
    """``function(*arguments)`` computed in a child Python process; ``function`` must be importable
    by its module and name, the arguments and result picklable."""
    with tempfile.TemporaryDirectory(prefix="f3dcnn-child-") as folder:
        call, result = os.path.join(folder, "call.pickle"), os.path.join(folder, "result.pickle")
        with open(call, "wb") as stream:
            pickle.dump((function.__module__, function.__qualname__, arguments), stream)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(path for path in sys.path if path))
        done = subprocess.run([find_python(), "-m", __spec__.name, call, result], env=env, capture_output=True,
                              text=True, cwd=folder)
        if done.returncode != 0 or not os.path.exists(result):
            raise ChildError(f"{function.__qualname__} failed in a child process (exit status {done.returncode}): "
                             f"{done.stderr.strip()[-1500:] or 'no message'}")
        with open(result, "rb") as stream:
            return pickle.load(stream)


def _child(call, result):
    with open(call, "rb") as stream:
        module, name, arguments = pickle.load(stream)
    value = getattr(importlib.import_module(module), name)(*arguments)
    with open(result + ".part", "wb") as stream:
        pickle.dump(value, stream)
    os.replace(result + ".part", result)


if __name__ == "__main__":
    _child(*sys.argv[1:3])
