"""The client's eligibility check, with the client's own training left out of the CPU load.

A device that is training is busy by definition: counting that load would make training stop itself. So the
CPU time this process used is subtracted: from the instantaneous CPU sample directly, and from the 1-minute
load average as an exponentially smoothed estimate with the same 1-minute time constant.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable

from edge_sdk.device.eligibility import Eligibility, TrainingPolicy, check_eligibility
from edge_sdk.device.profile import DeviceProfile, collect_profile

EligibilityCheck = Callable[[], Eligibility]
LOADAVG_TAU_S = 60.0


def _process_cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


class OwnLoadExcluded:
    """`check()` = the policy on this device now, minus this process's own CPU use."""

    def __init__(self, policy: TrainingPolicy | None = None, *, opted_in: bool = True,
                 required_memory_bytes: int = 0, cpu_sample_s: float = 0.2,
                 cpu_seconds: Callable[[], float] | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy
        self.opted_in = opted_in
        self.required_memory_bytes = required_memory_bytes
        self.cpu_sample_s = cpu_sample_s
        self._cpu_seconds = cpu_seconds or _process_cpu_seconds
        self._clock = clock
        self._last_wall = clock()
        self._last_cpu = self._cpu_seconds()
        self._smoothed_cores = 0.0

    def own_cores(self) -> tuple[float, float]:
        """(cores this process used since the last call, its 1-minute smoothed value)."""
        wall, cpu = self._clock(), self._cpu_seconds()
        dt = max(wall - self._last_wall, 1e-6)
        now = max(0.0, (cpu - self._last_cpu) / dt)
        decay = math.exp(-dt / LOADAVG_TAU_S)
        self._smoothed_cores = self._smoothed_cores * decay + now * (1 - decay)
        self._last_wall, self._last_cpu = wall, cpu
        return now, self._smoothed_cores

    def adjusted(self, profile: DeviceProfile) -> DeviceProfile:
        now, smoothed = self.own_cores()
        cores = max(profile.cpu.logical_cores, 1)
        load = profile.load
        update = {}
        if load.load_per_core is not None:
            update["load_per_core"] = max(0.0, load.load_per_core - smoothed / cores)
        if load.cpu_percent is not None:
            update["cpu_percent"] = max(0.0, load.cpu_percent - 100.0 * now / cores)
        return profile.model_copy(update={"load": load.model_copy(update=update)})

    def check(self) -> Eligibility:
        profile = self.adjusted(collect_profile(self.cpu_sample_s, probe_torch=False))
        return check_eligibility(profile, self.policy, opted_in=self.opted_in,
                                 required_memory_bytes=self.required_memory_bytes)

    def __call__(self) -> Eligibility:
        return self.check()
