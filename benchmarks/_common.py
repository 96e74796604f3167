"""Helpers shared by the benchmark scripts (not part of the mcbridge package)."""

from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path

# Run from a checkout without installing: make `import mcbridge` find the repo.
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def machine() -> str:
    """One line naming the machine: CPU model, cores, memory, accelerators."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
        mem_s = f", {mem:.0f} GiB"
    except (ValueError, OSError):
        mem_s = ""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    import tensorflow as tf
    import keras
    import numpy as np

    gpus = tf.config.list_physical_devices("GPU")
    dev = f"{len(gpus)} GPU(s)" if gpus else "no GPU (CPU only)"
    return (
        f"{cpu}, {cores} cores{mem_s}, {dev}; Python {platform.python_version()}, "
        f"TensorFlow {tf.__version__}, Keras {keras.__version__}, NumPy {np.__version__}"
    )


def cpu_extensions() -> str:
    """The CPU model and the vector extensions that matter here (Linux `/proc/cpuinfo`)."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key = line.split(":")[0].strip()
            if key == "model name":
                model = line.split(":", 1)[1].strip()
            elif key in ("flags", "Features"):
                flags = set(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    named = [("AVX2", "avx2"), ("AVX-512", "avx512f"), ("AVX512-VNNI", "avx512_vnni"),
             ("AVX512-BF16", "avx512_bf16"), ("AVX512-FP16", "avx512_fp16"), ("AMX-BF16", "amx_bf16"),
             ("AMX-INT8", "amx_int8"), ("Arm BF16", "bf16")]  # fmt: skip
    have = [name for name, flag in named if flag in flags]
    isa = os.environ.get("ONEDNN_MAX_CPU_ISA")
    cap = f"; oneDNN capped at {isa}" if isa else ""
    return f"{model}: {', '.join(have) or 'none of AVX2, AVX-512, BF16, AMX'}{cap}"


def timed(fn) -> float:
    """Seconds one call of `fn()` takes (wall clock)."""
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def matmul_gflops(size: int = 4096, repeats: int = 3) -> float:
    """Best-of-`repeats` GFLOP/s of a NumPy float32 `size x size` matrix product."""
    import numpy as np

    rng = np.random.default_rng(0)
    a = rng.random((size, size), dtype=np.float32)
    b = rng.random((size, size), dtype=np.float32)
    a @ b  # warm-up (threads, pages)
    best = min(timed(lambda: a @ b) for _ in range(repeats))
    return 2 * size**3 / best / 1e9


def model_flops(model) -> dict[str, int]:
    """FLOPs (multiply + add = 2) of one forward pass for one input, per layer.

    Counts Conv (1D/2D/3D, any groups) and Dense layers from their output
    shapes and kernels; pooling, activations and biases are left out (they
    are a small fraction and not matrix work). A Sequential model's shapes
    are those of its own input (the predictor's suffix runs shared layers on
    a cropped input), others' those the layers were first called with.
    """
    import keras
    import numpy as np

    from mcbridge.switch import iter_layers

    if isinstance(model, keras.Sequential):
        pairs, shape = [], model.inputs[0].shape
        for layer in model.layers:
            shape = layer.compute_output_shape(shape)
            pairs.append((layer, shape))
    else:
        pairs = [(layer, layer.output.shape) for layer in iter_layers(model)]
    flops: dict[str, int] = {}
    for layer, out_shape in pairs:
        if isinstance(layer, keras.Model):  # nested (Sequential branch only; iter_layers recurses)
            flops.update(model_flops(layer))
        elif isinstance(layer, keras.layers.Dense):
            k = layer.kernel.shape
            rows = int(np.prod(out_shape[1:-1], dtype=np.int64)) if len(out_shape) > 2 else 1
            flops[layer.name] = 2 * rows * int(k[0]) * int(k[1])
        elif isinstance(layer, keras.layers.Conv1D | keras.layers.Conv2D | keras.layers.Conv3D):
            kernel = layer.kernel.shape  # (*window, in / groups, out)
            spatial = out_shape[2:] if layer.data_format == "channels_first" else out_shape[1:-1]
            flops[layer.name] = 2 * int(np.prod(spatial, dtype=np.int64)) * int(np.prod(kernel, dtype=np.int64))
    return flops


def fmt_rate(x: float) -> str:
    return f"{x:,.0f}"
