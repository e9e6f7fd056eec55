"""Aggregation rules for federated LoRA, one per module (like Flower's strategies), each a plain function
`rule(updates, **params) -> Aggregate` over named arrays; `aggregate(name, updates, **params)` picks one.

- fedavg / fedprox: mean weighted by examples (FedProx's proximal term is on the client).
- median, trimmed_mean, krum, multi_krum: robust to a minority of poisoned updates (unweighted).
- ffa_lora: exact for adapters trained with A frozen at a shared seed.
- product_average: exact mean of the B_i A_i products, factored back to rank r by SVD.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any

from edge_sdk.errors import InvalidRequestError
from edge_sdk.federation.aggregation.base import Aggregate, ClientUpdate
from edge_sdk.federation.aggregation.fedavg import fedavg
from edge_sdk.federation.aggregation.ffa_lora import ffa_lora
from edge_sdk.federation.aggregation.krum import krum, multi_krum
from edge_sdk.federation.aggregation.median import coordinate_median
from edge_sdk.federation.aggregation.product_average import product_average
from edge_sdk.federation.aggregation.trimmed_mean import trimmed_mean

RULES: dict[str, Callable[..., Aggregate]] = {
    "fedavg": fedavg,
    "fedprox": fedavg,
    "median": coordinate_median,
    "trimmed_mean": trimmed_mean,
    "krum": krum,
    "multi_krum": multi_krum,  # num_selected defaults to n - num_byzantine
    "ffa_lora": ffa_lora,
    "product_average": product_average,
}


def rule_params(rule: str) -> list[str]:
    """The keyword parameters a rule takes besides the updates."""
    return list(inspect.signature(RULES[rule]).parameters)[1:]


def aggregate(rule: str, updates: Iterable[ClientUpdate], **params: Any) -> Aggregate:
    """Aggregate `updates` with the rule named `rule`, passing it `params`."""
    if rule not in RULES:
        raise InvalidRequestError(f"unknown aggregation rule {rule!r}: use one of {', '.join(sorted(RULES))}")
    known = rule_params(rule)
    unknown = sorted(set(params) - set(known))
    if unknown:
        takes = f"it takes {', '.join(known)}" if known else "it takes no parameters"
        raise InvalidRequestError(f"aggregation rule {rule!r} has no parameter "
                                  f"{', '.join(map(repr, unknown))}: {takes}")
    return RULES[rule](updates, **params)


__all__ = ["RULES", "Aggregate", "ClientUpdate", "aggregate", "rule_params"]
