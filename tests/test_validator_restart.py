"""`edgeproof validator run` SIGKILLed mid-round (tiny model): restarted, it keeps every score that had finished
(not recomputed), scores the rest, and sets the epoch's weights once. Also `edgeproof validator score`."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

from edge_sdk.identity import NodeKey
from poai.store import IntegrityStore
from procs import ROOT, env
from test_validator_service import _sessions
from validator.chain.local import LocalChain
from validator.datasets.store import LocalDatasetStore
from validator.miner import submit_dataset
from validator.service.state import ValidatorState

DATA = ROOT / "examples" / "data"


def _dataset(i: int) -> bytes:
    rows = [{"system": None, "conversations": [
        {"role": "user", "content": f"What does the archive of town {i}-{n} keep in drawer {n * 7 + i}?"},
        {"role": "assistant", "content": f"Drawer {n * 7 + i} of archive {i}-{n} keeps {n + i} maps of Qel{i}."}]}
        for n in range(12)]
    return ("\n".join(json.dumps(r) for r in rows) + "\n").encode()


def _validator(tmp_path, tiny, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "edgeproof_cli.main", "validator", "run", "--eval",
         str(DATA / "private_facts_heldout.jsonl"), "--key", str(tmp_path / "validator.key"), "--chain-db",
         str(tmp_path / "chain.sqlite"), "--db", str(tmp_path / "state.sqlite"), "--poai-db",
         str(tmp_path / "poai.sqlite"),
         "--datasets", str(tmp_path / "datasets"), "--model", str(tiny), "--workdir", str(tmp_path / "work"),
         "--threads", "1", "--metrics-port", "-1", "--interval", "0.5", "--log-level", "warning", *extra],
        stdout=subprocess.PIPE, stderr=open(tmp_path / "validator.log", "a"), text=True, env=env(), cwd=ROOT)


def test_sigkill_mid_round_keeps_finished_scores_and_sets_weights_once(tmp_path, models_tiny_hf_dir):
    chain = LocalChain(str(tmp_path / "chain.sqlite"), tempo=10_000, block_time_s=3600)
    store = LocalDatasetStore(tmp_path / "datasets")
    miners = [NodeKey.generate() for _ in range(6)]
    poai = IntegrityStore(str(tmp_path / "poai.sqlite"))  # each miner's hotkey is its own PoAI node
    for key in miners:
        _sessions(poai, key.node_id, [True, True, True])
    poai.close()
    for i, key in enumerate(miners):
        chain.register(key)
        path = tmp_path / f"d{i}.jsonl"
        path.write_bytes(_dataset(i))
        submit_dataset(chain, key, path, store=store)
    NodeKey.generate().save(tmp_path / "validator.key")

    proc = _validator(tmp_path, models_tiny_hf_dir)
    state = ValidatorState(str(tmp_path / "state.sqlite"))
    deadline = time.monotonic() + 300
    while len(state.scores()) < 2:  # mid-round: some datasets scored, not all
        assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "validator.log").read_text()[-3000:]
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    before = {(s.miner, s.revision): s for s in state.scores()}
    assert 2 <= len(before) < 6
    with state.db.read() as tx:
        stamps = dict(((m, r), t) for m, r, t in tx.all("SELECT miner, revision, scored_at FROM v_scores"))

    restarted = _validator(tmp_path, models_tiny_hf_dir, "--rounds", "2")
    assert restarted.wait(300) == 0, (tmp_path / "validator.log").read_text()[-3000:]
    after = {(s.miner, s.revision): s for s in state.scores()}
    assert len(after) == 6 and all(s.status == "scored" for s in after.values())
    with state.db.read() as tx:
        for m, r, t in tx.all("SELECT miner, revision, scored_at FROM v_scores"):
            if (m, r) in stamps:
                assert t == stamps[(m, r)]  # finished before the kill: kept, not recomputed
    assert len(chain.weight_history()) == 1  # two rounds in one epoch, across a kill: one weight setting
    assert [w["state"] for w in state.weights_history()] == ["done"]
    state.close()
    chain.close()


def test_validator_score_cli_scores_a_folder_once(tmp_path, models_tiny_hf_dir):
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "a.jsonl").write_bytes(_dataset(1))
    (folder / "b.jsonl").write_bytes(_dataset(1))  # a copy of a, later in name order
    (folder / "c.jsonl").write_bytes(b"\xff\xfe not utf-8\n")
    out = subprocess.run(
        [sys.executable, "-m", "edgeproof_cli.main", "validator", "score", "--datasets", str(folder), "--eval",
         str(DATA / "private_facts_heldout.jsonl"), "--model", str(models_tiny_hf_dir), "--workdir",
         str(tmp_path / "work"), "--json"], capture_output=True, text=True, env=env(), cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    results = {r["name"]: r for r in json.loads(out.stdout)}
    assert results["a"]["status"] == "ok" and results["a"]["eval_loss"] > 0
    assert results["b"]["status"] == "copy" and "copy of a" in results["b"]["reasons"][0]
    assert results["c"]["status"] == "rejected" and "UTF-8" in " ".join(results["c"]["reasons"])
