"""Named adapter tensors: a peft adapter's `adapter_model.safetensors` as float32 numpy arrays keyed by
tensor name (`...q_proj.lora_A.weight` is (r, in), `...q_proj.lora_B.weight` is (out, r)).

Aggregation works on these plain dicts, so it needs neither torch nor peft; folders are read and written
here, atomically, in the layout peft's `PeftModel.from_pretrained` loads.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from edge_sdk.errors import InvalidRequestError

AdapterTensors = dict[str, np.ndarray]

WEIGHTS_FILE = "adapter_model.safetensors"
CONFIG_FILE = "adapter_config.json"
MAX_PROBLEMS = 10

# a dotted name component "lora_A" / "lora_B" (or peft's embedding variant "lora_embedding_A" / "_B")
_LORA_PART = re.compile(r"(?<![^.])lora_(?:embedding_)?([AB])(?![^.])")


def lora_side(name: str) -> str | None:
    """"A" or "B" for a LoRA factor's name, None for any other tensor (biases, DoRA magnitudes...)."""
    match = _LORA_PART.search(name)
    return match.group(1) if match else None


# ------------------------------------------------------------------------------------------------ I/O
def _read_with_bf16(path: Path) -> dict[str, np.ndarray]:
    """The safetensors layout read by hand: numpy has no bfloat16, so BF16 is widened to float32 bitwise."""
    data = path.read_bytes()
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + size])
    dtypes = {"F64": "<f8", "F32": "<f4", "F16": "<f2"}
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        start, end = (8 + size + o for o in meta["data_offsets"])
        if meta["dtype"] == "BF16":
            array = (np.frombuffer(data[start:end], "<u2").astype(np.uint32) << 16).view(np.float32)
        elif meta["dtype"] in dtypes:
            array = np.frombuffer(data[start:end], dtypes[meta["dtype"]])
        else:
            raise ValueError(f"tensor {name} has dtype {meta['dtype']}, not a float type")
        out[name] = array.reshape(meta["shape"])
    return out


def load_adapter_tensors(folder: str | os.PathLike[str]) -> AdapterTensors:
    """The adapter's tensors as float32 arrays (f16/bf16/f64 files are converted)."""
    from safetensors.numpy import load_file

    path = Path(folder) / WEIGHTS_FILE
    if not path.is_file():
        raise InvalidRequestError(f"{folder} has no {WEIGHTS_FILE}: pass a peft adapter folder as LoRA "
                                  "training writes it")
    try:
        try:
            raw = load_file(str(path))
        except TypeError:  # "data type 'bfloat16' not understood"
            raw = _read_with_bf16(path)
    except Exception as exc:  # safetensors raises its own error types
        raise InvalidRequestError(f"{path} cannot be read ({exc}): re-save the adapter in {folder}") from None
    tensors = {}
    for name, array in raw.items():
        if not np.issubdtype(array.dtype, np.floating):
            raise InvalidRequestError(f"{path}: tensor {name} has dtype {array.dtype}, not a float type, so "
                                      "it is not a LoRA adapter tensor")
        tensors[name] = np.array(array, dtype=np.float32)  # a copy: nothing stays tied to the file
    if not tensors:
        raise InvalidRequestError(f"{path} holds no tensors: re-save the adapter in {folder}")
    return tensors


def save_adapter_tensors(folder: str | os.PathLike[str], tensors: AdapterTensors,
                         config_from: str | os.PathLike[str]) -> Path:
    """Write a complete peft folder: `tensors` (float32) plus `config_from`'s adapter_config.json.

    Both files are written into a temporary folder beside `folder`, then moved in with os.replace,
    config last, so a folder with a config always has matching weights. Returns `folder`."""
    from safetensors.numpy import save_file

    folder, config = Path(folder).resolve(), Path(config_from) / CONFIG_FILE
    if not config.is_file():
        raise InvalidRequestError(f"{config_from} has no {CONFIG_FILE}: pass the peft adapter folder whose "
                                  "config the new adapter shares")
    if not tensors:
        raise InvalidRequestError(f"no tensors to save in {folder}")
    arrays = {name: np.ascontiguousarray(t, dtype=np.float32) for name, t in tensors.items()}
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=folder.parent))
    try:
        save_file(arrays, str(tmp / WEIGHTS_FILE), metadata={"format": "pt"})
        shutil.copyfile(config, tmp / CONFIG_FILE)
        folder.mkdir(exist_ok=True)
        os.replace(tmp / WEIGHTS_FILE, folder / WEIGHTS_FILE)
        os.replace(tmp / CONFIG_FILE, folder / CONFIG_FILE)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


# ------------------------------------------------------------------------------------------- structure
def lora_pairs(names: Iterable[str]) -> list[tuple[str, str]]:
    """(lora_A name, lora_B name) for every LoRA module, sorted by A name. Handles `.lora_A.weight`,
    `.lora_A.default.weight` and peft's `lora_embedding_A`; a factor without its partner is an error."""
    sides: dict[str, dict[str, str]] = {"A": {}, "B": {}}
    for name in names:
        match = _LORA_PART.search(name)
        if match:
            key = name[:match.start(1)] + "*" + name[match.end(1):]
            sides[match.group(1)][key] = name
    a, b = sides["A"], sides["B"]
    lonely = [f"{a[k]} has no lora_B" if k in a else f"{b[k]} has no lora_A" for k in sorted(set(a) ^ set(b))]
    if lonely:
        more = f" (and {len(lonely) - MAX_PROBLEMS} more)" if len(lonely) > MAX_PROBLEMS else ""
        raise InvalidRequestError(f"unpaired LoRA tensors: {'; '.join(lonely[:MAX_PROBLEMS])}{more}. Every "
                                  "lora_A needs the lora_B of the same module: the adapter is incomplete")
    return sorted((a[k], b[k]) for k in a)


def _layout_problems(reference: AdapterTensors, update: AdapterTensors) -> list[str]:
    problems = [f"{name} is missing." for name in sorted(set(reference) - set(update))]
    problems += [f"{name} is not in the reference adapter." for name in sorted(set(update) - set(reference))]
    for name in sorted(set(reference) & set(update)):
        got, want = np.shape(update[name]), np.shape(reference[name])
        if got != want:
            problems.append(f"{name} has shape {got}, expected {want}.")
    return problems


def _capped(problems: list[str]) -> list[str]:
    if len(problems) <= MAX_PROBLEMS:
        return problems
    return problems[:MAX_PROBLEMS] + [f"... and {len(problems) - MAX_PROBLEMS} more problems."]


def update_problems(reference: AdapterTensors, update: AdapterTensors) -> list[str]:
    """Every problem of `update` relative to `reference`, one sentence each (at most MAX_PROBLEMS, then a
    count of the rest): missing or unexpected names, wrong shapes, NaN or infinite values. [] = fine."""
    problems = _layout_problems(reference, update)
    for name in sorted(set(reference) & set(update)):
        value = np.asarray(update[name])
        if not np.issubdtype(value.dtype, np.number):
            problems.append(f"{name} has dtype {value.dtype}, not a number type.")
            continue
        nan, inf = int(np.isnan(value).sum()), int(np.isinf(value).sum())
        if nan or inf:
            problems.append(f"{name} has {nan + inf} non-finite values ({nan} NaN, {inf} infinite) "
                            f"of {value.size}.")
    return _capped(problems)


# ------------------------------------------------------------------------------------------ arithmetic
def _same_layout(a: AdapterTensors, b: AdapterTensors) -> None:
    problems = _capped(_layout_problems(a, b))
    if problems:
        raise InvalidRequestError("the two adapters do not match: " + " ".join(problems))


def add(a: AdapterTensors, b: AdapterTensors) -> AdapterTensors:
    """a + b per tensor (float32); both must have the same names and shapes."""
    _same_layout(a, b)
    return {name: np.add(a[name], b[name], dtype=np.float32) for name in a}


def subtract(a: AdapterTensors, b: AdapterTensors) -> AdapterTensors:
    """a - b per tensor (float32), e.g. a client's update relative to the global adapter."""
    _same_layout(a, b)
    return {name: np.subtract(a[name], b[name], dtype=np.float32) for name in a}


def l2_norm(tensors: AdapterTensors) -> float:
    """The L2 norm of all tensors flattened together, accumulated in float64."""
    return float(np.sqrt(sum(np.sum(np.square(t, dtype=np.float64)) for t in tensors.values())))
