"""Which arithmetic training uses: mixed bfloat16 where the hardware computes it natively, else float32.

bfloat16 halves the bytes moved and, on CPUs with AMX or AVX-512 BF16 and on GPUs from NVIDIA's
Ampere on, multiplies at a higher rate; the weights stay float32, so the saved model is the same
kind whatever was used. Where the hardware lacks it, bfloat16 is emulated and slower, hence the
check. On CPUs only TensorFlow's oneDNN kernels use these instructions (XLA, behind JAX, does not).
"""
from __future__ import annotations

import keras

from .errors import InputError
from .settings import PRECISIONS

#: /proc/cpuinfo flags of x86 CPUs that compute bfloat16 products natively.
_CPU_BFLOAT16_FLAGS = {"amx_bf16", "avx512_bf16"}
CPUINFO = "/proc/cpuinfo"


def _cpu_flags() -> set[str]:
    try:
        with open(CPUINFO) as stream:
            for line in stream:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:  # not Linux: assume no native bfloat16
        pass
    return set()


def _gpu_bfloat16(backend: str) -> bool | None:
    """None when the backend runs on no GPU, else whether its GPUs compute bfloat16 natively (CUDA
    compute capability 8.0 or more)."""
    if backend == "tensorflow":
        import tensorflow as tf
        gpus = tf.config.list_physical_devices("GPU")
        return all(tf.config.experimental.get_device_details(gpu).get("compute_capability", (0, 0)) >= (8, 0)
                   for gpu in gpus) if gpus else None
    if backend == "jax":
        import jax
        device = jax.devices()[0]
        return float(getattr(device, "compute_capability", 0) or 0) >= 8.0 if device.platform == "gpu" else None
    if backend == "torch":
        import torch
        return torch.cuda.is_bf16_supported() if torch.cuda.is_available() else None
    return None


def training_dtype(precision: str = "auto") -> str:
    """The Keras dtype policy name for ``precision`` (one of settings.PRECISIONS) on this machine."""
    if precision not in PRECISIONS:
        raise InputError(f"precision '{precision}' is not one of {', '.join(PRECISIONS)}")
    if precision != "auto":
        return precision
    backend = keras.backend.backend()
    native = _gpu_bfloat16(backend)
    if native is None:
        native = backend == "tensorflow" and bool(_CPU_BFLOAT16_FLAGS & _cpu_flags())
    return "mixed_bfloat16" if native else "float32"
