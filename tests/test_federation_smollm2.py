"""Federated learning on the real SmolLM2: a coordinator and four clients in their own processes (`edgeproof fed
serve` / `fed join`, one compute thread each), each with a disjoint shard of made-up facts the base model cannot
know. The global adapter must learn them (held-out loss clearly below the base model's, and near centralised
training on the union), no byte a client sends may contain row text, and with one poisoned client the robust
rules must keep the loss near the clean aggregate while plain FedAvg is hurt.

Four clients, not three, so that Krum (which needs n > 2f + 2 updates) can run with one poisoned client among five.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from edge_sdk.federation.aggregation import ClientUpdate, aggregate
from edge_sdk.federation.store import FederationStore
from edge_sdk.federation.tensors import add
from edge_sdk.federation.transfer import parse_weights
from edge_sdk.identity import NodeKey
from edge_sdk.training.data import load_chat_jsonl
from edge_sdk.training.recipe import FEDERATED_RECIPE
from fed_support import TcpProxy
from procs import ROOT, env, start_coordinator_process

pytestmark = pytest.mark.slow

DATA = ROOT / "examples" / "data"
ROUNDS, LOCAL_STEPS, CLIENTS = 3, 5, 4
TASK = "facts"


@pytest.fixture(scope="module")
def federated_run(tmp_path_factory):
    """One federated run, shared by the tests below: its database, the proxy's record and the shards."""
    root = tmp_path_factory.mktemp("federated")
    rows = (DATA / "private_facts.jsonl").read_text().splitlines()
    shards = [rows[i::CLIENTS] for i in range(CLIENTS)]
    db = root / "fed.sqlite"
    proc, ready = start_coordinator_process(
        db, "--task", TASK, "--rounds", str(ROUNDS), "--local-steps", str(LOCAL_STEPS),
        "--clients-per-round", str(CLIENTS), "--quorum", str(CLIENTS), "--min-clients", str(CLIENTS),
        "--over-selection", "1", "--deadline", "900", "--eval", str(DATA / "private_facts_heldout.jsonl"))
    proxy = TcpProxy(ready["port"])
    clients = []
    try:
        for i, shard in enumerate(shards):
            (root / f"shard{i}.jsonl").write_text("\n".join(shard) + "\n")
            NodeKey.from_seed(bytes([i + 1]) * 32).save(root / f"key{i}")  # fixed ids: fixed per-client seeds
            clients.append(subprocess.Popen(
                [sys.executable, "-m", "edgeproof_cli.fed", "join", "--coordinator", f"127.0.0.1:{proxy.port}",
                 "--expect-coordinator-id", ready["coordinator_id"], "--data", str(root / f"shard{i}.jsonl"),
                 "--key", str(root / f"key{i}"), "--workdir", str(root / f"client{i}"), "--threads", "1",
                 "--max-cpu-load", "100", "--min-battery", "0"],
                stdout=subprocess.DEVNULL, stderr=open(root / f"client{i}.log", "w"), env=env(), cwd=ROOT))
        assert proc.wait(1500) == 0, "the coordinator did not finish the task"
        for c in clients:
            assert c.wait(120) == 0, (root / f"client{clients.index(c)}.log").read_text()[-2000:]
    finally:
        for p in (proc, *clients):
            if p.poll() is None:
                p.kill()
                p.wait()
        proxy.close()
    return {"db": db, "upstream": bytes(proxy.upstream), "shards": shards, "root": root}


@pytest.fixture(scope="module")
def centralised_loss(tmp_path_factory):
    """Held-out loss of centralised training on the union: the same recipe, as many sequential steps."""
    from edge_sdk.training.engine import LoraTrainer

    trainer = LoraTrainer(None, FEDERATED_RECIPE.with_(max_steps=ROUNDS * LOCAL_STEPS))
    trainer.train(load_chat_jsonl(DATA / "private_facts.jsonl"), tmp_path_factory.mktemp("central") / "adapter")
    return trainer.evaluate(load_chat_jsonl(DATA / "private_facts_heldout.jsonl"))


def test_the_global_adapter_learns_what_only_the_clients_know(federated_run, centralised_loss):
    store = FederationStore(str(federated_run["db"]))
    versions = store.versions(TASK)
    store.close()
    losses = [v.eval_loss for v in versions]
    assert [v.version for v in versions] == list(range(ROUNDS + 1))
    base, final = losses[0], losses[-1]
    print(json.dumps({"eval_loss_per_version": losses, "centralised": centralised_loss}))
    assert final < 0.5 * base, losses  # clearly learnt (measured: see the closing note)
    assert all(b < a for a, b in zip(losses, losses[1:])), losses  # every round helps
    assert final <= centralised_loss + 0.1, (final, centralised_loss)  # within a stated margin of centralised


def test_no_payload_a_client_sends_contains_row_text(federated_run):
    sent = federated_run["upstream"]
    assert len(sent) > 100_000  # the uploads did go through the recording proxy
    for line in (line for shard in federated_run["shards"] for line in shard):
        for message in json.loads(line)["conversations"]:
            text = message["content"]
            for piece in {text, text[:24], text[-24:]}:
                if len(piece) >= 12:
                    assert piece.encode() not in sent, piece


def test_one_poisoned_client_hurts_fedavg_but_not_the_robust_rules(federated_run):
    from edge_sdk.federation.coordinator.global_model import GlobalModel

    store = FederationStore(str(federated_run["db"]))
    start = store.version(TASK, ROUNDS - 1)  # the round's starting point
    base = parse_weights(start.payload)
    clean = [ClientUpdate(u.client_id, add(base, parse_weights(u.payload)), u.num_examples)
             for u in store.updates(TASK, ROUNDS, 1)]
    store.close()
    assert len(clean) == CLIENTS
    victim = clean[0]
    poisoned = ClientUpdate("poisoned", {n: base[n] - 10.0 * (victim.tensors[n] - base[n]) for n in base},
                            victim.num_examples)  # sign-flipped and scaled x10
    model = GlobalModel(None, FEDERATED_RECIPE, load_chat_jsonl(DATA / "private_facts_heldout.jsonl"))
    with_poison = [*clean, poisoned]
    loss = {
        "clean fedavg": model.evaluate(aggregate("fedavg", clean).tensors),
        "fedavg": model.evaluate(aggregate("fedavg", with_poison).tensors),
        "median": model.evaluate(aggregate("median", with_poison).tensors),
        "trimmed_mean": model.evaluate(aggregate("trimmed_mean", with_poison, beta=0.2).tensors),
        "krum": model.evaluate(aggregate("krum", with_poison, num_byzantine=1).tensors),
    }
    print(json.dumps(loss))
    # measured (see the closing note): clean 0.080, start 0.154; poisoned fedavg 3.11, median 0.064,
    # trimmed mean 0.114, krum 0.182 (one client's update alone)
    near = max(loss["clean fedavg"], start.eval_loss) + 0.15
    for rule in ("median", "trimmed_mean", "krum"):
        assert loss[rule] <= near, loss
    assert loss["fedavg"] > 1.0 and loss["fedavg"] > max(loss["median"], loss["trimmed_mean"], loss["krum"]) + 0.5, loss
    assert np.isfinite(list(loss.values())).all()
