"""ModelAssets: one resolved model and every on-disk form of it that a backend may need.

`resolve_model` turns a name, path or hub id into a ModelAssets cheaply (header checks only). The forms
(tokenizer folder, transformers safetensors folder, ONNX export, int8 ONNX, LoRA-merged variants, GGUF LoRA
adapters for llama.cpp) are built on first use and cached under cache_dir()/models/<cache-name>/<variant>/
(see edge_sdk.models.cache).
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from edge_sdk.errors import EdgeProofError, ModelNotFoundError
from edge_sdk.models import cache, convert, hub, lora_gguf
from edge_sdk.models.cache import Progress
from edge_sdk.models.registry import (
    DEFAULT_MODEL,
    ModelSpec,
    get_spec,
    known_names,
    list_models,
    spec_for_hub_id,
)
from edge_sdk.models.validate import (
    GGUFInfo,
    check_gguf,
    check_hf_dir,
    check_onnx_dir,
    hf_weight_files,
    onnx_model_file,
)
from edge_sdk.paths import cache_dir

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

    from edge_sdk.models.lean_tokenizer import LeanTokenizer

SourceKind = Literal["registry", "gguf", "hf_dir", "onnx_dir", "hub"]

_tokenizers: dict[tuple[str, tuple[int, ...]], Any] = {}
_tokenizers_lock = threading.Lock()


class UnsupportedConversionError(EdgeProofError):
    """The asked-for form cannot be derived from this source (e.g. torch weights from an ONNX-only folder)."""


def _safe_name(text: str) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "model"
    return name[:80]


def _file_fingerprint(path: Path) -> dict[str, Any]:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _lib_versions(*names: str) -> dict[str, str | None]:
    return {n: convert.package_version(n) for n in names}


class ModelAssets:
    """A resolved model: where its files come from, plus lazily built, cached derived forms.

    Attributes: `name` (registry name, or derived from the path / hub id), `source_kind`, `gguf_path` (when
    the source is a GGUF), `source` (the path or hub id), `spec` (registry entry, if any).
    """

    def __init__(
        self,
        name: str,
        source_kind: SourceKind,
        source: Path | str,
        *,
        gguf_path: Path | None = None,
        gguf_info: GGUFInfo | None = None,
        spec: ModelSpec | None = None,
        cache_name: str | None = None,
        revision: str | None = None,
    ) -> None:
        self.name = name
        self.source_kind: SourceKind = source_kind
        self.source = source
        self.gguf_path = gguf_path
        self.spec = spec
        self.revision = revision
        self._gguf_info = gguf_info
        self._cache_name = cache_name or _safe_name(name)

    def __repr__(self) -> str:
        return f"ModelAssets(name={self.name!r}, source_kind={self.source_kind!r}, source={str(self.source)!r})"

    # -- cache layout ------------------------------------------------------------------------------------

    @property
    def cache_root(self) -> Path:
        """cache_dir()/models/<cache-name>: all derived forms of this model live below it."""
        return cache_dir() / "models" / self._cache_name

    def _source_key(self) -> dict[str, Any]:
        """What the derived forms depend on; a change (new file, new download) invalidates them."""
        if self.gguf_path is not None:
            return {"gguf": str(self.gguf_path.resolve()), **_file_fingerprint(self.gguf_path)}
        if self.source_kind == "hf_dir":
            folder = Path(self.source)
            files = [folder / "config.json", *hf_weight_files(folder),
                     *(folder / n for n in convert.TOKENIZER_FILES)]
            return {"hf_dir": str(folder.resolve()),
                    "files": {p.name: _file_fingerprint(p) for p in files if p.is_file()}}
        if self.source_kind == "onnx_dir":
            folder = Path(self.source)
            files = [p for p in sorted(folder.iterdir()) if p.is_file() and p.name.startswith("model.onnx")]
            return {"onnx_dir": str(folder.resolve()), "files": {p.name: _file_fingerprint(p) for p in files}}
        snapshot = self._hub_snapshot(tokenizer_only=False)
        return {"hub": str(self.source), "snapshot": snapshot.name}

    # -- hub -----------------------------------------------------------------------------------------------

    def _hub_snapshot(self, tokenizer_only: bool) -> Path:
        assert self.source_kind == "hub"
        patterns = hub.TOKENIZER_PATTERNS if tokenizer_only else hub.MODEL_PATTERNS
        snapshot = hub.download(str(self.source), self.revision, patterns)
        if not tokenizer_only and not hf_weight_files(snapshot):
            snapshot = hub.download(str(self.source), self.revision, ["pytorch_model*.bin", *patterns])
        return snapshot

    # -- tokenizer -----------------------------------------------------------------------------------------

    def tokenizer_dir(self, progress: Progress | None = None) -> Path:
        """A folder with the model's tokenizer files (chat template included). Cheap: for a GGUF it is built
        from the file's metadata without loading the weights."""
        if self.gguf_path is not None:
            hf = self.cache_root / "hf"
            if cache.is_valid(hf, self._hf_key()):
                return hf
            info = self._gguf()
            spec = self.spec

            def build(tmp: Path) -> dict[str, Any]:
                convert.write_tokenizer_folder(self.gguf_path, info, spec, tmp)  # type: ignore[arg-type]
                return {"source": str(self.gguf_path)}

            key = {"kind": "tokenizer", "source": self._source_key(), "builder": _TOKENIZER_BUILDER,
                   "libs": _lib_versions("tokenizers")}
            return cache.ensure_built(self.cache_root / "tokenizer", key, build,
                                      what=f"{self.name} tokenizer", progress=progress)
        if self.source_kind == "hub":
            return self._hub_snapshot(tokenizer_only=True)
        folder = Path(self.source)
        if not any((folder / n).is_file() for n in ("tokenizer.json", "tokenizer_config.json", "tokenizer.model")):
            raise ModelNotFoundError(
                f"{folder} has no tokenizer files (tokenizer.json / tokenizer_config.json). Save the tokenizer "
                "into the folder too (tokenizer.save_pretrained(folder))."
            )
        return folder

    def tokenizer(self, progress: Progress | None = None) -> PreTrainedTokenizerBase:
        """The model's transformers tokenizer, loaded once per process (it carries the chat template). Training
        and the torch backend use it; the llama.cpp and ONNX runtimes use `lean_tokenizer()`."""
        return self._cached_tokenizer("transformers", progress)

    def lean_tokenizer(self, progress: Progress | None = None) -> LeanTokenizer:
        """The same tokenizer without transformers (`tokenizers` + jinja2): same ids, same chat prompts."""
        return self._cached_tokenizer("lean", progress)

    def _cached_tokenizer(self, kind: str, progress: Progress | None) -> Any:
        folder = self.tokenizer_dir(progress).resolve()
        stamp = tuple((folder / n).stat().st_mtime_ns if (folder / n).exists() else 0
                      for n in ("tokenizer.json", "tokenizer_config.json"))
        key = (kind, str(folder), stamp)  # a rebuilt folder gets a fresh tokenizer
        with _tokenizers_lock:
            tok = _tokenizers.get(key)
            if tok is None:
                if kind == "lean":
                    from edge_sdk.models.lean_tokenizer import LeanTokenizer

                    tok = LeanTokenizer(folder)
                else:
                    from transformers import AutoTokenizer

                    tok = AutoTokenizer.from_pretrained(str(folder))
                _tokenizers[key] = tok
        return tok

    # -- transformers ----------------------------------------------------------------------------------------

    def _gguf(self) -> GGUFInfo:
        if self._gguf_info is None:
            assert self.gguf_path is not None
            self._gguf_info = check_gguf(self.gguf_path)
        return self._gguf_info

    def _hf_key(self) -> dict[str, Any]:
        return {"kind": "hf", "source": self._source_key(), "builder": _BUILDER_VERSION,
                "libs": _lib_versions("transformers", "tokenizers", "gguf")}

    def hf_dir(self, progress: Progress | None = None) -> Path:
        """A transformers folder (config.json + safetensors + tokenizer). From a GGUF it is dequantised to
        float32 once (~20 s for SmolLM2-135M) and cached; later calls cost a manifest read."""
        if self.gguf_path is not None:
            info = self._gguf()

            def build(tmp: Path) -> dict[str, Any]:
                return convert.hf_from_gguf(self.gguf_path, info, self.spec, tmp, progress)  # type: ignore[arg-type]

            return cache.ensure_built(self.cache_root / "hf", self._hf_key(), build,
                                      what=f"{self.name} safetensors", progress=progress)
        if self.source_kind == "hf_dir":
            return Path(self.source)
        if self.source_kind == "hub":
            folder = self._hub_snapshot(tokenizer_only=False)
            check_hf_dir(folder)
            return folder
        raise UnsupportedConversionError(
            f"{self.source} is an ONNX export: PyTorch weights cannot be recovered from it. Pass the original "
            "model (a .gguf file, a transformers folder or a hub id) for torch or LoRA training."
        )

    def merged_hf_dir(self, adapter: os.PathLike | str, progress: Progress | None = None) -> Path:
        """A transformers folder with a LoRA adapter merged into the weights (cached per adapter hash)."""
        adapter_path = Path(adapter).expanduser().resolve()
        digest = convert.adapter_fingerprint(adapter_path)
        base = self.hf_dir(progress)
        key = {"kind": "hf-merged", "source": self._source_key(), "adapter_sha256": digest,
               "builder": _BUILDER_VERSION, "libs": _lib_versions("transformers", "peft", "torch")}

        def build(tmp: Path) -> dict[str, Any]:
            return convert.hf_merged(base, adapter_path, tmp, progress)

        return cache.ensure_built(self.cache_root / f"hf-lora-{digest[:16]}", key, build,
                                  what=f"{self.name} + LoRA safetensors", progress=progress)

    def lora_gguf(self, adapter: os.PathLike | str, progress: Progress | None = None) -> Path:
        """A peft LoRA folder converted to a GGUF LoRA adapter file for llama.cpp on this model's GGUF (see
        edge_sdk.models.lora_gguf). Cached per adapter hash and base GGUF; the base itself is not touched."""
        if self.gguf_path is None:
            raise UnsupportedConversionError(
                f"{self.source} is not a GGUF model: a llama.cpp LoRA adapter is applied on top of a GGUF base. "
                "Use the torch or onnx backend for this model."
            )
        adapter_path = Path(adapter).expanduser().resolve()
        lora_gguf.read_adapter_config(adapter_path)  # a clear error for a folder that is not an adapter
        digest = convert.adapter_fingerprint(adapter_path)
        info = self._gguf()
        key = {"kind": "lora-gguf", "source": self._source_key(), "adapter_sha256": digest,
               "builder": _BUILDER_VERSION, "converter": lora_gguf.CONVERTER_VERSION,
               "libs": _lib_versions("gguf", "safetensors")}

        def build(tmp: Path) -> dict[str, Any]:
            return lora_gguf.convert_peft_lora(adapter_path, info, tmp / lora_gguf.FILE_NAME)

        folder = cache.ensure_built(self.cache_root / f"lora-gguf-{digest[:16]}", key, build,
                                    what=f"{self.name} LoRA GGUF", progress=progress)
        return folder / lora_gguf.FILE_NAME

    # -- ONNX ------------------------------------------------------------------------------------------------

    def onnx_dir(
        self,
        quantize: Literal["int8"] | None = None,
        adapter: os.PathLike | str | None = None,
        progress: Progress | None = None,
    ) -> Path:
        """An ORTModelForCausalLM-loadable folder (model.onnx with past-key-values, config, tokenizer).

        quantize="int8": block-wise int8 weights (onnxruntime MatMulNBits) from the fp32 export. adapter: a PEFT LoRA folder
        merged into the weights before export. Each combination is cached under its own variant directory.
        """
        if quantize not in (None, "int8"):
            raise UnsupportedConversionError(f"quantize must be None or 'int8', not {quantize!r}")
        if self.source_kind == "onnx_dir":
            if adapter is not None:
                raise UnsupportedConversionError(
                    f"{self.source} is already an ONNX export: a LoRA adapter can only be merged into PyTorch "
                    "weights. Export from the original model with the adapter instead."
                )
            if quantize is None:
                return Path(self.source)
            fp32 = Path(self.source)
            if _is_quantized(fp32):
                return fp32
            return self._int8_from(fp32, self._source_key(), "onnx-int8", progress)

        digest = convert.adapter_fingerprint(Path(adapter).expanduser().resolve()) if adapter is not None else None
        suffix = f"-lora-{digest[:16]}" if digest else ""
        fp32_key = {"kind": "onnx", "source": self._source_key(), "adapter_sha256": digest,
                    "builder": _BUILDER_VERSION,
                    "libs": _lib_versions("transformers", "optimum", "optimum-onnx", "torch", "onnx", "peft",
                                          "onnxruntime")}
        adapter_path = Path(adapter).expanduser().resolve() if adapter is not None else None

        def build(tmp: Path) -> dict[str, Any]:  # only when not cached: the runtime then needs no torch
            return convert.onnx_from_hf(self.hf_dir(progress), tmp, adapter_path, progress)

        fp32 = cache.ensure_built(self.cache_root / f"onnx{suffix}", fp32_key, build,
                                  what=f"{self.name} ONNX{' + LoRA' if digest else ''}", progress=progress)
        if quantize is None:
            return fp32
        return self._int8_from(fp32, fp32_key, f"onnx-int8{suffix}", progress)

    def _int8_from(self, fp32: Path, fp32_key: dict[str, Any], variant: str, progress: Progress | None) -> Path:
        key = {"kind": "onnx-int8", "from": fp32_key, "method": convert.INT8_METHOD, "builder": _BUILDER_VERSION,
               "libs": _lib_versions("onnxruntime", "onnx", "onnx-ir")}

        def build(tmp: Path) -> dict[str, Any]:
            return convert.quantize_int8(fp32, tmp, progress)

        return cache.ensure_built(self.cache_root / variant, key, build, what=f"{self.name} int8 ONNX",
                                  progress=progress)

    # -- facts -------------------------------------------------------------------------------------------------

    def context_length(self) -> int:
        """Maximum context (tokens) the model was trained for (GGUF metadata or config.json)."""
        if self.gguf_path is not None:
            ctx = self._gguf().context_length
            if ctx:
                return ctx
        config: dict[str, Any] = {}
        if self.source_kind in ("hf_dir", "onnx_dir"):
            config = convert.read_config(Path(self.source))
        elif self.source_kind == "hub":
            config = convert.read_config(self.tokenizer_dir())
        for field_name in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
            if isinstance(config.get(field_name), int):
                return int(config[field_name])
        if self.spec is not None and self.spec.context_length:
            return self.spec.context_length
        return 2048


# Bump when a conversion's code changes in a way that makes old caches wrong.
_BUILDER_VERSION = 2  # 2: CPU graph optimisation of the fp32 export
_TOKENIZER_BUILDER = 3  # 3: written with `tokenizers` alone (no transformers)


def _is_quantized(folder: Path) -> bool:
    manifest = cache.read_manifest(folder)
    return bool(manifest and manifest.get("key", {}).get("kind") == "onnx-int8")


# ------------------------------------------------------------------------------------------------ resolve


def _path_cache_name(stem: str, path: Path) -> str:
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:8]
    return f"{_safe_name(stem)}-{digest}"


def _registry_gguf_match(path: Path) -> ModelSpec | None:
    """The registry entry whose packaged GGUF is this very file (so both spellings share one cache)."""
    for spec in list_models():
        if spec.kind != "package_gguf":
            continue
        try:
            if spec.locate_gguf().resolve() == path.resolve():
                return spec
        except (ModelNotFoundError, ValueError):
            continue
    return None


def _resolve_path(path: Path) -> ModelAssets:
    path = path.expanduser()
    if path.is_file():
        if path.suffix.lower() != ".gguf":
            with open(path, "rb") as fh:
                magic = fh.read(4)
            if magic != b"GGUF":
                raise ModelNotFoundError(
                    f"{path} is not a model: expected a .gguf file, a transformers folder (config.json + "
                    "weights) or an ONNX export folder (model.onnx + config.json)."
                )
        spec = _registry_gguf_match(path)
        info = check_gguf(path)
        if spec is not None:
            return ModelAssets(spec.name, "registry", path, gguf_path=path, gguf_info=info, spec=spec)
        return ModelAssets(_safe_name(path.stem), "gguf", path, gguf_path=path, gguf_info=info,
                           cache_name=_path_cache_name(path.stem, path))
    if path.is_dir():
        name = _safe_name(path.resolve().name)
        if onnx_model_file(path) is not None:
            check_onnx_dir(path)
            return ModelAssets(name, "onnx_dir", path, cache_name=_path_cache_name(name, path))
        if (path / "config.json").is_file():
            check_hf_dir(path)
            return ModelAssets(name, "hf_dir", path, cache_name=_path_cache_name(name, path))
        ggufs = sorted(path.glob("*.gguf"))
        if len(ggufs) == 1:
            return _resolve_path(ggufs[0])
        what = f"several .gguf files ({', '.join(p.name for p in ggufs)}): pass one of them" if ggufs else (
            "no config.json, model.onnx or .gguf file")
        raise ModelNotFoundError(f"{path} is a folder with {what}.")
    raise ModelNotFoundError(f"no such model file or folder: {path}")


def _resolve_spec(spec: ModelSpec) -> ModelAssets:
    if spec.kind == "package_gguf":
        gguf_path = spec.locate_gguf()
        info = check_gguf(
            gguf_path, fix=f"Re-install the package: pip install --force-reinstall {spec.package} "
            f"({spec.pip_hint or ''})."
        )
        return ModelAssets(spec.name, "registry", gguf_path, gguf_path=gguf_path, gguf_info=info, spec=spec)
    assert spec.hub_id is not None
    hub.check_available(spec.hub_id, spec.revision)
    return ModelAssets(spec.name, "hub", spec.hub_id, spec=spec, revision=spec.revision)


def _unknown(ref: str) -> ModelNotFoundError:
    names = ", ".join(known_names())
    return ModelNotFoundError(
        f"unknown model {ref!r}: it is not a known name ({names}), not an existing .gguf file or model folder, "
        "and not a Hugging Face hub id (owner/name)."
    )


def resolve_model(ref: str | os.PathLike | ModelAssets | None = None) -> ModelAssets:
    """Turn a registry name, local path (.gguf / transformers folder / ONNX folder) or hub id into ModelAssets.

    None means DEFAULT_MODEL. Cheap: file headers are checked (a truncated GGUF raises ModelCorruptError),
    nothing is converted or downloaded; hub ids must be in the local HF cache or the hub must answer.
    """
    if ref is None:
        ref = DEFAULT_MODEL
    if isinstance(ref, ModelAssets):
        return ref
    if isinstance(ref, os.PathLike):
        return _resolve_path(Path(ref))
    if not isinstance(ref, str):
        raise TypeError(f"model reference must be a str, path or None, not {type(ref).__name__}")
    text = ref.strip()
    if not text:
        raise _unknown(ref)
    spec = get_spec(text)
    if spec is not None:
        return _resolve_spec(spec)
    path = Path(text).expanduser()
    if path.exists():
        return _resolve_path(path)
    if hub.looks_like_hub_id(text):
        spec = spec_for_hub_id(text)
        if spec is not None:
            return _resolve_spec(spec)
        hub.check_available(text)
        return ModelAssets(text.replace("/", "--"), "hub", text)
    if os.sep in text or text.lower().endswith((".gguf", ".onnx")) or text.startswith(("~", ".")):
        raise ModelNotFoundError(f"no such model file or folder: {path}")
    raise _unknown(text)
