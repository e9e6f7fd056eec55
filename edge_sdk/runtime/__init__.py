"""On-device inference: one interface over llama.cpp, ONNX Runtime and PyTorch.

    from edge_sdk.runtime import load_backend, SamplingParams
    llm = load_backend("auto")
    print(llm.chat([{"role": "user", "content": "Hi"}], SamplingParams(max_tokens=32)).text)
"""

from edge_sdk.runtime.base import InferenceBackend
from edge_sdk.runtime.select import BACKENDS, available_backends, choose_backend, load_backend
from edge_sdk.runtime.types import (
    Generation,
    SamplingParams,
    StreamChunk,
    Timings,
    TokenLogprob,
    TopLogprob,
)

__all__ = [
    "BACKENDS",
    "Generation",
    "InferenceBackend",
    "SamplingParams",
    "StreamChunk",
    "Timings",
    "TokenLogprob",
    "TopLogprob",
    "available_backends",
    "choose_backend",
    "load_backend",
]
