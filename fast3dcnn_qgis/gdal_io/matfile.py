"""MATLAB .mat files: the form in which the benchmark scenes (Indian Pines, Salinas, Pavia) are published.

A .mat file is a bag of named variables; a hyperspectral cube is a (rows, cols, bands) numeric array
and a label image a (rows, cols) one. This module lists the variables, picks the image (the only
2-D/3-D numeric array, or the one named) and reads it with the storage type the file uses (the
published cubes keep integer counts in "double" variables; scipy returns the compact type).

Versions 4 to 7 are read with scipy. Version 7.3 files are HDF5 inside; they are read with h5py
when it is installed, else the message says how to get h5py or re-save the file as v7.

QGIS-free, so it can be tested and used from scripts alone.
"""
import os
from dataclasses import dataclass

import numpy as np

from ..core.errors import InputError

#: MATLAB classes that hold an image; char, cell, struct, sparse, objects do not.
NUMERIC_CLASSES = {"double", "single", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64",
                   "uint64", "logical"}

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


class MatFileError(InputError):
    """A .mat file that cannot be read as an image, with a message saying what to do."""


@dataclass(frozen=True)
class MatVariable:
    name: str
    shape: tuple
    matlab_class: str

    @property
    def is_image(self):
        """A numeric array of 2 or 3 dimensions, not a vector: a label image or a cube."""
        return (self.matlab_class in NUMERIC_CLASSES and len(self.shape) in (2, 3)
                and sorted(self.shape)[-2] > 1)

    def describe(self):
        return f"{self.name} ({' x '.join(str(n) for n in self.shape)} {self.matlab_class})"


def is_v73(path):
    """True for a MATLAB v7.3 file (HDF5 after a 512-byte header)."""
    with open(path, "rb") as stream:
        head = stream.read(520)
    return head[512:520] == _HDF5_SIGNATURE or head.startswith(b"MATLAB 7.3")


def list_variables(path):
    """The variables of the file, in the file's order."""
    if not os.path.isfile(path):
        raise MatFileError(f"{path} is not a file: give the path of a MATLAB .mat file")
    if is_v73(path):
        h5py = _h5py(path)
        with h5py.File(path, "r") as mat:
            return [MatVariable(name, tuple(reversed(item.shape)), _h5_class(item))
                    for name, item in mat.items() if isinstance(item, h5py.Dataset) and not name.startswith("#")]
    import scipy.io

    try:
        return [MatVariable(name, tuple(shape), matlab_class)
                for name, shape, matlab_class in scipy.io.whosmat(path)]
    except (ValueError, TypeError, OSError) as error:
        raise MatFileError(f"{path} is not a MATLAB .mat file that can be read ({error}): export the array "
                           f"from MATLAB or Octave with save('file.mat', 'name', '-v7')") from error


def choose_variable(variables, name=None, path="the file"):
    """The variable to import: ``name`` if given, else the only image variable."""
    listing = ", ".join(v.describe() for v in variables) or "none"
    if name:
        match = [v for v in variables if v.name == name]
        if not match:
            raise MatFileError(f"{path} has no variable named '{name}' (variable name, VARIABLE): "
                               f"its variables are {listing}")
        if not match[0].is_image:
            raise MatFileError(f"variable '{name}' of {path} is {match[0].describe()}, not a 2-D or 3-D "
                               f"numeric array: choose an image variable among {listing}")
        return match[0]
    images = [v for v in variables if v.is_image]
    if len(images) == 1:
        return images[0]
    if not images:
        raise MatFileError(f"{path} holds no 2-D or 3-D numeric array to import; its variables are {listing}")
    raise MatFileError(f"{path} holds several images: {', '.join(v.describe() for v in images)}. "
                       f"Give the one to import as the variable name (VARIABLE)")


def read_image(path, name=None):
    """(variable, array) for the chosen image variable: (rows, cols) or (rows, cols, bands)."""
    variable = choose_variable(list_variables(path), name, path)
    if is_v73(path):
        h5py = _h5py(path)
        with h5py.File(path, "r") as mat:
            # HDF5 keeps MATLAB's column-major layout, so the axes come reversed.
            array = np.transpose(mat[variable.name][()])
        if variable.matlab_class == "logical":
            array = array.astype(bool)
    else:
        import scipy.io

        array = scipy.io.loadmat(path, variable_names=[variable.name])[variable.name]
    if np.iscomplexobj(array):
        raise MatFileError(f"variable '{variable.name}' of {path} holds complex numbers: import its real part "
                           f"or magnitude, saved from MATLAB or Octave as a real array")
    return variable, np.ascontiguousarray(array)


def _h5_class(dataset):
    matlab_class = dataset.attrs.get("MATLAB_class", b"")
    if isinstance(matlab_class, bytes):
        matlab_class = matlab_class.decode("ascii", "replace")
    if dataset.attrs.get("MATLAB_empty", 0):
        return "empty"
    return str(matlab_class) or "unknown"


def _h5py(path):
    try:
        import h5py
    except ImportError:
        raise MatFileError(
            f"{path} is a MATLAB v7.3 file (HDF5 inside), which needs the Python package h5py: install it "
            f"into QGIS's Python with 'python3 -m pip install h5py', or re-save the variable as a v7 file in "
            f"MATLAB or Octave with save('file_v7.mat', 'name', '-v7')") from None
    return h5py
