"""One validator round on this machine: a PoAI node proves itself to a challenger, two miners link to it and commit
datasets on the embedded chain (the second one a copy, committed later), and the validator scores the datasets on
SmolLM2, combines the losses with the node's integrity and sets weights.

    python examples/validator/validator_round.py

About a minute on 2 CPU cores (one dataset is trained: the copy is caught before any training).
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from edge_sdk.identity import NodeKey
from poai.challenger import ChallengerConfig
from poai.challenger.background import BackgroundChallenger
from poai.node import NodeAgent, NodeConfig
from validator.chain.local import LocalChain
from validator.datasets.store import LocalDatasetStore
from validator.miner import submit_dataset
from validator.service.validator import Validator, ValidatorConfig

DATA = Path(__file__).resolve().parent.parent / "data"
work = Path(tempfile.mkdtemp(prefix="edgeproof-validator-"))

# 1. The node that backs both miners passes two PoAI sessions (integrity 0.51: over the validator's 0.5 gate).
node_key = NodeKey.generate()
with BackgroundChallenger(ChallengerConfig(port=0, metrics_port=None, db=str(work / "poai.sqlite"),
                                           plan="lightweight")) as challenger:
    agent = NodeAgent(NodeConfig(challenger=challenger.address, backends=("llamacpp",)), key=node_key)
    for _ in range(2):
        outcome = asyncio.run(agent.run_once())
        print(f"PoAI session: score {outcome.score:.2f}, integrity {outcome.smoothed_score:.2f}")

# 2. Miners commit on the embedded chain (blocks advance only when told, so the copy is strictly later).
chain = LocalChain(str(work / "chain.sqlite"), netuid=1, tempo=100, block_time_s=3600)
store = LocalDatasetStore(work / "datasets")
miners = {"original": NodeKey.generate(), "copy": NodeKey.generate()}
for name, key in miners.items():
    chain.register(key)
    submit_dataset(chain, key, DATA / "private_facts.jsonl", store=store, node_key=node_key, name=name)
    chain.advance(1)

# 3. The validator's round.
validator_key = NodeKey.generate()
chain.register(validator_key, validator_permit=True)
config = ValidatorConfig(eval_data=DATA / "private_facts_heldout.jsonl", state_db=str(work / "validator.sqlite"),
                         poai_db=str(work / "poai.sqlite"), datasets_root=work / "datasets", workdir=work / "scoring")
validator = Validator(config, chain=chain, key=validator_key)
report = validator.run_round()
names = {key.node_id: name for name, key in miners.items()}
for m in report["miners"]:
    why = m["why"]
    for ident, name in names.items():
        why = why.replace(ident, name)
    loss = "-" if m["eval_loss"] is None else f"{m['eval_loss']:.3f}"
    print(f"{names[m['miner']]:9} {m['status']:6} eval loss {loss:6} weight {m['weight']:.3f} {why}")
print("weights set on chain:", report["set_weights"] is not None)
validator.close()
chain.close()
