"""The embedded LocalChain: registration, signed commitments ordered by block, weights as Bittensor's u16 vector
with its rate limit, and a block clock that advances by itself."""

from __future__ import annotations

import time

import pytest

from edge_sdk.identity import NodeKey
from validator.chain.base import ChainError
from validator.chain.local import LocalChain
from validator.chain.u16 import normalize_u16


def test_register_commit_and_read_back(tmp_path):
    chain = LocalChain(str(tmp_path / "chain.sqlite"), netuid=7, tempo=10, block_time_s=3600)
    miner, other = NodeKey.generate(), NodeKey.generate()
    with pytest.raises(ChainError, match="not registered"):
        chain.commit(miner, "local:x@" + "a" * 64)
    assert chain.register(miner) == 0 and chain.register(miner) == 0  # idempotent
    assert chain.register(other) == 1
    first = chain.commit(miner, "local:x@" + "a" * 64)
    chain.advance(5)
    second = chain.commit(miner, "local:x@" + "b" * 64)
    chain.commit(other, "local:y@" + "c" * 64)
    with pytest.raises(ChainError, match="at most 128 bytes"):
        chain.commit(miner, "x" * 129)
    latest = chain.commitments()
    assert latest[miner.node_id].data.endswith("b" * 64) and latest[miner.node_id].block == second.block
    assert second.block == first.block + 5
    assert [n.hotkey for n in chain.neurons()] == [miner.node_id, other.node_id]
    chain.close()

    reopened = LocalChain(str(tmp_path / "chain.sqlite"), netuid=7)  # settings of the stored subnet are kept
    assert reopened.tempo() == 10 and reopened.commitments() == latest
    with reopened.db.transaction() as tx:  # a tampered commitment no longer verifies and is ignored
        tx.execute("UPDATE lc_commitments SET data = ? WHERE hotkey = ? AND seq = 1", ("local:x@" + "d" * 64,
                                                                                      miner.node_id))
    assert reopened.commitments()[miner.node_id].data.endswith("a" * 64)
    reopened.close()


def test_weights_need_a_permit_are_u16_and_rate_limited(tmp_path):
    chain = LocalChain(str(tmp_path / "chain.sqlite"), tempo=10, block_time_s=3600)
    validator, plain = NodeKey.generate(), NodeKey.generate()
    uid_v = chain.register(validator, validator_permit=True)
    uid_p = chain.register(plain)
    with pytest.raises(ChainError) as refused:
        chain.set_weights(plain, {uid_v: 1.0})
    assert refused.value.code == "no_validator_permit"
    with pytest.raises(ChainError) as unknown:
        chain.set_weights(validator, {99: 1.0})
    assert unknown.value.code == "unknown_uids"
    submission = chain.set_weights(validator, {uid_p: 0.75, uid_v: 0.25})
    assert (list(submission.uids), list(submission.weights_u16)) == tuple(normalize_u16({uid_p: 0.75,
                                                                                         uid_v: 0.25}))
    with pytest.raises(ChainError) as limited:
        chain.set_weights(validator, {uid_p: 1.0})
    assert limited.value.code == "rate_limited"
    chain.advance(10)
    chain.set_weights(validator, {uid_p: 1.0})
    history = chain.weight_history(validator.node_id)
    assert len(history) == 2 and chain.last_weights_block(validator.node_id) == history[-1]["block"]
    chain.close()


def test_the_clock_advances_by_itself(tmp_path):
    chain = LocalChain(str(tmp_path / "chain.sqlite"), tempo=4, block_time_s=0.05)
    start = chain.block()
    time.sleep(0.3)
    assert chain.block() >= start + 4
    assert chain.epoch(chain.block()) == chain.block() // 4
    chain.close()
