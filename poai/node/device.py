"""Pick the device a node runs its challenges on, and work out an honest default claim for it.

The best local device is the first CUDA GPU when torch sees one, else the CPU. The default claim is what
this machine measures now (a short fp32 matmul benchmark, free memory), so an honest operator who sets
nothing is neither over- nor under-claiming. NVML figures are shown to the operator but never sent as proof.
"""

from __future__ import annotations

import logging
import platform
import time
from dataclasses import dataclass

log = logging.getLogger("poai.node")

GIB = 1024**3


@dataclass(frozen=True)
class DeviceChoice:
    kind: str  # "cuda" | "cpu"
    torch_device: str  # "cuda:0" | "cpu"
    model: str  # GPU name or CPU brand
    memory_free_bytes: int  # free VRAM (cuda) or available RAM (cpu)
    profile_kind: str = ""  # edge_sdk's heuristic: gpu-server, desktop, laptop, phone/iot


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "cpu"


def pick_device(prefer: str = "auto") -> DeviceChoice:
    """`prefer`: "auto" (CUDA when available), "cuda" or "cpu"."""
    import psutil

    if prefer not in ("auto", "cuda", "cpu"):
        raise ValueError(f"device must be auto, cuda or cpu, got {prefer!r}")
    if prefer in ("auto", "cuda"):
        try:
            import torch

            if torch.cuda.is_available():
                free, _total = torch.cuda.mem_get_info(0)
                return DeviceChoice("cuda", "cuda:0", torch.cuda.get_device_name(0), int(free), "gpu-server")
        except Exception as exc:  # noqa: BLE001 - a broken CUDA install must not stop a CPU node
            log.warning("CUDA probe failed, using the CPU", extra={"error": str(exc)})
        if prefer == "cuda":
            from edge_sdk.errors import BackendUnavailableError

            raise BackendUnavailableError(
                "device=cuda was asked for but torch sees no CUDA GPU; use --device cpu"
            )
    profile_kind = ""
    try:
        from edge_sdk.device import collect_profile

        profile_kind = collect_profile(cpu_sample_s=0, probe_torch=False).device_kind
    except Exception:  # noqa: BLE001 - the heuristic is cosmetic
        pass
    return DeviceChoice("cpu", "cpu", _cpu_model(), int(psutil.virtual_memory().available), profile_kind)


def measure_tflops(torch_device: str = "cpu", target_seconds: float | None = None, rounds: int = 2) -> float:
    """TFLOPS of this device on the compute challenge itself (generation, chained matmuls, tile hashing).

    Raw matmul speed would overstate what the challenger measures (it times the whole challenge), so an
    honest default claim is measured on the same work at the size the challenger will pick for it: start
    small, size a plan for what was measured, measure again.
    """
    import numpy as np

    from poai.challenges import compute
    from poai.challenges.common import Budget, Claim

    gpu = torch_device.startswith("cuda")
    kind = "cuda" if gpu else "cpu"
    budget = Budget(
        compute_n=2048 if gpu else 512, compute_steps=2, compute_tile_rows=32, compute_tile_cols=32
    )
    rng = np.random.default_rng()
    tflops = 0.0
    for _ in range(rounds + 1):  # the first run warms up (imports, kernel choice), then `rounds` sized ones
        spec = compute.make_spec(budget, rng)
        work = compute.NodeWork(spec, torch_device)
        t0 = time.perf_counter()
        work.run()
        tflops = spec.flops / (time.perf_counter() - t0) / 1e12
        budget = Budget.from_claim(
            Claim(device_kind=kind, memory_bytes=8 << 30, tflops=tflops), target_seconds=target_seconds
        )
    return tflops


def measure_memory_bandwidth_gbs(
    torch_device: str = "cpu", memory_bytes: int | None = None, cap_bytes: int | None = None, repeats: int = 3
) -> float:
    """GB/s of this device on the memory challenge's nonce pass: the figure a node claims as
    `memory_bandwidth_gbs`, which the challenger's nonce-pass time bound is computed from.

    Runs the honest nonce pass (the same code a session runs) over blocks shaped like the standard plan
    for a claim of `memory_bytes` (default 1 GiB), on min(plan size, `cap_bytes`) of memory (default cap
    256 MiB on a CPU, 2 GiB on a GPU: well above any last-level cache, so the pass reads DRAM/VRAM as in a
    session). The memory holds a cheap pattern, not the hash chain, so this takes a few hundred ms; the
    median of `repeats` passes after one warm-up.
    """
    import dataclasses

    from poai.challenges import memory
    from poai.challenges.common import Budget, Claim

    gpu = torch_device.startswith("cuda") or torch_device.startswith("mps")
    kind = "cuda" if torch_device.startswith("cuda") else ("mps" if gpu else "cpu")
    claim_bytes = int(memory_bytes) if memory_bytes else 1 << 30
    budget = Budget.from_claim(Claim(device_kind=kind, memory_bytes=claim_bytes, tflops=1.0))
    spec = memory.make_spec(budget)
    cap = cap_bytes if cap_bytes is not None else ((2 << 30) if gpu else (256 << 20))
    depth = max(1, min(spec.depth, cap // (spec.lanes * spec.block_bytes)))
    spec = dataclasses.replace(spec, depth=depth)
    return memory.measure_nonce_bandwidth_gbs(spec, torch_device, repeats=repeats)
