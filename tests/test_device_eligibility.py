"""Training eligibility over constructed profiles, and the training-memory estimate."""

from __future__ import annotations

import math

import pydantic
import pytest

from edge_sdk.device import (
    BatteryInfo,
    CPUInfo,
    DeviceProfile,
    GPUInfo,
    LoadInfo,
    MemoryInfo,
    OSInfo,
    TrainingPolicy,
    check_eligibility,
    estimate_training_memory,
    training_memory_breakdown,
)
from edge_sdk.errors import InvalidRequestError

GIB = 1024**3
MIB = 1024**2
NEED = 1 * GIB  # what the training run is said to need in most cases below


def make_profile(
    *,
    battery: BatteryInfo | None = None,
    load_per_core: float | None = 0.1,
    cpu_percent: float | None = 10.0,
    available: int | None = 16 * GIB,
    gpus: list[GPUInfo] | None = None,
    torch_cuda: bool | None = None,
) -> DeviceProfile:
    return DeviceProfile(
        collected_at=0.0,
        os=OSInfo(system="Linux", release="6.1", machine="x86_64"),
        python_version="3.11.7",
        cpu=CPUInfo(logical_cores=8, physical_cores=4),
        memory=MemoryInfo(total=32 * GIB, available=available),
        battery=battery,
        load=LoadInfo(
            load_avg_1m=None if load_per_core is None else load_per_core * 8,
            load_per_core=load_per_core,
            cpu_percent=cpu_percent,
            sample_seconds=0.1 if cpu_percent is not None else 0.0,
        ),
        gpus=gpus or [],
        torch_cuda_available=torch_cuda,
        device_kind="laptop" if battery else "desktop",
    )


def check(
    profile: DeviceProfile, policy: TrainingPolicy | None = None, opted_in: bool = True, need: int = NEED
):
    return check_eligibility(
        profile, policy or TrainingPolicy(), opted_in=opted_in, required_memory_bytes=need
    )


# ---------------------------------------------------------------------------------------------- the matrix


def test_idle_mains_powered_opted_in_device_is_allowed() -> None:
    e = check(make_profile())
    assert e.allowed
    assert e.reasons == ["all checks passed"]
    assert [c.name for c in e.checks] == ["opt-in", "power", "cpu idle", "memory"]
    assert all(c.passed for c in e.checks)


def test_low_battery_not_charging_is_denied_with_the_numbers() -> None:
    e = check(make_profile(battery=BatteryInfo(percent=23, power_plugged=False, secs_left=1800)))
    assert not e.allowed
    assert e.reasons == ["battery 23% is below the 50% floor and the device is not charging"]


def test_low_battery_while_charging_is_allowed() -> None:
    e = check(make_profile(battery=BatteryInfo(percent=23, power_plugged=True)))
    assert e.allowed, e.reasons
    assert "charging (battery 23%)" in e.checks[1].detail


def test_battery_above_floor_is_allowed_and_unknown_plug_state_counts_as_not_charging() -> None:
    assert check(make_profile(battery=BatteryInfo(percent=80, power_plugged=False))).allowed
    assert check(
        make_profile(battery=BatteryInfo(percent=50, power_plugged=False))
    ).allowed  # floor inclusive
    e = check(make_profile(battery=BatteryInfo(percent=49.6, power_plugged=None)))
    assert not e.allowed
    assert e.reasons == ["battery 49.6% is below the 50% floor and its charging state is unknown"]


def test_require_charging_policy() -> None:
    policy = TrainingPolicy(require_charging=True)
    e = check(make_profile(battery=BatteryInfo(percent=95, power_plugged=False)), policy)
    assert not e.allowed
    assert e.reasons == ["the policy requires charging but the device is not charging (battery 95%)"]
    assert check(make_profile(battery=BatteryInfo(percent=5, power_plugged=True)), policy).allowed
    assert check(make_profile(battery=None), policy).allowed  # mains powered, nothing to charge


def test_custom_battery_floor() -> None:
    policy = TrainingPolicy(min_battery_percent=80)
    e = check(make_profile(battery=BatteryInfo(percent=70, power_plugged=False)), policy)
    assert e.reasons == ["battery 70% is below the 80% floor and the device is not charging"]


def test_busy_cpu_is_denied() -> None:
    e = check(make_profile(load_per_core=0.85))
    assert not e.allowed
    assert e.reasons == ["CPU is busy: 1-min load average per core is 0.85, above the 0.50 limit"]


def test_cpu_load_metrics() -> None:
    spiky = make_profile(load_per_core=0.2, cpu_percent=90.0)  # idle on average, busy right now
    assert check(spiky, TrainingPolicy(load_metric="loadavg")).allowed
    e = check(spiky, TrainingPolicy(load_metric="percent"))
    assert e.reasons == ["CPU is busy: CPU use over 0.1s is 0.90, above the 0.50 limit"]
    assert not check(spiky, TrainingPolicy(load_metric="max")).allowed
    # No load average (Windows): 'loadavg' falls back to the sample.
    no_avg = make_profile(load_per_core=None, cpu_percent=70.0)
    assert "CPU use over 0.1s is 0.70" in check(no_avg).reasons[0]
    assert check(make_profile(load_per_core=None, cpu_percent=20.0)).allowed
    # Higher limit for a dedicated box.
    assert check(make_profile(load_per_core=0.85), TrainingPolicy(max_cpu_load=0.9)).allowed


def test_unmeasurable_cpu_load_is_denied() -> None:
    e = check(make_profile(load_per_core=None, cpu_percent=None))
    assert not e.allowed
    assert "CPU load could not be measured" in e.reasons[0]


def test_insufficient_memory_is_denied_with_the_numbers() -> None:
    # 1 GiB x1.25 + 512 MiB kept free = 1.75 GiB needed.
    e = check(make_profile(available=GIB + 512 * MIB))
    assert not e.allowed
    expected = (
        "training needs 1.8 GiB of RAM (1.0 GiB estimated x1.25 headroom + 512.0 MiB kept free) "
        "but only 1.5 GiB is available"
    )
    assert e.reasons == [expected]
    exact = GIB + GIB // 4 + 512 * MIB
    assert check(make_profile(available=exact)).allowed
    assert not check(make_profile(available=exact - 1)).allowed


def test_cgroup_limit_counts_for_memory() -> None:
    p = make_profile().model_copy(
        update={
            "memory": MemoryInfo(total=32 * GIB, available=16 * GIB, cgroup_limit=2 * GIB, cgroup_usage=GIB)
        }
    )
    e = check(p)
    assert not e.allowed and "only 1.0 GiB is available" in e.reasons[0]


def test_unknown_memory_is_denied() -> None:
    e = check(make_profile(available=None))
    assert not e.allowed
    assert "the available RAM could not be measured" in e.reasons[0]


def test_gpu_memory_can_satisfy_the_memory_check() -> None:
    gpu = GPUInfo(index=0, name="NVIDIA RTX 4090", vram_total=24 * GIB, vram_free=20 * GIB)
    low_ram = {"available": GIB, "gpus": [gpu]}
    e = check(make_profile(**low_ram, torch_cuda=True))
    assert e.allowed, e.reasons
    assert "GPU 0 (NVIDIA RTX 4090) has 20.0 GiB free" in e.checks[3].detail
    # torch cannot use CUDA here: NVML's VRAM does not help.
    e = check(make_profile(**low_ram, torch_cuda=False))
    assert not e.allowed and e.reasons[0].endswith("and torch cannot use the GPU (CUDA unavailable)")
    # The policy may forbid GPU memory.
    assert not check(make_profile(**low_ram, torch_cuda=True), TrainingPolicy(allow_gpu_memory=False)).allowed
    # A GPU without enough free VRAM.
    small = GPUInfo(index=0, name="NVIDIA T400", vram_total=2 * GIB, vram_free=GIB)
    e = check(make_profile(available=GIB, gpus=[small], torch_cuda=True))
    assert not e.allowed and e.reasons[0].endswith("and no GPU has 1.2 GiB of free VRAM")


def test_no_opt_in_is_denied_unless_the_policy_waives_it() -> None:
    e = check(make_profile(), opted_in=False)
    assert not e.allowed
    assert e.reasons == ["the user has not opted in to on-device training"]
    assert check(make_profile(), TrainingPolicy(require_opt_in=False), opted_in=False).allowed


def test_several_failures_are_all_listed() -> None:
    p = make_profile(
        battery=BatteryInfo(percent=12, power_plugged=False), load_per_core=1.5, available=256 * MIB
    )
    e = check(p, opted_in=False)
    assert not e.allowed
    assert len(e.reasons) == 4
    assert e.reasons[0] == "the user has not opted in to on-device training"
    assert e.reasons[1] == "battery 12% is below the 50% floor and the device is not charging"
    assert e.reasons[2] == "CPU is busy: 1-min load average per core is 1.50, above the 0.50 limit"
    assert (
        e.reasons[3].startswith("training needs 1.8 GiB of RAM")
        and "only 256.0 MiB is available" in e.reasons[3]
    )
    assert [c.passed for c in e.checks] == [False, False, False, False]


def test_default_policy_and_bad_inputs() -> None:
    p = make_profile()
    assert check_eligibility(p, opted_in=True, required_memory_bytes=NEED).allowed  # policy defaults
    with pytest.raises(InvalidRequestError, match="required_memory_bytes"):
        check_eligibility(p, opted_in=True, required_memory_bytes=-1)
    with pytest.raises(pydantic.ValidationError):
        TrainingPolicy(min_battery_percent=150)
    with pytest.raises(pydantic.ValidationError):
        TrainingPolicy(memory_headroom=0.5)
    with pytest.raises(pydantic.ValidationError):
        TrainingPolicy(max_cpu_laod=0.3)  # a typo is an error, not a silently ignored field


def test_eligibility_round_trips_through_json() -> None:
    e = check(make_profile(battery=BatteryInfo(percent=10, power_plugged=False)), opted_in=False)
    assert type(e).model_validate_json(e.model_dump_json()) == e


# ---------------------------------------------------------------------------------------------- memory estimate


def test_estimate_matches_the_documented_formula() -> None:
    p, r, s, e, d, layers, vocab = 135_000_000, 16, 512, 4, 576, 30, 49_152
    heads = d // 64
    subtotal = (
        p * e
        + 18 * r * d * layers * 16
        + layers * (34 * s * d + math.ceil(2.5 * heads * s * s)) * e
        + 4 * s * vocab * 4
        + 384 * MIB
    )
    expected = subtotal + math.ceil(subtotal * 0.25)
    got = estimate_training_memory(p, r, s, e, hidden_size=d, num_layers=layers, vocab_size=vocab)
    assert got == expected
    parts = training_memory_breakdown(p, r, s, e, hidden_size=d, num_layers=layers, vocab_size=vocab)
    assert sum(parts.values()) == got and parts["base_weights"] == p * e


def test_estimate_shape_defaults() -> None:
    # Without a shape: 24 layers and d = sqrt(P / (12 * 24)).
    p = 288 * 1000**2  # -> d = 1000
    assert estimate_training_memory(p) == estimate_training_memory(p, hidden_size=1000, num_layers=24)
    # With only d given, L = P / (12 d^2).
    assert estimate_training_memory(p, hidden_size=1000) == estimate_training_memory(
        p, hidden_size=1000, num_layers=24
    )


def test_estimate_grows_with_each_input() -> None:
    base = estimate_training_memory(135_000_000)
    assert estimate_training_memory(1_700_000_000) > base
    assert estimate_training_memory(135_000_000, lora_rank=64) > base
    assert estimate_training_memory(135_000_000, seq_len=2048) > base
    assert estimate_training_memory(135_000_000, dtype_bytes=2) < base
    assert estimate_training_memory(135_000_000, batch_size=4) > base
    # A 135M model at 512 tokens in fp32 needs on the order of 2 GiB, not MBs or tens of GBs.
    assert 1 * GIB < base < 4 * GIB


@pytest.mark.parametrize(
    "kwargs",
    [
        {"model_params": 0},
        {"model_params": 100, "lora_rank": 0},
        {"model_params": 100, "seq_len": 0},
        {"model_params": 100, "dtype_bytes": 0},
        {"model_params": 100, "batch_size": 0},
        {"model_params": 1.5e9},
    ],
)
def test_estimate_rejects_bad_inputs(kwargs: dict) -> None:
    with pytest.raises(InvalidRequestError):
        estimate_training_memory(**kwargs)
