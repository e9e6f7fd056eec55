"""Altered copies of the reference model: what a cheating inference node would serve instead of it.
Used by the cheat nodes (poai/node/adversarial.py) and by the thresholds' calibration
(poai/challenges/inference/calibration.py), so both measure the very same cheats."""

from __future__ import annotations

import copy
from typing import Any


def noisy(model: Any, frac: float, seed: int = 0) -> Any:
    """The weights plus Gaussian noise of `frac` x each tensor's std (a fine-tuned or forged copy)."""
    import torch

    m = copy.deepcopy(model)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * p.float().std() * frac)
    return m


def fake_quantise(model: Any, bits: int, group: int = 32) -> Any:
    """A copy with every nn.Linear weight min-max quantised to `bits` bits per group of `group` inputs: the
    "much coarser quantisation" cheat."""
    import torch

    m = copy.deepcopy(model)
    levels = 2**bits - 1
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, torch.nn.Linear) and mod.weight.shape[1] % group == 0:
                w = mod.weight.data.reshape(-1, group)
                lo, hi = w.min(dim=1, keepdim=True).values, w.max(dim=1, keepdim=True).values
                scale = (hi - lo).clamp_min(1e-12) / levels
                q = torch.round((w - lo) / scale).clamp(0, levels)
                mod.weight.data = (q * scale + lo).reshape(mod.weight.shape)
    return m


def dynamic_int8(model: Any) -> Any:
    """torch's dynamic int8 quantisation of every nn.Linear (a cheaper model with near-equal answers)."""
    import torch

    return torch.ao.quantization.quantize_dynamic(copy.deepcopy(model), {torch.nn.Linear}, dtype=torch.qint8)


def tiny_random(vocab_size: int, initializer_range: float | None = None) -> Any:
    """A 2-layer random Llama with the reference's vocabulary (answers fast, answers nonsense)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    extra = {} if initializer_range is None else {"initializer_range": initializer_range}
    cfg = LlamaConfig(vocab_size=vocab_size, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=8192,
                      tie_word_embeddings=True, **extra)
    return LlamaForCausalLM(cfg).eval()
