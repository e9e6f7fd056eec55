"""Cheating nodes that attack the session protocol rather than one challenge's arithmetic: they try to
shrink their measured work time by delaying other messages, or to dodge a strike once they know they
will fail. Each is a `Solver` subclass that changes one thing (like poai/node/adversarial.py)."""

from __future__ import annotations

import asyncio
from typing import Any

from poai.kinds import TokenTick
from poai.node.solver import Solver


class DelayPongs(Solver):
    """Delays every pong by `delay_s` but answers challenges at full speed: with the RTT estimated from
    the pings next to each challenge, the delay would be subtracted from its work time (any TOPS figure
    could be "measured")."""

    delay_s = 0.5

    async def pong(self, ping: Any) -> Any:
        await asyncio.sleep(self.delay_s)
        return await super().pong(ping)


class DelayPongsAroundWork(DelayPongs):
    """Answers the first `honest_pongs` pings (the session's whole opening round) at once and delays the rest:
    the pings right around the challenges look slow, the session's first ones do not. A round is 3 to 6 pings
    (ChallengerConfig.pings_per_stage = 3, up to twice that), so 6 covers the longest opening round: with 3, an
    opening round of 6 was half delayed, its median ~250 ms, and no later round counted as a spike (1 run in 4)."""

    honest_pongs = 6

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pongs = 0

    async def pong(self, ping: Any) -> Any:
        self._pongs += 1
        if self._pongs <= self.honest_pongs:
            return await Solver.pong(self, ping)
        return await super().pong(ping)


class DelayAllButCommitments(DelayPongs):
    """Delays every pong AND every opening by `delay_s`, never its commitments: each RTT sample of the
    session is then inflated, so the smallest one is too. Bounded by the subtraction cap (10% of wall)."""

    async def open(self, msg: Any) -> Any:
        await asyncio.sleep(self.delay_s)
        return await super().open(msg)


class RefuseOpening(Solver):
    """Commits honestly, then answers the opening request with an error, as a node would that sees it
    cannot open what it committed (dodging the strike a wrong opening earns)."""

    async def open(self, msg: Any) -> Any:
        raise RuntimeError("cannot open this commitment right now")


class PartialDuringCompute(Solver):
    """Streams a partial result (a token tick) in the middle of the compute challenge, which takes none."""

    async def commit(self, msg: Any, emit: Any) -> Any:
        if getattr(msg, "kind", "") == "compute":
            await asyncio.to_thread(emit, TokenTick(0, 0, 1))
        return await super().commit(msg, emit)
