"""The federation coordinator: a gRPC service that clients dial out to, which runs the task's rounds.

    service = CoordinatorService(CoordinatorConfig(port=0, db="federation.sqlite", task=FederationTask()))
    await service.start()          # gRPC + health + reflection (+ /metrics)
    await service.wait_finished()  # every round done (or the task failed)
    await service.stop()
"""

from edge_sdk.federation.coordinator.config import CoordinatorConfig
from edge_sdk.federation.coordinator.server import CoordinatorService

__all__ = ["CoordinatorConfig", "CoordinatorService"]
