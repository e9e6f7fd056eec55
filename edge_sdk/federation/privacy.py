"""Local differential privacy for a client's update: clip the whole update, add Gaussian noise, count epsilon.

The update (all tensors taken as one vector) is scaled to global L2 norm <= clip_norm, then every element
gets N(0, (noise_multiplier * clip_norm)^2). One release is then the Gaussian mechanism with L2
sensitivity clip_norm for the client's WHOLE dataset (user-level local DP: the neighbouring input is "this
client contributed nothing"; no subsampling amplification is claimed, since the client knows nothing about
how it was sampled). Under the stricter replace-the-client's-data relation the sensitivity is 2*clip_norm,
which is the same as halving the noise multiplier. `PrivacyAccountant` composes the releases with Renyi DP
(Google's dp-accounting) and must be persisted by the client so its epsilon never resets on an app restart.

Use an OS-seeded generator (`np.random.default_rng()`, the default) for real noise; a seeded one is for
tests only, since anyone who knows the seed can subtract the noise.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from edge_sdk.errors import BackendUnavailableError, InvalidRequestError

# float32 rounding after scaling can add ~2^-24 relative to the norm; aim this much lower so the released
# update is provably within clip_norm, which the privacy guarantee needs.
_CLIP_MARGIN = 1.0 - 2.0**-20


@dataclass(frozen=True)
class DPConfig:
    """How a client privatises its update. noise std = noise_multiplier * clip_norm."""

    clip_norm: float | None = None
    noise_multiplier: float = 0.0
    delta: float = 1e-5

    def __post_init__(self) -> None:
        if self.clip_norm is not None and not (math.isfinite(self.clip_norm) and self.clip_norm > 0):
            raise InvalidRequestError(f"clip_norm must be a positive number, got {self.clip_norm!r}.")
        if not (math.isfinite(self.noise_multiplier) and self.noise_multiplier >= 0):
            raise InvalidRequestError(f"noise_multiplier must be 0 or more, got {self.noise_multiplier!r}.")
        if self.noise_multiplier > 0 and self.clip_norm is None:
            raise InvalidRequestError("noise_multiplier needs a clip_norm: the noise std is noise_multiplier "
                                      "* clip_norm, and without clipping no noise bounds the privacy loss.")
        if not 0 < self.delta < 1:
            raise InvalidRequestError(f"delta must be between 0 and 1 (exclusive), got {self.delta!r}.")

    @property
    def noise_std(self) -> float:
        return self.noise_multiplier * self.clip_norm if self.clip_norm is not None else 0.0


@dataclass(frozen=True)
class PrivacyReport:
    """What `privatize` did to one update (the norm is for logs: it is never sent, it would leak)."""

    original_norm: float
    clipped: bool
    noise_std: float


def global_norm(tensors: Mapping[str, np.ndarray]) -> float:
    """L2 norm of all tensors as one vector, in float64 (float32 sums lose digits on millions of elements)."""
    return math.sqrt(sum(float(np.square(np.asarray(x, dtype=np.float64)).sum()) for x in tensors.values()))


def clip_update(tensors: Mapping[str, np.ndarray], clip_norm: float
                ) -> tuple[dict[str, np.ndarray], float, float]:
    """Scale the whole update so its global L2 norm is <= clip_norm; returns (tensors, original_norm, scale).

    An update already within the bound is returned unchanged (scale 1.0)."""
    if not (math.isfinite(clip_norm) and clip_norm > 0):
        raise InvalidRequestError(f"clip_norm must be a positive number, got {clip_norm!r}.")
    norm = global_norm(tensors)
    if not math.isfinite(norm):
        raise InvalidRequestError("The update has NaN or infinite values; it cannot be clipped or sent.")
    if norm <= clip_norm:
        return {k: np.asarray(v, dtype=np.float32) for k, v in tensors.items()}, norm, 1.0
    scale = clip_norm / norm * _CLIP_MARGIN
    out = {k: (np.asarray(v, dtype=np.float64) * scale).astype(np.float32) for k, v in tensors.items()}
    return out, norm, scale


def add_gaussian_noise(tensors: Mapping[str, np.ndarray], std: float, rng: np.random.Generator
                       ) -> dict[str, np.ndarray]:
    """Add independent N(0, std^2) to every element (tensors visited by name, so a seed reproduces)."""
    if not (math.isfinite(std) and std >= 0):
        raise InvalidRequestError(f"noise std must be 0 or more, got {std!r}.")
    out = {}
    for k in sorted(tensors):
        x = np.asarray(tensors[k], dtype=np.float32)
        out[k] = (x + rng.normal(0.0, std, size=x.shape)).astype(np.float32) if std > 0 else x
    return out


def privatize(tensors: Mapping[str, np.ndarray], config: DPConfig, rng: np.random.Generator | None = None
              ) -> tuple[dict[str, np.ndarray], PrivacyReport]:
    """Clip then noise an update as `config` says; record the release in a PrivacyAccountant afterwards."""
    rng = np.random.default_rng() if rng is None else rng
    if config.clip_norm is None:
        out, scale = {k: np.asarray(v, dtype=np.float32) for k, v in tensors.items()}, 1.0
        norm = global_norm(tensors)
    else:
        out, norm, scale = clip_update(tensors, config.clip_norm)
    out = add_gaussian_noise(out, config.noise_std, rng)
    return out, PrivacyReport(original_norm=norm, clipped=scale < 1.0, noise_std=config.noise_std)


class PrivacyAccountant:
    """Counts this client's Gaussian releases (by noise multiplier) and reports their composed epsilon.

    Persist it (`save`/`load`, or `to_dict`/`from_dict`) next to the client's other state and record a
    release BEFORE the update leaves the device: a crash after sending must not forget the release.
    """

    VERSION = 1

    def __init__(self) -> None:
        self._releases: dict[float, int] = {}

    def record(self, noise_multiplier: float, rounds: int = 1) -> None:
        """Count `rounds` releases at `noise_multiplier` (0 = no noise: epsilon becomes infinite)."""
        if not (math.isfinite(noise_multiplier) and noise_multiplier >= 0):
            raise InvalidRequestError(f"noise_multiplier must be 0 or more, got {noise_multiplier!r}.")
        if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 0:
            raise InvalidRequestError(f"rounds must be a whole number 0 or more, got {rounds!r}.")
        if rounds:
            key = float(noise_multiplier)
            self._releases[key] = self._releases.get(key, 0) + rounds

    @property
    def rounds(self) -> int:
        """Releases recorded so far, at any noise multiplier."""
        return sum(self._releases.values())

    @property
    def releases(self) -> dict[float, int]:
        return dict(self._releases)

    def epsilon(self, delta: float) -> float:
        """(epsilon, delta)-DP of all releases together, by Renyi-DP composition (0 before any release)."""
        if not 0 < delta < 1:
            raise InvalidRequestError(f"delta must be between 0 and 1 (exclusive), got {delta!r}.")
        if not self._releases:
            return 0.0
        if 0.0 in self._releases:
            return math.inf
        try:
            import dp_accounting
            from dp_accounting.rdp import RdpAccountant
        except ImportError:
            raise BackendUnavailableError("Privacy accounting needs the dp-accounting package: "
                                          "pip install 'edgeproof[fed]'.") from None
        acc = RdpAccountant()
        for nm, count in sorted(self._releases.items()):
            acc.compose(dp_accounting.SelfComposedDpEvent(dp_accounting.GaussianDpEvent(nm), count))
        return float(acc.get_epsilon(delta))

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.VERSION, "mechanism": "gaussian",
                "releases": [{"noise_multiplier": nm, "rounds": c}
                             for nm, c in sorted(self._releases.items())]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PrivacyAccountant:
        """Rebuild from `to_dict`; anything unexpected is an error, never a silent reset to zero."""
        if not isinstance(d, Mapping) or d.get("version") != cls.VERSION or d.get("mechanism") != "gaussian" \
                or not isinstance(d.get("releases"), list):
            raise InvalidRequestError(f"Not a version-{cls.VERSION} privacy accountant state: {d!r:.200}.")
        acc = cls()
        for r in d["releases"]:
            if not isinstance(r, Mapping) or isinstance(r.get("noise_multiplier"), bool) \
                    or not isinstance(r.get("noise_multiplier"), (int, float)):
                raise InvalidRequestError(f"Bad release entry in privacy accountant state: {r!r:.200}.")
            acc.record(float(r["noise_multiplier"]), r.get("rounds"))
        return acc

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write atomically (temp file, fsync, rename): a crash never leaves a half-written file."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        with open(tmp, "w") as fh:
            json.dump(self.to_dict(), fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> PrivacyAccountant:
        """Read a saved accountant; a missing file is a client that has released nothing yet."""
        path = Path(path)
        if not path.exists():
            return cls()
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            raise InvalidRequestError(f"Cannot read privacy accountant state {path}: {e}. Refusing to start "
                                      "from zero; fix or restore the file.") from None
        return cls.from_dict(data)
