"""onnxruntime sessions with explicit providers.

onnxruntime silently falls back to the CPU when an accelerator provider fails to
load, and recent releases list ``AzureExecutionProvider`` first in
``get_available_providers()``. Vigil therefore always passes the providers it
wants and checks that the first one asked for is the one the session runs on.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import onnxruntime as ort

Device = Literal["cpu", "cuda", "tensorrt", "auto"]

_PROVIDERS: dict[str, list[str]] = {
    "cpu": ["CPUExecutionProvider"],
    "cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"],
    "tensorrt": ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"],
}


def cpu_cores() -> int:
    """Cores this process may run on (its CPU affinity, which a container or ``taskset`` narrows)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


class ProviderUnavailableError(RuntimeError):
    """The execution provider asked for is not installed or failed to load."""


def resolve_providers(device: Device | str) -> list[str]:
    """Map a device name to an ordered provider list.

    ``auto`` picks TensorRT, then CUDA, when their providers are installed, and
    the CPU otherwise. Explicit names are returned as asked, so that
    :func:`create_session` can fail loudly if they cannot be honoured.
    """
    if device == "auto":
        available = set(ort.get_available_providers())
        for name in ("tensorrt", "cuda"):
            if _PROVIDERS[name][0] in available:
                return list(_PROVIDERS[name])
        return list(_PROVIDERS["cpu"])
    try:
        return list(_PROVIDERS[device])
    except KeyError:
        raise ValueError(f"unknown device {device!r}; expected one of cpu, cuda, tensorrt, auto") from None


def create_session(
    model: Path | str | bytes,
    device: Device | str = "cpu",
    threads: int | None = None,
    providers: Sequence[str] | None = None,
    memory_arena: bool = True,
) -> ort.InferenceSession:
    """Create an inference session and verify the provider it runs on.

    Parameters
    ----------
    model
        Path to an ``.onnx`` file or its bytes.
    device
        ``cpu``, ``cuda``, ``tensorrt`` or ``auto``; ignored when ``providers`` is given.
    threads
        Intra-op threads; ``None`` uses ``VIGIL_ORT_THREADS`` or all cores.
    providers
        Explicit provider list, highest priority first.
    memory_arena
        Keep onnxruntime's CPU memory arena (fast for a model that always gets
        one input size). Models fed many sizes (faces searched in crops of any
        size) should pass False: the arena keeps a block for every size seen and
        grows by hundreds of MB (measured: CenterFace, +300 MB after 40 crop sizes).

    Raises
    ------
    ProviderUnavailableError
        When the first provider asked for is not the one the session loaded.
    FileNotFoundError
        When the model path does not exist.
    """
    wanted = list(providers) if providers else resolve_providers(device)
    available = ort.get_available_providers()
    if wanted[0] not in available:
        raise ProviderUnavailableError(
            f"{wanted[0]} is not available in this onnxruntime build (available: {available})"
        )
    if isinstance(model, str | Path):
        path = Path(model)
        if not path.is_file():
            raise FileNotFoundError(f"ONNX model not found: {path}")
        model_arg: str | bytes = str(path)
    else:
        model_arg = model
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    env_threads = os.environ.get("VIGIL_ORT_THREADS")
    n_threads = threads if threads is not None else int(env_threads) if env_threads else 0
    options.intra_op_num_threads = n_threads
    options.inter_op_num_threads = 1
    options.enable_cpu_mem_arena = memory_arena
    # Several sessions share the cores (faces, objects); idle pool threads must
    # sleep, not spin, or they steal the CPU from the session that is running.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(model_arg, sess_options=options, providers=wanted)
    loaded = session.get_providers()
    if not loaded or loaded[0] != wanted[0]:
        raise ProviderUnavailableError(f"asked for {wanted[0]} but the session loaded {loaded}")
    return session
