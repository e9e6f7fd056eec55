"""Whole rounds on a tiny model with real clients in threads: the LoRA-aware rules through the coordinator, local
DP accounted end to end, and TLS."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from edge_sdk.device.eligibility import Eligibility
from edge_sdk.federation.client import FederatedClient
from edge_sdk.federation.coordinator import CoordinatorConfig
from edge_sdk.federation.privacy import DPConfig, PrivacyAccountant
from edge_sdk.federation.task import FederationTask
from edge_sdk.federation.tensors import lora_pairs
from edge_sdk.federation.transfer import parse_weights
from edge_sdk.identity import NodeKey
from edge_sdk.training.data import load_chat_jsonl
from edge_sdk.training.recipe import FEDERATED_RECIPE
from fed_support import CoordinatorThread
from procs import ROOT
from test_poai_wire_tls import _write_ca_and_cert

TINY_RECIPE = FEDERATED_RECIPE.with_(r=4, alpha=8)
ROWS = load_chat_jsonl(ROOT / "examples" / "data" / "private_facts.jsonl")
ALLOWED = Eligibility(allowed=True, reasons=["all checks passed"])


def _run(tiny, tmp_path, n_clients=2, config_kw=None, client_kw=None, **task_kw):
    task = FederationTask(task_id="t", recipe=TINY_RECIPE, rounds=1, local_steps=2, clients_per_round=n_clients,
                          quorum=n_clients, min_clients=n_clients, over_selection=1.0, round_deadline_s=300,
                          **task_kw)
    coord = CoordinatorThread(CoordinatorConfig(task=task, port=0, db=str(tmp_path / "fed.sqlite"), model=str(tiny),
                                                **(config_kw or {})))
    clients = [FederatedClient(coord.address, ROWS[i::n_clients], NodeKey.generate(),
                               workdir=tmp_path / f"client{i}", model=str(tiny), eligibility=lambda: ALLOWED,
                               **(client_kw or {})) for i in range(n_clients)]
    threads = [threading.Thread(target=c.run) for c in clients]
    try:
        for t in threads:
            t.start()
        state = coord.wait_finished(240)
        for t in threads:
            t.join(60)
        store = coord.service.store
        return state, clients, store.versions("t"), store.updates("t", 1, 1)
    finally:
        for c in clients:
            c.stop()
        coord.stop()


@pytest.mark.parametrize("rule", ["ffa_lora", "product_average"])
def test_lora_aware_rules_run_through_the_coordinator(models_tiny_hf_dir, tmp_path, rule):
    state, clients, versions, updates = _run(models_tiny_hf_dir, tmp_path, aggregation=rule,
                                             update_encoding="float32")
    assert state == "finished" and [c.state for c in clients] == ["finished", "finished"]
    v0, v1 = (parse_weights(v.payload) for v in versions)
    deltas = [parse_weights(u.payload) for u in updates]
    pairs = lora_pairs(v0)
    if rule == "ffa_lora":  # A frozen on every client: the deltas of A are exactly zero, A is kept
        for a, _b in pairs:
            assert all(not d[a].any() for d in deltas) and np.array_equal(v1[a], v0[a])
    else:
        assert versions[1].info["aggregate"]["max_truncation_error"] >= 0.0
    weights = np.array([u.num_examples for u in updates], float)
    weights /= weights.sum()
    for a, b in pairs:  # the new global product is the mean of the clients' products (to the truncation error)
        target = sum(w * (v0[b] + d[b]) @ (v0[a] + d[a]) for w, d in zip(weights, deltas))
        error = np.linalg.norm(v1[b] @ v1[a] - target) / max(np.linalg.norm(target), 1e-12)
        bound = versions[1].info["aggregate"].get("truncation_error", {}).get(a, 0.0) if rule != "ffa_lora" else 0
        assert error <= bound + 1e-4, (a, error, bound)


def test_local_dp_noise_is_applied_and_epsilon_reported(models_tiny_hf_dir, tmp_path):
    privacy = DPConfig(clip_norm=0.05, noise_multiplier=1.0, delta=1e-5)
    state, clients, _versions, updates = _run(models_tiny_hf_dir, tmp_path, privacy=privacy,
                                              update_encoding="float32")
    assert state == "finished"
    expected = PrivacyAccountant()
    expected.record(1.0)
    for u in updates:
        assert u.epsilon == pytest.approx(expected.epsilon(1e-5))
        noise = np.concatenate([t.ravel() for t in parse_weights(u.payload).values()])
        # N(0, (1.0 * 0.05)^2) on every element swamps the clipped delta (norm <= 0.05 over all elements)
        assert abs(noise.std() - 0.05) < 0.005
        assert u.update_norm > 0
    for c in clients:
        ledger = PrivacyAccountant.load(c.workdir / "privacy" / "t.json")
        assert ledger.epsilon(1e-5) == pytest.approx(expected.epsilon(1e-5))


def test_coordinator_over_tls(models_tiny_hf_dir, tmp_path):
    ca, cert, key = _write_ca_and_cert(tmp_path, "fed")
    state, clients, versions, _ = _run(models_tiny_hf_dir, tmp_path, n_clients=1,
                                       config_kw={"tls_cert_file": str(cert), "tls_key_file": str(key)},
                                       client_kw={"tls": True, "ca_file": str(ca)})
    assert state == "finished" and clients[0].state == "finished" and len(versions) == 2
