"""`edgeproof edge export`: write a model in a deployable format (ONNX, int8 ONNX, safetensors) to a folder.

The work is the cached conversion of ModelAssets; export then copies the finished variant to --out
(crash-safely), so exporting twice costs a copy, not a conversion.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from edge_sdk.errors import InvalidRequestError
from edge_sdk.models.assets import ModelAssets, resolve_model
from edge_sdk.models.cache import MANIFEST_NAME, copy_tree_atomic

ExportFormat = Literal["onnx", "safetensors"]
FORMATS = ("onnx", "safetensors")


def export_model(
    ref: str | os.PathLike | ModelAssets | None,
    format: ExportFormat = "onnx",
    quantize: Literal["int8"] | None = None,
    adapter: os.PathLike | str | None = None,
    out_dir: os.PathLike | str | None = None,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Build (or reuse) the requested form of a model; copy it to out_dir if given. Returns the folder.

    format "onnx": an ORTModelForCausalLM folder (quantize="int8" for dynamic int8); "safetensors": a
    transformers folder. adapter: a PEFT LoRA folder merged into the weights first.
    out_dir must be absent, empty, or a previous export (it holds our manifest); anything else is refused
    so that an export never overwrites unrelated files.
    """
    if format not in FORMATS:
        raise InvalidRequestError(f"unknown export format {format!r}; choose one of: {', '.join(FORMATS)}")
    if quantize not in (None, "int8"):
        raise InvalidRequestError(f"unknown quantisation {quantize!r}; the only one supported is 'int8'")
    if format == "safetensors" and quantize is not None:
        raise InvalidRequestError("int8 quantisation is only available for --format onnx")
    if out_dir is not None:
        out = Path(out_dir).expanduser()
        if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MANIFEST_NAME).is_file())):
            raise InvalidRequestError(
                f"{out} exists and is not empty (nor a previous edgeproof export); choose a new --out folder"
            )
    say = progress or (lambda _msg: None)
    assets = resolve_model(ref)
    say(f"model: {assets.name} ({assets.source_kind}: {assets.source})")
    if format == "onnx":
        built = assets.onnx_dir(quantize=quantize, adapter=adapter, progress=progress)
    elif adapter is not None:
        built = assets.merged_hf_dir(adapter, progress=progress)
    else:
        built = assets.hf_dir(progress=progress)
    if out_dir is None:
        say(f"done: {built}")
        return built
    say(f"copying to {out_dir}")
    result = copy_tree_atomic(built, Path(out_dir).expanduser())
    say(f"done: {result}")
    return result
