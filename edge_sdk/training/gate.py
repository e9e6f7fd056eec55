"""Should this device train now? The eligibility policy (power, load, memory, opt-in) applied to a run.

Running a training command is the user's opt-in; the memory the run needs comes from the engine's memory plan.
"""

from __future__ import annotations

from edge_sdk.device.eligibility import Eligibility, TrainingPolicy, check_eligibility


def training_eligibility(required_memory_bytes: int, policy: TrainingPolicy | None = None,
                         profile=None) -> Eligibility:
    """`check_eligibility` on this device now (or `profile`), opted in."""
    if profile is None:
        from edge_sdk.device.profile import collect_profile

        profile = collect_profile(probe_torch=False)
    return check_eligibility(profile, policy, opted_in=True, required_memory_bytes=required_memory_bytes)
