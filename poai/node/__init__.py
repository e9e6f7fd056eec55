"""The node agent: dials a challenger and answers its challenges on the best local device."""

from poai.node.agent import NodeAgent, NodeConfig, SessionError, SessionOutcome
from poai.node.solver import Solver

__all__ = ["NodeAgent", "NodeConfig", "SessionError", "SessionOutcome", "Solver"]
