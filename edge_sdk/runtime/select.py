"""Backend registry and `auto` selection from the device profile and what is installed."""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass

from edge_sdk.errors import BackendUnavailableError
from edge_sdk.runtime.base import InferenceBackend

BACKENDS = ("llamacpp", "onnx", "torch")


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def available_backends() -> list[str]:
    """Backends whose engine package is importable on this machine."""
    found = []
    if _installed("llama_cpp"):
        found.append("llamacpp")
    if _installed("onnxruntime"):  # running needs onnxruntime alone; the one-off export needs the [onnx] extra
        found.append("onnx")
    if _installed("torch") and _installed("transformers"):
        found.append("torch")
    return found


@dataclass(frozen=True)
class BackendChoice:
    name: str
    reason: str


def choose_backend(assets=None, *, has_cuda: bool | None = None, adapter: object | None = None) -> BackendChoice:
    """Pick a backend: CUDA -> torch; a GGUF -> llama.cpp (peft LoRA adapters included: converted to a GGUF
    LoRA and applied on the unmerged base); else ONNX (adapters merged); else torch."""
    available = available_backends()
    if not available:
        raise BackendUnavailableError("no inference backend installed: pip install 'edgeproof[all]'")
    if has_cuda is None:
        has_cuda = _cuda_available()
    if has_cuda and "torch" in available:
        return BackendChoice("torch", "an NVIDIA GPU is available to PyTorch")
    gguf = getattr(assets, "gguf_path", None) is not None if assets is not None else True
    if gguf and "llamacpp" in available:
        why = "CPU device and the model has a GGUF: llama.cpp is fastest"
        return BackendChoice("llamacpp", why + (" (the LoRA adapter is applied as a GGUF LoRA)" if adapter else ""))
    if "onnx" in available:
        return BackendChoice("onnx", "CPU device: ONNX Runtime is faster than PyTorch eager")
    return BackendChoice(available[-1], "the only backend installed")


def _cuda_available() -> bool:
    """CUDA usable by torch. NVML is asked first, so a machine without an NVIDIA GPU never imports torch here
    (2.5 s of a cold start that would then run llama.cpp anyway)."""
    if not _installed("torch"):
        return False
    from edge_sdk.device.profile import collect_gpus

    gpus, _error = collect_gpus()
    if not gpus:
        return False
    import torch

    return bool(torch.cuda.is_available())


def load_backend(name: str = "auto", model=None, *, adapter: str | os.PathLike | None = None,
                 quantize: str | None = None, n_threads: int | None = None) -> InferenceBackend:
    """Load `model` (registry name, path or hub id; None = default) on backend `name`.

    name: "auto", "llamacpp", "onnx", "onnx-int8" or "torch". quantize="int8" applies to onnx.
    """
    from edge_sdk.models import resolve_model

    valid = ("auto", *BACKENDS, "onnx-int8")
    if name not in valid:
        raise BackendUnavailableError(f"unknown backend {name!r}: choose one of {', '.join(valid)}")
    if name == "onnx-int8":
        name, quantize = "onnx", "int8"
    if quantize not in (None, "int8"):
        raise BackendUnavailableError(f"unknown quantisation {quantize!r}: only 'int8' (block-wise int8 ONNX weights) is supported")
    assets = model if hasattr(model, "hf_dir") else resolve_model(model)
    if name == "auto":
        name = choose_backend(assets, adapter=adapter).name
    if name not in available_backends():
        extra = {"llamacpp": "llamacpp", "onnx": "onnx", "torch": "torch"}[name]
        raise BackendUnavailableError(f"backend {name!r} is not installed here: pip install 'edgeproof[{extra}]'")
    if name == "llamacpp":
        from edge_sdk.runtime.llamacpp_backend import LlamaCppBackend

        return LlamaCppBackend(assets, adapter=adapter, n_threads=n_threads)
    if name == "onnx":
        from edge_sdk.runtime.onnx_backend import OnnxBackend

        return OnnxBackend(assets, quantize=quantize, adapter=adapter, n_threads=n_threads)
    from edge_sdk.runtime.torch_backend import TorchBackend

    return TorchBackend(assets, adapter=adapter, n_threads=n_threads)
