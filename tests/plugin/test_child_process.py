"""The child process that runs native code QGIS's process cannot host: results come back, and a
crash in the child is an error naming the function, not a crash of QGIS."""
import os

import numpy as np
import pytest

from fast3dcnn_qgis.algorithms.child_process import ChildError, run_in_child


def test_a_result_comes_back_from_the_child():
    assert run_in_child(np.linalg.det, np.array([[2.0, 1.0], [1.0, 3.0]])) == pytest.approx(5.0)
    assert run_in_child(os.getpid) != os.getpid()


def test_a_crash_in_the_child_is_an_error_here():
    with pytest.raises(ChildError, match=r"abort failed in a child process \(exit status -6\)"):
        run_in_child(os.abort)


def test_the_child_imports_this_plugin_whatever_the_working_folder(tmp_path, monkeypatch):
    """QGIS may run with any working folder, a checkout of another version included: the child must
    import the plugin its parent runs, not one found in the folder it was started from."""
    decoy = tmp_path / "fast3dcnn_qgis"
    decoy.mkdir()
    (decoy / "__init__.py").write_text("raise ImportError('the copy in the working folder was imported')\n")
    monkeypatch.chdir(tmp_path)
    assert run_in_child(np.linalg.det, np.array([[2.0, 1.0], [1.0, 3.0]])) == pytest.approx(5.0)
