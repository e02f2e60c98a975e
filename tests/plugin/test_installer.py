"""The installer's pure parts: which Python it finds on each platform's QGIS layout, the pip command
and the constraints it writes, and the clean-up of the copies ``--target`` makes."""
import os
import shutil
import subprocess
import sys

import pytest

from fast3dcnn_qgis.setup import installer

# Part of the suite that `make test-debian-unstable` runs (pytest -m debian_unstable).
pytestmark = pytest.mark.debian_unstable

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def touch(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    open(path, "w").close()
    return str(path)


def test_linux_distribution_qgis_runs_usr_bin_python3(tmp_path):
    usr = tmp_path / "usr"
    python = touch(usr / "bin" / "python3")
    assert installer.find_python([str(usr)], "linux", (3, 11)) == python


def test_linux_prefers_the_exact_minor_version(tmp_path):
    usr = tmp_path / "usr"
    touch(usr / "bin" / "python3")
    exact = touch(usr / "bin" / "python3.11")
    assert installer.find_python([str(usr)], "linux", (3, 11)) == exact


def test_windows_osgeo4w_python_from_its_apps_folder_or_bin(tmp_path):
    osgeo4w = tmp_path / "OSGeo4W"
    prefix = osgeo4w / "apps" / "Python312"
    bin_python = touch(osgeo4w / "bin" / "python3.exe")
    assert installer.find_python([str(prefix)], "win32", (3, 12)) == bin_python
    apps_python = touch(prefix / "python.exe")
    assert installer.find_python([str(prefix)], "win32", (3, 12)) == apps_python


def test_macos_app_bundle_python(tmp_path):
    contents = tmp_path / "Applications" / "QGIS.app" / "Contents"
    python = touch(contents / "MacOS" / "bin" / "python3")
    for prefix in (contents / "MacOS", contents / "Frameworks" / "Python.framework" / "Versions" / "3.9"):
        assert installer.find_python([str(prefix)], "darwin", (3, 9)) == python


def test_no_interpreter_is_a_clear_error(tmp_path):
    with pytest.raises(installer.InstallerError, match="Install the packages from a terminal"):
        installer.find_python([str(tmp_path)], "linux", (3, 11))


def test_qgis_binary_as_sys_executable_is_never_chosen(tmp_path):
    usr = tmp_path / "usr"
    touch(usr / "bin" / "qgis")
    python = touch(usr / "bin" / "python3")
    assert installer.find_python([str(usr)], "linux", (3, 11)) == python


@pytest.mark.parametrize("platform, package", [("linux", "tensorflow-cpu"), ("win32", "tensorflow-cpu"),
                                               ("darwin", "tensorflow")])
def test_pip_command_targets_the_private_folder_under_constraints(tmp_path, platform, package):
    target = installer.private_folder(str(tmp_path / "profiles" / "default"))
    assert target == str(tmp_path / "profiles" / "default" / "python" / "fast3dcnn_deps")
    command = installer.pip_command("/q/python3", target, "/q/c.txt", platform, version=(3, 12))
    assert command[:4] == ["/q/python3", "-m", "pip", "install"]
    assert command[command.index("--target") + 1] == target
    assert command[command.index("--constraint") + 1] == "/q/c.txt"
    assert package + ">=2.16,<=2.21.0" in command
    assert "scikit-learn>=1.3,<1.10" in command
    assert not any(argument.startswith("numpy") for argument in command)


def test_gpu_build_on_linux_only():
    command = installer.pip_command("/q/python3", "/t", "/q/c.txt", "linux", gpu=True, version=(3, 12))
    assert "tensorflow[and-cuda]>=2.16,<=2.21.0" in command
    assert not any(argument.startswith("tensorflow-cpu") for argument in command)
    for platform in ("win32", "darwin"):
        with pytest.raises(installer.InstallerError, match="WSL2"):
            installer.pip_command("/q/python3", "/t", "/q/c.txt", platform, gpu=True, version=(3, 12))
    with pytest.raises(installer.InstallerError, match="no release for Python 3.14.*install without it"):
        installer.pip_command("/q/python3", "/t", "/q/c.txt", "linux", gpu=True, version=(3, 14))


def test_python_without_tensorflow_gets_keras_on_jax():
    command = installer.pip_command("/q/python3", "/t", "/q/c.txt", "linux", version=(3, 14))
    assert command[-4:] == ["keras>=3.8,<4", "jax[cpu]>=0.4.36", "scikit-learn>=1.3,<1.10", "dask[distributed]>=2024.1"]
    assert "Python 3.14" in installer.backend_note((3, 14)) and installer.backend_note((3, 13)) == ""


def test_constraints_pin_what_qgis_builds_on_and_imports_to_its_installed_version(tmp_path):
    """The versions are read from the folders given, as QGIS's Python would see them: its compiled
    packages and the pure-Python ones QGIS and plugins import, so the install brings no other copy of
    any. A package only TensorFlow cares about (gast) is not pinned; a version pip cannot read is left out."""
    site = tmp_path / "site"
    for name, version in (("numpy", "1.24.2"), ("GDAL", "3.6.2"), ("PyQt5", "5.15.9"), ("requests", "2.28.1"),
                          ("matplotlib", "3.10.1+dfsg1"), ("six", "2.0~beta"), ("gast", "0.5.2")):
        (site / f"{name}-{version}.dist-info").mkdir(parents=True)
        (site / f"{name}-{version}.dist-info" / "METADATA").write_text(f"Name: {name}\nVersion: {version}\n")
    target = tmp_path / "profile" / "python" / "fast3dcnn_deps"
    command, versions = installer.prepare(str(target), "/q/python3", path=[str(site)])
    assert versions == {"numpy": "1.24.2", "GDAL": "3.6.2", "PyQt5": "5.15.9", "requests": "2.28.1",
                        "matplotlib": "3.10.1+dfsg1"}
    constraints = command[command.index("--constraint") + 1]
    with open(constraints) as stream:
        pins = [line.strip() for line in stream if not line.startswith("#")]
    assert pins == ["GDAL==3.6.2", "matplotlib==3.10.1+dfsg1", "numpy==1.24.2", "PyQt5==5.15.9",
                    "requests==2.28.1"]
    assert not target.exists()
    assert installer.installed_versions(path=[str(site)]) == {"numpy": "1.24.2", "GDAL": "3.6.2", "PyQt5": "5.15.9",
                                                              "matplotlib": "3.10.1+dfsg1"}


def test_constraints_ignore_copies_in_the_private_folder(tmp_path):
    target = tmp_path / "fast3dcnn_deps"
    (target / "numpy-0.0.1.dist-info").mkdir(parents=True)
    (target / "numpy-0.0.1.dist-info" / "METADATA").write_text("Name: numpy\nVersion: 0.0.1\n")
    sys.path.insert(0, str(target))
    try:
        _, versions = installer.prepare(str(target), "/q/python3")
    finally:
        sys.path.remove(str(target))
    assert versions.get("numpy") != "0.0.1"


def test_remove_copies_deletes_only_the_pinned_packages(tmp_path):
    target = tmp_path / "deps"
    for name, files in (("numpy", ["numpy/__init__.py", "numpy/core/x.so", "../../bin/f2py"]),
                        ("keras", ["keras/__init__.py"])):
        info = target / f"{name}-1.0.dist-info"
        info.mkdir(parents=True)
        for relative in files[:2]:
            touch(target / relative)
        records = files + [f"{info.name}/RECORD"]
        (info / "RECORD").write_text("".join(f"{r},sha256=x,1\n" for r in records))
    script = touch(target / "bin" / "f2py")
    outside = touch(tmp_path / "bin" / "f2py")
    assert installer.remove_copies(str(target), {"numpy": "1.0"}) == ["numpy"]
    assert sorted(os.listdir(target)) == ["bin", "keras", "keras-1.0.dist-info"]
    assert not os.path.exists(script) and os.path.exists(outside)


def test_activate_puts_the_folder_last_and_says_when_a_restart_is_needed(tmp_path):
    """In a fresh interpreter the new folder is usable at once; once a heavy module is imported
    (here scikit-learn), a restart is needed."""
    target = tmp_path / "deps"
    (target / "f3dcnn_probe").mkdir(parents=True)
    (target / "f3dcnn_probe" / "__init__.py").write_text("")
    script = ("import sys; from fast3dcnn_qgis.setup import installer; "
              "print(installer.activate(sys.argv[1]), sys.path[-1] == sys.argv[1]); import f3dcnn_probe; "
              "import sklearn; print(installer.activate(sys.argv[1]), sys.path.count(sys.argv[1]))")
    done = subprocess.run([sys.executable, "-c", script, str(target)], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert done.stdout.split() == ["True", "True", "False", "1"], done.stderr


def test_the_folder_never_shadows_qgis_packages(tmp_path):
    """Copies of certifi, requests and numpy in the folder (what TensorFlow's dependencies bring) stay
    unused: QGIS's own are imported, while a package only the folder has is found there."""
    target = tmp_path / "deps"
    for name in ("certifi", "requests", "numpy", "f3dcnn_only_here"):
        (target / name).mkdir(parents=True)
        (target / name / "__init__.py").write_text("")
    script = ("import sys; from fast3dcnn_qgis.setup import installer; installer.activate(sys.argv[1]); "
              "import certifi, requests, numpy, f3dcnn_only_here; "
              "print([m.__file__.startswith(sys.argv[1]) for m in (certifi, requests, numpy, f3dcnn_only_here)])")
    done = subprocess.run([sys.executable, "-c", script, str(target)], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert done.stdout.strip() == "[False, False, False, True]", done.stdout + done.stderr


def test_remove_deletes_the_folder_and_its_constraints(tmp_path):
    target = tmp_path / "python" / "fast3dcnn_deps"
    touch(target / "keras" / "__init__.py")
    touch(str(target) + "-constraints.txt")
    done = subprocess.run([sys.executable, "-m", "fast3dcnn_qgis.setup.installer", "--target", str(target), "--remove"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0 and done.stdout.startswith("Removed "), done.stderr
    assert os.listdir(tmp_path / "python") == []
    assert installer.remove(str(target)) is False


def test_the_terminal_install_defaults_to_the_folder_the_plugin_uses(tmp_path, plugin_root):
    """``python3 -m fast3dcnn_qgis.setup.installer`` run from an installed plugin fills the profile's
    own package folder, the one ``private_folder`` gives the plugin."""
    profile = tmp_path / "profiles" / "default"
    shutil.copytree(os.path.join(plugin_root, "fast3dcnn_qgis"), profile / "python" / "plugins" / "fast3dcnn_qgis")
    done = subprocess.run([sys.executable, "-c", "from fast3dcnn_qgis.setup import installer; "
                           "print(installer.default_target())"], capture_output=True, text=True, timeout=120,
                          cwd=profile / "python" / "plugins", env=dict(os.environ, PYTHONPATH=""))
    assert done.stdout.strip() == installer.private_folder(str(profile)), done.stderr
