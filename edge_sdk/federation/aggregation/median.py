"""Coordinate-wise median (Yin et al. 2018; Flower's FedMedian)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from edge_sdk.federation.aggregation.base import Aggregate, ClientUpdate, check_updates, stacked


def coordinate_median(updates: Iterable[ClientUpdate]) -> Aggregate:
    """The unweighted median of each coordinate across clients (the mean of the middle two for an even
    count). Robust: while fewer than half the updates are poisoned, every coordinate stays within the
    range of the honest ones, however large the poisoned values. Weights are ignored, since a client
    could inflate its num_examples to win the median."""
    updates = check_updates(updates)
    tensors = {name: np.median(stacked(updates, name), axis=0).astype(np.float32)
               for name in updates[0].tensors}
    return Aggregate(tensors, {"num_updates": len(updates)})
