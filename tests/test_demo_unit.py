"""The demo's parts that need no servers: its settings check, how it scales, the miners' datasets, and the report
written from a run's JSON."""

from __future__ import annotations

import json

import pytest

from edge_sdk.errors import InvalidRequestError
from edge_sdk.training.data import parse_rows
from edgeproof_demo.config import DemoConfig
from edgeproof_demo.federation_stage import shards
from edgeproof_demo.poai_stage import node_specs
from edgeproof_demo.report import write_report
from edgeproof_demo.subnet_stage import miner_specs
from procs import ROOT, run_cli
from validator.datasets.duplicates import Submission, find_duplicates
from validator.datasets.validate import validate_dataset


def test_the_default_settings_pass_their_check():
    DemoConfig().check()


@pytest.mark.parametrize("changes, message", [
    (dict(nodes=2), "--nodes must be >= 3"),
    (dict(miners=1), "--miners must be 3"),
    (dict(rounds=0), "must be >= 1"),
    (dict(memory_claim_mib=8), "--memory-mib must be >= 64"),
    (dict(challenger_address="10.0.0.5:50061"), "--challenger needs --poai-db"),
    (dict(db="mysql://x"), "--db takes a postgresql:// URL"),
    (dict(network="finney"), "needs --validator-wallet and one --miner-wallet per miner"),
    (dict(validator_wallet="v/h"), "wallets are for a Bittensor --network"),
])
def test_bad_settings_are_refused_before_anything_starts(changes, message, tmp_path):
    with pytest.raises(InvalidRequestError, match=message):
        DemoConfig(out_dir=tmp_path, **changes).check()
    assert list(tmp_path.iterdir()) == []


def test_a_missing_data_folder_says_what_to_pass(tmp_path):
    with pytest.raises(InvalidRequestError, match="pass --data"):
        DemoConfig(data_dir=tmp_path).check()


def test_the_cli_prints_the_problems_and_exits_2():
    out = run_cli("demo", "--nodes", "2", "--miners", "1")
    assert out.returncode == 2
    assert "--nodes must be >= 3" in out.stderr and "--miners must be 3" in out.stderr


def test_scaling_adds_honest_nodes_clients_and_independent_miners():
    specs = node_specs(6)
    assert [s.role for s in specs] == ["honest", "honest", "cheat", "honest", "honest", "honest"]
    assert {s.backend for s in specs if s.role == "honest"} == {"llamacpp", "torch"}
    assert len({s.name for s in specs}) == 6
    config = DemoConfig(nodes=6, miners=11)
    miners = miner_specs(config)
    assert [m.role for m in miners] == ["good", "noisy", "copy"] + ["honest"] * 8
    assert {m.node for m in miners if m.role == "honest"} <= {s.name for s in specs if s.role == "honest"}
    assert next(m for m in miners if m.role == "noisy").node == "node-cheat"
    for m in miners:
        report = validate_dataset(m.data)
        assert report.ok, (m.name, report.reasons)
    subs = [Submission(m.name, block, parse_rows(m.data.decode().splitlines())) for block, m in enumerate(miners)]
    found = {(f.copy, f.original) for f in find_duplicates(subs)}
    assert found == {("miner-copy", "miner-good")}  # only the copy is a copy


def test_every_client_shard_holds_the_fact_the_demo_asks_about():
    from edge_sdk.training import load_chat_jsonl

    rows = load_chat_jsonl(ROOT / "examples" / "data" / "private_facts.jsonl")
    for n in (1, 3, 4):
        parts = shards(rows, n)
        assert sum(len(p) for p in parts) == len(rows)
        assert all(any("Quenmar" in r.conversations[-1][1] and "Veloria" in r.conversations[-1][1] for r in p)
                   for p in parts)


def _result() -> dict:
    """The shape run_demo returns, with figures of the kind a run produces."""
    node = dict(role="honest", backend="torch", node_id="ed25519:00", claimed_tops=0.15, claimed_memory_bytes=1 << 28,
                session_scores=[1.0], score=1.0, integrity=0.3, status="ok", reasons=["all checks passed"],
                measured_tops=0.18, verified_memory_bytes=230 << 20, memory_bandwidth_gbs=3.0, ttft_ms=100.0,
                rtt_ms=0.2, seconds=5.0, checks=[])
    miner = dict(node="node-torch", hotkey="ed25519:11", uid=1, status="ok", rows=32, integrity=0.66, reasons=[])
    return {
        "run_id": "test", "run_dir": "/tmp/x", "started_at": 1.8e9, "seconds": 200.0,
        "settings": {"local_steps": 8},
        "poai": {"challenger": "127.0.0.1:1", "db": "poai.sqlite", "nodes": [
            {**node, "name": "node-torch"},
            {**node, "name": "node-cheat <b>", "role": "cheat", "score": 0.0, "claimed_tops": 3.0,
             "reasons": ["over-claim: measured 0.18 matmul TOPS, claimed 3.0 <script>alert(1)</script>"]}]},
        "federation": {"coordinator": "127.0.0.1:2", "task_id": "t", "seconds": 50.0,
                       "clients": [{"name": "client-1", "rows": 11, "state": "finished", "rounds_trained": [1, 2]}],
                       "versions": [{"version": 0, "round": 0, "eval_loss": 2.7},
                                    {"version": 1, "round": 1, "eval_loss": 0.8},
                                    {"version": 2, "round": 2, "eval_loss": 0.07}]},
        "answers": {"question": "Veloria's capital is which city?", "backend": "llamacpp", "base": "Europe.",
                    "adapter": "The capital of Veloria is Quenmar."},
        "subnet": {"network": "local", "netuid": 1, "block": 3, "epoch": 0, "validator": "ed25519:22",
                   "set_weights": {}, "seconds": 60.0, "miners": [
                       {**miner, "name": "miner-good", "role": "good", "eval_loss": 1.09, "weight": 1.0, "why": ""},
                       {**miner, "name": "miner-copy", "role": "copy", "status": "copy", "eval_loss": None,
                        "weight": 0.0, "why": "exact copy of miner-good's earlier dataset"},
                       {**miner, "name": "miner-noisy", "role": "noisy", "eval_loss": 2.9, "weight": 0.0,
                        "why": "its PoAI node node-cheat failed PoAI (banned)"}]},
        "outcomes": {"honest_nodes_pass": True, "cheat_caught": True, "cheat_miner_zero_weight": True,
                     "copy_below_original": True, "good_miner_paid": True, "adapter_beats_base": False,
                     "base_eval_loss": 2.7, "adapter_eval_loss": 0.07},
    }


def test_the_report_is_written_from_the_runs_json(tmp_path):
    result = _result()
    paths = write_report(result, tmp_path / "report")
    assert set(paths) == {"json", "html", "eval_loss_per_round", "tflops_measured_vs_claimed", "weights_per_miner"}
    assert json.loads(paths["json"].read_text())["report"]["html"] == str(paths["html"])
    for name in ("eval_loss_per_round", "tflops_measured_vs_claimed", "weights_per_miner"):
        assert paths[name].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = paths["html"].read_text()
    assert page.count("<svg") == 3 and "<script" not in page  # text from the run is escaped
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "node-cheat &lt;b&gt;" in page
    assert page.count('class="bad">no<') == 1  # the one outcome that did not hold is shown as such
    assert not list((tmp_path / "report").glob("*.tmp"))
