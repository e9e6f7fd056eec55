"""The federated client, embeddable in an app (client.py), and what it runs per round."""

from edge_sdk.federation.client.client import ClientProgress, FederatedClient

__all__ = ["ClientProgress", "FederatedClient"]
