"""The device layer: what this device is (`collect_profile`) and whether it may train now (`check_eligibility`)."""

from edge_sdk.device.eligibility import (
    Eligibility,
    EligibilityCheck,
    TrainingPolicy,
    check_eligibility,
    estimate_training_memory,
    training_memory_breakdown,
)
from edge_sdk.device.profile import (
    BatteryInfo,
    CPUInfo,
    DeviceProfile,
    GPUInfo,
    LoadInfo,
    MemoryInfo,
    OSInfo,
    classify_device,
    collect_gpus,
    collect_profile,
)

__all__ = [
    "BatteryInfo",
    "CPUInfo",
    "DeviceProfile",
    "Eligibility",
    "EligibilityCheck",
    "GPUInfo",
    "LoadInfo",
    "MemoryInfo",
    "OSInfo",
    "TrainingPolicy",
    "check_eligibility",
    "classify_device",
    "collect_gpus",
    "collect_profile",
    "estimate_training_memory",
    "training_memory_breakdown",
]
