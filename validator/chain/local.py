"""LocalChain: an embedded stand-in for a subnet, in its own SQLite file (or any edge_sdk.storage URL).

It keeps what the validator and miners use of a real chain: registered neurons (hotkey -> uid), commitments
ordered by block (signed by the hotkey's key), and the validator's weight history. Its block clock advances by
itself with wall time (`block_time_s` per block, 12 s on Bittensor; shorter for demos), so epochs pass while a
validator runs; `advance(n)` moves it on for tests. Weights are stored as the same u16 vector Bittensor
stores (`normalize_u16`), and setting them is rate limited in blocks like on the chain.
"""

from __future__ import annotations

import json
import time
from typing import Any

from edge_sdk.identity import NodeKey
from edge_sdk.identity.keys import verify_signature
from edge_sdk.storage import Database, Migration, Schema, migrate, open_database
from validator.chain.base import Chain, ChainError, Commitment, Neuron, WeightsSubmission, check_commitment
from validator.chain.u16 import normalize_u16

SCHEMA = Schema(component="localchain", migrations=(
    Migration(1, "subnet, neurons, commitments, weights", (
        """CREATE TABLE IF NOT EXISTS lc_subnets (
            netuid INTEGER PRIMARY KEY,
            tempo INTEGER NOT NULL,
            block_time_s DOUBLE PRECISION NOT NULL,
            genesis DOUBLE PRECISION NOT NULL,
            offset_blocks INTEGER NOT NULL,
            weights_rate_limit INTEGER NOT NULL
        )""",
        """CREATE TABLE IF NOT EXISTS lc_neurons (
            netuid INTEGER NOT NULL,
            uid INTEGER NOT NULL,
            hotkey TEXT NOT NULL,
            scheme TEXT NOT NULL,
            public_key TEXT NOT NULL,
            validator_permit INTEGER NOT NULL,
            stake DOUBLE PRECISION NOT NULL,
            registered_block INTEGER NOT NULL,
            PRIMARY KEY (netuid, uid),
            UNIQUE (netuid, hotkey)
        )""",
        """CREATE TABLE IF NOT EXISTS lc_commitments (
            netuid INTEGER NOT NULL,
            hotkey TEXT NOT NULL,
            block INTEGER NOT NULL,
            seq INTEGER NOT NULL,
            data TEXT NOT NULL,
            signature TEXT NOT NULL,
            PRIMARY KEY (netuid, hotkey, seq)
        )""",
        """CREATE TABLE IF NOT EXISTS lc_weights (
            netuid INTEGER NOT NULL,
            validator TEXT NOT NULL,
            block INTEGER NOT NULL,
            uids_json TEXT NOT NULL,
            weights_json TEXT NOT NULL,
            set_at DOUBLE PRECISION NOT NULL
        )""",
    )),
))

COMMIT_DOMAIN = b"edgeproof-localchain-commit/v1"


def _commit_bytes(netuid: int, hotkey: str, data: str) -> bytes:
    return COMMIT_DOMAIN + f"|{netuid}|{hotkey}|".encode() + data.encode("utf-8")


class LocalChain(Chain):
    def __init__(self, db: str | Database = "localchain.sqlite", netuid: int = 1, *, tempo: int = 360,
                 block_time_s: float = 12.0, weights_rate_limit: int | None = None) -> None:
        self.db = db if isinstance(db, Database) else open_database(db)
        migrate(self.db, SCHEMA)
        self.netuid = netuid
        with self.db.transaction() as tx:
            tx.lock(f"localchain:{netuid}")
            row = tx.one("SELECT tempo FROM lc_subnets WHERE netuid = ?", (netuid,))
            if row is None:
                tx.execute("INSERT INTO lc_subnets (netuid, tempo, block_time_s, genesis, offset_blocks, "
                           "weights_rate_limit) VALUES (?, ?, ?, ?, 0, ?)",
                           (netuid, tempo, block_time_s, time.time(),
                            tempo if weights_rate_limit is None else weights_rate_limit))

    def _subnet(self) -> tuple[int, float, float, int, int]:
        with self.db.read() as tx:
            row = tx.one("SELECT tempo, block_time_s, genesis, offset_blocks, weights_rate_limit FROM lc_subnets "
                         "WHERE netuid = ?", (self.netuid,))
        assert row is not None
        return int(row[0]), float(row[1]), float(row[2]), int(row[3]), int(row[4])

    # ---------------------------------------------------------------------------------------- clock
    def block(self) -> int:
        _tempo, block_time, genesis, offset, _limit = self._subnet()
        return offset + int((time.time() - genesis) / block_time)

    def tempo(self) -> int:
        return self._subnet()[0]

    def advance(self, blocks: int) -> int:
        """Move the clock on by `blocks` (tests, demos); returns the new block."""
        with self.db.transaction() as tx:
            tx.execute("UPDATE lc_subnets SET offset_blocks = offset_blocks + ? WHERE netuid = ?",
                       (int(blocks), self.netuid))
        return self.block()

    # -------------------------------------------------------------------------------------- neurons
    def register(self, key: NodeKey, *, validator_permit: bool = False, stake: float = 0.0) -> int:
        """Register the key's hotkey on the subnet (idempotent); returns its uid."""
        block = self.block()
        with self.db.transaction() as tx:
            tx.lock(f"localchain:{self.netuid}:neurons")
            row = tx.one("SELECT uid FROM lc_neurons WHERE netuid = ? AND hotkey = ?", (self.netuid, key.node_id))
            if row is not None:
                return int(row[0])
            uid = int(tx.scalar("SELECT COALESCE(MAX(uid) + 1, 0) FROM lc_neurons WHERE netuid = ?",
                                (self.netuid,)))
            tx.execute("INSERT INTO lc_neurons (netuid, uid, hotkey, scheme, public_key, validator_permit, stake, "
                       "registered_block) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       (self.netuid, uid, key.node_id, key.scheme, key.public_key.hex(), int(validator_permit),
                        stake, block))
        return uid

    def neurons(self) -> list[Neuron]:
        with self.db.read() as tx:
            rows = tx.all("SELECT uid, hotkey, validator_permit, stake FROM lc_neurons WHERE netuid = ? ORDER BY uid",
                          (self.netuid,))
        return [Neuron(int(r[0]), r[1], bool(r[2]), float(r[3])) for r in rows]

    def _neuron_key(self, hotkey: str) -> tuple[str, bytes] | None:
        with self.db.read() as tx:
            row = tx.one("SELECT scheme, public_key FROM lc_neurons WHERE netuid = ? AND hotkey = ?",
                         (self.netuid, hotkey))
        return None if row is None else (row[0], bytes.fromhex(row[1]))

    # ---------------------------------------------------------------------------------- commitments
    def commit(self, hotkey_key: object, data: str) -> Commitment:
        if not isinstance(hotkey_key, NodeKey):
            raise ChainError("bad_key", "LocalChain commitments are signed with a NodeKey (key file or hotkey)")
        check_commitment(data)
        key = hotkey_key
        if self._neuron_key(key.node_id) is None:
            raise ChainError("not_registered", f"hotkey {key.node_id} is not registered on subnet {self.netuid}: "
                             "register it first")
        signature = key.sign(_commit_bytes(self.netuid, key.node_id, data))
        block = self.block()
        with self.db.transaction() as tx:
            tx.lock(f"localchain:{self.netuid}:commit:{key.node_id}")
            seq = int(tx.scalar("SELECT COALESCE(MAX(seq) + 1, 0) FROM lc_commitments WHERE netuid = ? AND "
                                "hotkey = ?", (self.netuid, key.node_id)))
            tx.execute("INSERT INTO lc_commitments (netuid, hotkey, block, seq, data, signature) "
                       "VALUES (?, ?, ?, ?, ?, ?)", (self.netuid, key.node_id, block, seq, data, signature.hex()))
        return Commitment(key.node_id, block, data)

    def commitments(self) -> dict[str, Commitment]:
        """Each registered hotkey's latest commitment whose signature verifies."""
        with self.db.read() as tx:
            rows = tx.all("SELECT c.hotkey, c.block, c.data, c.signature, n.scheme, n.public_key "
                          "FROM lc_commitments c JOIN lc_neurons n ON n.netuid = c.netuid AND n.hotkey = c.hotkey "
                          "WHERE c.netuid = ? ORDER BY c.hotkey, c.seq", (self.netuid,))
        out: dict[str, Commitment] = {}
        for hotkey, block, data, signature, scheme, public_key in rows:
            if verify_signature(scheme, bytes.fromhex(public_key), _commit_bytes(self.netuid, hotkey, data),
                                bytes.fromhex(signature)):
                out[hotkey] = Commitment(hotkey, int(block), data)
        return out

    # -------------------------------------------------------------------------------------- weights
    def set_weights(self, validator_key: object, weights: dict[int, float], *, version_key: int = 0
                    ) -> WeightsSubmission:
        if not isinstance(validator_key, NodeKey):
            raise ChainError("bad_key", "LocalChain weights are signed with a NodeKey")
        hotkey = validator_key.node_id
        known = {n.uid: n for n in self.neurons()}
        me = next((n for n in known.values() if n.hotkey == hotkey), None)
        if me is None:
            raise ChainError("not_registered", f"validator hotkey {hotkey} is not registered on subnet {self.netuid}")
        if not me.validator_permit:
            raise ChainError("no_validator_permit", f"hotkey {hotkey} has no validator permit on subnet "
                             f"{self.netuid}")
        unknown = sorted(set(weights) - set(known))
        if unknown:
            raise ChainError("unknown_uids", f"weights name uids {unknown} that are not registered")
        uids, values = normalize_u16(weights)
        if not uids:
            raise ChainError("empty_weights", "every weight is zero: nothing to set")
        _tempo, _bt, _genesis, _offset, limit = self._subnet()
        block = self.block()
        with self.db.transaction() as tx:
            tx.lock(f"localchain:{self.netuid}:weights:{hotkey}")
            last = tx.scalar("SELECT MAX(block) FROM lc_weights WHERE netuid = ? AND validator = ?",
                             (self.netuid, hotkey))
            if last is not None and block - int(last) < limit:
                raise ChainError("rate_limited", f"weights were set at block {last}; this subnet allows one setting "
                                 f"every {limit} blocks (now {block})")
            tx.execute("INSERT INTO lc_weights (netuid, validator, block, uids_json, weights_json, set_at) "
                       "VALUES (?, ?, ?, ?, ?, ?)", (self.netuid, hotkey, block, json.dumps(uids),
                                                     json.dumps(values), time.time()))
        return WeightsSubmission(block, tuple(uids), tuple(values))

    def last_weights_block(self, hotkey: str) -> int | None:
        with self.db.read() as tx:
            value = tx.scalar("SELECT MAX(block) FROM lc_weights WHERE netuid = ? AND validator = ?",
                              (self.netuid, hotkey))
        return None if value is None else int(value)

    def weight_history(self, validator_hotkey: str | None = None) -> list[dict[str, Any]]:
        """Every weight setting, oldest first: {validator, block, uids, weights_u16}."""
        with self.db.read() as tx:
            rows = tx.all("SELECT validator, block, uids_json, weights_json FROM lc_weights WHERE netuid = ? "
                          "ORDER BY block, set_at", (self.netuid,))
        return [{"validator": r[0], "block": int(r[1]), "uids": json.loads(r[2]), "weights_u16": json.loads(r[3])}
                for r in rows if validator_hotkey is None or r[0] == validator_hotkey]

    def close(self) -> None:
        self.db.close()
