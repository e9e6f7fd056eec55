"""How a node answers the challenger: the honest strategy, with one hook per protocol step.

`Solver` is what the agent calls for every message; adversarial nodes (poai/node/adversarial.py) are
subclasses that override one hook each, so a cheat runs through exactly the same agent, stream and
encoding as an honest node and the tests exercise the real path.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from edge_sdk.identity import NodeKey
from poai import kinds
from poai._proto import poai_pb2 as pb
from poai.claim import NodeClaim
from poai.hello import sign_hello
from poai.wire import claim_to_pb, from_pb, payload_name, to_pb

log = logging.getLogger("poai.node")

# A hook returns this instead of a message to make the agent hang up (the disconnect adversary).
DISCONNECT: Any = object()

_WARM_DEVICES: set[str] = set()  # warm-up is per process and device (imports, kernels, thread pools)


@dataclass
class Challenge:
    """One challenge in progress on the node."""

    challenge_id: str
    kind: str
    spec: Any
    work: Any = None
    commitment: Any = None


class Solver:
    """The honest node. `device` is a torch device string ("cpu", "cuda:0")."""

    def __init__(self, key: NodeKey, claim: NodeClaim, device: str = "cpu", inference: Any = None) -> None:
        self.key = key
        self.claim = claim
        self.device = device
        # Something with `.backend(name)` -> edge_sdk runtime backend (poai/node/inference.py); None: no
        # inference challenges (the node then advertises no backends).
        self.inference = inference
        self.challenges: dict[str, Challenge] = {}

    def warm_up(self) -> None:
        """Run tiny local versions of the challenges once: library imports, kernel selection and thread
        pools then cost nothing inside a timed stage (they would count as slow work)."""
        import numpy as np

        from poai.challenges.common import Budget

        if self.device in _WARM_DEVICES:
            if self.inference is not None:
                self.inference.warm_up()
            return
        _WARM_DEVICES.add(self.device)
        rng = np.random.default_rng(0)
        budget = Budget.lightweight()
        for name in ("compute", "memory"):
            kind = kinds.get(name)
            spec = kind.make_spec(budget, rng)
            work = kind.node_work(spec, self.device, None)
            commitment = work.run()
            if name == "memory":
                from poai.challenges import memory

                work.nonce_pass(memory.choose_nonce(spec, commitment, rng))
                work.open(memory.choose_openings(spec, commitment, rng))
            else:
                work.open(kind.module.choose_openings(spec, commitment, rng))
        if self.inference is not None:
            self.inference.warm_up()

    # -- wire ----------------------------------------------------------------------------------------
    def serialize(self, msg: Any) -> bytes:
        """Bytes put on the wire for one NodeMessage (adversaries may truncate or bloat them)."""
        return msg.SerializeToString()

    def on_result(self, result: pb.SessionResult) -> None:
        """Called with the challenger's verdict (adversaries that replay across sessions use it)."""

    # -- hello --------------------------------------------------------------------------------------
    def hello(self, start: pb.SessionStart) -> pb.Hello:
        claim = self.claim
        signature = sign_hello(self.key, start.nonce, claim, start.challenger_id)
        return pb.Hello(
            identity=pb.NodeIdentity(
                scheme=self.key.scheme, public_key=self.key.public_key, node_id=self.key.node_id
            ),
            claim=claim_to_pb(claim),
            nonce=start.nonce,
            challenger_id=start.challenger_id,
            signature=signature,
        )

    # -- pings --------------------------------------------------------------------------------------
    async def pong(self, ping: pb.Ping) -> pb.Pong:
        return pb.Pong(seq=ping.seq, payload=ping.payload)

    # -- challenges ---------------------------------------------------------------------------------
    def decode_spec(self, msg: pb.ChallengeSpec) -> Any:
        return from_pb(kinds.get(msg.kind).spec_type, msg)

    def make_work(self, kind: str, spec: Any) -> Any:
        """The object that does the work: the challenge module's NodeWork on this node's device."""
        k = kinds.get(kind)
        if k.needs_backend:
            if self.inference is None:
                raise RuntimeError("this node runs no inference backend")
            return k.node_work(spec, self.device, self.inference)
        return k.node_work(spec, self.device, None)

    def run_work(self, challenge: Challenge, emit: Any) -> Any:
        """Blocking: do the work and return the commitment. `emit(record)` streams partial results."""
        work = challenge.work
        if emit is not None and hasattr(work, "run_streaming"):
            return work.run_streaming(emit)
        return work.run()

    async def commit(self, msg: pb.ChallengeSpec, emit: Any) -> Any:
        """The commitment as its typed payload message (e.g. pb.ComputeCommitment)."""
        spec = self.decode_spec(msg)
        ch = Challenge(msg.challenge_id, msg.kind, spec)
        ch.work = self.make_work(msg.kind, spec)
        self.challenges[msg.challenge_id] = ch
        ch.commitment = await asyncio.to_thread(self.run_work, ch, emit)
        return to_pb(ch.commitment)

    def decode_request(self, challenge: Challenge, msg: pb.OpeningRequest) -> Any:
        return from_pb(kinds.get(challenge.kind).request_type_named(payload_name(msg) or ""), msg)

    def open_work(self, challenge: Challenge, request: Any) -> Any:
        return kinds.get(challenge.kind).answer(challenge.work, request)

    async def open(self, msg: pb.OpeningRequest) -> Any:
        """The opening as its typed payload message (e.g. pb.ComputeOpening)."""
        ch = self.challenges.get(msg.challenge_id)
        if ch is None:
            raise RuntimeError(f"opening request for unknown challenge {msg.challenge_id!r}")
        request = self.decode_request(ch, msg)
        opening = await asyncio.to_thread(self.open_work, ch, request)
        return to_pb(opening)

    def finish(self) -> None:
        """Free the challenge state (memory blocks can be GiBs)."""
        for ch in self.challenges.values():
            close = getattr(ch.work, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:  # noqa: BLE001 - cleanup must not mask the session result
                    log.debug("work close failed", exc_info=True)
        self.challenges.clear()
