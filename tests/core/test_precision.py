"""The automatic choice of bfloat16 follows what the CPU computes natively."""
import keras
import pytest

from fast3dcnn_qgis.core import precision
from fast3dcnn_qgis.core.errors import InputError


def _cpu(tmp_path, flags):
    path = tmp_path / "cpuinfo"
    path.write_text(f"processor\t: 0\nflags\t\t: fpu sse2 avx2 {flags}\n\n")
    return str(path)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="the CPU rule is TensorFlow's")
@pytest.mark.parametrize("flags, expected", [("avx512f amx_bf16 amx_tile", "mixed_bfloat16"),
                                             ("avx512f avx512_bf16", "mixed_bfloat16"),
                                             ("avx512f avx512_vnni", "float32")])
def test_auto_uses_bfloat16_only_where_the_cpu_computes_it(tmp_path, monkeypatch, flags, expected):
    monkeypatch.setattr(precision, "CPUINFO", _cpu(tmp_path, flags))
    monkeypatch.setattr(precision, "_gpu_bfloat16", lambda backend: None)
    assert precision.training_dtype("auto") == expected
    assert precision.training_dtype("float32") == "float32"


def test_unknown_precision_is_refused_by_name():
    with pytest.raises(InputError, match="precision 'half' is not one of auto, float32, mixed_bfloat16"):
        precision.training_dtype("half")
