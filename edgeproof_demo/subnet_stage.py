"""Stage 3 of the demo: miners commit datasets on the chain (embedded LocalChain, or a Bittensor network), each
linked to one of the PoAI nodes, and the validator scores them, combines the losses with the nodes' integrity and
sets weights.

Miners: "good" (the private facts, backed by the honest llama.cpp node), "noisy" (random answers, backed by the
cheating node: it loses on both counts, and the report shows both reasons), "copy" (the good file, committed later,
backed by the honest torch node), then independent honest miners for larger --miners."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_sdk.identity import NodeKey
from edgeproof_demo.config import DemoConfig
from edgeproof_demo.datasets import facts_dataset, noisy_dataset
from edgeproof_demo.poai_stage import node_specs
from edgeproof_demo.progress import ProgressFn
from validator.chain import open_chain, open_wallet


@dataclass(frozen=True)
class MinerSpec:
    name: str
    role: str  # good | noisy | copy | honest
    node: str  # the PoAI node that backs it
    data: bytes


def miner_specs(config: DemoConfig) -> list[MinerSpec]:
    good = (Path(config.data_dir) / "private_facts.jsonl").read_bytes()
    specs = [MinerSpec("miner-good", "good", "node-llamacpp", good),
             MinerSpec("miner-noisy", "noisy", "node-cheat", noisy_dataset()),
             MinerSpec("miner-copy", "copy", "node-torch", good)]
    honest = [s.name for s in node_specs(config.nodes) if s.role == "honest"]
    for i in range(3, config.miners):
        specs.append(MinerSpec(f"miner-{i + 1}", "honest", honest[i % len(honest)], facts_dataset(i - 3)))
    return specs


def _open_chain(config: DemoConfig, chain_db: str, netuid: int) -> Any:
    # embedded chain: blocks move only when the demo advances them, so commit order is exact and one epoch covers
    # the run
    wallet = None if config.network == "local" else open_wallet(config.validator_wallet or "", config.wallet_path)
    return open_chain(config.network, netuid=netuid, chain_db=chain_db, tempo=100, block_time_s=3600.0,
                      wallet=wallet)


def _next_block(chain: Any, timeout_s: float = 120.0) -> None:
    """Let one block pass, so the next commitment is strictly later (the copy must come after the original)."""
    if hasattr(chain, "advance"):
        chain.advance(1)
        return
    start, deadline = chain.block(), time.monotonic() + timeout_s
    while chain.block() == start:
        if time.monotonic() > deadline:
            raise TimeoutError(f"no new block on {chain} within {timeout_s:.0f} s")
        time.sleep(1.0)


def run_subnet_stage(config: DemoConfig, stack: contextlib.ExitStack, run_dir: Path, dbs: dict[str, str],
                     netuid: int, node_keys: dict[str, NodeKey], progress: ProgressFn) -> dict[str, Any]:
    from validator.datasets.store import LocalDatasetStore
    from validator.miner import submit_dataset
    from validator.service.validator import Validator, ValidatorConfig

    chain = _open_chain(config, dbs["chain"], netuid)
    stack.callback(chain.close)
    specs = miner_specs(config)
    local = config.network == "local"
    if local:
        validator_key: Any = NodeKey.generate()
        chain.register(validator_key, validator_permit=True, stake=1000.0)
        miner_keys: list[Any] = [NodeKey.generate() for _ in specs]
        for key in miner_keys:
            chain.register(key)
    else:
        validator_key = open_wallet(config.validator_wallet or "", config.wallet_path)
        miner_keys = [open_wallet(ref, config.wallet_path) for ref in config.miner_wallets]
    store = LocalDatasetStore(run_dir / "datasets")
    hotkeys = {}
    for n, (spec, key) in enumerate(zip(specs, miner_keys)):
        progress("miners", n, len(specs), f"{spec.name}: check, publish, link node {spec.node}, commit")
        path = run_dir / "miners" / f"{spec.name}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(spec.data)
        if n:
            _next_block(chain)
        submit_dataset(chain, key, path, store=store, node_key=node_keys[spec.node], name=spec.name)
        hotkeys[getattr(key, "node_id", None) or key.hotkey.ss58_address] = spec
    progress("miners", len(specs), len(specs), "committed")
    _next_block(chain)

    vconfig = ValidatorConfig(eval_data=Path(config.data_dir) / "private_facts_heldout.jsonl",
                              state_db=dbs["validator"], poai_db=dbs["poai"], datasets_root=run_dir / "datasets",
                              workdir=run_dir / "validator-work", interval_s=0.0)
    progress("validator", 0, 1, "intake: fetch, check, find copies")
    validator = Validator(vconfig, chain=chain, key=validator_key)
    stack.callback(validator.close)

    def on_scored(_stage: str, info: dict[str, Any]) -> None:
        spec = hotkeys.get(info["miner"])
        progress("validator", info["done"], info["total"], f"scored {spec.name if spec else info['miner'][:12]}")

    report = validator.run_round(progress=on_scored)
    progress("validator", 1, 1, "weights set")
    names = {key.node_id: name for name, key in node_keys.items()}
    names.update({hotkey: spec.name for hotkey, spec in hotkeys.items()})

    def named(text: str) -> str:
        """Node ids and hotkeys in the validator's sentences, as the demo's names."""
        for ident, name in names.items():
            text = text.replace(ident, name)
        return text

    miners = []
    for m in report["miners"]:
        spec = hotkeys.get(m["miner"])
        if spec is None:
            continue  # another neuron on a real subnet
        detail = m.get("detail") or {}
        miners.append({"name": spec.name, "role": spec.role, "node": spec.node, "hotkey": m["miner"],
                       "uid": m["uid"], "status": m["status"], "rows": m["rows"], "eval_loss": m["eval_loss"],
                       "integrity": detail.get("integrity"), "weight": m["weight"], "why": named(m["why"]),
                       "reasons": [named(r) for r in m["reasons"]]})
    return {"network": config.network, "netuid": netuid, "block": report["block"], "epoch": report["epoch"],
            "validator": getattr(validator_key, "node_id", None) or validator_key.hotkey.ss58_address,
            "set_weights": report["set_weights"], "seconds": report["seconds"], "miners": miners}
