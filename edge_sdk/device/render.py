"""Rich tables for `edgeproof edge info`: the device profile and the training-eligibility verdict."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from edge_sdk.device.eligibility import Eligibility
from edge_sdk.device.profile import DeviceProfile
from edge_sdk.device.units import format_bytes, format_duration


def _or_unknown(value: object, fmt: str = "{}") -> str:
    return "unknown" if value is None else fmt.format(value)


def profile_table(profile: DeviceProfile) -> Table:
    """Two columns, property / value; one row per GPU; failed probes at the end in yellow."""
    table = Table(title=f"Device profile ({profile.device_kind}, heuristic)", show_header=True)
    table.add_column("Property", style="bold")
    table.add_column("Value", overflow="fold")

    os_ = profile.os
    table.add_row("OS", f"{os_.system} {os_.release} ({os_.machine})")
    table.add_row("Python", f"{profile.python_implementation} {profile.python_version}")

    cpu = profile.cpu
    table.add_row("CPU", cpu.model_name or "unknown")
    cores = f"{_or_unknown(cpu.physical_cores)} physical / {cpu.logical_cores} logical"
    if cpu.usable_cores is not None and cpu.usable_cores != cpu.logical_cores:
        cores += f" ({cpu.usable_cores} usable)"
    if cpu.quota_cores is not None:
        cores += f", container quota {cpu.quota_cores:g}"
    table.add_row("Cores", cores)
    if cpu.freq_max_mhz:
        table.add_row("CPU frequency", f"{cpu.freq_max_mhz:.0f} MHz")
    flags = ", ".join(cpu.flags) if cpu.flags else ("none" if cpu.flags_source else "not detectable")
    table.add_row("SIMD flags", flags)

    mem = profile.memory
    ram = f"{format_bytes(mem.available)} available of {format_bytes(mem.total)}"
    if mem.cgroup_limit is not None:
        ram += f" (container limit {format_bytes(mem.cgroup_limit)}, usable {format_bytes(mem.effective_available)})"
    table.add_row("RAM", ram)
    if mem.swap_total:
        table.add_row("Swap", f"{format_bytes(mem.swap_free)} free of {format_bytes(mem.swap_total)}")
    else:
        table.add_row("Swap", "none" if mem.swap_total == 0 else "unknown")

    batt = profile.battery
    if batt is None:
        table.add_row("Battery", "none (mains power)")
    else:
        state = {True: "charging", False: "on battery", None: "charging state unknown"}[batt.power_plugged]
        left = f", {format_duration(batt.secs_left)} left" if batt.secs_left is not None else ""
        table.add_row("Battery", f"{batt.percent:.0f}%, {state}{left}")

    load = profile.load
    parts = []
    if load.load_avg_1m is not None:
        parts.append(f"1-min load {load.load_avg_1m:.2f} ({load.load_per_core:.2f} per core)")
    if load.cpu_percent is not None:
        parts.append(f"{load.cpu_percent:.0f}% over {load.sample_seconds:g}s")
    table.add_row("CPU load", "; ".join(parts) or "unknown")

    if profile.gpus:
        for gpu in profile.gpus:
            vram = f"{format_bytes(gpu.vram_free)} free of {format_bytes(gpu.vram_total)}"
            extra = ", ".join(
                x
                for x in (
                    f"CUDA {gpu.cuda_capability}" if gpu.cuda_capability else "",
                    f"driver {gpu.driver_version}" if gpu.driver_version else "",
                )
                if x
            )
            table.add_row(f"GPU {gpu.index}", f"{gpu.name}: {vram}" + (f" ({extra})" if extra else ""))
    else:
        table.add_row(
            "GPUs", Text(f"none ({profile.gpu_error})" if profile.gpu_error else "none", style="dim")
        )

    if profile.torch_version is None:
        torch_row = "not installed or not probed"
    else:
        cuda = {True: "CUDA available", False: "no CUDA", None: "CUDA unknown"}[profile.torch_cuda_available]
        torch_row = f"{profile.torch_version}, {cuda}"
    table.add_row("torch", torch_row)

    for err in profile.probe_errors:
        table.add_row("probe failed", Text(err, style="yellow"))
    return table


def eligibility_table(e: Eligibility) -> Table:
    """One row per check with a green/red verdict; the title carries the overall decision."""
    verdict = "[bold green]ALLOWED[/]" if e.allowed else "[bold red]DENIED[/]"
    table = Table(title=f"Training eligibility: {verdict}", show_header=True)
    table.add_column("Check", style="bold")
    table.add_column("Result")
    table.add_column("Detail", overflow="fold")
    if not e.checks:  # an Eligibility built by hand, without per-check results
        for reason in e.reasons:
            table.add_row(
                "-", Text("ok" if e.allowed else "fail", style="green" if e.allowed else "red"), reason
            )
        return table
    for check in e.checks:
        result = Text("pass", style="green") if check.passed else Text("FAIL", style="bold red")
        table.add_row(check.name, result, check.detail)
    return table
