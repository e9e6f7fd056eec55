"""The coordinator's store on SQLite and PostgreSQL: a task resumes only under its own settings, an update is
counted once, closing a round writes its version atomically, refusals are kept."""

from __future__ import annotations

import time

import pytest

from edge_sdk.errors import InvalidRequestError
from edge_sdk.federation.store import FederationStore, RoundRecord, UpdateRecord, VersionRecord


def _version(v: int, round_no: int, loss: float | None = 1.0) -> VersionRecord:
    return VersionRecord(v, round_no, bytes([v]) * 100, f"{v:064x}", loss, {"v": v}, time.time())


def _update(client: str, attempt: int = 1) -> UpdateRecord:
    return UpdateRecord(client, 1, attempt, 0, 8, 5, 0.5, 1.0, 0.0, b"\x00\xffpayload", "ab" * 32, time.time())


def test_task_rounds_updates_and_versions(db_url):
    store = FederationStore(db_url)
    store.ensure_task("t", {"rounds": 2}, _version(0, 0, 2.8))
    assert store.ensure_task("t", {"rounds": 2}, _version(0, 0)).state == "running"  # same settings: resumes
    with pytest.raises(InvalidRequestError, match="already stored .* with other settings"):
        store.ensure_task("t", {"rounds": 3}, _version(0, 0))
    now = time.time()
    store.open_round("t", RoundRecord(1, 1, "open", 0, 42, ("a", "b"), now + 60, now, None, ""))
    assert store.open_round_record("t").selected == ("a", "b")
    assert store.add_update("t", _update("a")) is True
    assert store.add_update("t", _update("a")) is False  # a re-sent update is counted once
    assert store.updates("t", 1, 1)[0].payload == b"\x00\xffpayload"
    store.close_round("t", 1, 1, state="completed", reason="", new_version=_version(1, 1, 0.9))
    assert store.open_round_record("t") is None
    assert [(v.version, v.eval_loss) for v in store.versions("t")] == [(0, 2.8), (1, 0.9)]
    assert store.latest_version("t").payload == bytes([1]) * 100
    store.record_rejection("t", 1, "c", "not_selected", "client c is not selected for round 1")
    assert store.rejections("t") == [(1, "c", "not_selected", "client c is not selected for round 1")]
    store.close()

    reopened = FederationStore(db_url)  # everything above is on disk
    assert reopened.update_clients("t", 1, 1) == {"a"}
    assert [r.state for r in reopened.rounds("t")] == ["completed"]
    reopened.close()


def test_a_failed_close_leaves_the_round_open_and_no_version(db_url):
    store = FederationStore(db_url)
    store.ensure_task("t", {}, _version(0, 0))
    now = time.time()
    store.open_round("t", RoundRecord(1, 1, "open", 0, 1, ("a",), now + 60, now, None, ""))
    with pytest.raises(Exception):  # noqa: B017 - the engine's own integrity error
        store.close_round("t", 1, 1, state="completed", reason="", new_version=_version(0, 1))  # duplicate v0
    assert store.open_round_record("t") is not None
    assert [v.version for v in store.versions("t")] == [0]
    store.close()
