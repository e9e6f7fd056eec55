"""Print this device's profile and whether it may train now (the check a federated client runs first)."""

from edge_sdk.device import TrainingPolicy, check_eligibility, collect_profile, estimate_training_memory

profile = collect_profile()
print(profile.to_json())
verdict = check_eligibility(profile, TrainingPolicy(), opted_in=True,
                            required_memory_bytes=estimate_training_memory(135_000_000))
print("training allowed:", verdict.allowed)
for reason in verdict.reasons:
    print(" -", reason)
