"""Errors a user can act on.

Every message says what was wrong and what to do about it, so the CLI can print it as-is instead of a
stack trace from deep inside a library.
"""


class EdgeProofError(Exception):
    """Base class: a problem with the input or the environment that the user can fix."""


class ModelNotFoundError(EdgeProofError):
    """A model name, path or hub id that resolves to nothing usable."""


class ModelCorruptError(EdgeProofError):
    """A model file exists but cannot be read (truncated download, wrong format, half-written cache)."""


class BackendUnavailableError(EdgeProofError):
    """An inference backend that is unknown or whose package is not installed."""


class InvalidRequestError(EdgeProofError, ValueError):
    """A generation request with bad values (sampling settings, empty messages, prompt too long...)."""
