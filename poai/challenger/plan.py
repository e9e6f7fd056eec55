"""Which challenges a session runs and how big they are, scaled to the node's claim.

A phone's claim gets small matrices and a small memory fill; an H100 claim gets sizes that keep a real
H100 (or any device that matches its claim) busy for ~2 s (`Budget.from_claim`). A node that over-claims therefore receives work sized
for the device it claims, and either misses the deadline or shows a low measured/claimed ratio.

Plans: "standard" (scaled to the claim), "lightweight" (tiny fixed sizes for tests and load tests),
"default" (CORE's CPU budget), or a JSON file:

    {"budget": "standard" | "lightweight" | "default",
     "stages": ["compute", "memory", "inference"],
     "target_seconds": 1.0,                      # standard only
     "overrides": {"compute_openings": 64, ...},  # any Budget field
     "measures_capacity": true,                   # false: TFLOPS not scored against the claim
     "inference_thresholds": {"min_argmax_agreement": 0.8}}  # InferenceThresholds fields to override
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_sdk.errors import EdgeProofError
from poai.challenges.common import Budget
from poai.claim import NodeClaim

PRESETS = ("standard", "lightweight", "default")
ALL_STAGES = ("compute", "memory", "inference")
# The standard plan refuses claims below these: a claim this small would be measured in milliseconds, where
# fixed overheads (RTT, hashing, Python) dominate and no figure means anything. Capacity is reported beside
# integrity, so a small honest claim is accepted and simply proves little.
MIN_CLAIM_TOPS = 0.005
MIN_CLAIM_MEMORY_BYTES = 64 << 20


class PlanError(EdgeProofError):
    """A plan file or name that cannot be used."""


@dataclass(frozen=True)
class PlanSpec:
    """How to make a plan for a claim (what `--plan` names)."""

    budget: str = "standard"
    stages: tuple[str, ...] = ALL_STAGES
    target_seconds: float | None = None
    overrides: tuple[tuple[str, Any], ...] = ()
    measures_capacity: bool = True
    inference_thresholds: tuple[tuple[str, float], ...] = ()  # InferenceThresholds fields; () = defaults

    @classmethod
    def parse(cls, plan: str) -> PlanSpec:
        """A preset name, "<preset>:<stage>,<stage>" or a path to a JSON plan file."""
        name, _, stages = plan.partition(":")
        if name in PRESETS:
            chosen = tuple(s for s in stages.split(",") if s) if stages else ALL_STAGES
            return cls(budget=name, stages=_check_stages(chosen), measures_capacity=name != "lightweight")
        path = Path(plan)
        if not path.is_file():
            raise PlanError(f"plan {plan!r} is neither a preset ({', '.join(PRESETS)}) nor a JSON file")
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise PlanError(f"cannot read plan file {path}: {exc}") from exc
        budget = doc.get("budget", "standard")
        if budget not in PRESETS:
            raise PlanError(f"plan file {path}: budget must be one of {PRESETS}, got {budget!r}")
        fields = {f.name for f in dataclasses.fields(Budget)}
        overrides = doc.get("overrides", {})
        unknown = sorted(set(overrides) - fields)
        if unknown:
            raise PlanError(f"plan file {path}: unknown budget field(s) {', '.join(unknown)}")
        return cls(
            budget=budget,
            stages=_check_stages(tuple(doc.get("stages", ALL_STAGES))),
            target_seconds=doc.get("target_seconds"),
            overrides=tuple(sorted(overrides.items())),
            measures_capacity=bool(doc.get("measures_capacity", budget != "lightweight")),
            inference_thresholds=_check_thresholds(path, doc.get("inference_thresholds", {})),
        )

    def budget_for(self, claim: NodeClaim, memory_cap_bytes: int | None = None) -> Budget:
        overrides = dict(self.overrides)
        if self.budget == "standard":
            if claim.claimed_tflops < MIN_CLAIM_TOPS or claim.memory_bytes < MIN_CLAIM_MEMORY_BYTES:
                raise PlanError(
                    f"claim too small to measure: the standard plan needs at least {MIN_CLAIM_TOPS} matmul TOPS "
                    f"and {MIN_CLAIM_MEMORY_BYTES >> 20} MiB (claimed {claim.claimed_tflops:.3g} TOPS, "
                    f"{claim.memory_bytes / 2**20:.0f} MiB)"
                )
            try:
                return Budget.from_claim(
                    claim.to_core(),
                    target_seconds=self.target_seconds,
                    memory_cap_bytes=memory_cap_bytes,
                    **overrides,
                )
            except ValueError as exc:
                raise PlanError(f"cannot size a plan for this claim: {exc}") from exc
        base = Budget.lightweight() if self.budget == "lightweight" else Budget.default()
        return dataclasses.replace(base, **overrides) if overrides else base


@dataclass(frozen=True)
class SessionPlan:
    budget: Budget
    stages: tuple[str, ...]
    # False for the lightweight preset: its work is too small for a TFLOPS figure (fixed overheads dominate),
    # so the score is not capped by measured/claimed there (correctness is still checked in full).
    measures_capacity: bool = True


def make_plan(
    spec: PlanSpec, claim: NodeClaim, memory_cap_bytes: int | None = None, inference_available: bool = True
) -> SessionPlan:
    """The plan for one session. Inference runs (and is required) whenever the challenger has its
    reference model: a node that lists no backend, or cannot run one, ends the session incomplete (score 0)
    instead of skipping the correctness check."""
    stages = tuple(s for s in spec.stages if s != "inference" or inference_available)
    return SessionPlan(
        spec.budget_for(claim, memory_cap_bytes), stages, measures_capacity=spec.measures_capacity
    )


def _check_thresholds(path: Path, values: dict[str, Any]) -> tuple[tuple[str, float], ...]:
    from poai.challenges.inference import InferenceThresholds

    known = {f.name for f in dataclasses.fields(InferenceThresholds)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise PlanError(
            f"plan file {path}: unknown inference threshold(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(known))}"
        )
    return tuple(sorted((k, float(v)) for k, v in values.items()))


def _check_stages(stages: tuple[str, ...]) -> tuple[str, ...]:
    bad = [s for s in stages if s not in ALL_STAGES]
    if bad:
        raise PlanError(f"unknown stage(s) {', '.join(bad)}; known: {', '.join(ALL_STAGES)}")
    return stages
