"""FedAvg (McMahan et al. 2017), also the server side of FedProx (whose proximal term is client-side)."""

from __future__ import annotations

from collections.abc import Iterable

from edge_sdk.federation.aggregation.base import Aggregate, ClientUpdate, check_updates, client_weights, \
    weighted_mean, weights


def fedavg(updates: Iterable[ClientUpdate]) -> Aggregate:
    """Every tensor's mean weighted by num_examples (float64 accumulation, float32 result).

    For LoRA this averages A and B separately, which is inexact: mean(B_i) mean(A_i) != mean(B_i A_i),
    so the merged adapter is not the average of the clients' weight changes (see ffa_lora and
    product_average for exact rules). info["weights"]: client id -> normalised weight."""
    updates = check_updates(updates, weighted=True)
    w = weights(updates)
    return Aggregate(weighted_mean(updates, w), {"weights": client_weights(updates, w)})
