"""Installs TensorFlow and scikit-learn for the Python that runs QGIS, without touching QGIS's own packages.

pip runs with ``--target`` into a folder of the user's QGIS profile, so nothing outside it changes and
uninstalling is deleting one folder (``remove``, or Plugins > Fast 3D CNN > Remove installed dependencies).
A constraints file pins the packages QGIS's bindings are built against (numpy first: GDAL's array bindings
are built against the installed numpy) and those QGIS and other plugins import (certifi, requests, urllib3,
six, packaging) to the version installed, so pip must choose a TensorFlow that works with them and never
brings another copy of any of them. (Pinning every package QGIS's Python has is too much: Debian 12's scipy
tool chain brings gast 0.5.2, which TensorFlow excludes, and the install would be impossible.)
TensorFlow is asked for as a range, not one version: on QGIS builds with an older numpy (Debian 12: numpy
1.24) pip then picks the newest TensorFlow whose own requirements admit it (2.17 there, since TensorFlow
2.18 needs numpy 1.26). ``--target`` resolves as if nothing were installed, so it also writes copies of the
pinned packages (same version); they are deleted after the install. The folder is put *after* QGIS's own
paths on ``sys.path``, so QGIS's packages, and other plugins' view of them, stay exactly as they were: the
folder only adds what QGIS lacks.

Everything here is plain Python (no QGIS, no Qt): the plugin's dialog runs ``pip_command`` with a QProcess,
and ``python -m fast3dcnn_qgis.setup.installer`` does the same from a terminal.
"""
import argparse
import importlib
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys

#: The folder, under the QGIS profile, that holds the installed packages.
FOLDER = os.path.join("python", "fast3dcnn_deps")

#: Packages that QGIS or its Python bindings are built against: pinned to QGIS's versions by the
#: installer and the development environment (``make setup``) alike.
BOUND = ("numpy", "GDAL", "PyQt5", "PyQt5-sip", "PyQt6", "shapely", "pyproj", "h5py", "scipy", "matplotlib", "setuptools")
#: Pure-Python packages that QGIS and other plugins import and TensorFlow's dependencies would bring again:
#: pinned too. Kept short: Debian patches some without their metadata (its requests 2.28 declares
#: charset-normalizer < 3 and ships 3.0), and each pin more is a chance of an impossible install.
SHARED = ("certifi", "requests", "urllib3", "idna", "six", "packaging")
#: Versions pip can read in a constraints file (PEP 440); one of another scheme is left out, not pinned.
_PEP440 = re.compile(r"^\d+(\.\d+)*((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?(\+[A-Za-z0-9.]+)?$")

#: TensorFlow releases with Keras 3 (2.16 is the first); pip picks the newest QGIS's numpy admits.
TENSORFLOW = ">=2.16,<=2.21.0"
#: 1.3 is the first with numpy 2 support upstream tested here; below 1.10 the API the core uses is unchanged.
SCIKIT_LEARN = "scikit-learn>=1.3,<1.10"

#: The first Python with no TensorFlow release in TENSORFLOW's range: from it on, Keras runs on JAX (the
#: core speaks only Keras 3, and jax and jaxlib publish wheels for new Pythons first).
NO_TENSORFLOW_FROM = (3, 14)
KERAS = "keras>=3.8,<4"
JAX = "jax[cpu]>=0.4.36"
#: Classifying on a Dask cluster (fast3dcnn:classify's SCHEDULER, fast3dcnn_qgis.cluster).
DASK = "dask[distributed]>=2024.1"

#: Modules whose import before an install means the new packages need a restart of QGIS.
STICKY = ("tensorflow", "keras", "sklearn")


class InstallerError(RuntimeError):
    """The installer cannot run here; the message says why and what to do instead."""


def private_folder(settings_dir):
    """The plugin-private package folder of the QGIS profile at ``settings_dir``."""
    return os.path.join(settings_dir, FOLDER)


def tensorflow_package(platform=sys.platform):
    """``tensorflow-cpu`` (a third of the download); macOS has only ``tensorflow``, CPU-only there anyway."""
    return "tensorflow" if platform == "darwin" else "tensorflow-cpu"


def keras_backend(version=sys.version_info[:2]):
    """The Keras backend installed for this Python: "tensorflow", or "jax" where TensorFlow has no release."""
    return "jax" if tuple(version) >= NO_TENSORFLOW_FROM else "tensorflow"


def backend_note(version=sys.version_info[:2]):
    """One sentence for the user when Keras will not run on TensorFlow here, else ''."""
    if keras_backend(version) == "tensorflow":
        return ""
    return (f"TensorFlow has no release for Python {version[0]}.{version[1]} yet, so Keras runs on JAX (CPU) "
            f"instead: models are the same files and classify identically with either.")


def failure_hint(pip_output, version=sys.version_info[:2], packages=None):
    """What a failed pip run means for the user and what to do, from pip's output."""
    packages = packages or requirements(version=version)
    if "No module named pip" in pip_output:
        return "This Python has no pip: on Debian/Ubuntu install it with 'sudo apt install python3-pip'."
    if "No matching distribution found" in pip_output or "Could not find a version" in pip_output:
        return (f"No release of {', '.join(p.split('>')[0].split('[')[0] for p in packages)} fits this QGIS's "
                f"Python {version[0]}.{version[1]} with the packages QGIS has (its numpy stays as it is): "
                f"Python {version[0]}.{version[1]} is not supported by them yet. Use a QGIS built on Python 3.10 "
                f"to 3.13 (TensorFlow) or update this plugin, which falls back to JAX where TensorFlow is missing.")
    return "pip's output above says why."


def requirements(platform=sys.platform, gpu=False, version=sys.version_info[:2]):
    """What pip is asked to install; ``gpu``: TensorFlow's CUDA build (Linux only), with CUDA from pip."""
    if gpu and platform != "linux":
        raise InstallerError("TensorFlow's GPU build installs this way on Linux only: on Windows use QGIS in "
                             "WSL2, on macOS add tensorflow-metal (see the README, 'A GPU').")
    if keras_backend(version) == "jax":
        if gpu:
            raise InstallerError(backend_note(version) + " The GPU option needs TensorFlow: install without it.")
        return [KERAS, JAX, SCIKIT_LEARN, DASK]
    return [("tensorflow[and-cuda]" if gpu else tensorflow_package(platform)) + TENSORFLOW, SCIKIT_LEARN, DASK]


def python_candidates(prefixes, platform=sys.platform, version=sys.version_info[:2]):
    """Where the Python interpreter of an installation with these ``sys.prefix``-like folders lies.

    Inside QGIS ``sys.executable`` is the QGIS binary, so the interpreter is found from the prefixes:
    Linux ``<prefix>/bin/python3`` (``/usr/bin/python3`` for distribution packages); Windows OSGeo4W
    ``<prefix>`` is ``<osgeo4w>/apps/Python3x`` with ``python.exe`` in it and ``python3.exe`` in
    ``<osgeo4w>/bin``; the macOS QGIS.app has ``Contents/MacOS/bin/python3``.
    """
    major, minor = version
    names = [f"python{major}.{minor}", f"python{major}", "python"]
    candidates = []
    for prefix in prefixes:
        if not prefix:
            continue
        if platform == "win32":
            candidates += [os.path.join(prefix, "python.exe"), os.path.join(prefix, "python3.exe"),
                           os.path.join(prefix, os.pardir, os.pardir, "bin", "python3.exe"),
                           os.path.join(prefix, os.pardir, os.pardir, "bin", "python.exe")]
            continue
        candidates += [os.path.join(prefix, "bin", name) for name in names]
        if platform == "darwin" and ".app" + os.sep + "Contents" in prefix:
            contents = prefix[:prefix.index(".app" + os.sep + "Contents") + len(".app/Contents")]
            candidates += [os.path.join(contents, "MacOS", "bin", name) for name in names]
    return [os.path.normpath(candidate) for candidate in candidates]


def find_python(prefixes=None, platform=sys.platform, version=sys.version_info[:2]):
    """The first existing interpreter of ``python_candidates``; ``prefixes`` default to this process's."""
    if prefixes is None:
        prefixes = [sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix]
    for candidate in python_candidates(prefixes, platform, version):
        if os.path.isfile(candidate):
            return candidate
    raise InstallerError(
        "Could not find the Python interpreter of this QGIS (looked in: " + ", ".join(dict.fromkeys(
            os.path.dirname(c) for c in python_candidates(prefixes, platform, version))) +
        "). Install the packages from a terminal instead; see the plugin's README, 'Installing in QGIS'.")


def installed_versions(names=BOUND, path=None):
    """``{name: version}`` of those ``names`` installed on ``path`` (default ``sys.path``); where a
    name is installed twice, the copy found first, as imports would."""
    wanted = {_normalised(name): name for name in names}
    found = {}
    for distribution in importlib.metadata.distributions(path=path if path else sys.path):
        name = wanted.get(_normalised(distribution.metadata["Name"] or ""))
        if name and _PEP440.match(distribution.version or ""):
            found.setdefault(name, distribution.version)
    return found


def constraints_text(versions):
    """A pip constraints file pinning each ``{name: version}`` exactly."""
    return "".join(f"{name}=={version}\n" for name, version in sorted(versions.items(), key=lambda i: i[0].lower()))


def pip_command(python, target, constraints_file, platform=sys.platform, gpu=False, version=sys.version_info[:2]):
    """The argument list that installs the requirements of Python ``version`` into ``target`` under
    ``constraints_file``."""
    return [python, "-m", "pip", "install", "--upgrade", "--no-input", "--disable-pip-version-check",
            "--target", target, "--constraint", constraints_file, *requirements(platform, gpu, version)]


def prepare(target, python=None, path=None, gpu=False):
    """Creates ``target``'s parent, writes the constraints next to it and returns (command, pinned versions).

    ``path``: where QGIS's packages are looked up (default ``sys.path`` less ``target``, so copies
    from an earlier install are never mistaken for QGIS's)."""
    os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
    if path is None:
        path = [p for p in sys.path if os.path.abspath(p or ".") != os.path.abspath(target)]
    versions = installed_versions(BOUND + SHARED, path)
    constraints_file = write_constraints(os.path.abspath(target) + "-constraints.txt", versions)
    return pip_command(python or find_python(), target, constraints_file, gpu=gpu), versions


def write_constraints(path, versions):
    """Writes the pip constraints file that keeps ``versions`` (QGIS's packages) as they are; returns ``path``.
    The development environment (``make setup``) installs under the same file."""
    with open(path, "w", encoding="utf-8") as stream:
        stream.write("# Packages this QGIS already has: pip must never replace them.\n")
        stream.write(constraints_text(versions))
    return path


def _normalised(name):
    return re.sub(r"[-_.]+", "_", name).lower()


def remove_copies(target, versions):
    """Deletes from ``target`` the packages of ``versions`` (names QGIS already has): ``--target``
    installs copies of them, and QGIS's own must be the ones imported. Returns the names removed."""
    if not os.path.isdir(target):
        return []
    wanted = {_normalised(name) for name in versions}
    removed = []
    for entry in sorted(os.listdir(target)):
        if not entry.endswith(".dist-info") or _normalised(entry[:-10].rsplit("-", 1)[0]) not in wanted:
            continue
        info = os.path.join(target, entry)
        with open(os.path.join(info, "RECORD"), encoding="utf-8") as stream:
            files = [line.split(",")[0] for line in stream if line.strip()]
        for relative in files:
            path = os.path.normpath(os.path.join(target, relative))
            if relative.startswith("../../bin/"):  # scripts: pip moves its scheme's bin/ into target
                path = os.path.join(target, "bin", relative[len("../../bin/"):])
            if path.startswith(os.path.abspath(target) + os.sep) and os.path.isfile(path):
                os.remove(path)
        for relative in sorted({f.split("/")[0] for f in files}):
            top = os.path.join(target, relative)
            if os.path.isdir(top) and not any(files for _, _, files in os.walk(top)):
                shutil.rmtree(top)
        shutil.rmtree(info, ignore_errors=True)
        removed.append(entry[:-10].rsplit("-", 1)[0])
    return removed


def activate(target):
    """Puts ``target`` at the end of ``sys.path``, after QGIS's own paths, so it only adds what QGIS
    lacks and never shadows QGIS's packages, and makes new packages importable now. Returns whether
    the running Python can use them without a restart: not when any of the heavy modules was already
    imported (a failed import of TensorFlow leaves its libraries loaded)."""
    if os.path.isdir(target) and target not in sys.path:
        sys.path.append(target)
    importlib.invalidate_caches()
    return not any(module in sys.modules for module in STICKY)


def remove(target):
    """Deletes the installed packages (``target``) and its constraints file; returns whether there
    was anything to delete. QGIS keeps what it imported until it restarts."""
    found = False
    if os.path.isdir(target):
        shutil.rmtree(target)
        found = True
    if os.path.exists(target + "-constraints.txt"):
        os.remove(target + "-constraints.txt")
        found = True
    if target in sys.path:
        sys.path.remove(target)
    return found


def default_target():
    """The package folder beside the plugins folder of the profile this plugin is installed in."""
    plugins = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # ../setup/installer.py
    return os.path.join(os.path.dirname(plugins), os.path.basename(FOLDER))


def main(argv=None):
    """Command-line install, for QGIS's Python: ``python3 -m fast3dcnn_qgis.setup.installer [--target DIR]``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--target", default=default_target(),
                        help="package folder (default: fast3dcnn_deps beside the profile's plugins folder)")
    parser.add_argument("--python", default=sys.executable, help="the Python that runs QGIS (default: this one)")
    parser.add_argument("--gpu", action="store_true",
                        help="TensorFlow's CUDA build instead of the CPU one (Linux, NVIDIA driver needed)")
    parser.add_argument("--constraints", metavar="FILE",
                        help="only write the constraints of this Python's QGIS packages to FILE, install nothing")
    parser.add_argument("--remove", action="store_true", help="delete the installed packages instead")
    arguments = parser.parse_args(argv)
    if arguments.remove:
        print(("Removed " if remove(arguments.target) else "Nothing installed in ") + arguments.target)
        return 0
    if arguments.constraints:
        versions = installed_versions()
        write_constraints(arguments.constraints, versions)
        print(constraints_text(versions), end="")
        return 0
    command, versions = prepare(arguments.target, arguments.python, gpu=arguments.gpu)
    if arguments.gpu:  # both builds own the folder tensorflow/: the CPU build's files go first
        remove_copies(arguments.target, {"tensorflow-cpu": ""})
    if backend_note():
        print(backend_note())
    print("Keeping QGIS's packages:", ", ".join(f"{n} {v}" for n, v in sorted(versions.items())) or "none")
    print(" ".join(command), flush=True)
    output = []
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as pip:
        for line in pip.stdout:  # shown as it comes, kept to explain a failure
            print(line, end="", flush=True)
            output.append(line)
    if pip.returncode != 0:
        print(failure_hint("".join(output)))
        return pip.returncode
    print("Removed copies of QGIS's packages:", ", ".join(remove_copies(arguments.target, versions)) or "none")
    return 0


if __name__ == "__main__":
    sys.exit(main())
