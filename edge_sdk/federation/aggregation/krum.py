"""Krum and multi-Krum (Blanchard et al. 2017; Flower's Krum)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from edge_sdk.errors import InvalidRequestError
from edge_sdk.federation.aggregation.base import Aggregate, ClientUpdate, check_int, check_updates, stacked


def krum(updates: Iterable[ClientUpdate], num_byzantine: int = 1, num_selected: int = 1) -> Aggregate:
    """Average the `num_selected` updates with the lowest Krum score (unweighted): the sum of squared L2
    distances, over all tensors flattened together, to its n - f - 2 nearest other updates. An outlier is
    far from the honest majority, so it scores high and is left out. num_selected=1 is Krum, more is
    multi-Krum. Needs n > 2f + 2. info["selected"]: client ids, best first; info["scores"]: id -> score."""
    updates = check_updates(updates)
    n, f = len(updates), check_int("num_byzantine", num_byzantine, 0)
    if n <= 2 * f + 2:
        raise InvalidRequestError(
            f"Krum with num_byzantine={f} needs more than 2*{f}+2 = {2 * f + 2} updates, got {n}: each "
            "update is scored on its n-f-2 nearest neighbours, which must be honest ones. Collect at least "
            f"{2 * f + 3} updates or lower num_byzantine")
    m = check_int("num_selected", num_selected, 1)
    if m > n:
        raise InvalidRequestError(f"num_selected={m} is more than the {n} updates")
    names = sorted(updates[0].tensors)
    d2 = np.zeros((n, n))  # squared distances, summed tensor by tensor to keep one tensor in memory at a time
    for name in names:
        x = stacked(updates, name).reshape(n, -1)
        for i in range(n):
            d2[i] += ((x - x[i]) ** 2).sum(axis=1)
    scores = np.array([np.sort(np.delete(d2[i], i))[:n - f - 2].sum() for i in range(n)])
    chosen = np.argsort(scores, kind="stable")[:m]
    best = [updates[i] for i in chosen]
    tensors = {name: stacked(best, name).mean(axis=0).astype(np.float32) for name in names}
    return Aggregate(tensors, {"selected": [u.client_id for u in best],
                               "scores": {u.client_id: float(s) for u, s in zip(updates, scores)},
                               "num_byzantine": f})


def multi_krum(updates: Iterable[ClientUpdate], num_byzantine: int = 1, num_selected: int | None = None
               ) -> Aggregate:
    """Multi-Krum: krum() averaging the num_selected best-scored updates, by default n - f: every update
    but as many as may be Byzantine, so all the honest data is used when the attackers score worst."""
    updates = list(updates)
    if num_selected is None:
        num_selected = max(1, len(updates) - check_int("num_byzantine", num_byzantine, 0))
    return krum(updates, num_byzantine=num_byzantine, num_selected=num_selected)
