"""Local DP of a client's update: clipping to the bound, noise of the requested std, and an epsilon that
grows with rounds, matches dp-accounting and survives a restart."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest

from edge_sdk.errors import BackendUnavailableError, InvalidRequestError
from edge_sdk.federation.privacy import (
    DPConfig,
    PrivacyAccountant,
    add_gaussian_noise,
    clip_update,
    global_norm,
    privatize,
)


def _update(seed: int = 0, scale: float = 1.0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"a": (rng.normal(size=(16, 64)) * scale).astype(np.float32),
            "b": (rng.normal(size=(64, 16)) * scale).astype(np.float32),
            "c": np.full(3, scale, dtype=np.float32)}


def test_clip_bounds_the_global_norm_and_keeps_the_direction():
    x = _update(scale=10.0)
    norm = global_norm(x)
    out, original, scale = clip_update(x, 1.0)
    assert original == pytest.approx(norm) and 0 < scale < 1
    assert global_norm(out) <= 1.0 and global_norm(out) == pytest.approx(1.0, rel=1e-5)
    assert all(out[k].dtype == np.float32 for k in out)
    np.testing.assert_allclose(out["a"], x["a"] * scale, rtol=1e-6)


def test_clip_leaves_a_small_update_untouched():
    x = _update(scale=1e-3)
    out, original, scale = clip_update(x, 100.0)
    assert scale == 1.0 and original == pytest.approx(global_norm(x))
    assert all(np.array_equal(out[k], x[k]) for k in x)


@pytest.mark.parametrize("seed", range(5))
def test_clip_never_exceeds_the_bound_after_float32_rounding(seed):
    rng = np.random.default_rng(seed)
    x = {"w": rng.normal(size=100_000).astype(np.float32) * 7}
    for clip in (0.1, 1.0, 3.3):
        assert global_norm(clip_update(x, clip)[0]) <= clip


def test_clip_refuses_nan():
    with pytest.raises(InvalidRequestError, match="NaN or infinite"):
        clip_update({"w": np.array([1.0, np.nan])}, 1.0)


def test_noise_has_the_requested_std():
    zeros = {"a": np.zeros((1000, 500), np.float32), "b": np.zeros(500_000, np.float32)}
    out = add_gaussian_noise(zeros, 0.25, np.random.default_rng(7))
    v = np.concatenate([out["a"].ravel(), out["b"]]).astype(np.float64)
    assert out["a"].dtype == np.float32 and v.size == 1_000_000
    assert abs(v.std() - 0.25) < 0.02 * 0.25  # std error of the estimate is ~0.07%: 2% cannot flake
    assert abs(v.mean()) < 0.02 * 0.25
    again = add_gaussian_noise(zeros, 0.25, np.random.default_rng(7))
    assert np.array_equal(again["b"], out["b"])  # seeded rng + name order: reproducible


def test_privatize_clips_then_noises_and_reports():
    x = _update(scale=10.0)
    out, report = privatize(x, DPConfig(clip_norm=2.0, noise_multiplier=0.5), np.random.default_rng(1))
    assert report.clipped and report.noise_std == 1.0
    assert report.original_norm == pytest.approx(global_norm(x))
    assert not np.allclose(out["a"], clip_update(x, 2.0)[0]["a"])
    out, report = privatize(x, DPConfig())  # no DP at all: a pass-through
    assert not report.clipped and report.noise_std == 0.0 and all(np.array_equal(out[k], x[k]) for k in x)
    out, report = privatize(_update(scale=1e-3), DPConfig(clip_norm=5.0), np.random.default_rng(1))
    assert not report.clipped


@pytest.mark.parametrize("kwargs, match", [
    ({"clip_norm": 0.0}, "clip_norm must be a positive number, got 0.0"),
    ({"clip_norm": -1.0}, "clip_norm must be a positive number"),
    ({"clip_norm": math.inf}, "clip_norm must be a positive number"),
    ({"noise_multiplier": -0.1, "clip_norm": 1.0}, "noise_multiplier must be 0 or more"),
    ({"noise_multiplier": 1.0}, "noise_multiplier needs a clip_norm"),
    ({"delta": 0.0}, "delta must be between 0 and 1"),
    ({"delta": 1.0}, "delta must be between 0 and 1"),
])
def test_config_validation(kwargs, match):
    with pytest.raises(InvalidRequestError, match=match):
        DPConfig(**kwargs)


def test_config_noise_std():
    assert DPConfig(clip_norm=2.0, noise_multiplier=1.5).noise_std == 3.0
    assert DPConfig().noise_std == 0.0


# ---------------------------------------------------------------- accounting


def _eps(noise: float, rounds: int) -> float:
    acc = PrivacyAccountant()
    acc.record(noise, rounds)
    return acc.epsilon(1e-5)


def test_epsilon_matches_dp_accounting_for_a_known_setting():
    import dp_accounting
    from dp_accounting.rdp import RdpAccountant

    ref = RdpAccountant()
    ref.compose(dp_accounting.SelfComposedDpEvent(dp_accounting.GaussianDpEvent(1.0), 10))
    expected = ref.get_epsilon(1e-5)
    got = _eps(1.0, 10)
    assert got == expected and 0 < got < math.inf


def test_epsilon_grows_with_rounds_and_shrinks_with_noise():
    assert _eps(1.0, 1) < _eps(1.0, 10) < _eps(1.0, 100)
    assert _eps(0.5, 10) > _eps(1.0, 10) > _eps(4.0, 10) > 0
    one_by_one = PrivacyAccountant()
    for _ in range(10):
        one_by_one.record(1.0)
    assert one_by_one.rounds == 10 and one_by_one.epsilon(1e-5) == pytest.approx(_eps(1.0, 10))


def test_epsilon_edge_cases():
    assert PrivacyAccountant().epsilon(1e-5) == 0.0  # nothing released yet
    assert _eps(0.0, 1) == math.inf
    mixed = PrivacyAccountant()
    mixed.record(1.0, 5)
    mixed.record(2.0, 5)
    assert _eps(2.0, 5) < mixed.epsilon(1e-5) < _eps(1.0, 10)
    with pytest.raises(InvalidRequestError, match="delta must be between 0 and 1"):
        mixed.epsilon(0.0)
    with pytest.raises(InvalidRequestError, match="rounds must be a whole number"):
        mixed.record(1.0, -1)


def test_accountant_survives_a_restart(tmp_path):
    acc = PrivacyAccountant()
    acc.record(1.0, 7)
    acc.record(0.8, 2)
    back = PrivacyAccountant.from_dict(acc.to_dict())
    assert back.releases == acc.releases and back.epsilon(1e-5) == acc.epsilon(1e-5)
    path = tmp_path / "client" / "privacy.json"
    assert PrivacyAccountant.load(path).rounds == 0  # first start: nothing released
    acc.save(path)
    loaded = PrivacyAccountant.load(path)
    loaded.record(1.0)
    loaded.save(path)
    assert PrivacyAccountant.load(path).rounds == 10
    assert [p.name for p in path.parent.iterdir()] == ["privacy.json"]  # no temp file left behind


@pytest.mark.parametrize("state", [{}, {"version": 2, "mechanism": "gaussian", "releases": []},
                                   {"version": 1, "mechanism": "gaussian", "releases": [{"rounds": 3}]},
                                   {"version": 1, "mechanism": "gaussian",
                                    "releases": [{"noise_multiplier": 1.0, "rounds": "3"}]}])
def test_bad_accountant_state_is_an_error_not_a_reset(state, tmp_path):
    with pytest.raises(InvalidRequestError):
        PrivacyAccountant.from_dict(state)
    (tmp_path / "p.json").write_text("{truncated")
    with pytest.raises(InvalidRequestError, match="Refusing to start from zero"):
        PrivacyAccountant.load(tmp_path / "p.json")


def test_missing_dp_accounting_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "dp_accounting", None)  # import now raises ImportError
    acc = PrivacyAccountant()
    acc.record(1.0)
    with pytest.raises(BackendUnavailableError, match=r"pip install 'edgeproof\[fed\]'"):
        acc.epsilon(1e-5)
