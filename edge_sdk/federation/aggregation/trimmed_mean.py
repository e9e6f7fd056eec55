"""Coordinate-wise trimmed mean (Yin et al. 2018; Flower's FedTrimmedAvg)."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from edge_sdk.errors import InvalidRequestError
from edge_sdk.federation.aggregation.base import Aggregate, ClientUpdate, check_float, check_updates, stacked


def trimmed_mean(updates: Iterable[ClientUpdate], beta: float = 0.2) -> Aggregate:
    """Per coordinate, drop the floor(beta * n) smallest and largest values and average the rest
    (unweighted). Bounds the pull of up to floor(beta * n) poisoned updates while using more of the
    honest data than the median. info["trimmed_per_side"]: values dropped at each end."""
    updates = check_updates(updates)
    beta, n = check_float("beta", beta), len(updates)
    if beta < 0:
        raise InvalidRequestError(f"trimmed_mean's beta, the fraction trimmed at each end, must be >= 0, "
                                  f"not {beta}")
    trim = math.floor(beta * n + 1e-9)  # 1e-9: 0.29 * 100 is 28.999... in floating point
    if n - 2 * trim < 1:
        raise InvalidRequestError(f"trimmed_mean with beta={beta} and {n} updates drops {trim} values at "
                                  "each end, so nothing would remain: lower beta (below 0.5 always leaves "
                                  "some)")
    tensors = {}
    for name in updates[0].tensors:
        values = np.sort(stacked(updates, name), axis=0)
        tensors[name] = values[trim:n - trim].mean(axis=0).astype(np.float32)
    return Aggregate(tensors, {"trimmed_per_side": trim, "num_updates": n})
