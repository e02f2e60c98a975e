"""The heavy Python packages the algorithms need, checked when an algorithm runs, not when QGIS starts.

QGIS ships without TensorFlow and scikit-learn. The plugin and its provider must still load so
the user sees the algorithms; running one without the packages fails with the exact command that
installs them: what the installer asks for, with numpy held at the version QGIS's GDAL bindings were
built against, whatever its major version.
"""
import importlib
import importlib.util
import os
import sys

#: Modules the training and classification algorithms import at run time, and the package of each.
MODULES = (("keras", "tensorflow-cpu"), ("sklearn", "scikit-learn"))
#: scipy alone (it comes with scikit-learn): what reading MATLAB files needs.
SCIPY = (("scipy", "scikit-learn"),)
#: What classifying on a Dask cluster needs beside MODULES.
DASK = (("distributed", "dask[distributed]"),)


def install_command():
    """The shell command that installs the packages for this (QGIS's) Python, numpy kept as it is."""
    from .installer import installed_versions, requirements

    keep = [f"{name}=={version}" for name, version in installed_versions(("numpy",)).items()]
    return "python3 -m pip install " + " ".join(f'"{p}"' for p in requirements() + keep)


def import_tensorflow():
    """Imports TensorFlow so that its libraries bind to their own symbols first.

    QGIS links the system's libprotobuf-lite, so in the QGIS application and in qgis_process its
    symbols are global; TensorFlow's libraries export the protobuf symbols of their own, newer
    copy, and without RTLD_DEEPBIND the system's interpose and TensorFlow aborts the whole process
    at import ("File already exists in database"). A Python interpreter that imports qgis as a
    module loads it locally and is not affected; DEEPBIND is harmless there.

    TensorFlow's wheel also loads its libraries with RTLD_GLOBAL (through the module
    ``pywrap_dlopen_global_flags``), which puts its bundled SQLite into the global scope: Qt's SQLite
    driver, which binds lazily, then closes QGIS's databases with TensorFlow's copy and QGIS crashes
    on exit. Its libraries name their dependencies explicitly, so blocking that module (TensorFlow
    then keeps RTLD_LOCAL, as its own comment allows) keeps QGIS's symbols QGIS's.
    """
    if "tensorflow" in sys.modules or not hasattr(os, "RTLD_DEEPBIND"):
        return
    sys.modules.setdefault("tensorflow.python.pywrap_dlopen_global_flags", None)
    flags = sys.getdlopenflags()
    sys.setdlopenflags(flags | os.RTLD_DEEPBIND)
    try:
        importlib.import_module("tensorflow")
    except ImportError:
        pass  # reported through keras below; Keras may also run on another backend
    finally:
        sys.setdlopenflags(flags)


def choose_keras_backend():
    """Makes Keras run on JAX where TensorFlow is not installed but JAX is (the installer's choice for
    Pythons without a TensorFlow release). Must run before Keras is imported; a backend the user
    chose (KERAS_BACKEND) is kept. Returns the backend Keras will use.

    On JAX, compiled steps are also kept on disk (``jax_cache_dir``) unless the user set JAX's cache
    variables: JAX compiles a training step for each new model and batch shape, which on 2 CPU cores
    made the first epoch of Indian Pines take 7.1 s, and 3.0 s when the same training ran again with
    the cache (co-training's rounds, a second run on the same scene). The folder may be deleted at
    any time. (JAX bounds its size only with the ``filelock`` package installed, and without it then
    reads no entry at all, so no bound is asked for.)"""
    if "KERAS_BACKEND" not in os.environ and importlib.util.find_spec("tensorflow") is None \
            and importlib.util.find_spec("jax") is not None:
        os.environ["KERAS_BACKEND"] = "jax"
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    if backend == "jax":
        os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", jax_cache_dir())
        os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.2")
    return backend


def jax_cache_dir():
    """Where JAX's compiled steps are kept: the user's cache folder (XDG_CACHE_HOME, LOCALAPPDATA on
    Windows, else ~/.cache), in fast3dcnn_qgis/jax."""
    base = os.environ.get("XDG_CACHE_HOME") or os.environ.get("LOCALAPPDATA") \
        or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "fast3dcnn_qgis", "jax")


def missing_packages(modules=MODULES):
    """Messages for those of ``modules`` that cannot be imported here, empty when all import."""
    if any(module == "keras" for module, _ in modules):
        choose_keras_backend()
        import_tensorflow()
    problems = []
    for module, package in modules:
        try:
            importlib.import_module(module)
        except Exception as error:  # a broken install raises more than ImportError (numpy ABI, DLLs)
            problems.append(f"{module} (package {package}): {error}")
    return problems


def unfound_packages(modules=MODULES):
    """Those of ``modules`` that are not installed at all, found without importing anything: cheap
    enough for QGIS's start-up, where importing TensorFlow would cost seconds."""
    return [f"{module} (package {package})" for module, package in modules if importlib.util.find_spec(module) is None]


def compute_device():
    """What trains the network here, for the report: "CPU", or "GPU: <name>" for the first GPU of
    Keras's backend (TensorFlow's GPU build, JAX and PyTorch place the work there by themselves)."""
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        import jax
        gpus = [device for device in jax.devices() if device.platform != "cpu"]
        names = [device.device_kind for device in gpus]
    elif backend == "torch":
        import torch
        names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    else:
        import tensorflow as tf
        gpus = tf.config.list_physical_devices("GPU")
        names = [tf.config.experimental.get_device_details(gpu).get("device_name", gpu.name) for gpu in gpus]
    if not names:
        return "CPU"
    return f"GPU: {names[0]}" + (f" (and {len(names) - 1} more)" if len(names) > 1 else "")


def missing_message(problems):
    """The user-facing text for ``problems`` from ``missing_packages``."""
    return ("The Fast 3D CNN algorithms need TensorFlow/Keras and scikit-learn in the Python that runs "
            "QGIS, and these could not be imported:\n  " + "\n  ".join(problems) +
            "\nInstall them from QGIS with Plugins > Fast 3D CNN > Install dependencies (into your QGIS "
            "profile, keeping QGIS's numpy), or from a terminal with:\n  " + install_command() +
            "\n(on Debian 12 / Ubuntu 23.04 and later add --user --break-system-packages, or run QGIS "
            "from a virtual environment created with --system-site-packages), then restart QGIS.")
