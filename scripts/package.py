"""Builds dist/fast3dcnn_qgis-<version>.zip, the file the QGIS plugin repository and "Install from ZIP" take.

The zip holds one folder, fast3dcnn_qgis, exactly as QGIS installs it: the plugin code, core/,
resources/ and metadata.txt (reached through the checkout's committed links, which are followed)
and the licence. Tests, caches, hidden and temporary files stay out. Entries are sorted and dated
from the last commit, so the same sources give the same zip.

Usage: python3 scripts/package.py [--output DIR]   (standard library only: any Python 3 will do)
"""
import argparse
import configparser
import os
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


def plugin_files(source):
    """(path on disk, path in the zip) of every file to ship, links followed, in sorted order."""
    found = []
    for folder, dirs, files in os.walk(source, followlinks=True):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS and not d.startswith("."))
        for name in sorted(files):
            if name.startswith(".") or name.endswith(SKIPPED_SUFFIXES):
                continue
            path = os.path.join(folder, name)
            found.append((path, os.path.join(PLUGIN, os.path.relpath(path, source))))
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
    source = os.path.join(ROOT, PLUGIN)
    version = plugin_version(os.path.join(source, "metadata.txt"))
    files = plugin_files(source) + [(os.path.join(ROOT, "LICENSE"), f"{PLUGIN}/LICENSE")]
    for required in ("metadata.txt", "__init__.py", "LICENSE", "core/__init__.py"):
        if f"{PLUGIN}/{required}" not in {arcname for _, arcname in files}:
            sys.exit(f"package: {PLUGIN}/{required} is missing; the plugin would not load")
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=os.path.join(ROOT, "dist"), help="folder for the zip (default dist/)")
    target, count = build(parser.parse_args().output)
    print(f"{os.path.relpath(target)}: {count} files")


if __name__ == "__main__":
    main()
