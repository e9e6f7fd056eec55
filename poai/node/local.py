"""Run node sessions from this process (tests, benchmarks, examples).

    outcomes = run_node_sessions("127.0.0.1:50061", solver, sessions=2)
    outcomes, history = run_local_sessions(ch, solver)      # ch: a BackgroundChallenger in this process

Every call shares one event loop (grpc.aio keeps per-loop state, and a fresh asyncio.run() per session
leaves callbacks aimed at closed loops). Each outcome is a SessionOutcome, or the SessionError that ended
the session; `history` is what the challenger stored for the solver's node id, newest first.
"""

from __future__ import annotations

import asyncio
from typing import Any

from poai.node.agent import NodeAgent, NodeConfig, SessionError
from poai.node.solver import Solver

_LOOP = asyncio.new_event_loop()


def run_node_sessions(address: str, solver: Solver, sessions: int = 1, **node_config: Any) -> list[Any]:
    """Run `sessions` sessions of `solver` against the challenger at `address`, one after the other."""
    cfg = dict(challenger=address, backends=(), connect_timeout_s=10.0, max_message_bytes=256 << 20)
    cfg.update(node_config)
    agent = NodeAgent(NodeConfig(**cfg), solver=solver)

    async def go() -> list[Any]:
        out: list[Any] = []
        for _ in range(sessions):
            try:
                out.append(await agent.run_once())
            except SessionError as exc:
                out.append(exc)
        return out

    return _LOOP.run_until_complete(go())


def run_local_sessions(ch: Any, solver: Solver, sessions: int = 1, **node_config: Any) -> tuple[list[Any], list[Any]]:
    """`run_node_sessions` against the BackgroundChallenger `ch`; waits until the sessions are stored."""
    from poai.store import IntegrityStore

    before = len(ch.service.reports)
    results = run_node_sessions(ch.address, solver, sessions, **node_config)
    ch.wait_for_reports(before + sessions, timeout_s=30.0)
    with IntegrityStore(ch.config.db) as store:
        return results, store.session_history(solver.key.node_id, max(10, sessions))
