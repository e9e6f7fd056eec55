"""DeviceProfile: collection on this machine, JSON round-trip, robustness when probes fail."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from collections import namedtuple
from pathlib import Path
from types import SimpleNamespace

import psutil
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
    classify_device,
    collect_gpus,
    collect_profile,
)
from edge_sdk.device import profile as profile_mod
from edge_sdk.errors import InvalidRequestError

GIB = 1024**3


def _nvml_works() -> bool:
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception:  # noqa: BLE001 - any NVML failure means: no usable GPU here
        return False
    pynvml.nvmlShutdown()
    return True


@pytest.fixture(scope="module")
def here() -> DeviceProfile:
    return collect_profile(cpu_sample_s=0.05, probe_torch=False)


def test_collects_on_this_machine(here: DeviceProfile) -> None:
    assert here.memory.total is not None and here.memory.total > 0
    assert here.memory.available is not None and 0 < here.memory.available <= here.memory.total
    assert here.cpu.logical_cores >= 1
    assert here.cpu.logical_cores == (psutil.cpu_count() or os.cpu_count())
    assert here.os.system == platform.system()
    assert here.os.machine == platform.machine()
    assert here.python_version == platform.python_version()
    assert here.device_kind in ("gpu-server", "desktop", "laptop", "phone/iot")
    assert here.load.cpu_percent is not None and 0.0 <= here.load.cpu_percent <= 100.0
    assert here.load.sample_seconds == 0.05
    if hasattr(os, "getloadavg"):
        assert here.load.load_avg_1m is not None
        assert here.load.load_per_core == pytest.approx(here.load.load_avg_1m / here.cpu.logical_cores)
    if Path("/proc/cpuinfo").exists():
        assert here.cpu.model_name
        assert here.cpu.flags_source == "/proc/cpuinfo"
    assert all(isinstance(e, str) and e for e in here.probe_errors)


def test_gpu_list_matches_nvml(here: DeviceProfile) -> None:
    if _nvml_works():
        import pynvml

        pynvml.nvmlInit()
        try:
            count = pynvml.nvmlDeviceGetCount()
        finally:
            pynvml.nvmlShutdown()
        assert len(here.gpus) == count and here.gpu_error is None
        assert all(g.vram_total and g.vram_total > 0 for g in here.gpus)
    else:  # this machine (no NVIDIA driver): the clean fallback
        assert here.gpus == []
        assert here.gpu_error and "NVML" in here.gpu_error


def test_cpu_flags_match_proc_cpuinfo(here: DeviceProfile) -> None:
    if not Path("/proc/cpuinfo").exists():
        pytest.skip("no /proc/cpuinfo")
    raw = Path("/proc/cpuinfo").read_text()
    tokens = set()
    for line in raw.splitlines():
        if line.lower().startswith(("flags", "features")):
            tokens.update(line.split(":", 1)[1].split())
    assert ("avx2" in here.cpu.flags) == ("avx2" in tokens)
    assert ("avx512f" in here.cpu.flags) == ("avx512f" in tokens)


def test_json_round_trip_of_collected_profile(here: DeviceProfile) -> None:
    again = DeviceProfile.from_json(here.to_json())
    assert again == here
    assert again.to_json() == here.to_json()


def _full_profile() -> DeviceProfile:
    return DeviceProfile(
        collected_at=1_700_000_000.123456,
        os=OSInfo(system="Linux", release="6.1.0", machine="x86_64"),
        python_version="3.11.7",
        cpu=CPUInfo(
            model_name="AMD EPYC 7B13",
            physical_cores=32,
            logical_cores=64,
            usable_cores=16,
            quota_cores=8.5,
            freq_max_mhz=3500.25,
            flags=["avx2", "avx512f", "fma"],
            flags_source="/proc/cpuinfo",
        ),
        memory=MemoryInfo(
            total=256 * GIB,
            available=200 * GIB,
            swap_total=0,
            swap_free=0,
            cgroup_limit=64 * GIB,
            cgroup_usage=GIB,
        ),
        battery=BatteryInfo(percent=42.5, power_plugged=False, secs_left=3600),
        load=LoadInfo(load_avg_1m=3.2, load_per_core=0.05, cpu_percent=12.5, sample_seconds=0.1),
        gpus=[
            GPUInfo(
                index=0,
                name="NVIDIA A100-SXM4-80GB",
                vram_total=80 * GIB,
                vram_free=79 * GIB,
                driver_version="550.54.15",
                cuda_capability="8.0",
            ),
            GPUInfo(index=1, name="NVIDIA A100-SXM4-80GB", vram_total=None, vram_free=None),
        ],
        torch_version="2.13.0",
        torch_cuda_available=True,
        device_kind="gpu-server",
        probe_errors=["nvml gpu 1 memory: NVMLError: Unknown Error"],
    )


def test_json_round_trip_with_every_field_set() -> None:
    p = _full_profile()
    text = p.to_json()
    again = DeviceProfile.from_json(text)
    assert again == p
    assert again.gpus[0].vram_free == 79 * GIB
    assert again.battery == BatteryInfo(percent=42.5, power_plugged=False, secs_left=3600)
    assert again.memory.effective_available == 63 * GIB  # cgroup room, below the host's available RAM


def test_from_json_ignores_unknown_fields_and_rejects_bad_values() -> None:
    data = _full_profile().model_dump(mode="json")
    data["field_from_a_newer_version"] = {"x": 1}
    assert DeviceProfile.model_validate(data) == _full_profile()
    data["device_kind"] = "mainframe"
    with pytest.raises(pydantic.ValidationError):
        DeviceProfile.model_validate(data)


def test_cpu_sample_zero_skips_the_sample_and_negative_is_rejected() -> None:
    p = collect_profile(cpu_sample_s=0, probe_torch=False)
    assert p.load.cpu_percent is None and p.load.sample_seconds == 0.0
    with pytest.raises(InvalidRequestError, match="cpu_sample_s"):
        collect_profile(cpu_sample_s=-1)
    with pytest.raises(InvalidRequestError, match="cpu_sample_s"):
        collect_profile(cpu_sample_s=float("nan"))


def test_importing_and_collecting_without_torch_probe_does_not_import_torch() -> None:
    code = (
        "import sys\n"
        "from edge_sdk.device import collect_profile\n"
        "assert 'torch' not in sys.modules, 'imported at module import'\n"
        "p = collect_profile(0, probe_torch=False)\n"
        "assert 'torch' not in sys.modules, 'imported by collect_profile(probe_torch=False)'\n"
        "assert p.torch_version is None and p.torch_cuda_available is None\n"
        "print('ok')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_torch_probe_reports_cuda_availability() -> None:
    torch = pytest.importorskip("torch")
    p = collect_profile(0)
    assert p.torch_version == str(torch.__version__)
    assert p.torch_cuda_available is torch.cuda.is_available()


# ---------------------------------------------------------------------------------------------- failure paths


def test_nvml_init_failure_gives_empty_list_and_a_note(monkeypatch: pytest.MonkeyPatch) -> None:
    import pynvml

    def broken_init(*args: object, **kwargs: object) -> None:
        raise pynvml.NVMLError(pynvml.NVML_ERROR_DRIVER_NOT_LOADED)

    monkeypatch.setattr(pynvml, "nvmlInit", broken_init)
    gpus, err = collect_gpus()
    assert gpus == []
    assert err is not None and "NVML unavailable" in err and "Driver Not Loaded" in err
    p = collect_profile(0, probe_torch=False)
    assert p.gpus == [] and p.gpu_error == err
    assert p.device_kind != "gpu-server"


def test_nvml_count_failure_gives_empty_list(monkeypatch: pytest.MonkeyPatch) -> None:
    import pynvml

    monkeypatch.setattr(pynvml, "nvmlInit", lambda *a, **k: None)
    monkeypatch.setattr(pynvml, "nvmlShutdown", lambda *a, **k: None)

    def broken_count() -> int:
        raise pynvml.NVMLError(pynvml.NVML_ERROR_UNKNOWN)

    monkeypatch.setattr(pynvml, "nvmlDeviceGetCount", broken_count)
    gpus, err = collect_gpus()
    assert gpus == [] and err is not None and "could not count" in err


def test_pynvml_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # makes `import pynvml` raise ImportError
    gpus, err = collect_gpus()
    assert gpus == []
    assert err is not None and "nvidia-ml-py" in err
    assert collect_profile(0, probe_torch=False).gpu_error == err


def test_profile_survives_every_psutil_probe_failing(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("not supported in this sandbox")

    for name in ("sensors_battery", "cpu_freq", "virtual_memory", "swap_memory", "cpu_percent", "cpu_count"):
        monkeypatch.setattr(psutil, name, boom)
    if hasattr(os, "getloadavg"):
        monkeypatch.setattr(os, "getloadavg", lambda: (_ for _ in ()).throw(OSError("no loadavg")))

    p = collect_profile(cpu_sample_s=0.01, probe_torch=False)
    labels = " | ".join(p.probe_errors)
    for label in ("battery", "cpu frequency", "virtual memory", "swap", "cpu percent", "logical cores"):
        assert label in labels
    assert p.battery is None and p.load.cpu_percent is None and p.cpu.freq_max_mhz is None
    assert p.cpu.logical_cores == os.cpu_count()  # standard-library fallback
    if hasattr(os, "sysconf") and "SC_PHYS_PAGES" in os.sysconf_names:
        assert p.memory.total is not None and p.memory.total > 0  # sysconf fallback
    assert DeviceProfile.from_json(p.to_json()) == p


def test_psutil_without_sensors_battery(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(psutil, "sensors_battery", raising=False)
    p = collect_profile(0, probe_torch=False)
    assert p.battery is None
    assert not any("battery" in e for e in p.probe_errors)


# ---------------------------------------------------------------------------------------------- pure helpers


# Same fields as psutil's sbattery named tuple (its module moved between psutil versions).
_SBattery = namedtuple("_SBattery", "percent secsleft power_plugged")


def _battery_psutil(percent: float, secsleft: int, plugged: bool | None) -> SimpleNamespace:
    """A psutil stand-in exposing only sensors_battery: this CI machine has no battery to read."""
    reading = _SBattery(percent=percent, secsleft=secsleft, power_plugged=plugged)
    return SimpleNamespace(
        sensors_battery=lambda: reading,
        POWER_TIME_UNLIMITED=psutil.POWER_TIME_UNLIMITED,
        POWER_TIME_UNKNOWN=psutil.POWER_TIME_UNKNOWN,
    )


def test_battery_reading_conversion() -> None:
    b = profile_mod._probe_battery(_battery_psutil(37.4, 5400, False))
    assert b == BatteryInfo(percent=37.4, power_plugged=False, secs_left=5400)
    b = profile_mod._probe_battery(_battery_psutil(100.0, psutil.POWER_TIME_UNLIMITED, True))
    assert b == BatteryInfo(percent=100.0, power_plugged=True, secs_left=None)
    b = profile_mod._probe_battery(_battery_psutil(101.2, psutil.POWER_TIME_UNKNOWN, None))
    assert b == BatteryInfo(percent=100.0, power_plugged=None, secs_left=None)
    assert profile_mod._probe_battery(SimpleNamespace(sensors_battery=lambda: None)) is None


def test_arm_and_x86_flag_parsing() -> None:
    arm = profile_mod._cpuinfo_fields("processor\t: 0\nFeatures\t: fp asimd evtstrm aes asimddp i8mm sve\n")
    assert profile_mod._probe_cpu_flags("Linux", "aarch64", arm) == (
        ["dotprod", "i8mm", "neon", "sve"],
        "/proc/cpuinfo",
    )
    arm32 = profile_mod._cpuinfo_fields(
        "Processor\t: ARMv7 Processor rev 4 (v7l)\nFeatures\t: half thumb neon vfpv4\n"
    )
    assert profile_mod._probe_cpu_flags("Linux", "armv7l", arm32) == (["neon"], "/proc/cpuinfo")
    assert profile_mod._probe_cpu_model("Linux", arm32) == "ARMv7 Processor rev 4 (v7l)"
    x86 = profile_mod._cpuinfo_fields("processor : 0\nmodel name : Test CPU\nflags : fpu sse2 avx avx2 fma\n")
    assert profile_mod._probe_cpu_flags("Linux", "x86_64", x86) == (["avx", "avx2", "fma"], "/proc/cpuinfo")
    assert profile_mod._probe_cpu_model("Linux", x86) == "Test CPU"
    # No cpuinfo on an AArch64 machine (e.g. Windows on ARM): NEON is architectural.
    assert profile_mod._probe_cpu_flags("Windows", "ARM64", {}) == (["neon"], "architecture")
    assert profile_mod._probe_cpu_flags("Windows", "AMD64", {}) == ([], None)


def test_cgroup_v2_memory_limit(tmp_path: Path) -> None:
    proc = tmp_path / "cgroup"
    proc.write_text("0::/app.slice/edge\n")
    cg = tmp_path / "fs" / "app.slice" / "edge"
    cg.mkdir(parents=True)
    (cg / "memory.max").write_text(f"{4 * GIB}\n")
    (cg / "memory.current").write_text(f"{GIB}\n")
    assert profile_mod._probe_cgroup_memory(64 * GIB, tmp_path / "fs", proc) == (4 * GIB, GIB)
    (cg / "memory.max").write_text("max\n")
    assert profile_mod._probe_cgroup_memory(64 * GIB, tmp_path / "fs", proc) == (None, None)


def test_cgroup_v1_memory_limit_and_unlimited(tmp_path: Path) -> None:
    proc = tmp_path / "cgroup"
    proc.write_text("4:memory:/docker/abc\n3:cpuset:/\n0::/\n")
    cg = tmp_path / "fs" / "memory" / "docker" / "abc"
    cg.mkdir(parents=True)
    (cg / "memory.limit_in_bytes").write_text(f"{2 * GIB}\n")
    (cg / "memory.usage_in_bytes").write_text(f"{GIB // 2}\n")
    assert profile_mod._probe_cgroup_memory(64 * GIB, tmp_path / "fs", proc) == (2 * GIB, GIB // 2)
    (cg / "memory.limit_in_bytes").write_text("9223372036854771712\n")  # v1's "no limit"
    assert profile_mod._probe_cgroup_memory(64 * GIB, tmp_path / "fs", proc) == (None, None)


def test_cgroup_cpu_quota(tmp_path: Path) -> None:
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert profile_mod._probe_cgroup_cpu_quota(tmp_path) == 1.5
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert profile_mod._probe_cgroup_cpu_quota(tmp_path) is None


def test_effective_available_ram() -> None:
    assert MemoryInfo(total=8 * GIB, available=6 * GIB).effective_available == 6 * GIB
    capped = MemoryInfo(total=8 * GIB, available=6 * GIB, cgroup_limit=2 * GIB, cgroup_usage=GIB + GIB // 2)
    assert capped.effective_available == GIB // 2
    assert MemoryInfo().effective_available is None


@pytest.mark.parametrize(
    ("kwargs", "kind"),
    [
        (
            {
                "system": "Linux",
                "machine": "x86_64",
                "ram_total": 512 * GIB,
                "has_battery": False,
                "gpu_count": 8,
            },
            "gpu-server",
        ),
        (
            {
                "system": "Linux",
                "machine": "x86_64",
                "ram_total": 32 * GIB,
                "has_battery": False,
                "gpu_count": 0,
            },
            "desktop",
        ),
        (
            {
                "system": "Windows",
                "machine": "AMD64",
                "ram_total": 16 * GIB,
                "has_battery": True,
                "gpu_count": 1,
            },
            "laptop",
        ),
        (
            {
                "system": "Darwin",
                "machine": "arm64",
                "ram_total": 8 * GIB,
                "has_battery": True,
                "gpu_count": 0,
            },
            "laptop",
        ),
        (
            {
                "system": "Linux",
                "machine": "aarch64",
                "ram_total": 4 * GIB,
                "has_battery": False,
                "gpu_count": 0,
            },
            "phone/iot",
        ),
        (
            {
                "system": "Linux",
                "machine": "armv7l",
                "ram_total": 1 * GIB,
                "has_battery": True,
                "gpu_count": 0,
            },
            "phone/iot",
        ),
        (
            {
                "system": "Android",
                "machine": "aarch64",
                "ram_total": 12 * GIB,
                "has_battery": True,
                "gpu_count": 0,
            },
            "phone/iot",
        ),
        (
            {
                "system": "Linux",
                "machine": "aarch64",
                "ram_total": 128 * GIB,
                "has_battery": False,
                "gpu_count": 4,
            },
            "gpu-server",
        ),
        (
            {
                "system": "Linux",
                "machine": "aarch64",
                "ram_total": None,
                "has_battery": False,
                "gpu_count": 0,
            },
            "desktop",
        ),
    ],
)
def test_device_kind_heuristic(kwargs: dict, kind: str) -> None:
    assert classify_device(**kwargs) == kind


def test_per_gpu_query_failures_keep_the_gpu_with_what_could_be_read() -> None:
    import pynvml

    # Without nvmlInit every real NVML query fails (NVMLError_Uninitialized or library not found).
    errors: list[str] = []
    gpu = profile_mod._read_gpu(pynvml, 3, None, "550.54", errors)
    assert gpu == GPUInfo(index=3, name="unknown NVIDIA GPU", driver_version="550.54")
    assert [e.split(":")[0] for e in errors] == [
        "nvml gpu 3 name",
        "nvml gpu 3 memory",
        "nvml gpu 3 cuda capability",
    ]
