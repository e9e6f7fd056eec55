"""Cheap integrity checks for model files, run at resolve time.

A truncated download or a half-copied file otherwise fails much later, deep inside llama.cpp or transformers,
with a message that does not say which file is bad. These checks read headers only (no dequantisation), so
`resolve_model` stays fast: the GGUF check parses the whole header (metadata and tensor table) with a
small reader of its own and checks that the file is long enough to hold every tensor it declares.
"""

from __future__ import annotations

import json
import mmap
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge_sdk.errors import InvalidRequestError, ModelCorruptError, ModelNotFoundError

GGUF_MAGIC = b"GGUF"
_GGUF_MIN_HEADER = 4 + 4 + 8 + 8  # magic, version, tensor count, kv count


@dataclass(frozen=True)
class GGUFInfo:
    """What resolve needs from a GGUF header: architecture, context length and tokenizer metadata."""

    path: Path
    size: int
    version: int
    architecture: str | None
    n_tensors: int
    data_end: int
    context_length: int | None
    chat_template: str | None
    metadata: dict[str, Any] = field(default_factory=dict, repr=False)


_gguf_cache: dict[tuple[str, int, int, bool], GGUFInfo] = {}


def _corrupt(path: Path, what: str, fix: str) -> ModelCorruptError:
    return ModelCorruptError(f"{path} is not a usable GGUF model file: {what}. {fix}")


# GGUF metadata value types -> struct format (8 = string, 9 = array are handled separately).
_SCALAR_FMT = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
_MAX_COUNT = 1 << 31  # a sane upper bound for counts in a header: larger means garbage


class _Cut(Exception):
    """The header runs past the end of the file or holds impossible values."""


class _HeaderParser:
    """A minimal GGUF header reader: metadata scalars, array lengths and tensor infos, without
    materialising token arrays (gguf.GGUFReader takes ~7 s on SmolLM2's 49k-token vocabulary)."""

    def __init__(self, buf: bytes | memoryview, endian: str) -> None:
        self.buf = buf
        self.e = endian
        self.pos = 0

    def take(self, fmt: str) -> Any:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.buf):
            raise _Cut(f"header ends at byte {len(self.buf)} while reading at {self.pos}")
        value = struct.unpack_from(self.e + fmt, self.buf, self.pos)[0]
        self.pos += size
        return value

    def count(self) -> int:
        n = self.take("Q")
        if n > _MAX_COUNT:
            raise _Cut(f"impossible count {n} at byte {self.pos - 8}")
        return n

    def _span(self) -> tuple[int, int]:
        n = self.count()
        if self.pos + n > len(self.buf):
            raise _Cut(f"a string of {n} bytes at byte {self.pos} runs past the end of the file")
        start = self.pos
        self.pos += n
        return start, n

    def string(self) -> str:
        start, n = self._span()
        return bytes(self.buf[start : start + n]).decode("utf-8", errors="replace")

    def value(self, vtype: int, materialise: bool = False) -> Any:
        """Read one value; arrays are skipped and returned as ("array", length) unless materialise=True."""
        if vtype in _SCALAR_FMT:
            return self.take(_SCALAR_FMT[vtype])
        if vtype == 8:
            return self.string()
        if vtype == 9:
            item_type = self.take("I")
            n = self.count()
            if materialise and item_type == 8:
                return [self.string() for _ in range(n)]
            if materialise and item_type in _SCALAR_FMT:
                fmt = f"{self.e}{n}{_SCALAR_FMT[item_type]}"
                size = struct.calcsize(fmt)
                if self.pos + size > len(self.buf):
                    raise _Cut(f"an array of {n} values runs past the end of the file")
                values = list(struct.unpack_from(fmt, self.buf, self.pos))
                self.pos += size
                return values
            if item_type in _SCALAR_FMT:
                size = struct.calcsize(_SCALAR_FMT[item_type]) * n
                if self.pos + size > len(self.buf):
                    raise _Cut(f"an array of {n} values runs past the end of the file")
                self.pos += size
            elif item_type == 8:
                for _ in range(n):
                    self._span()
            elif item_type == 9:
                for _ in range(n):
                    self.value(9)
            else:
                raise _Cut(f"unknown array item type {item_type}")
            return ("array", n)
        raise _Cut(f"unknown metadata value type {vtype} at byte {self.pos - 4}")


def _tensor_bytes(ggml_type: int, n_elems: int) -> int | None:
    try:
        from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

        block, type_size = GGML_QUANT_SIZES[GGMLQuantizationType(ggml_type)]
    except (ImportError, ValueError, KeyError):
        return None  # a type newer than the installed gguf package: cannot size it, do not reject
    return n_elems // block * type_size


def check_gguf(
    path: Path, fix: str = "Re-install or re-download the model file.", *, require_tensors: bool = True
) -> GGUFInfo:
    """Validate a GGUF file and return its header info; raises ModelCorruptError naming the file.

    Checks the magic and version, parses the whole header (metadata and tensor table), and checks that the
    file is long enough for every tensor's data. Results are memoised per (path, size, mtime).
    require_tensors=False accepts llama.cpp's vocabulary-only files (tokenizer metadata, no weights).
    """
    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ModelNotFoundError(f"GGUF model file {path} does not exist.") from None
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns, require_tensors)
    cached = _gguf_cache.get(key)
    if cached is not None:
        return cached

    if st.st_size < _GGUF_MIN_HEADER:
        raise _corrupt(path, f"it is only {st.st_size} bytes long (truncated)", fix)
    with open(path, "rb") as fh:
        head = fh.read(_GGUF_MIN_HEADER)
        if head[:4] != GGUF_MAGIC:
            raise _corrupt(path, f"bad magic {head[:4]!r} (expected {GGUF_MAGIC!r})", fix)
        endian = "<"
        version = struct.unpack("<I", head[4:8])[0]
        if version not in (2, 3):
            if struct.unpack(">I", head[4:8])[0] in (2, 3):
                endian, version = ">", struct.unpack(">I", head[4:8])[0]
            else:
                raise _corrupt(path, f"unsupported GGUF version {version}", fix)
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            view = memoryview(mm)
            try:
                info = _parse(path, view, endian, version, st.st_size, require_tensors)
            except _Cut as exc:
                raise _corrupt(path, f"its header is cut off or garbled ({exc})", fix) from None
            except (struct.error, OverflowError) as exc:
                raise _corrupt(path, f"its header cannot be parsed ({exc})", fix) from None
            finally:
                view.release()
    if st.st_size < info.data_end:
        raise _corrupt(
            path,
            f"the file is {st.st_size} bytes but its tensors need {info.data_end} bytes "
            "(truncated download or copy)",
            fix,
        )
    _gguf_cache[key] = info
    return info


@contextmanager
def _read_header(path: Path, what: str) -> Iterator[tuple[_HeaderParser, int, int]]:
    """A parser over the mapped file, after the magic and version, with (tensor count, metadata count); a
    cut or garbled header becomes a ModelCorruptError saying `what` could not be read."""
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        view = memoryview(mm)
        try:
            endian = "<" if struct.unpack_from("<I", view, 4)[0] in (2, 3) else ">"
            p = _HeaderParser(view, endian)
            p.pos = 8
            n_tensors = p.count()
            yield p, n_tensors, p.count()
        except (_Cut, struct.error) as exc:
            raise _corrupt(path, f"its {what} cannot be read ({exc})", "Re-install or re-download it.") from None
        finally:
            view.release()


def read_gguf_arrays(path: Path, keys: set[str]) -> dict[str, Any]:
    """Read the named metadata arrays (e.g. tokenizer.ggml.tokens) in full; call after check_gguf."""
    found: dict[str, Any] = {}
    with _read_header(path, "metadata") as (p, _n_tensors, n_kv):
        for _ in range(n_kv):
            name = p.string()
            found[name] = p.value(p.take("I"), materialise=name in keys)
            if keys.issubset(found):
                break
    return {k: v for k, v in found.items() if k in keys}


def gguf_tensor_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """Every tensor's name and shape in ggml order (ne[0] first: (n_in, n_out) for a matrix); call after
    check_gguf. Reads only the header, skipping the token arrays."""
    shapes: dict[str, tuple[int, ...]] = {}
    with _read_header(path, "tensor table") as (p, n_tensors, n_kv):
        for _ in range(n_kv):
            p.string()
            p.value(p.take("I"))
        for _ in range(n_tensors):
            name = p.string()
            n_dims = p.take("I")
            if n_dims > 8:
                raise _Cut(f"tensor {name!r} claims {n_dims} dimensions")
            shapes[name] = tuple(p.take("Q") for _ in range(n_dims))
            p.take("I")  # type
            p.take("Q")  # offset
    return shapes


def _parse(path: Path, buf: memoryview, endian: str, version: int, size: int, require_tensors: bool) -> GGUFInfo:
    p = _HeaderParser(buf, endian)
    p.pos = 8
    n_tensors = p.count()
    n_kv = p.count()
    metadata: dict[str, Any] = {}
    for _ in range(n_kv):
        name = p.string()
        metadata[name] = p.value(p.take("I"))
    tensors: list[tuple[int, int, int]] = []
    for _ in range(n_tensors):
        name = p.string()
        n_dims = p.take("I")
        if n_dims > 8:
            raise _Cut(f"tensor {name!r} claims {n_dims} dimensions")
        n_elems = 1
        for _ in range(n_dims):
            n_elems *= p.take("Q")
        tensors.append((n_elems, p.take("I"), p.take("Q")))
    if not tensors and require_tensors:
        raise _Cut("it declares no tensors (a vocabulary-only file)")
    alignment = metadata.get("general.alignment", 32)
    if not isinstance(alignment, int) or alignment <= 0:
        raise _Cut(f"bad general.alignment {alignment!r}")
    data_start = (p.pos + alignment - 1) // alignment * alignment
    data_end = data_start if tensors else p.pos  # no tensors: no padding is written after the header
    for n_elems, ggml_type, offset in tensors:
        data_end = max(data_end, data_start + offset + (_tensor_bytes(ggml_type, n_elems) or 0))
    arch = metadata.get("general.architecture")
    ctx = metadata.get(f"{arch}.context_length") if isinstance(arch, str) else None
    template = metadata.get("tokenizer.chat_template")
    return GGUFInfo(
        path=path,
        size=size,
        version=version,
        architecture=arch if isinstance(arch, str) else None,
        n_tensors=len(tensors),
        data_end=data_end,
        context_length=int(ctx) if isinstance(ctx, int) and ctx > 0 else None,
        chat_template=template if isinstance(template, str) else None,
        metadata=metadata,
    )


def check_safetensors(path: Path, fix: str) -> None:
    """Check a .safetensors file's header parses and the file holds all the tensor bytes it declares."""
    size = path.stat().st_size
    try:
        with open(path, "rb") as fh:
            raw = fh.read(8)
            if len(raw) < 8:
                raise ValueError("file shorter than its 8-byte header length")
            (header_len,) = struct.unpack("<Q", raw)
            if header_len > min(size, 100 * 1024 * 1024):
                raise ValueError(f"header length {header_len} is larger than the file")
            header = json.loads(fh.read(header_len))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelCorruptError(f"{path} is not a readable safetensors file ({exc}). {fix}") from None
    end = 0
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        try:
            end = max(end, int(entry["data_offsets"][1]))
        except (KeyError, TypeError, IndexError, ValueError):
            raise ModelCorruptError(f"{path}: tensor {name!r} has a malformed header entry. {fix}") from None
    needed = 8 + header_len + end
    if size < needed:
        raise ModelCorruptError(
            f"{path} is {size} bytes but its tensors need {needed} bytes (truncated download or copy). {fix}"
        )


def read_json(path: Path, fix: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelCorruptError(f"{path} is not valid JSON ({exc}). {fix}") from None
    if not isinstance(data, dict):
        raise ModelCorruptError(f"{path} should hold a JSON object. {fix}")
    return data


def hf_weight_files(folder: Path) -> list[Path]:
    """The weight files of a transformers folder (sharded or not), in load order."""
    for index_name in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
        index = folder / index_name
        if index.is_file():
            data = read_json(index, "Re-download the model folder.")
            names = sorted(set(data.get("weight_map", {}).values()))
            return [folder / n for n in names]
    files = sorted(folder.glob("*.safetensors"))
    if files:
        return files
    return sorted(folder.glob("pytorch_model*.bin"))


def check_hf_dir(folder: Path) -> dict[str, Any]:
    """Validate a transformers model folder (config + complete weights); returns its config."""
    fix = "Re-download or re-save the model folder (save_pretrained)."
    config = read_json(folder / "config.json", fix)
    weights = hf_weight_files(folder)
    if not weights:
        raise ModelNotFoundError(
            f"{folder} has a config.json but no weights (*.safetensors or pytorch_model*.bin). "
            "Pass a folder written by save_pretrained, a .gguf file, or an ONNX export folder."
        )
    for w in weights:
        if not w.is_file():
            raise ModelCorruptError(f"{folder}: weight shard {w.name} listed in the index is missing. {fix}")
        if w.suffix == ".safetensors":
            check_safetensors(w, fix)
    return config


ONNX_MODEL_FILES = ("model.onnx", "decoder_model_merged.onnx", "decoder_with_past_model.onnx", "decoder_model.onnx")


def onnx_model_file(folder: Path) -> Path | None:
    for name in ONNX_MODEL_FILES:
        if (folder / name).is_file():
            return folder / name
    return None


def check_onnx_dir(folder: Path) -> dict[str, Any]:
    """Validate an ONNX export folder (model.onnx, its external data, config.json); returns the config."""
    fix = "Re-run the export (edgeproof edge export --format onnx)."
    model = onnx_model_file(folder)
    if model is None:
        raise ModelNotFoundError(f"{folder} has no model.onnx.")
    config = read_json(folder / "config.json", fix)
    with open(model, "rb") as fh:
        head = fh.read(64)
    # An ONNX file is a protobuf ModelProto: it starts with field 1 (ir_version, varint) => byte 0x08.
    if not head or head[0] != 0x08:
        raise ModelCorruptError(f"{model} does not look like an ONNX model (bad protobuf header). {fix}")
    data = model.with_name(model.name + "_data")  # optimum's external-data file: model.onnx_data
    if data.exists() and data.stat().st_size == 0:
        raise ModelCorruptError(f"{data} (external weights of {model.name}) is empty. {fix}")
    return config


def require_adapter_folder(adapter: str | Path) -> Path:
    """`adapter` as a Path, or a clear error when it is not a peft adapter folder (every backend and the
    trainer take adapters; this is the one check they share)."""
    path = Path(adapter)
    if not (path / "adapter_config.json").is_file():
        raise InvalidRequestError(f"{path} is not a peft adapter folder (no adapter_config.json): pass the "
                                  "folder that LoRA training wrote")
    return path
