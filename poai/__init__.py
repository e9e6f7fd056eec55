"""poai: Proof-of-AI. A challenger measures what a node really has (TFLOPS, memory, latency, inference
correctness) with fresh-seed, commit-then-reveal challenges timed on the challenger's clock, and keeps an
integrity score per node for the validator.

    from poai import ChallengerService, ChallengerConfig      # run a challenger
    from poai import NodeAgent, NodeConfig                    # run / embed a node
    from poai import integrity_scores                         # what the validator reads

Names are imported lazily so `import poai` does not pull in gRPC or torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "ChallengerConfig",
    "ChallengerService",
    "NodeAgent",
    "NodeClaim",
    "NodeConfig",
    "NodeKey",
    "SessionOutcome",
    "integrity_scores",
]

_LAZY = {
    "ChallengerConfig": "poai.challenger.config",
    "ChallengerService": "poai.challenger.server",
    "NodeAgent": "poai.node.agent",
    "NodeConfig": "poai.node.agent",
    "SessionOutcome": "poai.node.agent",
    "NodeClaim": "poai.claim",
    "NodeKey": "edge_sdk.identity",
    "integrity_scores": "poai.report",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'poai' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
