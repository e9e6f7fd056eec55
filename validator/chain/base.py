"""What the validator and miners need from a chain, whichever chain it is (the embedded LocalChain or Bittensor).

Blocks are the clock: a commitment is ordered by the block it landed in (an earlier block is the original when
two miners commit the same data), and weights are set at most once per epoch (`tempo` blocks).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from edge_sdk.errors import EdgeProofError

MAX_COMMITMENT_BYTES = 128


class ChainError(EdgeProofError):
    """The chain refused or could not do something; `code` is short and stable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Neuron:
    uid: int
    hotkey: str
    validator_permit: bool = False
    stake: float = 0.0


@dataclass(frozen=True)
class Commitment:
    hotkey: str
    block: int  # the block the commitment landed in
    data: str  # at most MAX_COMMITMENT_BYTES of UTF-8


@dataclass(frozen=True)
class WeightsSubmission:
    """What was submitted: the uids and their u16 weights as the chain stores them."""

    block: int
    uids: tuple[int, ...]
    weights_u16: tuple[int, ...]
    commit_reveal: bool = False
    detail: dict = field(default_factory=dict)


class Chain(ABC):
    netuid: int

    @abstractmethod
    def block(self) -> int:
        """The current block."""

    @abstractmethod
    def tempo(self) -> int:
        """Blocks per epoch."""

    def epoch(self, block: int | None = None) -> int:
        """The epoch a block falls in."""
        return (self.block() if block is None else block) // max(self.tempo(), 1)

    @abstractmethod
    def neurons(self) -> list[Neuron]:
        """The subnet's registered neurons, by uid."""

    @abstractmethod
    def commitments(self) -> dict[str, Commitment]:
        """Every hotkey's latest commitment on the subnet."""

    @abstractmethod
    def commit(self, hotkey_key: object, data: str) -> Commitment:
        """Store `data` (<= 128 bytes) as the hotkey's commitment; `hotkey_key` signs (a NodeKey or wallet)."""

    @abstractmethod
    def set_weights(self, validator_key: object, weights: dict[int, float], *, version_key: int = 0
                    ) -> WeightsSubmission:
        """Set the validator's weights {uid: weight} (only proportions matter)."""

    def last_weights_block(self, hotkey: str) -> int | None:
        """The block at which `hotkey` last set weights (None: never, or the chain cannot tell)."""
        return None

    def close(self) -> None:
        """Release connections."""


def check_commitment(data: str) -> bytes:
    raw = data.encode("utf-8")
    if len(raw) > MAX_COMMITMENT_BYTES:
        raise ChainError("commitment_too_long", f"a commitment is at most {MAX_COMMITMENT_BYTES} bytes of UTF-8, "
                         f"got {len(raw)}: commit a short 'repo:revision' reference, not the data")
    if not raw:
        raise ChainError("empty_commitment", "a commitment cannot be empty")
    return raw
