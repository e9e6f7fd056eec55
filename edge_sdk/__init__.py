"""edge_sdk: run, fine-tune and federate a small language model on the device it lives on.

The base layer of edgeproof. It never imports `poai` or `validator`.
"""

from edge_sdk.errors import (
    BackendUnavailableError,
    EdgeProofError,
    InvalidRequestError,
    ModelCorruptError,
    ModelNotFoundError,
)

__version__ = "0.1.0"

__all__ = [
    "BackendUnavailableError",
    "EdgeProofError",
    "InvalidRequestError",
    "ModelCorruptError",
    "ModelNotFoundError",
    "__version__",
]
