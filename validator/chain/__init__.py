"""The chain behind one interface (`Chain`): `LocalChain`, an embedded subnet in its own SQLite file (the default),
and `BittensorChain` on bittensor 11. `open_chain` picks one from a network name."""

from __future__ import annotations

from typing import Any

from validator.chain.base import Chain, ChainError, Commitment, Neuron, WeightsSubmission

__all__ = ["Chain", "ChainError", "Commitment", "Neuron", "WeightsSubmission", "open_chain", "open_wallet"]


def open_chain(network: str = "local", *, netuid: int = 1, chain_db: str = "localchain.sqlite", tempo: int = 360,
               block_time_s: float = 12.0, wallet: Any = None) -> Chain:
    """network "local": the embedded LocalChain in `chain_db`; anything else ("finney", "test", "ws://...") is a
    Bittensor network reached with bittensor 11."""
    if network == "local":
        from validator.chain.local import LocalChain

        return LocalChain(chain_db, netuid, tempo=tempo, block_time_s=block_time_s)
    from validator.chain.bittensor_chain import BittensorChain

    return BittensorChain(netuid, network, wallet=wallet)


def open_wallet(ref: str, path: str | None = None) -> Any:
    """The bittensor wallet "NAME/HOTKEY" (hotkey "default" when omitted), from `path` or bittensor's own folder."""
    import bittensor

    name, _, hotkey = ref.partition("/")
    return bittensor.Wallet(name=name, hotkey=hotkey or "default", **({"path": path} if path else {}))
