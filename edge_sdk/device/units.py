"""Human-readable numbers for device reports and eligibility reasons.

Kept apart so the profile, the policy and the CLI tables print sizes the same way.
"""

from __future__ import annotations

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def format_bytes(n: float | None) -> str:
    """`1536 -> '1.5 KiB'`; None -> 'unknown'. Binary units, because RAM and VRAM are sold that way."""
    if n is None:
        return "unknown"
    value = float(n)
    sign = "-" if value < 0 else ""
    value = abs(value)
    for unit in _UNITS:
        if value < 1024 or unit == _UNITS[-1]:
            return f"{sign}{value:.0f} {unit}" if unit == "B" else f"{sign}{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def format_duration(seconds: float | None) -> str:
    """`5400 -> '1h 30m'`; None -> 'unknown'."""
    if seconds is None:
        return "unknown"
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    minutes = rest // 60
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m"
