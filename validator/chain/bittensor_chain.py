"""BittensorChain: the validator's `Chain` over bittensor 11 (`bittensor.SyncClient`).

Reads: the block number, `SubtensorModule.Tempo`, the typed metagraph (`client.subnets.metagraph`) and the
Commitments pallet (`client.subnets.commitments`). Writes: `Commitments.set_commitment` as a raw hotkey-signed call
and the `SetWeights` intent, which preflights registration and the rate limit, clips to the subnet's max weight,
quantises to u16 (see `validator.chain.u16`) and submits `set_mechanism_weights`, or a drand-timelocked
`commit_timelocked_mechanism_weights` when the subnet runs commit-reveal (the chain reveals it by itself).

`SyncClient` runs the SDK's async `Client` on a private event-loop thread, so these blocking methods also work
when called from inside another event loop. The substrate under it (the SDK's `RpcSubstrate`, or the one passed in
for tests) is wrapped in `_RecordingSubstrate`, which passes everything through and remembers, while a write is in
flight, which generated call each submitted extrinsic was composed from and what the preflight read: that is how
`set_weights` reports what was actually submitted, since the SDK's `ExtrinsicResult` does not carry the call.

Error codes (`ChainError.code`): the SDK's `ErrorCode` value when it classifies the failure (`not_registered`,
`rate_limited`, `not_authorized`, `insufficient_balance`, `invalid_argument`, `limit_exceeded`, `disabled`, ...),
`chain_error` when it does not, and `no_wallet`, `wrong_key_type`, `invalid_weights`, `policy_violation`,
`connection_failed`, `subnet_not_found`, `unknown_network`, `closed` from here.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

from edge_sdk.errors import BackendUnavailableError
from validator.chain.base import (
    Chain,
    ChainError,
    Commitment,
    Neuron,
    WeightsSubmission,
    check_commitment,
)
from validator.chain.u16 import U16_MAX

INSTALL_HINT = "pip install 'edgeproof[chain]'"
# The calls the SetWeights intent composes (bittensor/intents/weights.py), and whether each is the commit-reveal path.
WEIGHT_CALLS = {"set_mechanism_weights": False, "commit_timelocked_mechanism_weights": True}


def _import_bittensor() -> Any:
    try:
        import bittensor
    except ImportError as exc:
        raise BackendUnavailableError(f"BittensorChain needs bittensor 11: {INSTALL_HINT}") from exc
    if not (hasattr(bittensor, "SyncClient") and hasattr(bittensor, "SetWeights")):
        version = getattr(bittensor, "__version__", "?")
        raise BackendUnavailableError(
            f"BittensorChain needs bittensor 11 (SyncClient, SetWeights); found bittensor {version}: {INSTALL_HINT}"
        )
    return bittensor


def _freeze(params: Any) -> tuple | None:
    try:
        key = tuple(params or ())
        hash(key)
    except TypeError:
        return None
    return key


class _RecordingSubstrate:
    """A pass-through `bittensor.Substrate` that, while armed, records composed calls, submissions and reads.

    `submitted` holds `(generated Call or None, ExtrinsicResult)` per submitted extrinsic, matched by identity of
    the composed call; `reads` holds the first value read per `(pallet, item, params)`.
    """

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._armed = False
        self._composed: list[tuple[Any, Any]] = []
        self.submitted: list[tuple[Any, Any]] = []
        self.reads: dict[tuple, Any] = {}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("_inner", "_armed", "_composed"):
            raise AttributeError(name)
        return getattr(self._inner, name)

    @property
    def token_symbols(self) -> dict[int, str]:
        return self._inner.token_symbols

    @token_symbols.setter
    def token_symbols(self, value: dict[int, str]) -> None:
        self._inner.token_symbols = value

    def arm(self) -> None:
        self._composed, self.submitted, self.reads = [], [], {}
        self._armed = True

    def disarm(self) -> None:
        self._armed = False
        self._composed = []

    async def query(self, module: str, storage_function: str, params: list | None = None,
                    block_hash: str | None = None) -> Any:
        value = await self._inner.query(module, storage_function, params, block_hash=block_hash)
        key = _freeze(params)
        if self._armed and key is not None:
            self.reads.setdefault((module, storage_function, key), value)
        return value

    async def compose(self, call: Any) -> Any:
        composed = await self._inner.compose(call)
        if self._armed:
            self._composed.append((composed, call))
        return composed

    async def submit(self, call: Any, keypair: Any, **kwargs: Any) -> Any:
        result = await self._inner.submit(call, keypair, **kwargs)
        if self._armed:
            source = next((generated for composed, generated in self._composed if composed is call), None)
            self.submitted.append((source, result))
        return result


def _default_substrate(bt: Any, network: str) -> Any:
    """The substrate `bittensor.Client(network)` would build: `RpcSubstrate` with the network's public pools."""
    from bittensor.settings import default_archive_endpoints, default_fallback_endpoints, resolve_endpoint

    try:
        label, endpoint = resolve_endpoint(network)
    except ValueError as exc:
        raise ChainError("unknown_network", str(exc)) from exc
    fallbacks = [url for url in default_fallback_endpoints(label) if url != endpoint]
    return bt.RpcSubstrate(endpoint, fallback_endpoints=fallbacks, archive_endpoints=default_archive_endpoints(label))


def _result_block(result: Any) -> int | None:
    """The block an extrinsic landed in, from its "block-index" id (None when inclusion was not reported)."""
    height, _, _ = (getattr(result, "extrinsic_id", None) or "").partition("-")
    return int(height) if height.isdigit() else None


class BittensorChain(Chain):
    """The subnet `netuid` on a Bittensor network, through bittensor 11.

    `wallet` (a `bittensor.Wallet`) signs `commit` and `set_weights` with its hotkey when those are not given a
    key of their own; `substrate` replaces the RPC backend (any `bittensor.Substrate`, e.g. an in-memory fake);
    `version_key` is sent with weights unless `set_weights` is given a non-zero one.
    """

    def __init__(self, netuid: int, network: str = "finney", *, wallet: Any = None, substrate: Any = None,
                 version_key: int = 0) -> None:
        bt = _import_bittensor()
        self._bt = bt
        self.netuid = int(netuid)
        self.network = network
        self.wallet = wallet
        self.version_key = int(version_key)
        inner = substrate if substrate is not None else _default_substrate(bt, network)
        self._substrate = _RecordingSubstrate(inner)
        try:
            self._client = bt.SyncClient(network, substrate=self._substrate)
        except ValueError as exc:
            raise ChainError("unknown_network", str(exc)) from exc
        self._write_lock = threading.Lock()
        self._closed = False

    def __repr__(self) -> str:
        return f"BittensorChain(netuid={self.netuid}, network={self.network!r})"

    # -- reads --------------------------------------------------------------------------------------------
    def block(self) -> int:
        return int(self._sdk("read the current block", lambda c: c.block))

    def tempo(self) -> int:
        item = self._bt.storage.SubtensorModule.Tempo
        value = self._sdk("read the tempo", lambda c: c.query(item, [self.netuid]))
        if value is None:
            raise ChainError("subnet_not_found", f"netuid {self.netuid} has no tempo on {self.network}")
        return int(value)

    def neurons(self) -> list[Neuron]:
        graph = self._sdk("read the metagraph", lambda c: c.subnets.metagraph(self.netuid, commitments=False))
        if graph is None:
            raise ChainError("subnet_not_found", f"netuid {self.netuid} does not exist on {self.network}")
        return [Neuron(uid=int(n.uid), hotkey=str(n.hotkey), validator_permit=bool(n.validator_permit),
                       stake=float(n.total_stake.rao) / 1e9) for n in sorted(graph.neurons, key=lambda n: n.uid)]

    def last_weights_block(self, hotkey: str) -> int | None:
        """The block of the hotkey's last weight setting (the metagraph's `last_update`), so a validator restarted
        between the chain taking its weights and recording that does not set them twice in an epoch."""
        graph = self._sdk("read the metagraph", lambda c: c.subnets.metagraph(self.netuid, commitments=False))
        neuron = next((n for n in (graph.neurons if graph is not None else ()) if str(n.hotkey) == hotkey), None)
        last = getattr(neuron, "last_update", None)
        return int(last) if last else None

    def commitments(self) -> dict[str, Commitment]:
        """Every readable commitment on the subnet by hotkey, including hotkeys that have since deregistered.

        `data` is the SDK's decoding of the `Raw*` fields (UTF-8, or 0x-hex when the bytes are not UTF-8); a
        timelocked commitment shows its chain-revealed plaintext once revealed and is left out while sealed.
        """
        found = self._sdk("read the commitments", lambda c: c.subnets.commitments(self.netuid))
        out: dict[str, Commitment] = {}
        for hotkey, nc in dict(found or {}).items():
            text = nc.value
            if text:
                out[str(hotkey)] = Commitment(hotkey=str(hotkey), block=int(nc.block), data=text)
        return out

    # -- writes -------------------------------------------------------------------------------------------
    def commit(self, hotkey_key: object, data: str) -> Commitment:
        raw = check_commitment(data)
        signer = self._signer(hotkey_key, "commit")
        hotkey = self._hotkey_ss58(signer)
        # CommitmentInfo { fields: BoundedVec<Data> }: one Data::Raw<len> variant holding the bytes. The SDK's codec
        # also accepts the flat {"fields": [{...}]}; both encode to the same call bytes.
        call = self._bt.calls.Commitments.set_commitment(
            netuid=self.netuid, info={"fields": [[{f"Raw{len(raw)}": raw}]]})
        with self._write_lock:
            result = self._sdk("commit", lambda c: c.submit_call(call, signer, signer="hotkey"))
        self._raise_for_failure(result, "commit")
        block = _result_block(result)
        return Commitment(hotkey=hotkey, block=block if block is not None else self.block(), data=data)

    def set_weights(self, validator_key: object, weights: dict[int, float], *, version_key: int = 0
                    ) -> WeightsSubmission:
        signer = self._signer(validator_key, "set weights")
        if not weights:
            raise ChainError("invalid_weights", "set weights needs at least one {uid: weight} entry")
        key = int(version_key) or self.version_key
        bt = self._bt
        try:
            intent = bt.SetWeights(netuid=self.netuid, weights={int(u): float(w) for u, w in weights.items()},
                                   version_key=key)
        except (bt.BittensorError, TypeError, ValueError) as exc:
            raise ChainError("invalid_weights", f"set weights: {exc}") from exc
        with self._write_lock:
            self._substrate.arm()
            try:
                result = self._sdk("set weights", lambda c: c.execute(intent, signer))
                submitted, reads = list(self._substrate.submitted), dict(self._substrate.reads)
            finally:
                self._substrate.disarm()
        self._raise_for_failure(result, "set weights")
        call = next((c for c, _ in reversed(submitted) if c is not None and c.function in WEIGHT_CALLS), None)
        detail: dict[str, Any] = {"version_key": key, "mechid": intent.mechid,
                                  "extrinsic_id": result.extrinsic_id, "block_hash": result.block_hash}
        commit_reveal = bool(WEIGHT_CALLS.get(getattr(call, "function", ""), False))
        if call is not None and not commit_reveal:
            uids = [int(u) for u in call.params["dests"]]
            values = [int(v) for v in call.params["weights"]]
            detail.update(call=call.function, weights_source="submitted_call")
        else:
            # The timelocked commit carries the vector encrypted; it is the one SetWeights conformed from the
            # preflight's reads, recomputed here with the SDK's own clip and normaliser.
            uids, values = self._conformed(intent, reads, self._hotkey_ss58(signer))
            detail.update(weights_source="recomputed_from_preflight")
            if call is not None:
                detail.update(call=call.function, reveal_round=call.params.get("reveal_round"),
                              commit_reveal_version=call.params.get("commit_reveal_version"))
            elif "reveal_round" in result.data:
                commit_reveal = True
                detail.update(reveal_round=result.data["reveal_round"])
        block = _result_block(result)
        return WeightsSubmission(block=block if block is not None else self.block(), uids=tuple(uids),
                                 weights_u16=tuple(values), commit_reveal=commit_reveal, detail=detail)

    def close(self) -> None:
        """Close the connection and stop the client's event-loop thread; later calls raise `closed`."""
        self._closed = True
        self._client.close()

    # -- helpers ------------------------------------------------------------------------------------------
    def _conformed(self, intent: Any, reads: dict, hotkey: str) -> tuple[list[int], list[int]]:
        """What `bittensor.intents.weights._conform` made of the intent's weights, from the values it read."""
        from bittensor.intents.weights import clip_to_max_weight, normalize

        max_raw = reads.get(("SubtensorModule", "MaxWeightsLimit", (self.netuid,)))
        uid_raw = reads.get(("SubtensorModule", "Uids", (self.netuid, hotkey)))
        limit = int(max_raw) if max_raw is not None else U16_MAX
        floats = list(intent.weights)
        if intent.uids != [None if uid_raw is None else int(uid_raw)] and limit < U16_MAX:
            floats = clip_to_max_weight(floats, limit / U16_MAX)
        return normalize(list(intent.uids), floats)

    def _signer(self, key: object, what: str) -> Any:
        key = self.wallet if key is None else key
        if key is None:
            raise ChainError("no_wallet", f"{what} on Bittensor needs a bittensor.Wallet: pass wallet= to "
                                          f"BittensorChain or the wallet to {what}()")
        from bittensor.signing import KeyedWallet, Signer

        # The shapes the SDK's own resolve_signer accepts (a Wallet is checked first: probing its properties
        # would read its key files).
        if not isinstance(key, (self._bt.Wallet, KeyedWallet, Signer)):
            raise ChainError("wrong_key_type", f"{what} on Bittensor signs with a bittensor.Wallet's hotkey (or a "
                                               f"bittensor Keypair), got {type(key).__name__}")
        return key

    def _hotkey_ss58(self, signer: Any) -> str:
        from bittensor.signing import public_view

        try:
            return str(public_view(signer, "hotkey").ss58_address)
        except Exception as exc:  # noqa: BLE001 - keyfile errors from the rust binding have no common base
            raise ChainError("no_wallet", f"cannot read the hotkey of {signer!r}: {exc}") from exc

    def _raise_for_failure(self, result: Any, what: str) -> None:
        if not result.success:
            error = result.error or self._bt.ChainError(result.message or "the extrinsic failed")
            raise self._translate(error, what)

    def _translate(self, exc: Exception, what: str) -> ChainError:
        bt = self._bt
        where = f"{what} on netuid {self.netuid} ({self.network})"
        if isinstance(exc, bt.ChainError):
            code = getattr(exc.code, "value", None) or "unknown"
            name = f" [{exc.name}]" if exc.name else ""
            return ChainError("chain_error" if code == "unknown" else code,
                              f"{where} failed: {str(exc.message).rstrip('.')}{name} (hint: {exc.remediation})")
        if isinstance(exc, bt.PolicyError):
            return ChainError("policy_violation", f"{where} refused by the client policy: {exc}")
        if isinstance(exc, bt.RpcConnectionError):
            return ChainError("connection_failed", f"{where}: cannot reach the chain: {exc}")
        if isinstance(exc, bt.ConnectionNotReady):
            return ChainError("connection_failed", f"{where}: {exc}")
        if isinstance(exc, bt.BittensorError):
            code = "invalid_weights" if what == "set weights" else "invalid_argument"
            return ChainError(code, f"{where}: {exc}")
        return ChainError("chain_error", f"{where}: {exc}")

    def _sdk(self, what: str, fn: Callable[[Any], Any]) -> Any:
        """Run one SyncClient operation, translating the SDK's errors into ours."""
        if self._closed:
            raise ChainError("closed", f"{what}: this BittensorChain is closed")
        try:
            return fn(self._client)
        except ChainError:
            raise
        except self._bt.BittensorError as exc:
            raise self._translate(exc, what) from exc
        except RuntimeError as exc:
            if "closed" in str(exc):
                raise ChainError("closed", f"{what}: this BittensorChain is closed") from exc
            raise
