"""The coordinator's wire contract on a tiny model: check-in refusals, every kind of bad update refused with a
reason while the round goes on, and the service plumbing (health, reflection, metrics)."""

from __future__ import annotations

import urllib.request

import grpc
import numpy as np
import pytest

from edge_sdk.federation._proto import federation_pb2 as pb
from edge_sdk.federation.coordinator import CoordinatorConfig
from edge_sdk.federation.task import FederationTask
from edge_sdk.federation.transfer import sha256, weights_bytes
from edge_sdk.training.recipe import FEDERATED_RECIPE
from fed_support import CoordinatorThread, RawClient, encoded, small_delta, wait_until

TINY_RECIPE = FEDERATED_RECIPE.with_(r=4, alpha=8)


@pytest.fixture
def coordinator(models_tiny_hf_dir, tmp_path):
    task = FederationTask(task_id="proto", recipe=TINY_RECIPE, rounds=2, local_steps=1, clients_per_round=1,
                          quorum=1, over_selection=1.0, min_clients=2, round_deadline_s=120,
                          update_encoding="float32", chunk_bytes=4096, max_update_bytes=1 << 20)
    coord = CoordinatorThread(CoordinatorConfig(task=task, port=0, db=str(tmp_path / "fed.sqlite"),
                                                model=str(models_tiny_hf_dir), metrics_port=0))
    yield coord
    coord.stop()


def test_check_in_refusals_are_fatal_with_a_code(coordinator):
    def refused(mutate=None, **kw):
        client = RawClient(coordinator.address, **kw)
        try:
            answer = client.hello(mutate)
            assert answer.WhichOneof("body") == "rejected", answer
            assert answer.rejected.fatal and answer.rejected.reason
            return answer.rejected.code
        finally:
            client.close()

    def flip(h):
        h.signature = bytes([h.signature[0] ^ 1]) + h.signature[1:]

    assert refused(flip) == "bad_signature"
    assert refused(lambda h: setattr(h, "signature", b"")) == "bad_signature"
    assert refused(lambda h: h.device.ineligible_reasons.append("changed after signing")) == "bad_signature"
    assert refused(coordinator_id="coordinator@elsewhere:1") == "wrong_coordinator"
    assert refused(lambda h: setattr(h, "protocol_version", 99)) == "protocol_version"

    first = RawClient(coordinator.address)
    captured = first.challenge.nonce
    assert first.hello().WhichOneof("body") == "welcome"
    replay = RawClient(coordinator.address, key=first.key)
    answer = replay.hello(lambda h: setattr(h, "nonce", captured))  # signs the old nonce
    assert answer.rejected.code == "replayed_nonce" and answer.rejected.fatal
    first.close()
    replay.close()
    codes = [code for _r, _c, code, _why in coordinator.service.store.rejections("proto")]
    assert codes.count("bad_signature") == 3 and "replayed_nonce" in codes


def test_welcome_carries_the_task_as_typed_fields(coordinator):
    client = RawClient(coordinator.address)
    welcome = client.hello().welcome
    client.close()
    assert welcome.client_id == client.key.node_id
    task = welcome.task
    assert (task.task_id, task.rounds, task.local_steps, task.aggregation) == ("proto", 2, 1, "fedavg")
    assert task.recipe.r == 4 and task.recipe.alpha == 8 and list(task.recipe.target_modules) == ["all-linear"]
    assert task.update_encoding == pb.FLOAT32 and task.chunk_bytes == 4096
    assert welcome.global_adapter.version == 0 and len(welcome.global_adapter.adapter_sha256) == 32
    assert np.isfinite(welcome.global_adapter.eval_loss) or np.isnan(welcome.global_adapter.eval_loss)


def test_bad_updates_are_refused_with_a_reason_and_the_round_goes_on(coordinator):
    a, b = RawClient(coordinator.address), RawClient(coordinator.address)
    assert a.hello().WhichOneof("body") == b.hello().WhichOneof("body") == "welcome"
    rounds = coordinator.service.rounds
    wait_until(lambda: rounds.current is not None, 30, "the first round to open")
    (chosen,) = rounds.current.record.selected
    picked, other = (a, b) if chosen == a.key.node_id else (b, a)
    assignment = picked.next(("assignment",)).assignment
    reference = picked.global_tensors(assignment.base)
    good = encoded(small_delta(reference, 1), "float32")

    def code(client, payload, **kw):
        answer = client.upload(assignment, payload, chunk_bytes=4096, **kw)
        assert answer.WhichOneof("body") == "rejected", answer
        assert answer.rejected.reason and not answer.rejected.fatal
        return answer.rejected.code

    nan = small_delta(reference, 2)
    name = sorted(nan)[0]
    nan[name][0, 0] = np.nan
    nan_payload = pb.AdapterWeights()
    for n in sorted(nan):  # the codec refuses to encode NaN, so the hostile client writes the bytes itself
        nan_payload.tensors.add(name=n, shape=list(nan[n].shape), encoding=pb.FLOAT32,
                                data=nan[n].astype("<f4").tobytes())
    wrong_shape = {n: np.zeros((t.shape[0] - 1, *t.shape[1:]), np.float32) for n, t in reference.items()}
    wrong_names = {n.replace("lora_A", "lora_X"): t for n, t in small_delta(reference, 3).items()}

    assert code(other, good) == "not_selected"
    assert code(picked, good, round_no=7) == "stale_round"
    assert code(picked, good, base_version=5) == "wrong_base_version"
    assert code(picked, good, total_bytes=2 << 20) == "oversized"
    assert code(picked, good, num_examples=0) == "bad_num_examples"
    assert code(picked, good, digest=sha256(b"other")) == "bad_sha256"
    assert code(picked, nan_payload.SerializeToString()) == "non_finite"
    assert code(picked, weights_bytes(wrong_shape, "float32")) == "invalid_update"
    assert code(picked, weights_bytes(wrong_names, "float32")) == "invalid_update"
    assert code(picked, encoded(small_delta(reference, 4), "int8_zlib")) == "wrong_encoding"
    assert code(picked, b"\x0a\x05garbage") == "malformed_payload"

    assert rounds.current is not None and rounds.current.record.round == 1  # all of that left the round open
    receipt = picked.upload(assignment, good, chunk_bytes=4096)
    assert receipt.WhichOneof("body") == "receipt" and receipt.receipt.code == "accepted"
    closed = picked.next(("round_closed",)).round_closed
    assert closed.outcome == pb.COMPLETED and closed.updates == 1 and closed.global_adapter.version == 1
    late = picked.upload(assignment, good, chunk_bytes=4096)  # the same update after the round closed
    assert late.rejected.code == "stale_round"
    stored = {c: code for _r, c, code, _why in coordinator.service.store.rejections("proto")}
    assert stored[other.key.node_id] == "not_selected"
    a.close()
    b.close()


def test_health_reflection_and_metrics(coordinator):
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    with grpc.insecure_channel(coordinator.address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        status = health.Check(health_pb2.HealthCheckRequest(service="edgeproof.federation.v1.Coordinator"))
        assert status.status == health_pb2.HealthCheckResponse.SERVING
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        answer = next(stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")])))
        names = {s.name for s in answer.list_services_response.service}
        assert "edgeproof.federation.v1.Coordinator" in names
    client = RawClient(coordinator.address)
    client.hello()
    port = coordinator.service.metrics_port
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    assert "fed_clients_connected 1.0" in text and "fed_global_version 0.0" in text
    client.close()
