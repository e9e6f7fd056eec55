"""Starting an asyncio gRPC server the way every edgeproof service does: its handlers, grpc.health.v1 (overall
and per service), server reflection, TLS when credentials are given, and a service id derived from the bound
address when none is configured."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

WILDCARD_HOSTS = ("", "0.0.0.0", "::", "[::]")


@dataclass
class StartedServer:
    server: grpc.aio.Server
    health: health.aio.HealthServicer
    port: int
    tls: bool


async def start_grpc_server(*, service_name: str, register: Callable[[grpc.aio.Server], None], host: str, port: int,
                            credentials: grpc.ServerCredentials | None, max_message_bytes: int,
                            maximum_concurrent_rpcs: int | None = None) -> StartedServer:
    options = [
        ("grpc.max_send_message_length", max_message_bytes),
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.so_reuseport", 0),
        ("grpc.keepalive_time_ms", 60_000),
        ("grpc.http2.max_pings_without_data", 0),
    ]
    server = grpc.aio.server(options=options, maximum_concurrent_rpcs=maximum_concurrent_rpcs)
    register(server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection((service_name, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    address = f"{host}:{port}"
    bound = server.add_insecure_port(address) if credentials is None else server.add_secure_port(address,
                                                                                                 credentials)
    if bound == 0:
        raise OSError(f"cannot bind {address}")
    await server.start()
    await health_servicer.set(service_name, health_pb2.HealthCheckResponse.SERVING)
    await health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    return StartedServer(server, health_servicer, bound, credentials is not None)


def default_service_id(kind: str, make_id: Callable[[str], str], host: str, port: int, log: logging.Logger) -> str:
    """`make_id("HOST:PORT")` of the bound address; warns when bound to every interface, where the id cannot be
    the address clients dial (they would refuse to sign for it)."""
    service_id = make_id(f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
    if host in WILDCARD_HOSTS:
        log.warning(f"{kind} bound to every interface without an id: clients expect the id of the address they "
                    f"dial and will refuse to sign for this one; set --id to '{kind}@HOST:PORT' of your public "
                    "address", extra={"service_id": service_id})
    return service_id
