"""Stage 1 of the demo: a PoAI challenger (embedded, or the one at --challenger) measures the demo's nodes on
the standard plan: honest nodes on llama.cpp and torch, and one that cheats twice (claims 20x its TFLOPS and
answers inference with a perturbed copy of the model)."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_sdk.identity import NodeKey
from edge_sdk.storage.url import mask_password
from edgeproof_demo.config import DemoConfig
from edgeproof_demo.progress import ProgressFn
from poai.node.adversarial import OverclaimTflops, PerturbedModel


class OverclaimingPerturbedNode(OverclaimTflops, PerturbedModel):
    """The demo's cheat: claims 20x the TFLOPS it measured and answers inference with the reference weights plus
    10% noise. Each cheat fails its own check, so the report shows both reasons."""


@dataclass(frozen=True)
class NodeSpec:
    name: str
    role: str  # "honest" | "cheat"
    backend: str  # the inference backend it offers


def node_specs(count: int) -> list[NodeSpec]:
    """Honest llama.cpp, honest torch, the cheat, then more honest nodes alternating backends."""
    specs = [NodeSpec("node-llamacpp", "honest", "llamacpp"), NodeSpec("node-torch", "honest", "torch"),
             NodeSpec("node-cheat", "cheat", "torch")]
    for i in range(3, count):
        backend = ("llamacpp", "torch")[i % 2]
        specs.append(NodeSpec(f"node-{backend}-{i - 1}", "honest", backend))
    return specs


def _agent(spec: NodeSpec, key: NodeKey, address: str, memory_bytes: int) -> Any:
    from poai.node import NodeAgent, NodeConfig

    cheat = spec.role == "cheat"
    config = NodeConfig(challenger=address, backends=() if cheat else (spec.backend,),
                        claim_memory_bytes=memory_bytes, connect_timeout_s=30.0)
    return NodeAgent(config, key=key, solver_factory=OverclaimingPerturbedNode if cheat else None)


def _session(agent: Any) -> dict[str, Any]:
    """One session, as the JSON row the report shows (a session that ended without a result is a row too)."""
    from poai.node.agent import SessionError

    try:
        outcome = asyncio.run(agent.run_once())
    except SessionError as exc:
        return {"score": 0.0, "integrity": 0.0, "status": "network", "reasons": [str(exc)], "measured_tops": 0.0,
                "verified_memory_bytes": 0, "memory_bandwidth_gbs": 0.0, "ttft_ms": 0.0, "rtt_ms": 0.0,
                "seconds": 0.0, "checks": []}
    return {"score": outcome.score, "integrity": outcome.smoothed_score, "status": outcome.status,
            "reasons": list(outcome.reasons), "measured_tops": outcome.matmul_tops,
            "verified_memory_bytes": outcome.verified_memory_bytes,
            "memory_bandwidth_gbs": outcome.memory_bandwidth_gbs, "ttft_ms": outcome.ttft_ms,
            "rtt_ms": outcome.rtt_ms, "seconds": round(outcome.wall_seconds, 2),
            "checks": [{"name": c["name"], "passed": c["passed"], "reason": c["reason"]} for c in outcome.checks]}


def run_poai_stage(config: DemoConfig, stack: contextlib.ExitStack, run_dir: Path, poai_db: str,
                   progress: ProgressFn) -> tuple[dict[str, Any], dict[str, NodeKey]]:
    """`sessions_per_node` sessions per node. Returns the stage's JSON part (each node's latest session and its
    integrity after all of them) and each node's key (miners link to them)."""
    address = config.challenger_address
    if address is None:
        from poai.challenger import ChallengerConfig
        from poai.challenger.background import BackgroundChallenger

        progress("poai", 0, 1, "starting the challenger (loads its reference model)")
        # The cheat must be caught by what the challenger measures (its TOPS against its claim, its answers), not
        # by missing a deadline: its work is sized for 20x its speed, which on a loaded 2-core machine overran the
        # default 10 s floor (a timeout records no reason and no strike). A longer floor only helps a cheat.
        challenger = BackgroundChallenger(ChallengerConfig(port=0, metrics_port=None, db=poai_db,
                                                           deadline_floor_s=60.0))
        stack.callback(challenger.stop)
        challenger.start()
        address = challenger.address
    keys: dict[str, NodeKey] = {}
    nodes = []
    specs = node_specs(config.nodes)
    total = len(specs) * config.sessions_per_node
    for n, spec in enumerate(specs):
        key = NodeKey.generate()
        key.save(run_dir / "keys" / f"{spec.name}.key")
        keys[spec.name] = key
        agent = _agent(spec, key, address, config.memory_claim_mib << 20)
        sessions = []
        try:
            for i in range(config.sessions_per_node):
                done = n * config.sessions_per_node + i
                progress("poai", done, total, f"{spec.name}: session {i + 1}/{config.sessions_per_node}"
                         + (" (measures itself and loads its model first)" if i == 0 else ""))
                sessions.append(_session(agent))
        finally:
            agent.close()
        last = sessions[-1]
        claim = agent.claim
        nodes.append({"name": spec.name, "role": spec.role, "backend": spec.backend, "node_id": key.node_id,
                      "claimed_tops": claim.claimed_tflops if claim else 0.0,
                      "claimed_memory_bytes": claim.memory_bytes if claim else 0,
                      "session_scores": [s["score"] for s in sessions], **last})
        progress("poai", (n + 1) * config.sessions_per_node, total,
                 f"{spec.name}: score {last['score']:.2f}, integrity {last['integrity']:.2f}")
    return {"challenger": address, "db": mask_password(poai_db), "nodes": nodes}, keys
