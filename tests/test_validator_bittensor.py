"""BittensorChain against bittensor 11.3.0's real client code over an in-memory substrate (tests/bittensor_fake.py).

The SDK's own connect, metagraph/commitment decoding, SetWeights preflight/conform/compose and timelock encryption
run unchanged; only the chain access is faked. The u16 port (validator.chain.u16) is checked against the SDK's
normaliser directly.
"""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest

bt = pytest.importorskip("bittensor", minversion="11")

from bittensor.intents.weights import clip_to_max_weight as sdk_clip  # noqa: E402
from bittensor.intents.weights import normalize as sdk_normalize  # noqa: E402

from bittensor_fake import FakeSubstrate, Neuron  # noqa: E402
from validator.chain.base import MAX_COMMITMENT_BYTES, ChainError  # noqa: E402
from validator.chain.bittensor_chain import BittensorChain  # noqa: E402
from validator.chain.u16 import U16_MAX, normalize_u16  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NETUID = 7
MINERS = [f"5{c}" * 24 for c in "DEFG"]  # stand-in ss58 strings: the fake never decodes them


def sdk_u16(weights: dict[int, float], max_weight_limit: int = U16_MAX, self_uid: int | None = None):
    """What SetWeights' _conform makes of {uid: w}, built from the SDK's public clip and normaliser."""
    uids = sorted(weights)
    floats = [float(weights[u]) for u in uids]
    if uids != [self_uid] and max_weight_limit < U16_MAX:
        floats = sdk_clip(floats, max_weight_limit / U16_MAX)
    return sdk_normalize(uids, floats)


@pytest.fixture(autouse=True)
def _no_home_writes(tmp_path, monkeypatch):
    # Client.connect caches token symbols under ~/.bittensor unless told otherwise.
    monkeypatch.setenv("BTCLI_TOKEN_SYMBOLS_CACHE", str(tmp_path / "token_symbols.json"))


@pytest.fixture
def wallet(tmp_path):
    w = bt.Wallet("validator", "default", path=str(tmp_path / "wallets"))
    w.create_new_coldkey(use_password=False, suppress=True)
    w.create_new_hotkey(use_password=False, suppress=True)
    return w


@pytest.fixture
def make_chain(wallet):
    """make_chain(**seed_subnet kwargs) -> (BittensorChain, FakeSubstrate); the validator is uid 0 with a permit."""
    chains = []

    def make(neurons=None, register_validator=True, **seed):
        fake = FakeSubstrate(block=1000)
        validator = [Neuron(0, wallet.hotkey.ss58_address, stake_rao=5_000 * 10**9, validator_permit=True)]
        miners = [Neuron(uid, hk, stake_rao=uid * 10**9) for uid, hk in enumerate(MINERS, start=1)]
        fake.seed_subnet(NETUID, neurons or ((validator if register_validator else []) + miners), **seed)
        chain = BittensorChain(NETUID, substrate=fake, wallet=wallet)
        chains.append(chain)
        return chain, fake

    yield make
    for chain in chains:
        chain.close()


# ------------------------------------------------------------------------------------------------ u16 port
@pytest.mark.parametrize("limit", [U16_MAX, 40000, 32767, 13107, 1000])
def test_normalize_u16_equals_the_sdk_normaliser(limit):
    rng = random.Random(limit)
    for _ in range(200):
        n = rng.randint(1, 12)
        uids = rng.sample(range(256), n)
        weights = {u: rng.choice([0.0, rng.random(), rng.random() * 1e-6, rng.randint(1, 5)]) for u in uids}
        if not any(weights.values()):
            assert normalize_u16(weights, max_weight_limit=limit) == ([], [])
            continue
        assert normalize_u16(weights, max_weight_limit=limit) == sdk_u16(weights, limit), weights


def test_normalize_u16_rules():
    assert normalize_u16({3: 1.0, 1: 0.5, 2: 0.0}) == ([1, 3], [32768, 65535])  # sorted, zero dropped, round-half-even
    assert normalize_u16({5: 2.0}, max_weight_limit=1000, self_uid=5) == ([5], [U16_MAX])  # self-weight: no clip
    assert normalize_u16({}) == ([], []) and normalize_u16({1: 0.0}) == ([], [])
    for bad in ({1: -0.1}, {1: float("nan")}, {70000: 1.0}):
        with pytest.raises(ValueError):
            normalize_u16(bad)


def test_u16_and_bittensor_chain_modules_import_without_bittensor():
    code = ("import sys; sys.modules['bittensor'] = None\n"
            "import validator.chain.u16, validator.chain.bittensor_chain as m\n"
            "from edge_sdk.errors import BackendUnavailableError\n"
            "try:\n    m.BittensorChain(1)\nexcept BackendUnavailableError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "pip install 'edgeproof[chain]'" in out.stdout


# ------------------------------------------------------------------------------------------------ set_weights
def test_set_weights_without_commit_reveal_submits_the_sdk_u16_vector(make_chain, wallet):
    limit = 32767  # the largest share may be at most ~0.5: the 2.0 weight gets clipped
    chain, fake = make_chain(commit_reveal=False, max_weights_limit=limit)
    weights = {4: 1.0, 2: 2.0, 1: 0.5, 3: 0.0, 0: 1e-9}  # uid 3 is zero, uid 0 rounds to zero

    sub = chain.set_weights(wallet, weights, version_key=11)

    [ext] = fake.extrinsics
    assert (ext.module, ext.function) == ("SubtensorModule", "set_mechanism_weights")
    assert ext.signer == wallet.hotkey.ss58_address and ext.signature_ok
    assert (ext.params["netuid"], ext.params["mecid"], ext.params["version_key"]) == (NETUID, 0, 11)
    expected = sdk_u16(weights, limit)
    assert (ext.params["dests"], ext.params["weights"]) == expected == normalize_u16(weights, max_weight_limit=limit)
    assert expected[0] == [1, 2, 4] and max(expected[1]) == U16_MAX
    assert sub.uids == tuple(expected[0]) and sub.weights_u16 == tuple(expected[1])
    assert sub.commit_reveal is False and sub.block == ext.block == 1001
    assert sub.detail["weights_source"] == "submitted_call" and sub.detail["call"] == "set_mechanism_weights"
    assert fake.get("SubtensorModule", "LastUpdate", (NETUID,))[0] == 1001
    assert chain.last_weights_block(wallet.hotkey.ss58_address) == 1001  # what a restarted validator checks


def test_set_weights_uses_the_constructor_version_key(make_chain, wallet):
    chain, fake = make_chain()
    chain.version_key = 5
    chain.set_weights(None, {1: 1.0})  # None: sign with the chain's wallet
    assert fake.extrinsics[0].params["version_key"] == 5


def test_set_weights_with_commit_reveal_submits_a_timelocked_commit(make_chain, wallet):
    chain, fake = make_chain(commit_reveal=True, max_weights_limit=U16_MAX)
    weights = {1: 0.2, 2: 0.8, 3: 0.0}

    sub = chain.set_weights(wallet, weights)

    assert [x.function for x in fake.extrinsics] == ["commit_timelocked_mechanism_weights"]
    ext = fake.extrinsics[0]
    assert ext.signer == wallet.hotkey.ss58_address and ext.signature_ok
    assert (ext.params["netuid"], ext.params["mecid"], ext.params["commit_reveal_version"]) == (NETUID, 0, 4)
    assert isinstance(ext.params["commit"], bytes) and len(ext.params["commit"]) > 100
    assert isinstance(ext.params["reveal_round"], int) and ext.params["reveal_round"] > 0
    assert sub.commit_reveal is True and sub.detail["reveal_round"] == ext.params["reveal_round"]
    assert sub.detail["weights_source"] == "recomputed_from_preflight"
    expected = ([1, 2], [16384, 65535])
    assert (list(sub.uids), list(sub.weights_u16)) == sdk_u16(weights) == normalize_u16(weights) == expected


def test_set_weights_not_registered(make_chain, wallet):
    chain, fake = make_chain(register_validator=False)
    with pytest.raises(ChainError) as err:
        chain.set_weights(wallet, {1: 1.0})
    assert err.value.code == "not_registered"
    assert wallet.hotkey.ss58_address in str(err.value) and f"netuid {NETUID}" in str(err.value)
    assert fake.extrinsics == []


def test_set_weights_rate_limited_by_preflight(make_chain, wallet):
    chain, fake = make_chain(rate_limit=100)
    fake.get("SubtensorModule", "LastUpdate", (NETUID,))[0] = fake.block - 10
    with pytest.raises(ChainError) as err:
        chain.set_weights(wallet, {1: 1.0})
    assert err.value.code == "rate_limited" and "90 blocks" in str(err.value)
    assert fake.extrinsics == []


def test_second_set_weights_in_the_same_window_is_rate_limited(make_chain, wallet):
    chain, fake = make_chain(rate_limit=100)
    chain.set_weights(wallet, {1: 1.0})
    with pytest.raises(ChainError) as err:
        chain.set_weights(wallet, {2: 1.0})
    assert err.value.code == "rate_limited"
    assert len(fake.extrinsics) == 1


@pytest.mark.parametrize("name,code", [("SettingWeightsTooFast", "rate_limited"),
                                       ("NotEnoughStakeToSetWeights", "insufficient_balance"),
                                       ("HotKeyNotRegisteredInSubNet", "not_registered"),
                                       ("SomethingNew", "chain_error")])
def test_set_weights_on_chain_failure_is_mapped(make_chain, wallet, name, code):
    chain, fake = make_chain()
    fake.fail_next(name, f"dispatch failed: {name}")
    with pytest.raises(ChainError) as err:
        chain.set_weights(wallet, {1: 1.0})
    assert err.value.code == code and name in str(err.value)


def test_set_weights_null_consensus_needs_the_permit(make_chain, wallet):
    neurons = [Neuron(0, wallet.hotkey.ss58_address, validator_permit=False), Neuron(1, MINERS[0])]
    chain, fake = make_chain(neurons=neurons, consensus="Null")
    with pytest.raises(ChainError) as err:
        chain.set_weights(wallet, {1: 1.0})
    assert err.value.code == "not_authorized" and fake.extrinsics == []


def test_set_weights_refuses_bad_input_and_too_few_weights(make_chain, wallet):
    chain, fake = make_chain(min_allowed_weights=3)
    for bad in ({}, {1: 0.0, 2: 0.0}, {1: -1.0}):
        with pytest.raises(ChainError) as err:
            chain.set_weights(wallet, bad)
        assert err.value.code == "invalid_weights", bad
    with pytest.raises(ChainError) as err:
        chain.set_weights(wallet, {1: 1.0, 2: 1.0})
    assert err.value.code == "invalid_argument" and "at least 3" in str(err.value)
    assert fake.extrinsics == []


def test_writes_need_a_bittensor_wallet(make_chain):
    chain, fake = make_chain()
    chain.wallet = None
    with pytest.raises(ChainError) as err:
        chain.set_weights(None, {1: 1.0})
    assert err.value.code == "no_wallet"
    with pytest.raises(ChainError) as err:
        chain.commit(object(), "repo:rev")
    assert err.value.code == "wrong_key_type"
    assert fake.extrinsics == []


# ------------------------------------------------------------------------------------------------ reads
def test_reads_come_from_the_chain(make_chain, wallet):
    chain, fake = make_chain(tempo=360)
    fake.seed_commitment(NETUID, MINERS[0], b"hf.co/a/ds:", b"0123abcd", block=900)  # two Raw fields
    fake.seed_commitment(NETUID, MINERS[1], "données:v1".encode(), block=950)
    fake.seed_commitment(NETUID, "5Gone" + "x" * 43, b"old:1", block=10)  # deregistered since

    assert chain.block() == 1000 and chain.tempo() == 360 and chain.epoch() == 1000 // 360
    neurons = chain.neurons()
    assert [(n.uid, n.hotkey, n.validator_permit) for n in neurons] == (
        [(0, wallet.hotkey.ss58_address, True)] + [(i, hk, False) for i, hk in enumerate(MINERS, start=1)])
    assert neurons[0].stake == 5000.0 and neurons[2].stake == 2.0
    commitments = chain.commitments()
    assert set(commitments) == {MINERS[0], MINERS[1], "5Gone" + "x" * 43}
    assert commitments[MINERS[0]].data == "hf.co/a/ds:0123abcd" and commitments[MINERS[0]].block == 900
    assert commitments[MINERS[1]].data == "données:v1" and commitments[MINERS[1]].hotkey == MINERS[1]


def test_unknown_subnet(wallet):
    chain = BittensorChain(99, substrate=FakeSubstrate(), wallet=wallet)
    try:
        for read in (chain.tempo, chain.neurons):
            with pytest.raises(ChainError) as err:
                read()
            assert err.value.code == "subnet_not_found"
    finally:
        chain.close()


# ------------------------------------------------------------------------------------------------ commit
def test_commit_submits_set_commitment_and_reads_back(make_chain, wallet):
    chain, fake = make_chain()
    data = "hf.co/edge/ds:" + "é" * 20  # 14 + 40 bytes

    got = chain.commit(wallet, data)

    [ext] = fake.extrinsics
    assert (ext.module, ext.function) == ("Commitments", "set_commitment")
    assert ext.signer == wallet.hotkey.ss58_address and ext.signature_ok
    raw = data.encode()
    assert ext.params == {"netuid": NETUID, "info": {"fields": [[{f"Raw{len(raw)}": raw}]]}}
    assert (got.hotkey, got.block, got.data) == (wallet.hotkey.ss58_address, 1001, data)
    assert chain.commitments()[wallet.hotkey.ss58_address] == got


def test_commit_refuses_more_than_128_bytes_before_submitting(make_chain, wallet):
    chain, fake = make_chain()
    assert chain.commit(wallet, "x" * MAX_COMMITMENT_BYTES).data == "x" * 128
    for too_long in ("x" * 129, "€" * 43):  # 129 bytes: 43 three-byte characters
        with pytest.raises(ChainError) as err:
            chain.commit(wallet, too_long)
        assert err.value.code == "commitment_too_long"
    with pytest.raises(ChainError) as err:
        chain.commit(wallet, "")
    assert err.value.code == "empty_commitment"
    assert len(fake.extrinsics) == 1


def test_commit_on_chain_failure(make_chain, wallet):
    chain, fake = make_chain()
    fake.fail_next("AccountNotAllowedCommit", "the hotkey may not commit")
    with pytest.raises(ChainError) as err:
        chain.commit(wallet, "repo:rev")
    assert "AccountNotAllowedCommit" in str(err.value)


def test_closed_chain(make_chain):
    chain, _ = make_chain()
    chain.close()
    with pytest.raises(ChainError) as err:
        chain.block()
    assert err.value.code == "closed"
