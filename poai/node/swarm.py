"""Many node agents at once against one challenger: for load tests, benchmarks and capacity planning.

    outcomes = asyncio.run(run_swarm("127.0.0.1:50061", 200, claim))          # 200 nodes, one session each
    outcomes = asyncio.run(run_spread(["h1:50061", "h2:50061"], solvers, 10, lanes_per_node=2))

Every agent has its own key and gRPC channel (as separate machines would); they share this process's
event loop and worker threads, so the challenger, not the swarm, should be the bottleneck when the plan
is lightweight.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from edge_sdk.identity import NodeKey
from poai.claim import NodeClaim
from poai.node.agent import NodeAgent, NodeConfig, SessionError, SessionOutcome
from poai.node.solver import Solver


@dataclass
class SwarmResult:
    outcomes: list[SessionOutcome]
    errors: list[str]
    wall_seconds: float

    @property
    def sessions(self) -> int:
        return len(self.outcomes)


async def run_swarm(
    challenger: str,
    n: int,
    claim: NodeClaim,
    *,
    solver_cls: Callable[..., Solver] = Solver,
    device: str = "cpu",
    scheme: str = "ed25519",
    start_spread_s: float = 0.0,
    session_timeout_s: float = 300.0,
) -> SwarmResult:
    """Run `n` concurrent sessions (one per node); `start_spread_s` staggers the dials uniformly."""
    import time

    keys = [NodeKey.generate(scheme) for _ in range(n)]
    solvers = [solver_cls(k, claim, device, None) for k in keys]
    solvers[0].warm_up()  # once per process; the rest find it warm

    async def one(i: int) -> Any:
        if start_spread_s:
            await asyncio.sleep(start_spread_s * i / max(1, n))
        agent = NodeAgent(
            NodeConfig(challenger=challenger, backends=(), session_timeout_s=session_timeout_s),
            solver=solvers[i],
        )
        try:
            return await agent.run_once()
        except SessionError as exc:
            return exc

    t0 = time.perf_counter()
    results = await asyncio.gather(*(one(i) for i in range(n)))
    wall = time.perf_counter() - t0
    return SwarmResult(
        outcomes=[r for r in results if isinstance(r, SessionOutcome)],
        errors=[str(r) for r in results if not isinstance(r, SessionOutcome)],
        wall_seconds=wall,
    )


async def run_spread(
    challengers: list[str],
    solvers: list[Solver],
    sessions_per_lane: int,
    *,
    lanes_per_node: int = 1,
    session_timeout_s: float = 300.0,
) -> SwarmResult:
    """Every node (one per solver) runs `lanes_per_node` lanes at once, each lane `sessions_per_lane` sessions
    one after another; lane j of node i sends its k-th session to challenger (i + j + k) mod len(challengers).
    With two lanes and two challengers one node is in a session on both at the same moment: what several
    challengers sharing one database see when the same nodes keep coming back."""
    import time

    if not challengers or not solvers:
        raise ValueError("run_spread needs at least one challenger address and one solver")
    solvers[0].warm_up()

    async def lane(i: int, j: int) -> list[Any]:
        out: list[Any] = []
        solver = copy.copy(solvers[i])  # same key and claim; its own open challenges (a solver holds one
        solver.challenges = {}          # session's state at a time)
        for k in range(sessions_per_lane):
            agent = NodeAgent(
                NodeConfig(challenger=challengers[(i + j + k) % len(challengers)], backends=(),
                           session_timeout_s=session_timeout_s),
                solver=solver,
            )
            try:
                out.append(await agent.run_once())
            except SessionError as exc:
                out.append(exc)
        return out

    t0 = time.perf_counter()
    lanes = [lane(i, j) for i in range(len(solvers)) for j in range(lanes_per_node)]
    results = [r for rs in await asyncio.gather(*lanes) for r in rs]
    return SwarmResult(
        outcomes=[r for r in results if isinstance(r, SessionOutcome)],
        errors=[str(r) for r in results if not isinstance(r, SessionOutcome)],
        wall_seconds=time.perf_counter() - t0,
    )
