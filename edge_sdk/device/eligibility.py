"""May this device fine-tune right now? A policy over a `DeviceProfile`.

On-device training must never surprise the user: drain the battery, make the laptop sluggish or get the app
killed for memory. So training needs the user's opt-in, mains power or enough battery, an idle CPU and memory
headroom. `check_eligibility` runs every check and lists every failure (not just the first), each as a sentence
with the numbers, so the app can show the user exactly what to change.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from edge_sdk.device.profile import DeviceProfile
from edge_sdk.device.units import format_bytes
from edge_sdk.errors import InvalidRequestError
from edge_sdk.training.recipe import FLOCK_OFF_RECIPE

MIB = 1024**2

# Defaults of the memory estimate when the architecture is not given.
DEFAULT_NUM_LAYERS = 24
DEFAULT_VOCAB_SIZE = 50_000
# Measured: a Python process that has imported torch, transformers and peft holds ~352 MiB RSS.
RUNTIME_OVERHEAD_BYTES = 384 * MIB
# Peak RSS keeps rising for a few steps after the first (AdamW state, allocator fragmentation): the
# steady peak measured 1.25x the first step's (SmolLM2-135M shape, eager attention, seq 512).
ALLOCATOR_SLACK = 1.25


class TrainingPolicy(BaseModel):
    """When local training is allowed. Defaults suit a phone or laptop app training in the background."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    require_opt_in: bool = Field(default=True, description="The user must have explicitly opted in")
    require_charging: bool = Field(
        default=False, description="Only train on mains power, whatever the battery level"
    )
    min_battery_percent: float = Field(
        default=50.0, ge=0, le=100, description="Floor when running on battery"
    )
    max_cpu_load: float = Field(
        default=0.5, gt=0, description="Max busy fraction of all cores (1.0 = every core busy)"
    )
    load_metric: Literal["loadavg", "percent", "max"] = Field(
        default="loadavg",
        description=(
            "'loadavg': 1-min load average per core (smooth; falls back to 'percent' where there is none, e.g. "
            "Windows); 'percent': the instantaneous CPU sample; 'max': the busier of the two"
        ),
    )
    memory_headroom: float = Field(
        default=1.25, ge=1.0, description="Factor on the estimated training memory"
    )
    min_free_ram_bytes: int = Field(default=512 * MIB, ge=0, description="RAM left to the OS and other apps")
    allow_gpu_memory: bool = Field(
        default=True, description="The memory check also passes when an NVIDIA GPU has enough free VRAM"
    )


class EligibilityCheck(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    passed: bool
    detail: str


class Eligibility(BaseModel):
    """`allowed` and every failing reason; when allowed, reasons == ["all checks passed"]."""

    model_config = ConfigDict(frozen=True)

    allowed: bool
    reasons: list[str]
    checks: list[EligibilityCheck] = Field(default_factory=list, description="Every check, passed or not")


# ---------------------------------------------------------------------------------------------- memory estimate


def training_memory_breakdown(
    model_params: int,
    lora_rank: int = FLOCK_OFF_RECIPE.r,
    seq_len: int = 512,
    dtype_bytes: int = 4,
    *,
    batch_size: int = 1,
    hidden_size: int | None = None,
    num_layers: int | None = None,
    vocab_size: int | None = None,
) -> dict[str, int]:
    """The terms of `estimate_training_memory`, in bytes (see there for the formula)."""
    for name, value, low in (
        ("model_params", model_params, 1),
        ("lora_rank", lora_rank, 1),
        ("seq_len", seq_len, 1),
        ("dtype_bytes", dtype_bytes, 1),
        ("batch_size", batch_size, 1),
        ("hidden_size", hidden_size, 1),
        ("num_layers", num_layers, 1),
        ("vocab_size", vocab_size, 1),
    ):
        if value is not None and (not isinstance(value, int) or value < low):
            raise InvalidRequestError(f"{name} must be an integer >= {low}, got {value!r}")

    p, r, s, b = model_params, lora_rank, seq_len, batch_size
    if hidden_size is None:
        layers = num_layers or DEFAULT_NUM_LAYERS
        d = max(1, round(math.sqrt(p / (12 * layers))))
    else:
        d = hidden_size
        layers = num_layers or max(1, round(p / (12 * d * d)))
    heads = max(1, d // 64)
    vocab = vocab_size or DEFAULT_VOCAB_SIZE

    lora_params = 18 * r * d * layers
    act_elems_per_layer = b * (34 * s * d + math.ceil(2.5 * heads * s * s))
    terms = {
        "base_weights": p * dtype_bytes,
        "lora_and_optimizer": lora_params * 16,
        "activations": layers * act_elems_per_layer * dtype_bytes,
        "logits": 4 * b * s * vocab * 4,
        "runtime_overhead": RUNTIME_OVERHEAD_BYTES,
    }
    terms["allocator_slack"] = math.ceil(sum(terms.values()) * (ALLOCATOR_SLACK - 1))
    return terms


def estimate_training_memory(
    model_params: int,
    lora_rank: int = FLOCK_OFF_RECIPE.r,
    seq_len: int = 512,
    dtype_bytes: int = 4,
    *,
    batch_size: int = 1,
    hidden_size: int | None = None,
    num_layers: int | None = None,
    vocab_size: int | None = None,
) -> int:
    """Peak memory (bytes) of LoRA training: a deliberately generous estimate, used for gating.

    With P = model_params, r = lora_rank, s = seq_len, b = batch_size, e = dtype_bytes:

    - shape, when not given: L = num_layers or 24, d = hidden_size or sqrt(P / (12 L)) (a transformer block
      holds ~12 d^2 weights), a = d / 64 attention heads, V = vocab_size or 50 000;
    - frozen base weights:             P * e
    - LoRA weights + grad + AdamW m/v:  18 r d L * 16  (r (d_in + d_out) summed over q,k,v,o,gate,up,down of a
      Llama-style block is ~18 r d; trainable parameters are fp32: 4 bytes x 4 copies)
    - activations kept for backward:   L * b * (34 s d + 2.5 a s^2) * e. Korthikanti et al. 2022 ("Reducing
      Activation Recomputation in Large Transformer Models") count 17 s d + 2.5 a s^2 elements per layer for
      full fine-tuning; LoRA with dropout on every linear layer keeps a dropped-out copy of each adapted
      layer's input and its mask on top, which doubles the s d term (fitted to the measurement below);
      the s^2 term is eager attention's score matrices;
    - logits: 4 * b * s * V * 4 (logits, their fp32 copy, log-softmax and gradient: the loss runs in fp32);
    - runtime overhead: 384 MiB (torch + transformers + peft imported);
    - allocator slack: +25% of the sum (peak RSS still grows for a few steps after the first).

    Calibration (CPU, fp32, SmolLM2-135M shape, r=16, alpha=32, dropout=0.1 on all linear layers, seq 512,
    batch 1): steady peak RSS 3339 MiB with eager attention and 3012 MiB with SDPA over 5 steps; this
    estimate gives 3810 MiB from the parameter count alone and 3974 MiB with the exact shape; at seq 1024
    (SDPA, steady peak 5010 MiB) it gives 7909 / 8420 MiB. It errs on the safe side because its job is to
    keep the device responsive; the policy's headroom factor comes on top.
    """
    return sum(
        training_memory_breakdown(
            model_params,
            lora_rank,
            seq_len,
            dtype_bytes,
            batch_size=batch_size,
            hidden_size=hidden_size,
            num_layers=num_layers,
            vocab_size=vocab_size,
        ).values()
    )


# ---------------------------------------------------------------------------------------------- checks


def _check_opt_in(policy: TrainingPolicy, opted_in: bool) -> EligibilityCheck:
    if opted_in:
        return EligibilityCheck(
            name="opt-in", passed=True, detail="the user has opted in to on-device training"
        )
    if not policy.require_opt_in:
        return EligibilityCheck(name="opt-in", passed=True, detail="opt-in not required by the policy")
    return EligibilityCheck(
        name="opt-in", passed=False, detail="the user has not opted in to on-device training"
    )


def _percent(value: float) -> str:
    """23.0 -> '23%', 49.6 -> '49.6%' (never rounds 49.6 up to the 50% floor it failed)."""
    return f"{round(value, 1):g}%"


def _check_power(profile: DeviceProfile, policy: TrainingPolicy) -> EligibilityCheck:
    batt = profile.battery
    if batt is None:
        return EligibilityCheck(
            name="power", passed=True, detail="no battery: the device runs on mains power"
        )
    pct = _percent(batt.percent)
    if batt.power_plugged:
        return EligibilityCheck(name="power", passed=True, detail=f"the device is charging (battery {pct})")
    state = "the device is not charging" if batt.power_plugged is False else "its charging state is unknown"
    if policy.require_charging:
        return EligibilityCheck(
            name="power",
            passed=False,
            detail=f"the policy requires charging but {state} (battery {pct})",
        )
    if batt.percent < policy.min_battery_percent:
        return EligibilityCheck(
            name="power",
            passed=False,
            detail=f"battery {pct} is below the {_percent(policy.min_battery_percent)} floor and {state}",
        )
    return EligibilityCheck(
        name="power",
        passed=True,
        detail=f"battery {pct} is at or above the {_percent(policy.min_battery_percent)} floor",
    )


def _check_cpu(profile: DeviceProfile, policy: TrainingPolicy) -> EligibilityCheck:
    load = profile.load
    readings: list[tuple[float, str]] = []
    avg = (load.load_per_core, "1-min load average per core") if load.load_per_core is not None else None
    pct = (
        (load.cpu_percent / 100.0, f"CPU use over {load.sample_seconds:g}s")
        if load.cpu_percent is not None
        else None
    )
    if policy.load_metric == "loadavg":
        chosen = avg or pct
        readings = [chosen] if chosen else []
    elif policy.load_metric == "percent":
        readings = [pct] if pct else []
    else:
        readings = [r for r in (avg, pct) if r is not None]
    if not readings:
        return EligibilityCheck(
            name="cpu idle",
            passed=False,
            detail=(
                f"CPU load could not be measured for the '{policy.load_metric}' metric "
                "(collect the profile with cpu_sample_s > 0)"
            ),
        )
    value, label = max(readings, key=lambda item: item[0])
    if value > policy.max_cpu_load:
        return EligibilityCheck(
            name="cpu idle",
            passed=False,
            detail=f"CPU is busy: {label} is {value:.2f}, above the {policy.max_cpu_load:.2f} limit",
        )
    return EligibilityCheck(
        name="cpu idle",
        passed=True,
        detail=f"{label} is {value:.2f}, within the {policy.max_cpu_load:.2f} limit",
    )


def _check_memory(profile: DeviceProfile, policy: TrainingPolicy, required: int) -> EligibilityCheck:
    with_headroom = math.ceil(required * policy.memory_headroom)
    ram_need = with_headroom + policy.min_free_ram_bytes
    how = (
        f"{format_bytes(required)} estimated x{policy.memory_headroom:g} headroom"
        f" + {format_bytes(policy.min_free_ram_bytes)} kept free"
    )
    ram_free = profile.memory.effective_available
    if ram_free is not None and ram_free >= ram_need:
        return EligibilityCheck(
            name="memory",
            passed=True,
            detail=f"needs {format_bytes(ram_need)} of RAM ({how}); {format_bytes(ram_free)} is available",
        )
    if policy.allow_gpu_memory and profile.torch_cuda_available is not False:
        fitting = [g for g in profile.gpus if g.vram_free is not None and g.vram_free >= with_headroom]
        if fitting:
            best = max(fitting, key=lambda g: g.vram_free or 0)
            return EligibilityCheck(
                name="memory",
                passed=True,
                detail=(
                    f"needs {format_bytes(with_headroom)} of GPU memory; GPU {best.index} ({best.name}) has "
                    f"{format_bytes(best.vram_free)} free"
                ),
            )
    ram_part = (
        f"only {format_bytes(ram_free)} is available"
        if ram_free is not None
        else "the available RAM could not be measured"
    )
    gpu_part = ""
    if policy.allow_gpu_memory and profile.gpus:
        if profile.torch_cuda_available is False:
            gpu_part = ", and torch cannot use the GPU (CUDA unavailable)"
        else:
            gpu_part = f", and no GPU has {format_bytes(with_headroom)} of free VRAM"
    return EligibilityCheck(
        name="memory",
        passed=False,
        detail=f"training needs {format_bytes(ram_need)} of RAM ({how}) but {ram_part}{gpu_part}",
    )


def check_eligibility(
    profile: DeviceProfile,
    policy: TrainingPolicy | None = None,
    *,
    opted_in: bool,
    required_memory_bytes: int,
) -> Eligibility:
    """Run every check of `policy` on `profile`; allowed only if all pass. Reasons list every failure.

    required_memory_bytes: what the training run needs, typically from `estimate_training_memory`.
    """
    if required_memory_bytes < 0:
        raise InvalidRequestError(f"required_memory_bytes must be >= 0, got {required_memory_bytes}")
    policy = policy or TrainingPolicy()
    checks = [
        _check_opt_in(policy, opted_in),
        _check_power(profile, policy),
        _check_cpu(profile, policy),
        _check_memory(profile, policy, required_memory_bytes),
    ]
    failed = [c.detail for c in checks if not c.passed]
    return Eligibility(allowed=not failed, reasons=failed or ["all checks passed"], checks=checks)
