"""The challenger over real gRPC on 127.0.0.1:0: sessions, store, health, reflection, metrics, limits,
deadlines, restart."""

from __future__ import annotations

import asyncio
import json
import socket
import urllib.request

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from poai.challenger import ChallengerConfig, ChallengerService
from poai.claim import NodeClaim
from poai.node import NodeAgent, NodeConfig, SessionError, Solver
from poai.node.agent import backoff_delays
from poai.store import IntegrityStore


def _metrics(service: ChallengerService) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{service.metrics_port}/metrics", timeout=5) as resp:
        return resp.read().decode()


def test_honest_session_is_scored_stored_and_counted(poai_run, poai_agent) -> None:
    async def body(service: ChallengerService):
        agent = poai_agent(service)
        outcome = await agent.run_once()
        return outcome, _metrics(service), agent.config

    outcome, metrics, _ = poai_run(body, plan="lightweight:compute,memory")
    assert outcome.ok and outcome.score == 1.0, outcome.reasons
    assert [c["name"] for c in outcome.checks] == ["compute", "memory", "latency"]
    assert all(c["passed"] for c in outcome.checks)
    compute = outcome.checks[0]["metrics"]
    assert compute["node_seconds"] > 0 and compute["verify_seconds"] > 0 and compute["matmul_tops"] > 0
    assert "poai_sessions_started_total 1.0" in metrics
    assert "poai_sessions_completed_total 1.0" in metrics
    assert 'poai_stage_seconds_count{stage="compute"} 1.0' in metrics
    assert 'poai_stage_seconds_count{stage="memory"} 1.0' in metrics
    assert "poai_active_sessions 0.0" in metrics


def test_history_is_stored_per_node_with_smoothing(poai_run, poai_agent, tmp_path) -> None:
    async def body(service: ChallengerService):
        agent = poai_agent(service)
        return [await agent.run_once() for _ in range(3)], agent._solver.key.node_id

    outcomes, node_id = poai_run(body, plan="lightweight:compute")
    store = IntegrityStore(tmp_path / "poai.sqlite")
    node = store.get_score(node_id)
    assert node is not None and node.sessions == 3 and node.strikes_total == 0
    history = store.session_history(node_id, 10)
    assert [h.session_id for h in history] == [o.session_id for o in reversed(outcomes)]
    assert 0 < outcomes[0].smoothed_score < outcomes[1].smoothed_score < outcomes[2].smoothed_score <= 1.0
    assert node.smoothed == pytest.approx(outcomes[-1].smoothed_score)
    store.close()


def test_health_and_reflection(poai_run) -> None:
    async def body(service: ChallengerService):
        async with grpc.aio.insecure_channel(f"127.0.0.1:{service.port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            overall = await health.Check(health_pb2.HealthCheckRequest(service=""))
            named = await health.Check(health_pb2.HealthCheckRequest(service="edgeproof.poai.v2.Challenger"))
            refl = reflection_pb2_grpc.ServerReflectionStub(channel)
            call = refl.ServerReflectionInfo()
            await call.write(reflection_pb2.ServerReflectionRequest(list_services=""))
            listed = await call.read()
            await call.write(
                reflection_pb2.ServerReflectionRequest(file_containing_symbol="edgeproof.poai.v2.Challenger")
            )
            described = await call.read()
            await call.done_writing()
        return overall, named, listed, described

    overall, named, listed, described = poai_run(body)
    assert overall.status == health_pb2.HealthCheckResponse.SERVING
    assert named.status == health_pb2.HealthCheckResponse.SERVING
    names = {s.name for s in listed.list_services_response.service}
    assert {"edgeproof.poai.v2.Challenger", "grpc.health.v1.Health"} <= names
    assert described.file_descriptor_response.file_descriptor_proto  # the schema is served


class _Stall(Solver):
    """Never commits: holds the stream open until the challenger's deadline."""

    async def commit(self, msg, emit):
        await asyncio.sleep(3600)


def test_stage_deadline_fails_the_session_without_a_strike(poai_run, poai_agent) -> None:
    """A missed deadline may be a slow link or an overloaded node: score 0, status node_fault, no strike."""

    async def body(service: ChallengerService):
        agent = poai_agent(service, _Stall)
        outcome = await asyncio.wait_for(agent.run_once(), 30)
        return outcome, service.reports[-1], _metrics(service)

    outcome, report, metrics = poai_run(body, deadline_floor_s=1.0)
    assert outcome.score == 0.0 and not outcome.ok and outcome.strikes == 0
    assert outcome.status == "node_fault"
    assert report.failure_code == "timeout" and report.failed_stage == "compute"
    assert "no compute commitment within" in " ".join(outcome.reasons)
    assert 'poai_sessions_failed_total{reason="timeout"} 1.0' in metrics


def test_concurrent_session_limit_refuses_with_a_reason(poai_run, poai_agent) -> None:
    async def body(service: ChallengerService):
        staller = asyncio.create_task(poai_agent(service, _Stall).run_once())
        while service.active_sessions < 1:
            await asyncio.sleep(0.01)
        with pytest.raises(SessionError, match="RESOURCE_EXHAUSTED.*limit of 1 sessions"):
            await poai_agent(service).run_once()
        staller.cancel()
        await asyncio.gather(staller, return_exceptions=True)

    poai_run(body, max_concurrent_sessions=1, deadline_floor_s=30.0)


def test_restart_keeps_history(tmp_path, poai_agent) -> None:
    db = tmp_path / "restart.sqlite"

    async def one_life(agent: NodeAgent | None):
        service = ChallengerService(
            ChallengerConfig(port=0, metrics_port=None, db=str(db), plan="lightweight:compute")
        )
        await service.start()
        try:
            agent = agent or poai_agent(service)
            agent.config.challenger = f"127.0.0.1:{service.port}"
            outcome = await agent.run_once()
            node = service.store.get_score(agent._solver.key.node_id)
            return agent, outcome, node
        finally:
            await service.stop()

    agent, first, node1 = asyncio.run(one_life(None))
    _, second, node2 = asyncio.run(one_life(agent))  # a new process-lifetime of the challenger, same file
    assert node1.sessions == 1 and node2.sessions == 2
    assert second.smoothed_score > first.smoothed_score  # built on the stored history, not from scratch
    store = IntegrityStore(db)
    assert [s.session_id for s in store.session_history(node2.node_id)] == [
        second.session_id,
        first.session_id,
    ]
    store.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_node_reconnects_with_backoff_until_the_challenger_is_up(tmp_path, poai_agent) -> None:
    port = _free_port()

    async def body():
        from poai.node.agent import NodeAgent as _Agent

        dummy = type("S", (), {"port": port})()
        agent: _Agent = poai_agent(
            dummy,
            connect_timeout_s=0.3,
            backoff_initial_s=0.1,
            backoff_max_s=0.5,
            max_sessions=1,
            interval_s=0.0,
        )
        runner = asyncio.create_task(agent.run())
        await asyncio.sleep(1.5)  # several failed dials
        assert agent.sessions_run == 0
        service = ChallengerService(
            ChallengerConfig(
                port=port,
                metrics_port=None,
                db=str(tmp_path / "late.sqlite"),
                plan="lightweight:compute",
            )
        )
        await service.start()
        try:
            await asyncio.wait_for(runner, 30)
        finally:
            await service.stop()
        return agent

    agent = asyncio.run(body())
    assert agent.sessions_run == 1 and agent.last_outcome is not None and agent.last_outcome.ok


def test_backoff_is_exponential_with_full_jitter_and_capped() -> None:
    import random

    gen = backoff_delays(1.0, 8.0, 2.0, random.Random(7))
    delays = [next(gen) for _ in range(200)]
    caps = [min(8.0, 2.0**i) for i in range(200)]
    assert all(0.0 <= d <= c for d, c in zip(delays, caps))
    assert max(delays[:3]) < 4.0 and max(delays[50:]) > 4.0  # grows, then stays under the cap
    assert len(set(round(d, 6) for d in delays)) > 150  # jittered, not a fixed schedule


def test_node_refuses_an_unexpected_challenger(poai_run, poai_agent) -> None:
    async def body(service: ChallengerService):
        agent = poai_agent(service, expected_challenger_id="the-real-one")
        with pytest.raises(SessionError, match="refusing to sign"):
            await agent.run_once()
        await asyncio.sleep(0.2)
        return service.reports[-1]

    report = poai_run(body)
    assert report.node_id is None and report.failure_code == "disconnected"


def test_refused_hellos_are_not_stored(poai_run, poai_agent, tmp_path) -> None:
    from poai.node.adversarial import BadSignature

    async def body(service: ChallengerService):
        agent = poai_agent(service, BadSignature)
        outcome = await agent.run_once()
        return outcome, agent._solver.key.node_id, _metrics(service)

    outcome, node_id, metrics = poai_run(body)
    assert outcome.score == 0 and "bad_signature" in outcome.reasons[0]
    assert 'poai_hello_rejected_total{code="bad_signature"} 1.0' in metrics
    store = IntegrityStore(tmp_path / "poai.sqlite")
    assert store.get_score(node_id) is None  # nobody proved they own that id
    store.close()


def test_message_size_limit_is_enforced(poai_run, poai_agent) -> None:
    from poai.node.adversarial import OversizedOpening

    class Big(OversizedOpening):
        pad_bytes = 2 << 20

    async def body(service: ChallengerService):
        agent = poai_agent(service, Big)
        with pytest.raises(SessionError, match="RESOURCE_EXHAUSTED"):
            await agent.run_once()
        for _ in range(100):
            if service.reports:
                break
            await asyncio.sleep(0.05)
        return service.reports[-1]

    report = poai_run(body, max_message_bytes=1 << 20)
    assert report.failure_code == "disconnected" and report.failed_stage == "compute"
    assert "1048576-byte limit" in report.failure_reason


def test_json_log_lines(poai_run, poai_agent, caplog) -> None:
    from edge_sdk.serving.logs import JsonFormatter

    async def body(service: ChallengerService):
        await poai_agent(service).run_once()

    with caplog.at_level("INFO", logger="poai.challenger"):
        poai_run(body)
    ended = [r for r in caplog.records if r.getMessage() == "session ended"]
    assert ended
    doc = json.loads(JsonFormatter().format(ended[-1]))
    assert doc["level"] == "info" and doc["score"] == 1.0 and doc["verified"] is True
    assert doc["checks"] == {"compute": True, "memory": True, "latency": True}


def test_node_config_embedding_defaults() -> None:
    cfg = NodeConfig()
    assert cfg.device == "auto" and cfg.backoff_max_s >= cfg.backoff_initial_s
    claim = NodeClaim("cpu", "m", 1 << 20, 0.1)
    assert claim.to_core().tflops == 0.1


def test_stopping_mid_session_records_it_without_a_strike(tmp_path, poai_agent) -> None:
    db = tmp_path / "stop.sqlite"

    async def body():
        service = ChallengerService(ChallengerConfig(port=0, metrics_port=None, db=str(db),
                                                     plan="lightweight:compute", deadline_floor_s=60.0))
        await service.start()
        agent = poai_agent(service, _Stall)
        node = asyncio.create_task(agent.run_once())
        while service.active_sessions < 1:
            await asyncio.sleep(0.01)
        await service.stop(grace_s=0.2)  # drains: running sessions are cancelled after the grace period
        with pytest.raises(SessionError):
            await asyncio.wait_for(node, 10)
        return agent._solver.key.node_id

    node_id = asyncio.run(body())
    store = IntegrityStore(db)
    (session,) = store.session_history(node_id)
    store.close()
    assert session.score == 0.0 and not session.strike
    assert session.reasons[0].startswith("session incomplete (shutdown)")


def test_agent_remeasures_its_measured_bandwidth_before_each_later_session(poai_run, monkeypatch) -> None:
    """A node that measured its own bandwidth claim measures it again before every later session and signs
    the fresh claim; a bandwidth the operator set is never
    re-measured."""
    from edge_sdk.identity import NodeKey
    from poai.node import device

    calls: list[int] = []
    real_measure = device.measure_memory_bandwidth_gbs

    def counted(*args, **kwargs):
        calls.append(1)
        return real_measure(*args, **kwargs)

    monkeypatch.setattr(device, "measure_memory_bandwidth_gbs", counted)

    async def body(service: ChallengerService):
        def agent(**overrides):
            cfg = dict(challenger=f"127.0.0.1:{service.port}", backends=(), connect_timeout_s=5.0,
                       device="cpu", claim_tflops=0.0005, claim_memory_bytes=32 << 20)
            return NodeAgent(NodeConfig(**{**cfg, **overrides}), key=NodeKey.generate())

        measured = agent()
        claims = []
        for _ in range(3):
            outcome = await measured.run_once()
            assert outcome.ok, outcome.reasons
            claims.append(measured.claim)
        after_measured = len(calls)
        fixed = agent(claim_memory_bandwidth_gbs=1.5)
        for _ in range(2):
            await fixed.run_once()
        return claims, after_measured, fixed.claim

    claims, after_measured, fixed_claim = poai_run(body, plan="lightweight:compute,memory")
    assert after_measured == 3  # the first claim, then once before each of the two later sessions
    assert all(c.memory_bandwidth_gbs > 0 for c in claims)
    assert len(calls) == 3 and fixed_claim.memory_bandwidth_gbs == 1.5  # set by the operator: kept
