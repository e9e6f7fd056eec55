"""Federated LoRA: devices train on their own rows and send only adapter updates to a coordinator.

    edge_sdk.federation.task          FederationTask: model, recipe, rounds, selection, rule, privacy, encoding
    edge_sdk.federation.aggregation   the rules (FedAvg, median, trimmed mean, Krum, FFA-LoRA, product average)
    edge_sdk.federation.codec         tensor encodings on the wire (float32, zlib, int8 + zlib)
    edge_sdk.federation.privacy       local DP: clipping, Gaussian noise, the epsilon accountant
    edge_sdk.federation.client        FederatedClient, embeddable in an app's process
    edge_sdk.federation.coordinator   CoordinatorService, the gRPC server that runs the rounds
    edge_sdk.federation.store         what the coordinator persists (SQLite or PostgreSQL)

The wire contract is proto/federation.proto. Names below are imported on first use, so importing the package
does not load gRPC, torch or the coordinator.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "FederationTask": "edge_sdk.federation.task",
    "FederatedClient": "edge_sdk.federation.client.client",
    "ClientProgress": "edge_sdk.federation.client.client",
    "CoordinatorService": "edge_sdk.federation.coordinator.server",
    "CoordinatorConfig": "edge_sdk.federation.coordinator.config",
    "FederationStore": "edge_sdk.federation.store",
    "DPConfig": "edge_sdk.federation.privacy",
    "aggregate": "edge_sdk.federation.aggregation",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'edge_sdk.federation' has no attribute {name!r}")
