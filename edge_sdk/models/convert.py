"""The conversions behind ModelAssets: GGUF -> transformers, transformers (+LoRA) -> ONNX, ONNX -> int8.

Each function writes into a directory it is given (the cache's temp dir) and returns facts worth keeping in
the cache manifest. Heavy imports (torch, transformers, optimum, onnxruntime) happen inside the functions so
that resolving a model name stays cheap.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge_sdk.errors import EdgeProofError, ModelCorruptError, ModelNotFoundError
from edge_sdk.models import onnx_graph
from edge_sdk.models.registry import ModelSpec
from edge_sdk.models.validate import GGUFInfo, read_gguf_arrays

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

log = logging.getLogger("edge_sdk.models")

Progress = Callable[[str], None] | None

# Files that make up a saved tokenizer (copied next to ONNX exports so the folder is self-contained).
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "chat_template.jinja",
    "chat_template.json",
    "added_tokens.json",
    "vocab.json",
    "merges.txt",
    "tokenizer.model",
)

# Max |logit| difference accepted between the torch model and its fp32 ONNX export on the check prompt.
ONNX_FP32_ATOL = 1e-3
CHECK_PROMPT = "The capital of France is Paris. 12 + 30 = 42, and the sky is"


class ConversionError(EdgeProofError):
    """A conversion produced a model that does not behave like its source (nothing is cached)."""


def _say(progress: Progress, message: str) -> None:
    log.info(message)
    if progress is not None:
        progress(message)


def package_version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


# ---------------------------------------------------------------------------------------------- tokenizer


# llama.cpp's pre-tokenizer split regexes (src/llama-vocab.cpp), by `tokenizer.ggml.pre`, for the families
# checked token-for-token against llama.cpp's own vocab tests (models/ggml-vocab-*.gguf.inp/.out).
_GPT2_SPLIT = ("gpt-2", "gpt2", "mpt")
_DIGITS_THEN_GPT2 = ("smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva")
_LLAMA3 = ("llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral")
_QWEN2 = ("qwen2", "deepseek-r1-qwen", "stablelm2")
_CONTRACTIONS = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"
_LLAMA3_REGEX = (_CONTRACTIONS + r"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                 r"|\s*[\r\n]+|\s+(?!\S)|\s+")
_QWEN2_REGEX = (_CONTRACTIONS + r"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")


def _gguf_pre_tokenizer(pre: str | None):
    """(pre-tokenizer, ignore_merges) matching llama.cpp's `tokenizer.ggml.pre`, or None if not known.

    transformers' GGUF converter always uses a plain GPT-2 byte-level split; SmolLM2 ("smollm") also splits
    every digit on its own, Llama-3 and Qwen2 use their own regexes, so text would otherwise tokenise
    differently from llama.cpp (and from the original tokenizer).
    """
    from tokenizers import Regex, pre_tokenizers

    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=True)
    bytes_only = pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    if pre in _DIGITS_THEN_GPT2:
        return pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), byte_level]), False
    if pre in _GPT2_SPLIT:
        return byte_level, False
    for names, regex, ignore_merges in ((_LLAMA3, _LLAMA3_REGEX, True), (_QWEN2, _QWEN2_REGEX, False)):
        if pre in names:
            split = pre_tokenizers.Split(Regex(regex), behavior="isolated", invert=False)
            return pre_tokenizers.Sequence([split, bytes_only]), ignore_merges
    return None


_TOKEN_TYPE_CONTROL = 3
_TOKEN_TYPE_USER_DEFINED = 4


def _bpe_backend_from_gguf(gguf_path: Path, info: GGUFInfo):
    """A `tokenizers` byte-level BPE built straight from the GGUF arrays (vocab, merges, token types).

    ~1 s, against ~18 s for transformers' GGUF tokenizer path, which parses the file with gguf.GGUFReader.
    """
    from tokenizers import AddedToken, Tokenizer, decoders, models, processors

    arrays = read_gguf_arrays(
        gguf_path, {"tokenizer.ggml.tokens", "tokenizer.ggml.merges", "tokenizer.ggml.token_type"}
    )
    tokens = arrays.get("tokenizer.ggml.tokens")
    merges = arrays.get("tokenizer.ggml.merges")
    if not isinstance(tokens, list) or not isinstance(merges, list):
        raise ModelCorruptError(f"{gguf_path} has no tokenizer vocabulary/merges in its metadata.")
    types = arrays.get("tokenizer.ggml.token_type") or [1] * len(tokens)
    vocab = {tok: i for i, tok in enumerate(tokens)}
    pairs = [tuple(m.split(" ", 1)) for m in merges]
    pre = info.metadata.get("tokenizer.ggml.pre")
    known = _gguf_pre_tokenizer(pre)
    if known is None:
        log.warning(
            "%s: GGUF pre-tokenizer %r is not one edgeproof knows; splitting like GPT-2, which may tokenise some "
            "text differently from llama.cpp", gguf_path.name, pre,
        )
        known = _gguf_pre_tokenizer("gpt-2")
    pre_tok, ignore_merges = known  # type: ignore[misc]
    backend = Tokenizer(models.BPE(vocab=vocab, merges=pairs, fuse_unk=False, byte_fallback=False,
                                   ignore_merges=ignore_merges))
    backend.pre_tokenizer = pre_tok
    backend.decoder = decoders.ByteLevel()
    backend.post_processor = processors.ByteLevel(trim_offsets=False)
    backend.add_special_tokens(
        [AddedToken(tokens[i], special=True, normalized=False) for i, t in enumerate(types) if t == _TOKEN_TYPE_CONTROL]
    )
    user = [tokens[i] for i, t in enumerate(types) if t == _TOKEN_TYPE_USER_DEFINED]
    if user:
        backend.add_tokens([AddedToken(tok, special=False, normalized=False) for tok in user])
    return backend, tokens


def _special_tokens(gguf_path: Path, info: GGUFInfo, spec: ModelSpec | None, tokens: list[str],
                    vocab: dict[str, int]) -> dict[str, str]:
    """bos/eos/unk/pad from the GGUF's ids (the registry entry overrides; pad falls back to eos)."""
    meta = info.metadata

    def token(key: str) -> str | None:
        idx = meta.get(key)
        return tokens[int(idx)] if isinstance(idx, int) and 0 <= idx < len(tokens) else None

    special = {
        "bos_token": token("tokenizer.ggml.bos_token_id"),
        "eos_token": token("tokenizer.ggml.eos_token_id"),
        "unk_token": token("tokenizer.ggml.unknown_token_id"),
        "pad_token": token("tokenizer.ggml.padding_token_id"),
    }
    if spec is not None:
        for field_name in ("bos", "eos", "unk", "pad"):
            value = getattr(spec.special_tokens, field_name)
            if value is not None:
                special[f"{field_name}_token"] = value
    if special["pad_token"] is None:
        special["pad_token"] = special["eos_token"]
    for name, value in special.items():
        if value is not None and value not in vocab:
            raise ModelCorruptError(f"{gguf_path}: special token {name}={value!r} is not in its vocabulary.")
    return {k: v for k, v in special.items() if v is not None}


def _bpe_tokenizer(gguf_path: Path, info: GGUFInfo, spec: ModelSpec | None):
    """(tokenizers backend, tokenizer_config dict) of a byte-level BPE GGUF, with `tokenizers` alone."""
    backend, tokens = _bpe_backend_from_gguf(gguf_path, info)
    vocab = backend.get_vocab(with_added_tokens=True)
    special = _special_tokens(gguf_path, info, spec, tokens, vocab)
    if bool(info.metadata.get("tokenizer.ggml.add_bos_token", False)) and "bos_token" in special:
        from tokenizers import processors

        bos = special["bos_token"]
        backend.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, vocab[bos])]
        )
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "clean_up_tokenization_spaces": False,
        "model_max_length": info.context_length or (spec.context_length if spec else None) or 2048,
        "chat_template": info.chat_template or (spec.chat_template if spec else None),
        **special,
    }
    return backend, config


def write_tokenizer_folder(gguf_path: Path, info: GGUFInfo, spec: ModelSpec | None, out: Path) -> None:
    """tokenizer.json + tokenizer_config.json + special_tokens_map.json, the layout transformers loads, built from
    the GGUF's metadata (no weights read). Byte-level BPE vocabularies need only `tokenizers`, so the lean runtime
    (llama.cpp, ONNX) never imports transformers; other vocabularies go through transformers' converter."""
    if info.metadata.get("tokenizer.ggml.model") == "gpt2":
        backend, config = _bpe_tokenizer(gguf_path, info, spec)
        out.mkdir(parents=True, exist_ok=True)
        backend.save(str(out / "tokenizer.json"))
        (out / "tokenizer_config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False))
        special = {k: v for k, v in config.items() if k.endswith("_token")}
        (out / "special_tokens_map.json").write_text(json.dumps(special, indent=2, ensure_ascii=False))
    else:
        tokenizer_from_gguf(gguf_path, info, spec).save_pretrained(out)
    from edge_sdk.models.lean_tokenizer import LeanTokenizer

    check_chat_template(LeanTokenizer(out), str(gguf_path))


def tokenizer_from_gguf(gguf_path: Path, info: GGUFInfo, spec: ModelSpec | None) -> PreTrainedTokenizerBase:
    """The transformers tokenizer of a GGUF (no weights are read).

    Byte-level BPE vocabularies (tokenizer.ggml.model == "gpt2": SmolLM2, Qwen, Llama-3...) are built
    directly, with llama.cpp's pre-tokenizer split, its add_bos_token flag and the right bos/eos
    (transformers 4.57's GGUF path swaps bos/eos for llama files and always prepends BOS). Other vocabularies
    go through transformers' converter, then get their special tokens fixed the same way. The chat template
    comes from the GGUF, else from the registry entry.
    """
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    if info.metadata.get("tokenizer.ggml.model") == "gpt2":
        backend, config = _bpe_tokenizer(gguf_path, info, spec)
        special = {k: v for k, v in config.items() if k.endswith("_token")}
        tokenizer: PreTrainedTokenizerBase = PreTrainedTokenizerFast(
            tokenizer_object=backend, clean_up_tokenization_spaces=False,
            model_max_length=config["model_max_length"], **special)
        template = config["chat_template"]
    else:
        try:
            converted = AutoTokenizer.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
        except Exception as exc:
            raise ModelCorruptError(
                f"cannot build a tokenizer from {gguf_path} ({type(exc).__name__}: {exc}). "
                "Re-install or re-download the model file."
            ) from exc
        tokens = [converted.convert_ids_to_tokens(i) for i in range(len(converted))]
        vocab = converted.backend_tokenizer.get_vocab(with_added_tokens=True)
        converted.add_special_tokens(_special_tokens(gguf_path, info, spec, tokens, vocab))  # type: ignore[arg-type]
        tokenizer = converted
        template = info.chat_template or (spec.chat_template if spec else None) or getattr(converted,
                                                                                           "chat_template", None)
    if template:
        tokenizer.chat_template = template
    return tokenizer


def check_chat_template(tokenizer: PreTrainedTokenizerBase, source: str) -> None:
    """Fail the build if the tokenizer cannot render a chat prompt (every runtime path depends on it)."""
    if not getattr(tokenizer, "chat_template", None):
        raise ConversionError(
            f"{source} carries no chat template; register the model with a `chat_template` (ModelSpec) "
            "or use a tokenizer folder that has one."
        )
    try:
        tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], add_generation_prompt=True, tokenize=False)
    except Exception as exc:
        raise ConversionError(f"{source}: its chat template does not render ({exc}).") from exc


# ---------------------------------------------------------------------------------------------- GGUF -> HF


def align_special_ids(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> None:
    """Make config and generation_config agree with the tokenizer's bos/eos/pad, so generate() stops right."""
    for attr in ("bos_token_id", "eos_token_id", "pad_token_id"):
        value = getattr(tokenizer, attr, None)
        if value is None:
            continue
        setattr(model.config, attr, value)
        if getattr(model, "generation_config", None) is not None:
            setattr(model.generation_config, attr, value)


def hf_from_gguf(
    gguf_path: Path, info: GGUFInfo, spec: ModelSpec | None, out: Path, progress: Progress = None
) -> dict[str, Any]:
    """Dequantise a GGUF into a float32 transformers model and save it (safetensors + tokenizer) into out."""
    import torch
    from transformers import AutoModelForCausalLM

    _say(progress, f"building the tokenizer from {gguf_path.name}")
    tokenizer = tokenizer_from_gguf(gguf_path, info, spec)
    check_chat_template(tokenizer, str(gguf_path))
    _say(progress, f"loading {gguf_path.name} into transformers (dequantising, ~20 s for 135M parameters)")
    try:
        model = AutoModelForCausalLM.from_pretrained(
            str(gguf_path.parent), gguf_file=gguf_path.name, dtype=torch.float32
        )
    except ValueError as exc:
        if "not supported" in str(exc):
            raise ModelNotFoundError(
                f"transformers cannot load {gguf_path} into PyTorch ({exc}). Use llama.cpp for it, or pass a "
                "transformers model folder instead."
            ) from exc
        raise ModelCorruptError(f"cannot load {gguf_path} ({exc}). Re-install or re-download it.") from exc
    align_special_ids(model, tokenizer)
    tied = bool(getattr(model.config, "tie_word_embeddings", False))
    if tied:
        out_emb, in_emb = model.get_output_embeddings(), model.get_input_embeddings()
        if out_emb is not None and out_emb.weight.data_ptr() != in_emb.weight.data_ptr():
            model.tie_weights()
    _say(progress, "saving safetensors")
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return {
        "source": str(gguf_path),
        "architecture": info.architecture,
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "tie_word_embeddings": tied,
    }


# ---------------------------------------------------------------------------------------------- LoRA


def adapter_fingerprint(adapter: Path) -> str:
    """sha256 over a PEFT adapter folder's files (name + bytes), so a retrained adapter gets a new cache key."""
    adapter = Path(adapter)
    if not (adapter / "adapter_config.json").is_file():
        raise ModelNotFoundError(
            f"{adapter} is not a PEFT LoRA adapter folder (it has no adapter_config.json). Pass the folder "
            "written by the training step (save_pretrained of a PeftModel)."
        )
    digest = hashlib.sha256()
    for path in sorted(p for p in adapter.rglob("*") if p.is_file()):
        rel = path.relative_to(adapter).as_posix()
        if any(part.startswith(".") for part in rel.split("/")):
            continue
        digest.update(rel.encode() + b"\0")
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        digest.update(b"\0")
    return digest.hexdigest()


def load_torch_model(hf_dir: Path, adapter: Path | None = None, progress: Progress = None) -> PreTrainedModel:
    """The float32 torch model from a transformers folder, with a LoRA adapter merged in if given."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(hf_dir), dtype=torch.float32)
    if adapter is not None:
        from peft import PeftModel

        _say(progress, f"merging LoRA adapter {adapter}")
        try:
            peft_model = PeftModel.from_pretrained(model, str(adapter))
        except Exception as exc:
            raise ModelCorruptError(
                f"cannot apply the LoRA adapter {adapter} to {hf_dir} ({type(exc).__name__}: {exc}). "
                "Check that it was trained on this base model."
            ) from exc
        model = peft_model.merge_and_unload()
    model.eval()
    return model


def hf_merged(hf_dir: Path, adapter: Path, out: Path, progress: Progress = None) -> dict[str, Any]:
    """Save base + merged LoRA as a plain transformers folder (safetensors)."""
    from transformers import AutoTokenizer

    model = load_torch_model(hf_dir, adapter, progress)
    _say(progress, "saving merged safetensors")
    model.save_pretrained(out, safe_serialization=True)
    AutoTokenizer.from_pretrained(str(hf_dir)).save_pretrained(out)
    return {"base": str(hf_dir), "adapter": str(adapter)}


# ---------------------------------------------------------------------------------------------- ONNX


def _check_ids(tokenizer: PreTrainedTokenizerBase) -> list[int]:
    ids = tokenizer(CHECK_PROMPT, add_special_tokens=False)["input_ids"]
    return [int(i) for i in ids]


def onnx_logits(onnx_dir: Path, input_ids: list[int], file_name: str = "model.onnx"):
    """Logits of an ORTModelForCausalLM folder for one prompt (numpy [seq, vocab]); also proves it loads."""
    import torch
    from optimum.onnxruntime import ORTModelForCausalLM

    model = ORTModelForCausalLM.from_pretrained(str(onnx_dir), file_name=file_name, use_cache=True)
    ids = torch.tensor([input_ids], dtype=torch.long)
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=torch.ones_like(ids))
    return out.logits[0].detach().float().numpy()


def torch_logits(model: PreTrainedModel, input_ids: list[int]):
    import torch

    ids = torch.tensor([input_ids], dtype=torch.long)
    with torch.no_grad():
        return model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits[0].float().numpy()


def copy_tokenizer_files(src: Path, dst: Path) -> None:
    for name in TOKENIZER_FILES:
        if (src / name).is_file():
            shutil.copy2(src / name, dst / name)


def onnx_from_hf(
    hf_dir: Path, out: Path, adapter: Path | None = None, progress: Progress = None
) -> dict[str, Any]:
    """Export to an ORTModelForCausalLM folder with past-key-values, and check it against torch.

    The check (max |logit diff| on a fixed prompt) guards the tied lm_head/embeddings case and any exporter
    regression: a wrong export raises instead of landing in the cache.
    """
    import numpy as np
    from optimum.exporters.onnx import onnx_export_from_model
    from transformers import AutoTokenizer

    model = load_torch_model(hf_dir, adapter, progress)
    tokenizer = AutoTokenizer.from_pretrained(str(hf_dir))
    _say(progress, "exporting to ONNX with optimum (text-generation-with-past, ~40 s for 135M parameters)")
    onnx_export_from_model(model, output=out, task="text-generation-with-past", do_validation=False)
    copy_tokenizer_files(hf_dir, out)
    if not (out / "model.onnx").is_file():
        raise ConversionError(f"optimum's export of {hf_dir} did not produce model.onnx")
    _say(progress, "optimising the ONNX graph for CPU decoding (onnxruntime transformer fusions, ~45 s)")
    graph_facts = onnx_graph.optimize_for_cpu(out / "model.onnx", read_config(hf_dir))
    _say(progress, "checking ONNX logits against torch")
    ids = _check_ids(tokenizer)
    expected = torch_logits(model, ids)
    got = onnx_logits(out, ids)
    diff = float(np.max(np.abs(expected - got)))
    if not np.isfinite(diff) or diff > ONNX_FP32_ATOL * max(1.0, float(np.max(np.abs(expected)))):
        raise ConversionError(
            f"the ONNX export of {hf_dir} does not match torch (max |logit diff| {diff:.3g}); not caching it."
        )
    return {
        "base": str(hf_dir),
        "adapter": str(adapter) if adapter else None,
        "max_abs_logit_diff_vs_torch": diff,
        "check_argmax_agreement": float(np.mean(expected.argmax(-1) == got.argmax(-1))),
        "graph": graph_facts,
    }


INT8_METHOD = {"op": "MatMulNBits", "bits": 8, "block_size": 32, "symmetric": True, "accuracy_level": 4,
               "fp32": "lm_head"}


def quantize_int8(src_dir: Path, out: Path, progress: Progress = None) -> dict[str, Any]:
    """int8 ONNX: every MatMul weight quantised to int8 in blocks of 32 (onnxruntime MatMulNBits, bits=8).

    Why not `quantize_dynamic` (MatMulInteger, one activation scale per tensor): measured on SmolLM2-135M it
    agrees with the fp32 argmax on only ~54% of positions (its activations have outliers), while block-wise
    int8 keeps ~98%, at the same size and decode speed. accuracy_level=4 lets ORT quantise activations to
    int8 on the fly, per block, for fast integer kernels. The embedding Gather and the lm_head stay fp32
    (see onnx_graph.lm_head_nodes for why).
    """
    import numpy as np
    import onnx

    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    try:
        # This module calls logging.basicConfig(level=INFO) on import; undo that for the host application.
        from onnxruntime.quantization.matmul_nbits_quantizer import (
            DefaultWeightOnlyQuantConfig,
            MatMulNBitsQuantizer,
        )
        logging.getLogger("onnxruntime.quantization.matmul_nbits_quantizer").setLevel(logging.WARNING)
    except ImportError as exc:
        from edge_sdk.errors import BackendUnavailableError

        raise BackendUnavailableError(
            f"int8 export needs onnxruntime's MatMulNBits quantizer ({exc}); install it with "
            "`pip install onnx-ir onnxruntime` (or `pip install 'edgeproof[onnx]'`)."
        ) from exc
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)

    src_model = src_dir / "model.onnx"
    external = (src_dir / "model.onnx_data").exists()
    _say(progress, "quantising the ONNX export to int8 (block-wise int8 MatMul weights)")
    model = onnx.load(str(src_model))
    keep_fp32 = onnx_graph.lm_head_nodes(model)
    cfg = DefaultWeightOnlyQuantConfig(
        block_size=INT8_METHOD["block_size"], is_symmetric=INT8_METHOD["symmetric"],
        accuracy_level=INT8_METHOD["accuracy_level"], bits=INT8_METHOD["bits"],
    )
    quantizer = MatMulNBitsQuantizer(
        model, block_size=INT8_METHOD["block_size"], is_symmetric=INT8_METHOD["symmetric"],
        accuracy_level=INT8_METHOD["accuracy_level"], algo_config=cfg, nodes_to_exclude=keep_fp32,
    )
    quantizer.process()
    quantizer.model.save_model_to_file(str(out / "model.onnx"), use_external_data_format=external)
    del model, quantizer
    for path in src_dir.iterdir():
        if path.is_file() and not path.name.startswith("model.onnx") and path.name != "edgeproof-manifest.json":
            shutil.copy2(path, out / path.name)
    _say(progress, "checking the int8 model loads and runs")
    from transformers import AutoTokenizer

    ids = _check_ids(AutoTokenizer.from_pretrained(str(src_dir)))
    ref = onnx_logits(src_dir, ids)
    got = onnx_logits(out, ids)
    if not np.all(np.isfinite(got)):
        raise ConversionError(f"the int8 model built from {src_dir} produces non-finite logits")
    return {
        "base": str(src_dir),
        "method": INT8_METHOD,
        "fp32_nodes": keep_fp32,
        "max_abs_logit_diff_vs_fp32": float(np.max(np.abs(ref - got))),
        "check_argmax_agreement_vs_fp32": float(np.mean(ref.argmax(-1) == got.argmax(-1))),
        "fp32_bytes": sum(p.stat().st_size for p in src_dir.glob("model.onnx*")),
        "int8_bytes": sum(p.stat().st_size for p in out.glob("model.onnx*")),
    }


def read_config(folder: Path) -> dict[str, Any]:
    try:
        return json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
