"""What this device is and how busy it is, collected without ever raising.

The profile feeds two decisions: whether the user's device may train right now (see `eligibility.py`) and
which inference backend fits it. It runs on laptops, phones, Raspberry Pis, containers and GPU servers, where
half the probes are missing or broken, so every probe is guarded: a failing probe leaves its field as
None / empty and adds a line to `probe_errors` instead of raising.

GPU readings come from NVML (the `pynvml` module of nvidia-ml-py). They are informational only: they describe
the device to its own user and to the local training policy. Proof-of-AI never trusts them, because a node
can report any VRAM or model name it likes; PoAI measures instead.

The profile deliberately holds no hostname, user name, serial number or GPU UUID, so it can be sent to a
federation coordinator without identifying the device.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from edge_sdk.errors import InvalidRequestError

SCHEMA_VERSION = 1
GIB = 1024**3

DeviceKind = Literal["gpu-server", "desktop", "laptop", "phone/iot"]

# RAM below which an ARM device is taken for a phone / single-board computer rather than an ARM laptop.
# Phones sold with "8 GB" report ~7.3-7.7 GiB; Apple-silicon laptops report their full 8 GiB and more.
IOT_RAM_THRESHOLD = 8 * GIB

# cgroup limits at or above this mean "no limit" (v1 reports 2**63 rounded down to the page size).
_CGROUP_UNLIMITED = 2**60

# Canonical flag names we report, mapped from the spellings the kernels use.
_X86_FLAGS = {
    "avx": "avx",
    "avx2": "avx2",
    "fma": "fma",
    "f16c": "f16c",
    "avx512f": "avx512f",
    "avx512bw": "avx512bw",
    "avx512vl": "avx512vl",
    "avx512_vnni": "avx512_vnni",
    "avx512vnni": "avx512_vnni",
    "avx512_bf16": "avx512_bf16",
    "avx_vnni": "avx_vnni",
    "amx_tile": "amx_tile",
    "amx_bf16": "amx_bf16",
    "amx_int8": "amx_int8",
}
_ARM_FLAGS = {
    "neon": "neon",  # 32-bit ARM
    "asimd": "neon",  # AArch64 spelling of NEON
    "asimddp": "dotprod",
    "i8mm": "i8mm",
    "bf16": "bf16",
    "sve": "sve",
    "sve2": "sve2",
}
_DARWIN_FLAGS = {
    "hw.optional.avx1_0": "avx",
    "hw.optional.avx2_0": "avx2",
    "hw.optional.fma": "fma",
    "hw.optional.avx512f": "avx512f",
    "hw.optional.avx512bw": "avx512bw",
    "hw.optional.avx512vl": "avx512vl",
    "hw.optional.avx512vnni": "avx512_vnni",
    "hw.optional.neon": "neon",
    "hw.optional.AdvSIMD": "neon",
    "hw.optional.arm.FEAT_DotProd": "dotprod",
    "hw.optional.arm.FEAT_I8MM": "i8mm",
    "hw.optional.arm.FEAT_BF16": "bf16",
}


class _Model(BaseModel):
    # Frozen: a profile is a snapshot. Extra keys are ignored so an older coordinator can read a newer
    # client's profile.
    model_config = ConfigDict(frozen=True, extra="ignore", protected_namespaces=())


class OSInfo(_Model):
    system: str = Field(description="platform.system(): 'Linux', 'Darwin', 'Windows', 'Android', ...")
    release: str
    machine: str = Field(description="CPU architecture as the OS names it: 'x86_64', 'aarch64', 'arm64', ...")


class CPUInfo(_Model):
    model_name: str | None = Field(
        None, description="Marketing name, e.g. 'Intel(R) Xeon(R) ...', 'Apple M2'"
    )
    physical_cores: int | None = Field(
        default=None, description="None when the OS does not say (some VMs, ARM)"
    )
    logical_cores: int = Field(ge=1)
    usable_cores: int | None = Field(default=None, description="Cores this process may run on (CPU affinity)")
    quota_cores: float | None = Field(
        None, description="cgroup CPU quota in cores, when a container sets one"
    )
    freq_max_mhz: float | None = None
    flags: list[str] = Field(
        default_factory=list, description="SIMD flags of interest: avx2, avx512f, neon..."
    )
    flags_source: str | None = Field(
        default=None, description="Where flags came from; None = not detectable here"
    )


class MemoryInfo(_Model):
    """Bytes. `cgroup_*` are set when a container caps memory below what psutil reports for the host."""

    total: int | None = None
    available: int | None = None
    swap_total: int | None = None
    swap_free: int | None = None
    cgroup_limit: int | None = None
    cgroup_usage: int | None = None

    @property
    def effective_available(self) -> int | None:
        """RAM this process can actually still get: the host's available RAM, capped by the cgroup's room."""
        room = None
        if self.cgroup_limit is not None and self.cgroup_usage is not None:
            room = max(0, self.cgroup_limit - self.cgroup_usage)
        if self.available is None:
            return room
        return self.available if room is None else min(self.available, room)


class BatteryInfo(_Model):
    percent: float = Field(ge=0, le=100)
    power_plugged: bool | None = Field(default=None, description="None when the OS cannot tell")
    secs_left: int | None = Field(default=None, description="None when charging, unlimited or unknown")


class LoadInfo(_Model):
    load_avg_1m: float | None = Field(default=None, description="1-minute load average (None on Windows)")
    load_per_core: float | None = Field(
        None, description="load_avg_1m / logical cores; 1.0 = every core busy"
    )
    cpu_percent: float | None = Field(
        default=None, description="Whole-machine CPU use over the sample, 0-100"
    )
    sample_seconds: float = Field(
        default=0.0, description="Length of the cpu_percent sample; 0 = not sampled"
    )


class GPUInfo(_Model):
    """One NVIDIA GPU as NVML reports it. Informational only: never trusted by Proof-of-AI."""

    index: int
    name: str
    vram_total: int | None = Field(default=None, description="Bytes")
    vram_free: int | None = Field(default=None, description="Bytes")
    driver_version: str | None = None
    cuda_capability: str | None = Field(default=None, description="Compute capability, e.g. '8.6'")


class DeviceProfile(_Model):
    """A snapshot of this device. Build it with `collect_profile()`; it never raises on odd machines."""

    schema_version: int = SCHEMA_VERSION
    collected_at: float = Field(description="Unix time of collection")
    os: OSInfo
    python_version: str
    python_implementation: str = "CPython"
    cpu: CPUInfo
    memory: MemoryInfo
    battery: BatteryInfo | None = Field(default=None, description="None on machines without a battery")
    load: LoadInfo
    gpus: list[GPUInfo] = Field(default_factory=list)
    gpu_error: str | None = Field(
        default=None, description="Why no GPU list could be read (no NVIDIA library...)"
    )
    torch_version: str | None = Field(
        default=None, description="None when torch is not importable or not probed"
    )
    torch_cuda_available: bool | None = Field(
        default=None, description="torch.cuda.is_available(); None = unknown"
    )
    device_kind: DeviceKind = Field(description="Heuristic class, see classify_device()")
    probe_errors: list[str] = Field(default_factory=list, description="Probes that failed, with the error")

    def to_json(self, *, indent: int | None = None) -> str:
        return self.model_dump_json(indent=indent)

    @classmethod
    def from_json(cls, data: str | bytes) -> DeviceProfile:
        return cls.model_validate_json(data)


# ---------------------------------------------------------------------------------------------- helpers

T = TypeVar("T")
D = TypeVar("D")


def _guard(errors: list[str], label: str, fn: Callable[[], T], default: D) -> T | D:
    """Run one probe; on any failure record it and fall back. The reason the profile never raises."""
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 - a probe may fail in any way on an unknown platform
        errors.append(f"{label}: {type(exc).__name__}: {exc}".rstrip(": "))
        return default


def _import_psutil() -> Any:
    try:
        return importlib.import_module("psutil")
    except Exception:  # noqa: BLE001 - a probe may fail in any way on an unknown platform
        return None


def _read_text(path: str | Path) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _sysctl(name: str) -> str | None:
    try:
        out = subprocess.run(["sysctl", "-n", name], capture_output=True, text=True, timeout=2, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    value = out.stdout.strip()
    return value if out.returncode == 0 and value else None


def _cpuinfo_fields(text: str) -> dict[str, str]:
    """First value of each key in /proc/cpuinfo (all cores repeat the same keys)."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields.setdefault(key.strip().lower(), value.strip())
    return fields


def _is_arm(machine: str) -> bool:
    m = machine.lower()
    return m.startswith(("arm", "aarch64"))


# ---------------------------------------------------------------------------------------------- probes


def _probe_cpu_model(system: str, cpuinfo: dict[str, str]) -> str | None:
    if cpuinfo:
        # x86: "model name"; old ARM kernels: "Processor"/"Hardware"; MIPS: "cpu model"; POWER: "cpu".
        for key in ("model name", "processor", "hardware", "cpu model", "cpu"):
            value = cpuinfo.get(key, "")
            if value and not value.isdigit():
                return value
        # AArch64 kernels give only part numbers; lscpu decodes them ("Cortex-A72").
        name = _lscpu_model_name()
        if name:
            return name
        board = _read_text("/proc/device-tree/model")  # e.g. "Raspberry Pi 4 Model B Rev 1.4"
        if board and board.strip("\x00\n "):
            return board.strip("\x00\n ")
    if system == "Darwin":
        name = _sysctl("machdep.cpu.brand_string")
        if name:
            return name
    if system == "Windows":
        name = _windows_cpu_name()
        if name:
            return name
    return platform.processor() or None


def _lscpu_model_name() -> str | None:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=2, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    for line in out.stdout.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() == "model name" and value.strip() not in ("", "-"):
            return value.strip()
    return None


def _windows_cpu_name() -> str | None:
    try:
        winreg: Any = importlib.import_module("winreg")  # Windows only

        path = r"HARDWARE\DESCRIPTION\System\CentralProcessor\0"
        with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, path) as key:
            name, _ = winreg.QueryValueEx(key, "ProcessorNameString")
    except (ImportError, OSError):
        return None
    return str(name).strip() or None


def _probe_cpu_flags(system: str, machine: str, cpuinfo: dict[str, str]) -> tuple[list[str], str | None]:
    found: set[str] = set()
    source: str | None = None
    raw = cpuinfo.get("flags") or cpuinfo.get("features")
    if raw:
        table = _ARM_FLAGS if _is_arm(machine) else _X86_FLAGS
        found.update(table[f] for f in raw.split() if f in table)
        source = "/proc/cpuinfo"
    elif system == "Darwin":
        for key, flag in _DARWIN_FLAGS.items():
            if _sysctl(key) == "1":
                found.add(flag)
        source = "sysctl"
    if machine.lower() in ("aarch64", "arm64"):
        found.add("neon")  # NEON (Advanced SIMD) is mandatory on every AArch64 CPU
        source = source or "architecture"
    return sorted(found), source


def _probe_cgroup_cpu_quota(root: Path = Path("/sys/fs/cgroup")) -> float | None:
    text = _read_text(root / "cpu.max")  # cgroup v2: "<quota> <period>" or "max <period>"
    if text:
        quota, _, period = text.strip().partition(" ")
        if quota != "max" and period:
            return int(quota) / int(period)
        return None
    quota_s = _read_text(root / "cpu" / "cpu.cfs_quota_us")  # cgroup v1: -1 = no quota
    period_s = _read_text(root / "cpu" / "cpu.cfs_period_us")
    if quota_s and period_s and int(quota_s) > 0:
        return int(quota_s) / int(period_s)
    return None


def _cgroup_memory_paths(root: Path, proc_cgroup: Path) -> list[tuple[Path, Path]]:
    """(limit file, usage file) candidates for this process, most specific first."""
    candidates: list[tuple[Path, Path]] = []
    text = _read_text(proc_cgroup) or ""
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, rel = parts
        rel = rel.strip().lstrip("/")
        if controllers == "":  # v2 unified hierarchy
            base = root / rel
            candidates.append((base / "memory.max", base / "memory.current"))
        elif "memory" in controllers.split(","):
            base = root / "memory" / rel
            candidates.append((base / "memory.limit_in_bytes", base / "memory.usage_in_bytes"))
    # Inside a container the process's own cgroup is usually mounted at the root.
    candidates.append((root / "memory.max", root / "memory.current"))
    candidates.append((root / "memory" / "memory.limit_in_bytes", root / "memory" / "memory.usage_in_bytes"))
    return candidates


def _probe_cgroup_memory(
    host_total: int | None,
    root: Path = Path("/sys/fs/cgroup"),
    proc_cgroup: Path = Path("/proc/self/cgroup"),
) -> tuple[int | None, int | None]:
    """(limit, usage) of this process's memory cgroup, or (None, None) when it sets no real limit."""
    for limit_path, usage_path in _cgroup_memory_paths(root, proc_cgroup):
        limit_s = _read_text(limit_path)
        if limit_s is None:
            continue
        limit_s = limit_s.strip()
        if limit_s == "max":
            return None, None
        limit = int(limit_s)
        if limit >= _CGROUP_UNLIMITED or (host_total is not None and limit >= host_total):
            return None, None
        usage_s = _read_text(usage_path)
        return limit, int(usage_s.strip()) if usage_s else None
    return None, None


def _probe_freq_max(psutil: Any) -> float | None:
    freq = psutil.cpu_freq()  # None or raises on some VMs and ARM boards
    if freq is None:
        return None
    return float(freq.max) or float(freq.current) or None


def _probe_virtual_memory(psutil: Any) -> tuple[int | None, int | None]:
    vm = psutil.virtual_memory()
    return int(vm.total), int(vm.available)


def _probe_swap(psutil: Any) -> tuple[int | None, int | None]:
    sw = psutil.swap_memory()
    return int(sw.total), int(sw.free)


def _probe_battery(psutil: Any) -> BatteryInfo | None:
    sensors_battery = getattr(psutil, "sensors_battery", None)
    if sensors_battery is None:  # not implemented on this platform
        return None
    batt = sensors_battery()
    if batt is None:  # no battery (desktop, server, container)
        return None
    secs = batt.secsleft
    unknown = {getattr(psutil, "POWER_TIME_UNLIMITED", -2), getattr(psutil, "POWER_TIME_UNKNOWN", -1)}
    secs_left = None if secs is None or secs in unknown or secs < 0 else int(secs)
    return BatteryInfo(
        percent=min(100.0, max(0.0, float(batt.percent))),
        power_plugged=batt.power_plugged if batt.power_plugged is None else bool(batt.power_plugged),
        secs_left=secs_left,
    )


def _decode(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _read_gpu(pynvml: Any, index: int, handle: Any, driver: str | None, errors: list[str]) -> GPUInfo:
    """One GPU's fields; each NVML query may fail on its own (unsupported on that GPU or driver)."""
    name = _guard(errors, f"nvml gpu {index} name", lambda: _decode(pynvml.nvmlDeviceGetName(handle)), "")
    mem = _guard(errors, f"nvml gpu {index} memory", lambda: pynvml.nvmlDeviceGetMemoryInfo(handle), None)
    cap = _guard(
        errors,
        f"nvml gpu {index} cuda capability",
        lambda: "{}.{}".format(*pynvml.nvmlDeviceGetCudaComputeCapability(handle)),
        None,
    )
    return GPUInfo(
        index=index,
        name=name or "unknown NVIDIA GPU",
        vram_total=int(mem.total) if mem is not None else None,
        vram_free=int(mem.free) if mem is not None else None,
        driver_version=driver,
        cuda_capability=cap,
    )


def collect_gpus(errors: list[str] | None = None) -> tuple[list[GPUInfo], str | None]:
    """NVIDIA GPUs via NVML, or ([], reason) when NVML is missing or broken. Never raises.

    Informational only: Proof-of-AI does not trust these readings (a node can fake them) and measures instead.
    Per-GPU probe failures are appended to `errors`; the GPU stays in the list with the fields it could read.
    """
    errors = errors if errors is not None else []
    try:
        pynvml = importlib.import_module("pynvml")
    except Exception as exc:  # noqa: BLE001 - a probe may fail in any way on an unknown platform
        return [], f"pynvml not importable ({type(exc).__name__}: {exc}); install nvidia-ml-py for GPU info"
    try:
        pynvml.nvmlInit()
    except Exception as exc:  # noqa: BLE001 - a probe may fail in any way on an unknown platform
        return [], f"NVML unavailable (no NVIDIA driver/library?): {exc}"
    try:
        driver = _guard(
            errors, "nvml driver version", lambda: _decode(pynvml.nvmlSystemGetDriverVersion()), None
        )
        try:
            count = int(pynvml.nvmlDeviceGetCount())
        except Exception as exc:  # noqa: BLE001 - a probe may fail in any way on an unknown platform
            return [], f"NVML could not count GPUs: {exc}"
        gpus: list[GPUInfo] = []
        for i in range(count):
            try:
                handle = pynvml.nvmlDeviceGetHandleByIndex(i)
            except Exception as exc:  # noqa: BLE001 - a probe may fail in any way on an unknown platform
                errors.append(f"nvml gpu {i} handle: {exc}")
                continue
            gpus.append(_read_gpu(pynvml, i, handle, driver, errors))
        return gpus, None
    finally:
        try:
            pynvml.nvmlShutdown()
        except Exception:  # noqa: BLE001, S110 - a failing NVML shutdown must not fail the probe
            pass


def _probe_torch() -> tuple[str | None, bool | None]:
    """torch version and CUDA availability, importing torch only now (it costs seconds and ~300 MB)."""
    if "torch" not in sys.modules and importlib.util.find_spec("torch") is None:
        return None, None
    torch = importlib.import_module("torch")
    return str(torch.__version__), bool(torch.cuda.is_available())


def classify_device(
    *, system: str, machine: str, ram_total: int | None, has_battery: bool, gpu_count: int
) -> DeviceKind:
    """Guess what kind of device this is. A heuristic, not a fact; used for defaults and display only.

    In order:
    1. Android / iOS, or an ARM CPU with less than 8 GiB of RAM -> "phone/iot" (phones, Raspberry Pis, Jetsons,
       whose integrated GPU NVML does not report).
    2. A battery -> "laptop" (even with an NVIDIA GPU).
    3. An NVIDIA GPU -> "gpu-server" (a desktop with a discrete NVIDIA card looks the same and is treated alike).
    4. Otherwise -> "desktop" (includes CPU-only servers and containers).
    """
    if system in ("Android", "iOS") or (
        _is_arm(machine) and ram_total is not None and ram_total < IOT_RAM_THRESHOLD
    ):
        return "phone/iot"
    if has_battery:
        return "laptop"
    if gpu_count > 0:
        return "gpu-server"
    return "desktop"


# ---------------------------------------------------------------------------------------------- entry point


def collect_profile(cpu_sample_s: float = 0.1, *, probe_torch: bool = True) -> DeviceProfile:
    """Snapshot this device. Never raises on an odd machine; failed probes are listed in `probe_errors`.

    cpu_sample_s: how long to sample CPU use for `load.cpu_percent` (blocks that long); 0 skips the sample.
    probe_torch: import torch (lazily, now) to report `torch.cuda.is_available()`; False keeps this cheap.
    """
    if not math.isfinite(cpu_sample_s) or cpu_sample_s < 0:
        raise InvalidRequestError(f"cpu_sample_s must be a finite number of seconds >= 0, got {cpu_sample_s}")
    errors: list[str] = []
    psutil = _import_psutil()
    if psutil is None:
        errors.append(
            "psutil not importable: cores, RAM, battery and CPU use fall back to the standard library"
        )

    uname = platform.uname()
    os_info = OSInfo(system=uname.system or sys.platform, release=uname.release, machine=uname.machine)

    # CPU
    cpuinfo = _guard(errors, "/proc/cpuinfo", lambda: _cpuinfo_fields(_read_text("/proc/cpuinfo") or ""), {})
    logical = _guard(
        errors, "logical cores", lambda: psutil.cpu_count(logical=True) if psutil else None, None
    )
    logical = logical or os.cpu_count() or 1
    physical = _guard(
        errors, "physical cores", lambda: psutil.cpu_count(logical=False) if psutil else None, None
    )
    usable = (
        _guard(errors, "cpu affinity", lambda: len(os.sched_getaffinity(0)), None)
        if hasattr(os, "sched_getaffinity")
        else None
    )
    freq_max = _guard(errors, "cpu frequency", lambda: _probe_freq_max(psutil) if psutil else None, None)
    flags, flags_source = _guard(
        errors, "cpu flags", lambda: _probe_cpu_flags(os_info.system, os_info.machine, cpuinfo), ([], None)
    )
    cpu = CPUInfo(
        model_name=_guard(errors, "cpu model", lambda: _probe_cpu_model(os_info.system, cpuinfo), None),
        physical_cores=physical or None,
        logical_cores=logical,
        usable_cores=usable or None,
        quota_cores=_guard(errors, "cgroup cpu quota", _probe_cgroup_cpu_quota, None),
        freq_max_mhz=freq_max,
        flags=flags,
        flags_source=flags_source,
    )

    # Memory
    total, available = _guard(
        errors,
        "virtual memory",
        lambda: _probe_virtual_memory(psutil) if psutil else (None, None),
        (None, None),
    )
    if total is None and hasattr(os, "sysconf"):
        total = _guard(
            errors, "sysconf memory", lambda: os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"), None
        )
        available = _guard(
            errors,
            "sysconf free memory",
            lambda: os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"),
            None,
        )
    swap_total, swap_free = _guard(
        errors, "swap", lambda: _probe_swap(psutil) if psutil else (None, None), (None, None)
    )
    cg_limit, cg_usage = _guard(errors, "cgroup memory", lambda: _probe_cgroup_memory(total), (None, None))
    memory = MemoryInfo(
        total=total,
        available=available,
        swap_total=swap_total,
        swap_free=swap_free,
        cgroup_limit=cg_limit,
        cgroup_usage=cg_usage,
    )

    # Battery and load
    battery = _guard(errors, "battery", lambda: _probe_battery(psutil) if psutil else None, None)
    load_1m = (
        _guard(errors, "load average", lambda: float(os.getloadavg()[0]), None)
        if hasattr(os, "getloadavg")
        else None
    )
    cpu_percent = None
    if cpu_sample_s > 0 and psutil is not None:
        cpu_percent = _guard(
            errors, "cpu percent", lambda: float(psutil.cpu_percent(interval=cpu_sample_s)), None
        )
    load = LoadInfo(
        load_avg_1m=load_1m,
        load_per_core=load_1m / logical if load_1m is not None else None,
        cpu_percent=cpu_percent,
        sample_seconds=cpu_sample_s if cpu_percent is not None else 0.0,
    )

    # Accelerators
    gpus, gpu_error = _guard(errors, "nvml", lambda: collect_gpus(errors), ([], "NVML probe failed"))
    torch_version, torch_cuda = (
        _guard(errors, "torch", _probe_torch, (None, None)) if probe_torch else (None, None)
    )

    kind = classify_device(
        system=os_info.system,
        machine=os_info.machine,
        ram_total=memory.total,
        has_battery=battery is not None,
        gpu_count=len(gpus),
    )
    return DeviceProfile(
        collected_at=time.time(),
        os=os_info,
        python_version=platform.python_version(),
        python_implementation=platform.python_implementation(),
        cpu=cpu,
        memory=memory,
        battery=battery,
        load=load,
        gpus=gpus,
        gpu_error=gpu_error,
        torch_version=torch_version,
        torch_cuda_available=torch_cuda,
        device_kind=kind,
        probe_errors=errors,
    )
