"""Builds dist/fast3dcnn_qgis-<version>.zip, the file the QGIS plugin repository and "Install from ZIP" take.

The zip holds one folder, fast3dcnn_qgis, exactly as QGIS installs it: the plugin code, with the
checkout's top-level core/, resources/, metadata.txt and licence copied into it (the card keeps
them at the top; `pyproject.toml` maps core/ the same way for the editable install). Tests,
caches, hidden and temporary files stay out. Entries are sorted and dated from the last commit, so
the same sources give the same zip. ``--stage DIR`` writes the same folder into DIR instead, as
`make deploy` installs it into a QGIS profile and the tests run QGIS's own Python on it.

Usage: python3 scripts/package.py [--output DIR | --stage DIR]   (standard library only)
"""
import argparse
import configparser
import os
import shutil
import subprocess
import sys
import time
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLUGIN = "fast3dcnn_qgis"
SKIPPED_DIRS = {"__pycache__", "tests", "test"}
SKIPPED_SUFFIXES = (".pyc", ".pyo", ".part", ".tmp", ".orig", ".rej", "~")


def plugin_version(metadata_path):
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(metadata_path, encoding="utf-8")
    try:
        return parser["general"]["version"].strip()
    except KeyError:
        sys.exit(f"package: {metadata_path} has no 'version' in its [general] section")


#: Where each part of the installed plugin comes from in the checkout: (checkout path, plugin path).
LAYOUT = ((PLUGIN, ""), ("core", "core"), ("resources", "resources"), ("metadata.txt", "metadata.txt"),
          ("LICENSE", "LICENSE"))


def _tree(source, target):
    """(path on disk, path in the plugin) of every file to ship under the folder ``source``."""
    for folder, dirs, files in os.walk(source):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS and not d.startswith("."))
        for name in sorted(files):
            if not (name.startswith(".") or name.endswith(SKIPPED_SUFFIXES)):
                path = os.path.join(folder, name)
                yield path, os.path.join(target, os.path.relpath(path, source)).replace(os.sep, "/")


def plugin_files():
    """(path on disk, path in the zip) of every file to ship, sorted by path in the zip."""
    found = []
    for source, target in LAYOUT:
        source, target = os.path.join(ROOT, source), f"{PLUGIN}/{target}".rstrip("/")
        found += _tree(source, target) if os.path.isdir(source) else [(source, target)]
    found.sort(key=lambda pair: pair[1])
    for required in ("metadata.txt", "__init__.py", "LICENSE", "core/__init__.py"):
        if f"{PLUGIN}/{required}" not in {arcname for _, arcname in found}:
            sys.exit(f"package: {PLUGIN}/{required} is missing; the plugin would not load")
    return found


def commit_time():
    """The last commit's date as a zip timestamp (zip dates start in 1980)."""
    try:
        stamp = int(subprocess.run(["git", "log", "-1", "--format=%ct"], cwd=ROOT, capture_output=True,
                                   text=True, check=True).stdout.strip())
    except (OSError, subprocess.CalledProcessError, ValueError):
        stamp = int(time.time())
    return time.gmtime(max(stamp, 315532800))[:6]


def build(output_dir):
    version = plugin_version(os.path.join(ROOT, "metadata.txt"))
    files = plugin_files()
    os.makedirs(output_dir, exist_ok=True)
    target = os.path.join(output_dir, f"{PLUGIN}-{version}.zip")
    temporary = target + ".part"
    stamp = commit_time()
    with zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path, arcname in files:
            entry = zipfile.ZipInfo(arcname, stamp)
            entry.external_attr = 0o644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            with open(path, "rb") as stream:
                archive.writestr(entry, stream.read())
    os.replace(temporary, target)
    return target, len(files)


def stage(plugins_dir):
    """Writes the plugin folder into ``plugins_dir`` (a temporary folder renamed over any older copy)."""
    files = plugin_files()
    os.makedirs(plugins_dir, exist_ok=True)
    target = os.path.join(plugins_dir, PLUGIN)
    temporary = f"{target}.{os.getpid()}.part"
    shutil.rmtree(temporary, ignore_errors=True)
    for path, arcname in files:
        destination = os.path.join(temporary, os.path.relpath(arcname, PLUGIN))
        os.makedirs(os.path.dirname(destination), exist_ok=True)
        shutil.copyfile(path, destination)
    if os.path.islink(target) or os.path.isfile(target):  # the link an older `make deploy` made
        os.remove(target)
    elif os.path.isdir(target):
        shutil.rmtree(target)
    os.replace(temporary, target)
    return target, len(files)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--output", default=os.path.join(ROOT, "dist"), help="folder for the zip (default dist/)")
    where.add_argument("--stage", help="folder to write the plugin folder into instead of a zip")
    arguments = parser.parse_args()
    target, count = stage(arguments.stage) if arguments.stage else build(arguments.output)
    print(f"{os.path.relpath(target)}: {count} files")


if __name__ == "__main__":
    main()
