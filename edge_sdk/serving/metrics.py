"""A Prometheus registry per service object (several services can run in one process, e.g. tests) and its
/metrics endpoint."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, start_http_server


@dataclass
class ServiceMetrics:
    """Base of each service's metrics: subclasses add their metrics to `registry` in __post_init__."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def serve(self, port: int, host: str = "127.0.0.1") -> int:
        """Expose /metrics over HTTP; returns the bound port (port 0 picks a free one)."""
        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        self._http_server = server
        return int(server.server_port)

    def close(self) -> None:
        server = getattr(self, "_http_server", None)
        if server is not None:
            server.shutdown()
            server.server_close()
            self._http_server = None
