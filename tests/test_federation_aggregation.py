"""Federated aggregation rules as properties over seeded LoRA-shaped arrays (numpy only): FedAvg is the
weighted mean, robust rules stay inside the honest range under poisoning, FFA-LoRA and product averaging
reproduce mean_w(B_i A_i) where FedAvg of A and B does not. Plus adapter tensor I/O and checks."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from edge_sdk.errors import InvalidRequestError
from edge_sdk.federation.aggregation import RULES, Aggregate, ClientUpdate, aggregate
from edge_sdk.federation.aggregation.fedavg import fedavg
from edge_sdk.federation.aggregation.ffa_lora import ffa_lora
from edge_sdk.federation.aggregation.krum import krum, multi_krum
from edge_sdk.federation.aggregation.median import coordinate_median
from edge_sdk.federation.aggregation.product_average import product_average
from edge_sdk.federation.aggregation.trimmed_mean import trimmed_mean
from edge_sdk.federation.tensors import (
    add,
    l2_norm,
    load_adapter_tensors,
    lora_pairs,
    save_adapter_tensors,
    subtract,
    update_problems,
)

R = 4
MODULES = {"q_proj": (16, 32), "v_proj": (48, 16), "o_proj": (32, 48)}  # (in, out)
NORM = "base_model.model.model.norm.weight"  # a trained non-LoRA tensor (modules_to_save-like)
SEEDS = range(5)


def name(module: str, ab: str) -> str:
    return f"base_model.model.model.layers.0.self_attn.{module}.lora_{ab}.weight"


def adapter(rng: np.random.Generator, a: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Random LoRA tensors: A (r, in), B (out, r) per module, plus NORM; A taken from `a` when given."""
    out = {NORM: rng.standard_normal(16).astype(np.float32)}
    for m, (n_in, n_out) in MODULES.items():
        out[name(m, "A")] = a[name(m, "A")] if a else rng.standard_normal((R, n_in)).astype(np.float32)
        out[name(m, "B")] = rng.standard_normal((n_out, R)).astype(np.float32)
    return out


def updates_of(tensor_sets: list[dict[str, np.ndarray]], rng: np.random.Generator | None = None
               ) -> list[ClientUpdate]:
    counts = rng.integers(1, 100, len(tensor_sets)) if rng is not None else [10] * len(tensor_sets)
    return [ClientUpdate(f"c{i}", t, int(n)) for i, (t, n) in enumerate(zip(tensor_sets, counts))]


def products(upds: list[ClientUpdate], module: str) -> np.ndarray:
    """mean_w(B_i A_i) in float64, formed explicitly."""
    w = np.array([u.num_examples for u in upds], dtype=np.float64)
    w /= w.sum()
    return sum(wi * (u.tensors[name(module, "B")].astype(np.float64) @ u.tensors[name(module, "A")])
               for wi, u in zip(w, upds))


def rel_error(agg: dict[str, np.ndarray], m: np.ndarray, module: str) -> float:
    got = agg[name(module, "B")].astype(np.float64) @ agg[name(module, "A")].astype(np.float64)
    return float(np.linalg.norm(m - got) / np.linalg.norm(m))


# ---------------------------------------------------------------------------------------------- fedavg
@pytest.mark.parametrize("seed", SEEDS)
def test_fedavg_is_the_weighted_mean_in_any_order(seed: int) -> None:
    rng = np.random.default_rng(seed)
    upds = updates_of([adapter(rng) for _ in range(4)], rng)
    got = fedavg(upds)
    w = np.array([u.num_examples for u in upds], dtype=np.float64)
    for key in upds[0].tensors:
        want = sum(wi * u.tensors[key].astype(np.float64) for wi, u in zip(w, upds)) / w.sum()
        np.testing.assert_allclose(got.tensors[key], want, rtol=1e-6, atol=1e-7)
        assert got.tensors[key].dtype == np.float32
    shuffled = fedavg([upds[i] for i in rng.permutation(len(upds))])
    for key in upds[0].tensors:
        np.testing.assert_allclose(shuffled.tensors[key], got.tensors[key], rtol=1e-6, atol=1e-7)
    assert sum(got.info["weights"].values()) == pytest.approx(1.0)


def test_fedavg_of_one_client_is_that_client() -> None:
    (only,) = updates_of([adapter(np.random.default_rng(0))])
    got = fedavg([only])
    assert got.tensors.keys() == only.tensors.keys()
    for key, value in only.tensors.items():
        np.testing.assert_array_equal(got.tensors[key], value)


def test_fedprox_aggregates_as_fedavg() -> None:
    rng = np.random.default_rng(1)
    upds = updates_of([adapter(rng) for _ in range(3)], rng)
    assert RULES["fedprox"] is RULES["fedavg"]
    a, b = aggregate("fedprox", upds), fedavg(upds)
    for key in a.tensors:
        np.testing.assert_array_equal(a.tensors[key], b.tensors[key])


def test_shared_checks_say_what_differs() -> None:
    rng = np.random.default_rng(2)
    first, second = adapter(rng), adapter(rng)
    with pytest.raises(InvalidRequestError, match="at least one is needed"):
        fedavg([])
    no_norm = {k: v for k, v in second.items() if k != NORM}
    cases = [
        ([ClientUpdate("c0", first, 1), ClientUpdate("c0", second, 1)], "'c0' sent more than one update"),
        ([ClientUpdate("c0", first, 1), ClientUpdate("c1", {**second, NORM: np.zeros(17, np.float32)}, 1)],
         f"from 'c1' cannot be aggregated \\(compared with the update from 'c0'\\): "
         f"{NORM} has shape \\(17,\\)"),
        ([ClientUpdate("c0", first, 1), ClientUpdate("c1", no_norm, 1)], f"{NORM} is missing"),
        ([ClientUpdate("c0", {**first, NORM: np.full(16, np.nan, np.float32)}, 1)], "16 non-finite values"),
        ([ClientUpdate("c0", first, 1), ClientUpdate("c1", second, 0)], "'c1' has num_examples=0"),
    ]
    for upds, message in cases:
        with pytest.raises(InvalidRequestError, match=message):
            fedavg(upds)
    coordinate_median([ClientUpdate("c0", first, 0), ClientUpdate("c1", second, 0)])  # unweighted: no counts


# ------------------------------------------------------------------------------------ robust rules
def poisoned_round(seed: int, n: int, attack: str) -> tuple[list[ClientUpdate], list[ClientUpdate], str]:
    """n updates: n-1 honest ones near a shared adapter, one poisoned (x1000 or x-10) at a random place."""
    rng = np.random.default_rng(seed)
    base = adapter(rng)
    clean = [{k: v + 0.01 * rng.standard_normal(v.shape).astype(np.float32) for k, v in base.items()}
             for _ in range(n - 1)]
    factor = 1000.0 if attack == "scale" else -10.0
    bad = {k: (v * factor).astype(np.float32) for k, v in clean[0].items()}
    at = int(rng.integers(0, n))
    upds = updates_of(clean[:at] + [bad] + clean[at:])
    return upds, [u for i, u in enumerate(upds) if i != at], upds[at].client_id


def outside(agg: Aggregate, clean: list[ClientUpdate]) -> float:
    """How far the aggregate's worst coordinate lies outside [min, max] of the clean updates (0 = inside)."""
    worst = 0.0
    for key, value in agg.tensors.items():
        stack = np.stack([u.tensors[key] for u in clean])
        below, above = stack.min(axis=0) - value, value - stack.max(axis=0)
        worst = max(worst, float(np.max(below)), float(np.max(above)))
    return worst


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("attack", ["scale", "flip"])
def test_median_and_trimmed_mean_stay_in_the_clean_range(seed: int, attack: str) -> None:
    for rule, n in [(coordinate_median, 3), (coordinate_median, 5), (trimmed_mean, 5)]:
        upds, clean, _ = poisoned_round(seed, n, attack)
        assert outside(rule(upds), clean) <= 1e-6, (rule.__name__, n)
        assert outside(fedavg(upds), clean) > 1.0  # the plain mean is dragged far outside


def test_trimmed_mean_trims_floor_beta_n_and_refuses_to_trim_everything() -> None:
    upds, _, _ = poisoned_round(0, 5, "scale")
    assert trimmed_mean(upds, beta=0.2).info["trimmed_per_side"] == 1
    assert trimmed_mean(upds, beta=0.39).info["trimmed_per_side"] == 1
    assert trimmed_mean(upds, beta=0.0).info["trimmed_per_side"] == 0
    middle = trimmed_mean(upds, beta=0.5)  # 2 dropped at each end of 5: the middle value, i.e. the median
    assert middle.info["trimmed_per_side"] == 2
    for key, value in coordinate_median(upds).tensors.items():
        np.testing.assert_array_equal(middle.tensors[key], value)
    with pytest.raises(InvalidRequestError, match="drops 2 values at each end, so nothing would remain"):
        trimmed_mean(upds[:4], beta=0.5)
    with pytest.raises(InvalidRequestError, match=">= 0, not -0.1"):
        trimmed_mean(upds, beta=-0.1)
    with pytest.raises(InvalidRequestError, match="beta must be a finite number"):
        trimmed_mean(upds, beta="0.2")


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("attack", ["scale", "flip"])
def test_krum_never_selects_the_poisoned_update(seed: int, attack: str) -> None:
    upds, clean, poisoned = poisoned_round(seed, 5, attack)
    one = krum(upds, num_byzantine=1)
    assert len(one.info["selected"]) == 1 and poisoned not in one.info["selected"]
    assert max(one.info["scores"], key=one.info["scores"].get) == poisoned
    many = multi_krum(upds, num_byzantine=1)
    assert sorted(many.info["selected"]) == sorted(u.client_id for u in clean)  # n - f = 4
    for key, value in many.tensors.items():
        want = np.mean([u.tensors[key] for u in clean], axis=0)
        np.testing.assert_allclose(value, want, rtol=1e-5, atol=1e-6)
    assert outside(many, clean) <= 1e-6


@pytest.mark.parametrize("n, f", [(4, 1), (2, 0), (6, 2)])
def test_krum_needs_more_than_2f_plus_2_updates(n: int, f: int) -> None:
    upds, _, _ = poisoned_round(0, n, "scale")
    message = rf"needs more than 2\*{f}\+2 = {2 * f + 2} updates, got {n}"
    with pytest.raises(InvalidRequestError, match=message):
        krum(upds, num_byzantine=f)


# ---------------------------------------------------------------------------------------- ffa_lora
@pytest.mark.parametrize("seed", SEEDS)
def test_ffa_lora_is_exact_with_a_shared_frozen_a(seed: int) -> None:
    rng = np.random.default_rng(seed)
    first = adapter(rng)
    upds = updates_of([first] + [adapter(rng, a=first) for _ in range(3)], rng)
    got = ffa_lora(upds)
    for m in MODULES:
        np.testing.assert_array_equal(got.tensors[name(m, "A")], first[name(m, "A")])
        assert rel_error(got.tensors, products(upds, m), m) < 1e-5
    np.testing.assert_allclose(got.tensors[NORM], fedavg(upds).tensors[NORM], rtol=1e-6, atol=1e-7)


def test_ffa_lora_refuses_clients_whose_a_differs() -> None:
    rng = np.random.default_rng(0)
    first = adapter(rng)
    other = adapter(rng, a=first)
    other[name("v_proj", "A")] = np.nextafter(other[name("v_proj", "A")], np.float32(9))  # one ulp apart
    with pytest.raises(InvalidRequestError, match=r"v_proj\.lora_A\.weight from 'c1' differs"):
        ffa_lora(updates_of([first, other]))


# --------------------------------------------------------------------------------- product_average
def gauge_round(seed: int, n: int = 4, noise: float = 0.0) -> list[ClientUpdate]:
    """Clients that agree on the weight change B A but factor it differently (LoRA factors are only defined
    up to B T, T^-1 A), plus optional noise."""
    rng = np.random.default_rng(seed)
    shared = adapter(rng)
    sets = []
    for _ in range(n):
        t = {}
        for m in MODULES:
            q = np.linalg.qr(rng.standard_normal((R, R)))[0]
            d = rng.uniform(0.5, 2.0, R)
            b = shared[name(m, "B")] @ q * d
            a = (q * (1 / d)).T @ shared[name(m, "A")]
            t[name(m, "B")] = (b + noise * rng.standard_normal(b.shape)).astype(np.float32)
            t[name(m, "A")] = (a + noise * rng.standard_normal(a.shape)).astype(np.float32)
        t[NORM] = rng.standard_normal(16).astype(np.float32)
        sets.append(t)
    return updates_of(sets, rng)


@pytest.mark.parametrize("seed", SEEDS)
def test_product_average_error_is_the_reported_truncation_error(seed: int) -> None:
    rng = np.random.default_rng(seed)
    upds = updates_of([adapter(rng) for _ in range(3)], rng)  # unrelated clients: rank 3r, truncated to r
    got = product_average(upds)
    naive = fedavg(upds)
    for m in MODULES:
        truth = products(upds, m)
        reported = got.info["truncation_error"][name(m, "A")]
        assert 0 < reported < 1
        assert rel_error(got.tensors, truth, m) <= reported + 1e-6
        assert reported <= rel_error(naive.tensors, truth, m)  # Eckart-Young: the best rank-r approximation
        assert got.tensors[name(m, "A")].shape == (R, MODULES[m][0])
        assert got.tensors[name(m, "B")].dtype == np.float32
    assert got.info["max_truncation_error"] == max(got.info["truncation_error"].values())
    np.testing.assert_allclose(got.tensors[NORM], naive.tensors[NORM], rtol=1e-6, atol=1e-7)

    exact = product_average(upds, rank=3 * R)  # n * r <= rank: nothing is truncated
    assert exact.info["max_truncation_error"] < 1e-7 and exact.info["total_truncation_error"] < 1e-7
    for m in MODULES:
        assert exact.tensors[name(m, "A")].shape == (3 * R, MODULES[m][0])
        assert rel_error(exact.tensors, products(upds, m), m) < 1e-6


@pytest.mark.parametrize("seed", SEEDS)
def test_fedavg_of_a_and_b_misses_the_product_average(seed: int) -> None:
    upds = gauge_round(seed, noise=0.01)
    exact = product_average(upds)
    naive = fedavg(upds)
    for m in MODULES:
        truth = products(upds, m)
        reported = exact.info["truncation_error"][name(m, "A")]
        naive_error = rel_error(naive.tensors, truth, m)
        assert rel_error(exact.tensors, truth, m) <= reported + 1e-6
        assert reported < 1e-3  # the clients' products agree up to the noise: nearly rank r
        assert naive_error > 0.1 and naive_error > 100 * reported, (m, naive_error, reported)


def test_product_average_of_zero_b_keeps_a_trainable() -> None:
    # round one: every client's B still at peft's zero init; A' must not collapse to 0 with B' (zero gradient)
    rng = np.random.default_rng(3)
    sets = [adapter(rng) for _ in range(3)]
    for t in sets:
        t.update({k: np.zeros_like(v) for k, v in t.items() if ".lora_B." in k})
    got = product_average(updates_of(sets))
    for m in MODULES:
        assert not got.tensors[name(m, "B")].any()
        a = got.tensors[name(m, "A")].astype(np.float64)
        np.testing.assert_allclose(a @ a.T, np.eye(R), atol=1e-6)
    assert got.info["max_truncation_error"] == 0.0 and got.info["total_truncation_error"] == 0.0


# ----------------------------------------------------------------------------------------- tensors
def test_save_load_round_trip(tmp_path) -> None:
    src, dst = tmp_path / "client", tmp_path / "global"
    src.mkdir()
    config = json.dumps({"peft_type": "LORA", "r": R, "lora_alpha": 8})
    (src / "adapter_config.json").write_text(config)
    tensors = adapter(np.random.default_rng(0))
    tensors[NORM] = tensors[NORM].astype(np.float64)[::2].repeat(2)  # float64, built from a strided view
    save_adapter_tensors(dst, tensors, config_from=src)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["client", "global"]  # no temp folder left
    assert sorted(p.name for p in dst.iterdir()) == ["adapter_config.json", "adapter_model.safetensors"]
    assert (dst / "adapter_config.json").read_text() == config
    back = load_adapter_tensors(dst)
    assert back.keys() == tensors.keys()
    for key, value in tensors.items():
        assert back[key].dtype == np.float32
        np.testing.assert_array_equal(back[key], value.astype(np.float32))
    doubled = {k: v * 2 for k, v in back.items()}
    save_adapter_tensors(dst, doubled, config_from=dst)  # overwrite in place, config from the folder itself
    np.testing.assert_array_equal(load_adapter_tensors(dst)[NORM], doubled[NORM])


def test_load_reads_bf16(tmp_path) -> None:
    values = np.array([[1.5, -2.0], [0.25, 3.0]], np.float32)
    raw = (values.view(np.uint32) >> 16).astype("<u2").tobytes()
    header = json.dumps({"x.lora_A.weight": {"dtype": "BF16", "shape": [2, 2],
                                             "data_offsets": [0, len(raw)]}})
    header += " " * (-len(header) % 8)
    data = struct.pack("<Q", len(header)) + header.encode() + raw
    (tmp_path / "adapter_model.safetensors").write_bytes(data)
    np.testing.assert_array_equal(load_adapter_tensors(tmp_path)["x.lora_A.weight"], values)


def test_io_errors_name_the_folder(tmp_path) -> None:
    with pytest.raises(InvalidRequestError, match=f"{tmp_path} has no adapter_model.safetensors"):
        load_adapter_tensors(tmp_path)
    (tmp_path / "adapter_model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(InvalidRequestError, match="cannot be read"):
        load_adapter_tensors(tmp_path)
    with pytest.raises(InvalidRequestError, match=f"{tmp_path} has no adapter_config.json"):
        save_adapter_tensors(tmp_path / "out", {"x": np.zeros(2)}, config_from=tmp_path)
    assert not (tmp_path / "out").exists()


def test_lora_pairs() -> None:
    names = [name("q_proj", "B"), name("q_proj", "A"), NORM,
             "m.layers.1.mlp.up_proj.lora_A.default.weight", "m.layers.1.mlp.up_proj.lora_B.default.weight",
             "m.embed_tokens.lora_embedding_A.default", "m.embed_tokens.lora_embedding_B.default",
             "m.lora_Alpha.weight"]
    assert lora_pairs(names) == sorted([
        (name("q_proj", "A"), name("q_proj", "B")),
        ("m.layers.1.mlp.up_proj.lora_A.default.weight", "m.layers.1.mlp.up_proj.lora_B.default.weight"),
        ("m.embed_tokens.lora_embedding_A.default", "m.embed_tokens.lora_embedding_B.default"),
    ])
    assert lora_pairs([NORM]) == []
    with pytest.raises(InvalidRequestError, match=r"v_proj\.lora_A\.weight has no lora_B"):
        lora_pairs([name("q_proj", "A"), name("q_proj", "B"), name("v_proj", "A")])
    with pytest.raises(InvalidRequestError, match=r"up_proj\.lora_B\.default\.weight has no lora_A"):
        lora_pairs(["m.up_proj.lora_A.weight", "m.up_proj.lora_B.default.weight"])


def test_update_problems_lists_every_problem() -> None:
    ref = adapter(np.random.default_rng(0))
    assert update_problems(ref, dict(ref)) == []
    bad = dict(ref)
    del bad[name("q_proj", "A")]
    bad["extra.weight"] = np.zeros(3, np.float32)
    bad[name("v_proj", "B")] = np.zeros((16, R + 1), np.float32)
    norm = ref[NORM].copy()
    norm[:3], norm[5] = np.nan, np.inf
    bad[NORM] = norm
    problems = update_problems(ref, bad)
    assert problems == [
        f"{name('q_proj', 'A')} is missing.",
        "extra.weight is not in the reference adapter.",
        f"{name('v_proj', 'B')} has shape (16, 5), expected (16, 4).",
        f"{NORM} has 4 non-finite values (3 NaN, 1 infinite) of 16.",
    ]
    many = update_problems({f"t{i:02d}": np.zeros(1) for i in range(25)}, {})
    assert len(many) == 11 and many[-1] == "... and 15 more problems."


def test_add_subtract_norm() -> None:
    rng = np.random.default_rng(0)
    a, b = adapter(rng), adapter(rng)
    back = subtract(add(a, b), b)
    for key in a:
        assert back[key].dtype == np.float32
        np.testing.assert_allclose(back[key], a[key], atol=1e-5)
    assert l2_norm({"x": np.array([3.0, 0.0], np.float32), "y": np.array([[4.0]], np.float32)}) == 5.0
    assert l2_norm(a) == pytest.approx(np.sqrt(sum(np.sum(v.astype(np.float64) ** 2) for v in a.values())))
    with pytest.raises(InvalidRequestError, match="is missing"):
        add(a, {k: v for k, v in b.items() if k != NORM})


# --------------------------------------------------------------------------------------- aggregate()
def test_aggregate_errors_are_clear() -> None:
    upds, _, _ = poisoned_round(0, 5, "scale")
    known = "fedavg, fedprox, ffa_lora, krum, median, multi_krum, product_average, trimmed_mean"
    with pytest.raises(InvalidRequestError, match=f"unknown aggregation rule 'fedsgd': use one of {known}$"):
        aggregate("fedsgd", upds)
    with pytest.raises(InvalidRequestError, match="'krum' has no parameter 'f': it takes num_byzantine, "
                                                  "num_selected"):
        aggregate("krum", upds, f=1)
    with pytest.raises(InvalidRequestError, match="'median' has no parameter 'beta': it takes no parameters"):
        aggregate("median", upds, beta=0.2)
    assert aggregate("trimmed_mean", upds, beta=0.2).info["trimmed_per_side"] == 1
    assert len(aggregate("multi_krum", upds, num_byzantine=1, num_selected=2).info["selected"]) == 2
    with pytest.raises(InvalidRequestError, match="num_byzantine must be a whole number >= 0"):
        aggregate("krum", upds, num_byzantine=-1)
