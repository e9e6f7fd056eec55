"""The rich tables behind `edgeproof edge info`."""

from __future__ import annotations

from rich.console import Console

from edge_sdk.device import (
    BatteryInfo,
    CPUInfo,
    DeviceProfile,
    Eligibility,
    GPUInfo,
    LoadInfo,
    MemoryInfo,
    OSInfo,
    TrainingPolicy,
    check_eligibility,
    collect_profile,
)
from edge_sdk.device.render import eligibility_table, profile_table
from edge_sdk.device.units import format_bytes, format_duration

GIB = 1024**3


def render(table) -> str:
    console = Console(record=True, width=200, color_system=None)
    console.print(table)
    return console.export_text()


def test_units() -> None:
    assert format_bytes(None) == "unknown"
    assert format_bytes(512) == "512 B"
    assert format_bytes(1536) == "1.5 KiB"
    assert format_bytes(24 * GIB) == "24.0 GiB"
    assert format_duration(5400) == "1h 30m"
    assert format_duration(59) == "0m"
    assert format_duration(None) == "unknown"


def test_profile_table_of_a_laptop_with_a_gpu() -> None:
    p = DeviceProfile(
        collected_at=0.0,
        os=OSInfo(system="Linux", release="6.8.0", machine="x86_64"),
        python_version="3.12.3",
        cpu=CPUInfo(
            model_name="Intel(R) Core(TM) i7-12700H",
            physical_cores=14,
            logical_cores=20,
            flags=["avx2", "fma"],
            flags_source="/proc/cpuinfo",
        ),
        memory=MemoryInfo(total=32 * GIB, available=20 * GIB, swap_total=8 * GIB, swap_free=6 * GIB),
        battery=BatteryInfo(percent=64, power_plugged=False, secs_left=5400),
        load=LoadInfo(load_avg_1m=2.0, load_per_core=0.1, cpu_percent=7.0, sample_seconds=0.1),
        gpus=[
            GPUInfo(
                index=0,
                name="NVIDIA GeForce RTX 3060 Laptop GPU",
                vram_total=6 * GIB,
                vram_free=5 * GIB,
                driver_version="550.54",
                cuda_capability="8.6",
            )
        ],
        torch_version="2.13.0",
        torch_cuda_available=True,
        device_kind="laptop",
        probe_errors=["cpu frequency: RuntimeError: boom"],
    )
    text = render(profile_table(p))
    assert "Device profile (laptop, heuristic)" in text
    assert "Intel(R) Core(TM) i7-12700H" in text
    assert "14 physical / 20 logical" in text
    assert "avx2, fma" in text
    assert "20.0 GiB available of 32.0 GiB" in text
    assert "6.0 GiB free of 8.0 GiB" in text
    assert "64%, on battery, 1h 30m left" in text
    assert "1-min load 2.00 (0.10 per core); 7% over 0.1s" in text
    assert "NVIDIA GeForce RTX 3060 Laptop GPU: 5.0 GiB free of 6.0 GiB (CUDA 8.6, driver 550.54)" in text
    assert "2.13.0, CUDA available" in text
    assert "cpu frequency: RuntimeError: boom" in text


def test_profile_table_of_this_machine() -> None:
    p = collect_profile(0, probe_torch=False)
    text = render(profile_table(p))
    assert p.os.system in text
    assert f"{p.cpu.logical_cores} logical" in text
    assert format_bytes(p.memory.total) in text
    if not p.gpus:
        assert "GPUs" in text and "none" in text
    assert "not installed or not probed" in text


def test_eligibility_table_lists_every_check() -> None:
    p = DeviceProfile(
        collected_at=0.0,
        os=OSInfo(system="Linux", release="6.8.0", machine="aarch64"),
        python_version="3.11.7",
        cpu=CPUInfo(logical_cores=4),
        memory=MemoryInfo(total=4 * GIB, available=3 * GIB),
        battery=BatteryInfo(percent=23, power_plugged=False),
        load=LoadInfo(load_avg_1m=0.4, load_per_core=0.1),
        device_kind="phone/iot",
    )
    e = check_eligibility(p, TrainingPolicy(), opted_in=True, required_memory_bytes=GIB)
    text = render(eligibility_table(e))
    assert "Training eligibility: DENIED" in text
    assert "battery 23% is below the 50% floor and the device is not charging" in text
    assert "FAIL" in text and text.count("pass") == 3
    allowed = Eligibility(allowed=True, reasons=["all checks passed"])
    text = render(eligibility_table(allowed))
    assert "ALLOWED" in text and "all checks passed" in text
