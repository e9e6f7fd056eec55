"""Faults on a tiny model: the coordinator SIGKILLed mid-round and restarted, a client cut off mid-download,
a round without quorum, a client whose device stops being eligible while it trains."""

from __future__ import annotations

import signal
import threading

import pytest

from edge_sdk.device.eligibility import Eligibility, TrainingPolicy
from edge_sdk.device.profile import collect_profile
from edge_sdk.federation._proto import federation_pb2 as pb
from edge_sdk.federation.client import FederatedClient
from edge_sdk.federation.client.eligibility import OwnLoadExcluded
from edge_sdk.federation.coordinator import CoordinatorConfig
from edge_sdk.federation.store import FederationStore
from edge_sdk.federation.task import FederationTask
from edge_sdk.identity import NodeKey
from edge_sdk.training.data import load_chat_jsonl
from edge_sdk.training.recipe import FEDERATED_RECIPE
from fed_support import CoordinatorThread, RawClient, TcpProxy, encoded, small_delta, wait_until
from procs import ROOT, start_coordinator_process

TINY_RECIPE = FEDERATED_RECIPE.with_(r=4, alpha=8)
ROWS = load_chat_jsonl(ROOT / "examples" / "data" / "private_facts.jsonl")
ALLOWED = Eligibility(allowed=True, reasons=["all checks passed"])


def _messages_until(client: RawClient, kind: str) -> list[str]:
    seen = []
    while True:
        message = client.next(None, timeout=120)
        seen.append(message.WhichOneof("body"))
        if seen[-1] == kind:
            return seen


def test_sigkill_mid_round_then_restart_completes_the_round_counting_each_update_once(models_tiny_hf_dir, tmp_path):
    db = tmp_path / "fed.sqlite"
    args = ("--model", str(models_tiny_hf_dir), "--task", "kill", "--rounds", "1", "--local-steps", "1",
            "--clients-per-round", "2", "--quorum", "2", "--min-clients", "2", "--over-selection", "1",
            "--deadline", "300", "--lora-r", "4")
    proc, ready = start_coordinator_process(db, *args)
    try:
        a, b = RawClient(f"127.0.0.1:{ready['port']}"), RawClient(f"127.0.0.1:{ready['port']}")
        a.hello(), b.hello()
        assignment = a.next(("assignment",)).assignment
        b.next(("assignment",))
        reference = a.global_tensors(assignment.base)
        payload_a = encoded(small_delta(reference, 1))
        assert a.upload(assignment, payload_a, num_examples=5).receipt.code == "accepted"
        proc.send_signal(signal.SIGKILL)  # mid-round: A's update accepted, B's not yet sent
        proc.wait(30)
        a.close(), b.close()

        proc, ready = start_coordinator_process(db, *args)
        address = f"127.0.0.1:{ready['port']}"
        a, b = RawClient(address, key=a.key), RawClient(address, key=b.key)
        welcome_a = a.hello().welcome
        assert welcome_a.current_round == 1
        again = a.upload(assignment, payload_a, num_examples=5)  # A never saw a receipt it trusts: sends again
        assert again.receipt.accepted and again.receipt.code == "already_accepted"
        b.hello()
        resumed = b.next(("assignment",)).assignment
        assert (resumed.round, resumed.attempt, resumed.base.version) == (1, 1, 0)
        assert b.upload(resumed, encoded(small_delta(reference, 2)), num_examples=3).receipt.code == "accepted"
        seen_by_a = _messages_until(a, "finished")
        assert "assignment" not in seen_by_a  # A's stored update was not asked for again
        assert "round_closed" in seen_by_a
        a.close(), b.close()
        assert proc.wait(60) == 0  # the CLI exits 0 when the task is finished
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    store = FederationStore(str(db))
    updates = store.updates("kill", 1, 1)
    assert sorted(u.client_id for u in updates) == sorted([a.key.node_id, b.key.node_id])
    (version,) = [v for v in store.versions("kill") if v.version == 1]
    assert sorted(version.info["clients"]) == sorted([a.key.node_id, b.key.node_id])
    assert version.info["num_examples"] == {a.key.node_id: 5, b.key.node_id: 3}
    assert [r.state for r in store.rounds("kill")] == ["completed"]
    assert store.task("kill").state == "finished"
    store.close()


def _coordinator(tiny, tmp_path, **task_kw):
    task = FederationTask(task_id="t", recipe=TINY_RECIPE, **task_kw)
    return CoordinatorThread(CoordinatorConfig(task=task, port=0, db=str(tmp_path / "fed.sqlite"), model=str(tiny)))


def test_a_client_cut_off_mid_download_resumes_from_the_bytes_it_holds(models_tiny_hf_dir, tmp_path):
    coord = _coordinator(models_tiny_hf_dir, tmp_path, rounds=1, local_steps=1, clients_per_round=1, quorum=1,
                         round_deadline_s=300, update_encoding="float32", chunk_bytes=4096)
    proxy = TcpProxy(coord.service.port, cut_after=16_000)  # the adapter is ~32 KB: cut after about half
    events = []
    client = FederatedClient(f"127.0.0.1:{proxy.port}", ROWS[:6], NodeKey.generate(), workdir=tmp_path / "client",
                             model=str(models_tiny_hf_dir), coordinator_id=coord.service.coordinator_id,
                             eligibility=lambda: ALLOWED, on_progress=events.append, max_backoff_s=1.0)
    try:
        runner = threading.Thread(target=client.run)
        runner.start()
        assert coord.wait_finished(240) == "finished"
        runner.join(60)
    finally:
        client.stop()
        proxy.close()
        coord.stop()
    assert proxy.cuts == 1 and client.state == "finished"
    downloads = [e.values["offset"] for e in events if e.stage == "downloading"]
    assert downloads[0] == 0 and any(0 < offset < 32_000 for offset in downloads[1:]), downloads
    assert any(e.stage == "reconnecting" for e in events)
    assert any(e.stage == "accepted" for e in events)
    assert client.global_version == 1 and (client.global_adapter_dir / "adapter_model.safetensors").is_file()


def test_a_round_without_quorum_is_abandoned_retried_then_the_task_fails(models_tiny_hf_dir, tmp_path):
    coord = _coordinator(models_tiny_hf_dir, tmp_path, rounds=1, local_steps=1, clients_per_round=2, quorum=2,
                         min_clients=2, over_selection=1.0, round_deadline_s=3.0, retry_delay_s=0.2, max_attempts=2)
    clients = []
    try:
        a, b = RawClient(coord.address), RawClient(coord.address)
        idle = RawClient(coord.address, eligible=False)  # checked in, but its device may not train
        clients = [a, b, idle]
        for c in clients:
            c.hello()
        for attempt in (1, 2):
            assignment = a.next(("assignment",)).assignment
            assert b.next(("assignment",)).assignment.attempt == attempt == assignment.attempt
            reference = a.global_tensors(assignment.base)
            assert a.upload(assignment, encoded(small_delta(reference, attempt))).receipt.code == "accepted"
            if attempt == 1:
                b.send("decline", pb.RoundDecline(round=1, reason="battery low"))  # closes the attempt at once
            closed = a.next(("round_closed",)).round_closed  # attempt 2: B stays silent until the deadline
            assert closed.outcome == pb.ABANDONED and closed.attempt == attempt and closed.updates == 1
            assert "1 of the 2 updates" in closed.reason
        finished = a.next(("finished",)).finished
        assert finished.failed and "abandoned 2 times" in finished.reason
        assert "assignment" not in [m.WhichOneof("body") for m in idle.stream._deferred]
        assert coord.wait_finished(10) == "failed"
        store = coord.service.store
        assert [(r.round, r.attempt, r.state) for r in store.rounds("t")] == [(1, 1, "abandoned"),
                                                                            (1, 2, "abandoned")]
        assert "battery low" in store.rounds("t")[0].reason
        assert [v.version for v in store.versions("t")] == [0]
    finally:
        for c in clients:
            c.close()
        coord.stop()


def test_training_stops_and_the_client_declines_when_the_device_stops_being_eligible(models_tiny_hf_dir,
                                                                                       tmp_path):
    coord = _coordinator(models_tiny_hf_dir, tmp_path, rounds=1, local_steps=500, clients_per_round=1, quorum=1,
                         round_deadline_s=300, max_attempts=1)
    answers = iter([ALLOWED, ALLOWED])  # the hello and the check before the round; then the battery runs low
    low = Eligibility(allowed=False, reasons=["battery at 12%, below the 50% floor and not charging"])
    events = []
    client = FederatedClient(coord.address, ROWS[:6], NodeKey.generate(), workdir=tmp_path / "client",
                             model=str(models_tiny_hf_dir), eligibility=lambda: next(answers, low),
                             eligibility_every_s=0.0, on_progress=events.append)
    try:
        runner = threading.Thread(target=client.run)
        runner.start()
        assert coord.wait_finished(120) == "failed"
        wait_until(lambda: client.state != "running", 30, "the client to end")
        runner.join(30)
    finally:
        client.stop()
        coord.stop()
    declined = [e for e in events if e.stage == "declined"]
    assert declined and "battery at 12%" in declined[0].detail
    steps = [e.step for e in events if e.stage == "training"]
    assert max(steps, default=0) < 500
    assert not any(e.stage == "uploading" for e in events)
    assert client.state == "failed"


def test_the_load_check_leaves_out_the_clients_own_training():
    profile = collect_profile(0.0, probe_torch=False)
    cores = profile.cpu.logical_cores
    busy = profile.model_copy(update={"load": profile.load.model_copy(update={
        "cpu_percent": 100.0 * (1.0 + 0.1) / cores, "load_per_core": (1.0 + 0.1) / cores})})
    clock, cpu = [0.0], [0.0]
    policy = TrainingPolicy(max_cpu_load=0.5 / cores, load_metric="max", min_battery_percent=0)
    watch = OwnLoadExcluded(policy, cpu_seconds=lambda: cpu[0], clock=lambda: clock[0])
    clock[0], cpu[0] = 60.0, 60.0  # this process kept one core busy for the last minute (its training)
    adjusted = watch.adjusted(busy)
    assert adjusted.load.cpu_percent == pytest.approx(100.0 * 0.1 / cores)
    assert adjusted.load.load_per_core == pytest.approx(0.1 / cores + (1.0 - 0.6321) / cores, abs=1e-3)
    from edge_sdk.device.eligibility import check_eligibility

    others_busy = check_eligibility(busy, policy, opted_in=True, required_memory_bytes=0)
    assert not others_busy.allowed  # counted as is, the training itself fails the check
    clock[0], cpu[0] = 600.0, 600.0  # after ten minutes of training the smoothed estimate has caught up
    assert check_eligibility(watch.adjusted(busy), policy, opted_in=True, required_memory_bytes=0).allowed


def test_own_cpu_measurement_sees_a_busy_thread():
    watch = OwnLoadExcluded()
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            sum(range(1000))

    t = threading.Thread(target=spin)
    t.start()
    stop.wait(1.0)
    now, _smoothed = watch.own_cores()
    stop.set()
    t.join()
    assert now > 0.3
