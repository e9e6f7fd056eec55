"""Health-check latency probe: calls grpc.health.v1 Check in a loop from its own thread and channel, so a
load test can show the challenger stays responsive while it runs sessions."""

from __future__ import annotations

import statistics
import threading
import time
from dataclasses import dataclass, field


@dataclass
class ProbeStats:
    samples_s: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, float]:
        s = sorted(self.samples_s)
        if not s:
            return {"count": 0.0, "failures": float(len(self.failures))}
        return {
            "count": float(len(s)),
            "failures": float(len(self.failures)),
            "p50_ms": 1000 * statistics.median(s),
            "p95_ms": 1000 * s[min(len(s) - 1, int(0.95 * len(s)))],
            "p99_ms": 1000 * s[min(len(s) - 1, int(0.99 * len(s)))],
            "max_ms": 1000 * s[-1],
        }


class HealthProbe:
    """`with HealthProbe("127.0.0.1:port") as probe: ...; probe.stats.summary()`."""

    def __init__(
        self, target: str, interval_s: float = 0.05, timeout_s: float = 5.0, service: str = ""
    ) -> None:
        self.target = target
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.service = service
        self.stats = ProbeStats()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="health-probe", daemon=True)

    def _loop(self) -> None:
        import grpc
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        with grpc.insecure_channel(self.target) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            req = health_pb2.HealthCheckRequest(service=self.service)
            while not self._stop.is_set():
                t0 = time.perf_counter()
                try:
                    resp = stub.Check(req, timeout=self.timeout_s)
                    dt = time.perf_counter() - t0
                    if resp.status == health_pb2.HealthCheckResponse.SERVING:
                        self.stats.samples_s.append(dt)
                    else:
                        self.stats.failures.append(f"status {resp.status}")
                except grpc.RpcError as exc:
                    self.stats.failures.append(f"{exc.code().name}: {exc.details()}")
                self._stop.wait(self.interval_s)

    def __enter__(self) -> HealthProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=self.timeout_s + 1)
