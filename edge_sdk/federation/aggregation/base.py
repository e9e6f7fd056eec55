"""What every aggregation rule takes and returns, and the checks they share.

A rule is a plain function `rule(updates, **params) -> Aggregate` over named arrays: no model, no torch,
no network, so each one can be tested (and reasoned about) on its own.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edge_sdk.errors import InvalidRequestError
from edge_sdk.federation.tensors import AdapterTensors, update_problems


@dataclass(frozen=True)
class ClientUpdate:
    """One client's adapter tensors after local training, and how many examples it trained on."""

    client_id: str
    tensors: AdapterTensors
    num_examples: int


@dataclass
class Aggregate:
    """The aggregated tensors (float32) and rule-specific facts, e.g. which clients Krum selected."""

    tensors: AdapterTensors
    info: dict[str, Any] = field(default_factory=dict)


def check_updates(updates: Iterable[ClientUpdate], weighted: bool = False) -> list[ClientUpdate]:
    """The updates as a list, after checking there is at least one, client ids are unique, all have the
    first update's names and shapes with finite values, and (for weighted rules) num_examples >= 1."""
    updates = list(updates)
    if not updates:
        raise InvalidRequestError("no client updates to aggregate: at least one is needed")
    repeated = sorted(i for i, n in Counter(u.client_id for u in updates).items() if n > 1)
    if repeated:
        raise InvalidRequestError(f"client(s) {', '.join(map(repr, repeated))} sent more than one update: "
                                  "keep one per client, or each would count twice")
    first = updates[0]
    for u in updates:
        problems = update_problems(first.tensors, u.tensors)
        if problems:
            against = "" if u is first else f" (compared with the update from {first.client_id!r})"
            raise InvalidRequestError(f"the update from {u.client_id!r} cannot be aggregated{against}: "
                                      + " ".join(problems))
        if weighted and (isinstance(u.num_examples, bool) or not isinstance(u.num_examples, (int, np.integer))
                         or u.num_examples < 1):
            raise InvalidRequestError(f"the update from {u.client_id!r} has num_examples={u.num_examples!r}: "
                                      "a weighted rule needs a whole number >= 1")
    return updates


def check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InvalidRequestError(f"{name} must be a whole number >= {minimum}, not {value!r}")
    return int(value)


def check_float(name: str, value: Any) -> float:
    number = isinstance(value, (int, float, np.floating)) and not isinstance(value, bool)
    if not number or not math.isfinite(value):
        raise InvalidRequestError(f"{name} must be a finite number, not {value!r}")
    return float(value)


def weights(updates: Sequence[ClientUpdate]) -> np.ndarray:
    """num_examples normalised to sum to 1 (float64)."""
    counts = np.array([u.num_examples for u in updates], dtype=np.float64)
    return counts / counts.sum()


def weighted_mean(updates: Sequence[ClientUpdate], w: np.ndarray, names: Iterable[str] | None = None
                  ) -> AdapterTensors:
    """sum_i w_i x_i per tensor, accumulated in float64, returned as float32."""
    out = {}
    for name in names if names is not None else updates[0].tensors:
        acc = np.zeros(np.shape(updates[0].tensors[name]), dtype=np.float64)
        for wi, u in zip(w, updates):
            acc += wi * np.asarray(u.tensors[name], dtype=np.float64)
        out[name] = acc.astype(np.float32)
    return out


def stacked(updates: Sequence[ClientUpdate], name: str) -> np.ndarray:
    """Tensor `name` of every update stacked on a new first axis (float64)."""
    return np.stack([np.asarray(u.tensors[name], dtype=np.float64) for u in updates])


def client_weights(updates: Sequence[ClientUpdate], w: np.ndarray) -> dict[str, float]:
    return {u.client_id: float(wi) for u, wi in zip(updates, w)}
