"""The challenger service: gRPC server, session driver, plans, metrics."""

from poai.challenger.config import ChallengerConfig
from poai.challenger.server import ChallengerService

__all__ = ["ChallengerConfig", "ChallengerService"]
