"""Reading MATLAB .mat cubes and label images, made here from the shipped Salinas-A GeoTIFFs."""
import os
import sys

import numpy as np
import pytest
import scipy.io
from osgeo import gdal

from fast3dcnn_qgis.gdal_io.matfile import MatFileError, list_variables, read_image

DATA = os.path.join(os.path.dirname(__file__), "..", "data")


@pytest.fixture(scope="module")
def cube():
    return np.moveaxis(gdal.Open(os.path.join(DATA, "salinas_a.tif")).ReadAsArray(), 0, -1)


@pytest.fixture(scope="module")
def labels():
    return gdal.Open(os.path.join(DATA, "salinas_a_gt.tif")).ReadAsArray()


def test_single_image_is_picked_and_read_exactly(tmp_path, cube):
    path = str(tmp_path / "cube.mat")
    wavelengths = np.linspace(400, 2500, cube.shape[2])[None, :]
    scipy.io.savemat(path, {"salinasA": cube, "wavelengths": wavelengths, "sensor": "AVIRIS"})
    variable, array = read_image(path)
    assert variable.name == "salinasA" and variable.shape == cube.shape
    assert array.dtype == np.int16 and np.array_equal(array, cube)


def test_several_images_need_a_name(tmp_path, cube, labels):
    path = str(tmp_path / "both.mat")
    scipy.io.savemat(path, {"salinasA": cube[:, :, :5], "salinasA_gt": labels})
    with pytest.raises(MatFileError, match=r"several images: salinasA \(83 x 86 x 5 int16\), "
                                           r"salinasA_gt \(83 x 86 uint8\).*VARIABLE"):
        read_image(path)
    variable, array = read_image(path, "salinasA_gt")
    assert variable.name == "salinasA_gt" and np.array_equal(array, labels)
    with pytest.raises(MatFileError, match="no variable named 'gt'.*salinasA_gt"):
        read_image(path, "gt")


def test_non_image_variables_are_refused(tmp_path):
    path = str(tmp_path / "text.mat")
    scipy.io.savemat(path, {"note": "hello", "band": np.arange(10.0)[None, :]})
    with pytest.raises(MatFileError, match="no 2-D or 3-D numeric array.*note.*band"):
        read_image(path)
    with pytest.raises(MatFileError, match="'note' .* not a 2-D or 3-D numeric array"):
        read_image(path, "note")


def test_complex_and_foreign_files_are_refused(tmp_path):
    path = str(tmp_path / "complex.mat")
    scipy.io.savemat(path, {"z": np.ones((4, 5)) + 1j})
    with pytest.raises(MatFileError, match="complex numbers"):
        read_image(path)
    with pytest.raises(MatFileError, match="not a MATLAB .mat file"):
        read_image(os.path.join(DATA, "salinas_a_gt.tif"))
    with pytest.raises(MatFileError, match="not a file"):
        read_image(str(tmp_path / "missing.mat"))


def write_v73(path, arrays):
    """A MATLAB v7.3 file as MATLAB writes it: HDF5 behind a 512-byte text header, axes reversed."""
    import h5py

    with h5py.File(path, "w", userblock_size=512) as mat:
        for name, array in arrays.items():
            dataset = mat.create_dataset(name, data=np.transpose(array))
            dataset.attrs["MATLAB_class"] = np.bytes_(array.dtype.name if array.dtype != bool else "logical")
    with open(path, "r+b") as stream:
        stream.write(b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: test HDF5 schema 1.00 .".ljust(116))


def test_v73_files_are_read_with_h5py(tmp_path, cube, labels):
    pytest.importorskip("h5py")
    path = str(tmp_path / "v73.mat")
    write_v73(path, {"cube": cube[:, :, :7], "gt": labels})
    assert [v.describe() for v in list_variables(path)] == ["cube (83 x 86 x 7 int16)", "gt (83 x 86 uint8)"]
    variable, array = read_image(path, "cube")
    assert array.shape == (83, 86, 7) and np.array_equal(array, cube[:, :, :7])


def test_v73_without_h5py_says_what_to_do(tmp_path, labels, monkeypatch):
    pytest.importorskip("h5py")
    path = str(tmp_path / "v73.mat")
    write_v73(path, {"gt": labels})
    monkeypatch.setitem(sys.modules, "h5py", None)  # as in a QGIS whose Python lacks h5py
    with pytest.raises(MatFileError, match=r"v7\.3.*pip install h5py.*'-v7'"):
        read_image(path)
