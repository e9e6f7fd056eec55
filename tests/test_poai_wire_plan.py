"""Session plans: presets, plan files, and sizes scaled to the claim (phone small, H100 ~1.5 s of work)."""

from __future__ import annotations

import json

import pytest

from poai.challenger.plan import PlanError, PlanSpec, make_plan
from poai.claim import NodeClaim

PHONE = NodeClaim("edge", "phone SoC", 1 << 30, 0.05, ("llamacpp",))
H100 = NodeClaim("cuda", "NVIDIA H100 80GB HBM3", 80 << 30, 60.0, ("torch",))


def test_presets_and_stage_selection() -> None:
    spec = PlanSpec.parse("lightweight:compute,memory")
    assert (
        spec.budget == "lightweight" and spec.stages == ("compute", "memory") and not spec.measures_capacity
    )
    assert PlanSpec.parse("standard").stages == ("compute", "memory", "inference")
    with pytest.raises(PlanError, match="unknown stage"):
        PlanSpec.parse("standard:compute,gpu")
    with pytest.raises(PlanError, match="neither a preset"):
        PlanSpec.parse("/no/such/plan.json")


def test_inference_is_required_whenever_the_challenger_has_a_reference() -> None:
    """A node that lists no backend still gets the inference stage: it cannot skip the correctness check
    (it ends the session incomplete instead, see scoring)."""
    spec = PlanSpec.parse("standard")
    no_backend = NodeClaim("cpu", "x", 1 << 28, 0.01, ())
    assert make_plan(spec, no_backend).stages == ("compute", "memory", "inference")
    assert make_plan(spec, PHONE, inference_available=False).stages == ("compute", "memory")
    assert make_plan(spec, PHONE).stages == ("compute", "memory", "inference")


def test_standard_plan_refuses_claims_too_small_to_measure() -> None:
    from poai.challenger.plan import PlanError

    spec = PlanSpec.parse("standard")
    with pytest.raises(PlanError, match="claim too small to measure"):
        make_plan(spec, NodeClaim("cpu", "x", 1 << 20, 0.001, ()))
    with pytest.raises(PlanError, match="claim too small to measure"):
        make_plan(spec, NodeClaim("cpu", "x", 1 << 30, 0.001, ()))


def test_plan_scales_with_the_claim() -> None:
    spec = PlanSpec.parse("standard")
    phone = make_plan(spec, PHONE, memory_cap_bytes=8 << 30).budget
    h100 = make_plan(spec, H100, memory_cap_bytes=8 << 30).budget
    phone_flops = 2 * phone.compute_steps * phone.compute_n**3
    h100_flops = 2 * h100.compute_steps * h100.compute_n**3
    assert phone.compute_n < h100.compute_n and phone_flops < h100_flops / 100
    # a device that matches the claim needs about the target time (2 s on every device)
    assert 1.0 < h100_flops / (H100.claimed_tflops * 1e12) < 4.0
    assert 1.0 < phone_flops / (PHONE.claimed_tflops * 1e12) < 4.0
    assert phone.memory_bytes < 1 << 30 and h100.memory_bytes <= 8 << 30  # capped by the challenger
    assert h100.memory_bytes > phone.memory_bytes


def test_plan_file(tmp_path) -> None:
    path = tmp_path / "plan.json"
    path.write_text(
        json.dumps(
            {
                "budget": "lightweight",
                "stages": ["compute", "inference"],
                "overrides": {"inference_max_tokens": 16, "max_rtt_s": 0.2},
                "inference_thresholds": {"min_argmax_agreement": 0.8},
            }
        )
    )
    spec = PlanSpec.parse(str(path))
    plan = make_plan(spec, PHONE)
    assert plan.stages == ("compute", "inference")
    assert plan.budget.inference_max_tokens == 16 and plan.budget.max_rtt_s == 0.2
    assert dict(spec.inference_thresholds) == {"min_argmax_agreement": 0.8}
    path.write_text(json.dumps({"overrides": {"warp_drive": 1}}))
    with pytest.raises(PlanError, match="unknown budget field"):
        PlanSpec.parse(str(path))
    path.write_text(json.dumps({"inference_thresholds": {"vibes": 1}}))
    with pytest.raises(PlanError, match="unknown inference threshold"):
        PlanSpec.parse(str(path))
