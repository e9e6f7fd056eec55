"""An in-memory chain implementing bittensor 11's `Substrate` Protocol (`bittensor/_substrate.py`), for tests.

Pass it as `bittensor.Client(substrate=FakeSubstrate())` (or `BittensorChain(..., substrate=...)`) and the SDK's real
reads, preflight, conform and compose code runs against it; nothing touches the network.

Storage is a dict keyed the way the SDK queries it: `storage[(pallet, item)][params tuple] = decoded value`, so
`substrate.query("SubtensorModule", "Uids", [netuid, hotkey])` reads `storage[("SubtensorModule", "Uids")][(netuid,
hotkey)]`, and `query_map(pallet, item, [netuid])` lists the entries whose key starts with `(netuid,)`. Values are
in the decoded shapes the SDK expects. What reads each item (bittensor 11.3.0):

    SubtensorModule.Uids (netuid, hotkey) -> uid         intents/weights.py `_preflight` (None = not registered);
                                                        metagraph.py `_fetch_commitment_map` (query_map, uid per hotkey)
    SubtensorModule.Keys (netuid, uid) -> hotkey         only cli/root_helpers.py; seeded to keep Uids/Keys consistent
    SubtensorModule.CommitRevealWeightsEnabled (netuid,) -> bool          weights.py `_preflight`, `SetWeights.effects`
    SubtensorModule.WeightsSetRateLimit (netuid,) -> blocks               weights.py `_preflight`
    SubtensorModule.LastUpdate (mechid*4096+netuid,) -> [block per uid]  weights.py `_preflight` (rate limit)
    SubtensorModule.MinAllowedWeights (netuid,) -> int                    weights.py `_preflight` -> `_conform`
    SubtensorModule.MaxWeightsLimit (netuid,) -> u16                      weights.py `_preflight`, `_would_clip`
    SubtensorModule.SubnetEpochConsensus (netuid,) -> "Yuma" | "Null"     weights.py `_preflight`
    SubtensorModule.ValidatorPermit (netuid,) -> [bool per uid]           weights.py `_preflight` (Null subnets only)
    SubtensorModule.Tempo (netuid,) -> blocks            weights.py `_build_timelocked`; client.py `wait_for_epoch`
    SubtensorModule.RevealPeriodEpochs / LastEpochBlock / PendingEpochAt / SubnetEpochIndex / BlocksSinceLastStep
        (netuid,) -> int                                weights.py `_build_timelocked` (commit-reveal path)
    SubtensorModule.TokenSymbol (netuid,) -> bytes       client.py `connect` via reads/subnets.py `token_symbols`
    Commitments.CommitmentOf (netuid, hotkey) -> {"block", "deposit", "info": {"fields": [{"Raw<n>": "0x.."}]}}
    Commitments.RevealedCommitments (netuid, hotkey) -> [(bytes, block)]  metagraph.py `_fetch_commitment_map`

Not storage: `block_time()` (seconds per block; `_build_timelocked`, rate-limit hint) and the runtime API
`SubnetInfoRuntimeApi.get_metagraph(netuid)` (metagraph.py `fetch`), which the fake builds from Keys, ValidatorPermit,
Tempo and the fake-only `owners` (hotkey -> coldkey) and `stake_rao` ((netuid, hotkey) -> alpha rao).

Writes: `compose` returns a `ComposedCall` (the chain-ready stand-in for the transport's CallBytes); `submit` signs
the call's bytes with the given keypair and checks the signature, records an `Extrinsic` in `extrinsics`, includes
it in the next block and applies its effect (`set_mechanism_weights` -> Weights + LastUpdate;
`commit_timelocked_mechanism_weights` -> TimelockedWeightCommits; `set_commitment` -> CommitmentOf). `fail_next`
makes the next submission fail on chain with a named dispatch error instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Optional

from bittensor import Balance, ChainError, ExtrinsicResult
from bittensor.sp_core import Keypair

GLOBAL_MAX_SUBNET_COUNT = 4096  # bittensor/settings.py: LastUpdate/Weights key = mechid * 4096 + netuid


@dataclass(frozen=True)
class ComposedCall:
    module: str
    function: str
    params: dict

    @property
    def data(self) -> bytes:
        return repr((self.module, self.function, sorted(self.params.items()))).encode()


@dataclass
class Extrinsic:
    module: str
    function: str
    params: dict
    signer: str  # ss58 of the signing keypair
    signature_ok: bool
    block: int  # the block it was included in (0 when it failed)
    success: bool


@dataclass
class Neuron:
    uid: int
    hotkey: str
    coldkey: str = "5C4hrfjw9DjXZTzV3MwzrrAr9P1MJhSrvWGWqi1eSuyUpnhM"
    stake_rao: int = 0
    validator_permit: bool = False


@dataclass
class FakeSubstrate:
    block: int = 1000
    seconds_per_block: float = 12.0
    storage: dict[tuple[str, str], dict[tuple, Any]] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)
    stake_rao: dict[tuple[int, str], int] = field(default_factory=dict)
    extrinsics: list[Extrinsic] = field(default_factory=list)
    token_symbols: dict[int, str] = field(default_factory=dict)
    connected: bool = False
    _fail_next: Optional[tuple[str, str]] = None

    # -- seeding ------------------------------------------------------------------------------------------
    def put(self, pallet: str, item: str, key: tuple, value: Any) -> None:
        self.storage.setdefault((pallet, item), {})[tuple(key)] = value

    def get(self, pallet: str, item: str, key: tuple = ()) -> Any:
        return self.storage.get((pallet, item), {}).get(tuple(key))

    def seed_subnet(self, netuid: int, neurons: list[Neuron], *, tempo: int = 100, commit_reveal: bool = False,
                    rate_limit: int = 100, min_allowed_weights: int = 1, max_weights_limit: int = 65535,
                    consensus: str = "Yuma", reveal_period_epochs: int = 1) -> None:
        st = "SubtensorModule"
        for n in neurons:
            self.put(st, "Uids", (netuid, n.hotkey), n.uid)
            self.put(st, "Keys", (netuid, n.uid), n.hotkey)
            self.owners[n.hotkey] = n.coldkey
            self.stake_rao[(netuid, n.hotkey)] = n.stake_rao
        size = max((n.uid for n in neurons), default=-1) + 1
        permits = [False] * size
        for n in neurons:
            permits[n.uid] = n.validator_permit
        self.put(st, "ValidatorPermit", (netuid,), permits)
        self.put(st, "LastUpdate", (netuid,), [0] * size)  # mechid 0: storage index == netuid
        self.put(st, "CommitRevealWeightsEnabled", (netuid,), commit_reveal)
        self.put(st, "WeightsSetRateLimit", (netuid,), rate_limit)
        self.put(st, "MinAllowedWeights", (netuid,), min_allowed_weights)
        self.put(st, "MaxWeightsLimit", (netuid,), max_weights_limit)
        self.put(st, "SubnetEpochConsensus", (netuid,), consensus)
        self.put(st, "Tempo", (netuid,), tempo)
        self.put(st, "RevealPeriodEpochs", (netuid,), reveal_period_epochs)
        last_epoch = self.block - self.block % tempo
        self.put(st, "LastEpochBlock", (netuid,), last_epoch)
        self.put(st, "PendingEpochAt", (netuid,), 0)
        self.put(st, "SubnetEpochIndex", (netuid,), self.block // tempo)
        self.put(st, "BlocksSinceLastStep", (netuid,), self.block - last_epoch)
        self.put(st, "TokenSymbol", (netuid,), b"\xce\xb1")

    def seed_commitment(self, netuid: int, hotkey: str, *fields: bytes, block: int) -> None:
        """A commitment as the chain stores it: one Raw<n> field per bytes chunk, decoded as 0x-hex."""
        self.put("Commitments", "CommitmentOf", (netuid, hotkey), {
            "block": block, "deposit": 0,
            "info": {"fields": [{f"Raw{len(chunk)}": "0x" + chunk.hex()} for chunk in fields]}})

    def fail_next(self, name: str, message: str) -> None:
        """The next submission is included but fails with the named dispatch error (e.g. SettingWeightsTooFast)."""
        self._fail_next = (name, message)

    def submitted(self, function: str | None = None) -> list[Extrinsic]:
        return [x for x in self.extrinsics if function is None or x.function == function]

    # -- Substrate Protocol: display metadata and lifecycle ------------------------------------------------
    def balance(self, rao: int, netuid: int = 0) -> Balance:
        return Balance(int(rao), netuid, self.token_symbols.get(netuid) if netuid else None)

    async def connect(self) -> None:
        self.connected = True

    async def close(self) -> None:
        self.connected = False

    # -- reads --------------------------------------------------------------------------------------------
    async def block_hash(self, block: Optional[int] = None) -> str:
        return "0x%064x" % (self.block if block is None else block)

    async def block_number(self) -> int:
        return self.block

    async def finalized_block_number(self) -> int:
        return self.block

    async def block_time(self) -> float:
        return self.seconds_per_block

    async def spec_version(self) -> int:
        return 400

    async def get_block(self, block_number: Optional[int] = None, block_hash: Optional[str] = None
                        ) -> Optional[dict]:
        return None

    async def query(self, module: str, storage_function: str, params: Optional[list] = None,
                    block_hash: Optional[str] = None) -> Any:
        return self.get(module, storage_function, tuple(params or ()))

    async def map_has_entries(self, module: str, storage_function: str, params: list,
                              block_hash: Optional[str] = None) -> bool:
        return bool(await self.query_map(module, storage_function, params, block_hash))

    async def query_map(self, module: str, storage_function: str, params: Optional[list] = None,
                        block_hash: Optional[str] = None) -> list[tuple[Any, Any]]:
        prefix = tuple(params or ())
        out = []
        for key, value in self.storage.get((module, storage_function), {}).items():
            if key[:len(prefix)] == prefix:
                rest = key[len(prefix):]
                out.append((rest[0] if len(rest) == 1 else rest, value))
        return out

    async def query_batch(self, module: str, storage_function: str, param_sets: list[list],
                          block_hash: Optional[str] = None) -> list[Any]:
        return [self.get(module, storage_function, tuple(p)) for p in param_sets]

    async def runtime_call(self, api: str, method: str, params: list, block_hash: Optional[str] = None) -> Any:
        if (api, method) != ("SubnetInfoRuntimeApi", "get_metagraph"):
            raise NotImplementedError(f"FakeSubstrate has no runtime API {api}.{method}")
        netuid = int(params[0])
        tempo = self.get("SubtensorModule", "Tempo", (netuid,))
        if tempo is None:
            return None
        keys = sorted((k[1], hk) for k, hk in self.storage.get(("SubtensorModule", "Keys"), {}).items()
                      if k[0] == netuid)
        hotkeys = [hk for _, hk in keys]
        last_epoch = self.get("SubtensorModule", "LastEpochBlock", (netuid,)) or 0
        return {
            "netuid": netuid, "name": list(b"edgeproof"), "symbol": list("α".encode()), "block": self.block,
            "tempo": tempo, "last_step": last_epoch, "blocks_since_last_step": self.block - last_epoch,
            "owner_hotkey": hotkeys[0] if hotkeys else "", "owner_coldkey": "", "network_registered_at": 1,
            "num_uids": len(hotkeys), "max_uids": 256, "hotkeys": hotkeys,
            "coldkeys": [self.owners.get(hk, "") for hk in hotkeys],
            "active": [True] * len(hotkeys),
            "validator_permit": list(self.get("SubtensorModule", "ValidatorPermit", (netuid,)) or []),
            "last_update": list(self.get("SubtensorModule", "LastUpdate", (netuid,)) or []),
            "total_stake": [self.stake_rao.get((netuid, hk), 0) for hk in hotkeys],
            "alpha_stake": [self.stake_rao.get((netuid, hk), 0) for hk in hotkeys],
        }

    async def constant(self, module: str, name: str) -> Any:
        if (module, name) == ("Aura", "SlotDuration"):
            return int(self.seconds_per_block * 1000)
        raise NotImplementedError(f"FakeSubstrate has no constant {module}.{name}")

    async def decode_scale(self, type_string: str, data: Any) -> Any:
        raise NotImplementedError("FakeSubstrate does not decode SCALE")

    async def blocks(self, *, finalized: bool = False) -> AsyncIterator[dict]:
        yield {"header": {"number": self.block}}

    async def events(self, block_hash: Optional[str] = None) -> list[dict]:
        return []

    # -- calls and fees -----------------------------------------------------------------------------------
    async def compose(self, call) -> ComposedCall:
        module, function, params = call  # a bittensor.calls builder's Call(module, function, params)
        return ComposedCall(module, function, dict(params))

    async def estimate_fee(self, call, keypair) -> Balance:
        return Balance.from_rao(1_000_000)

    async def estimate_weight(self, call, keypair) -> dict:
        return {"ref_time": 0, "proof_size": 0}

    async def account_next_index(self, address: str) -> int:
        return sum(1 for x in self.extrinsics if x.signer == address)

    # -- writes -------------------------------------------------------------------------------------------
    async def mev_next_key(self) -> Optional[bytes]:
        return None

    async def sign_extrinsic(self, call, keypair, *, nonce: int, period: int) -> tuple[bytes, str]:
        raise NotImplementedError("FakeSubstrate does not build MEV-shielded extrinsics")

    async def find_extrinsic(self, extrinsic_hash: str, block_hash: str) -> Optional[ExtrinsicResult]:
        return None

    async def prepare(self, call, *, address: str, **kwargs: Any):
        raise NotImplementedError("FakeSubstrate does not prepare unsigned extrinsics")

    async def submit_signature(self, unsigned, signature, **kwargs: Any) -> ExtrinsicResult:
        raise NotImplementedError("FakeSubstrate does not take external signatures")

    async def submit(self, call: ComposedCall, keypair, *, nonce: Optional[int] = None, period: Optional[int] = 64,
                     wait_for_inclusion: bool = True, wait_for_finalization: bool = True) -> ExtrinsicResult:
        payload = call.data + (nonce or 0).to_bytes(8, "little")
        signature = keypair.sign(payload)  # a WalletSigner unlocks the wallet's hotkey file here
        signature_ok = Keypair(ss58_address=keypair.ss58_address).verify(payload, signature)
        if self._fail_next is not None:
            name, message = self._fail_next
            self._fail_next = None
            self.extrinsics.append(Extrinsic(call.module, call.function, call.params, keypair.ss58_address,
                                             signature_ok, 0, False))
            return ExtrinsicResult(success=False, message=message, error=ChainError(message, name))
        self.block += 1
        self.extrinsics.append(Extrinsic(call.module, call.function, call.params, keypair.ss58_address,
                                         signature_ok, self.block, True))
        self._apply(call, keypair.ss58_address)
        return ExtrinsicResult(success=True, message="Success", block_hash=await self.block_hash(),
                               extrinsic_id=f"{self.block}-0001", fee=Balance.from_rao(1_000_000))

    async def submit_signed(self, extrinsic, keypair, **kwargs: Any) -> ExtrinsicResult:
        raise NotImplementedError("FakeSubstrate does not take pre-signed extrinsics")

    def multisig_account(self, signatories: list[str], threshold: int):
        raise NotImplementedError("FakeSubstrate has no multisig")

    async def submit_multisig(self, call, keypair, multisig_account, **kwargs: Any) -> ExtrinsicResult:
        raise NotImplementedError("FakeSubstrate has no multisig")

    def _apply(self, call: ComposedCall, signer: str) -> None:
        p = call.params
        if call.function == "set_mechanism_weights":
            index = p["mecid"] * GLOBAL_MAX_SUBNET_COUNT + p["netuid"]
            uid = self.get("SubtensorModule", "Uids", (p["netuid"], signer))
            self.put("SubtensorModule", "Weights", (index, uid), list(zip(p["dests"], p["weights"])))
            last = self.get("SubtensorModule", "LastUpdate", (index,))
            last[uid] = self.block
        elif call.function == "commit_timelocked_mechanism_weights":
            key = (p["netuid"] + p["mecid"] * GLOBAL_MAX_SUBNET_COUNT, signer)
            commits = self.storage.setdefault(("SubtensorModule", "TimelockedWeightCommits"), {})
            commits.setdefault(key, []).append((self.block, p["commit"], p["reveal_round"]))
        elif call.function == "set_commitment":
            fields = p["info"]["fields"]
            if fields and isinstance(fields[0], list):  # the BoundedVec newtype written out: [[Data, ...]]
                fields = fields[0]
            stored = [{variant: "0x" + bytes(value).hex()} for entry in fields for variant, value in entry.items()]
            self.put("Commitments", "CommitmentOf", (p["netuid"], signer),
                     {"block": self.block, "deposit": 0, "info": {"fields": stored}})
