"""FFA-LoRA (Sun et al. 2024, "Improving LoRA in Privacy-preserving Federated Learning")."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from edge_sdk.errors import InvalidRequestError
from edge_sdk.federation.aggregation.base import Aggregate, ClientUpdate, check_updates, client_weights, \
    weighted_mean, weights
from edge_sdk.federation.tensors import lora_pairs


def ffa_lora(updates: Iterable[ClientUpdate]) -> Aggregate:
    """Keep the shared lora_A, average lora_B weighted by num_examples.

    FFA-LoRA freezes A at a seed shared by all clients and trains only B, so every client's A must be
    identical (checked exactly; an A that differs is an error). Then mean_w(B_i) A == mean_w(B_i A):
    averaging B alone is the exact average of the clients' weight changes (up to float rounding), which
    FedAvg of trained A and B is not. Tensors that are not LoRA factors are plain weighted means."""
    updates = check_updates(updates, weighted=True)
    first = updates[0]
    a_names = {a for a, _ in lora_pairs(first.tensors)}
    for name in sorted(a_names):
        for u in updates[1:]:
            if not np.array_equal(u.tensors[name], first.tensors[name]):
                raise InvalidRequestError(
                    f"FFA-LoRA needs the same frozen lora_A on every client, but {name} from {u.client_id!r} "
                    f"differs from {first.client_id!r}'s: clients must build A from the shared seed and not "
                    "train it (use product_average for adapters whose A was trained)")
    w = weights(updates)
    tensors = weighted_mean(updates, w, [n for n in first.tensors if n not in a_names])
    tensors.update({name: np.array(first.tensors[name], dtype=np.float32) for name in a_names})
    return Aggregate({n: tensors[n] for n in first.tensors}, {"weights": client_weights(updates, w)})
