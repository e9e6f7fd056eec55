"""The storage layer's one error type: a database that cannot be used as it is, said with what to do."""

from edge_sdk.errors import EdgeProofError


class StorageError(EdgeProofError):
    """Unreachable server, wrong credentials, a newer schema, a file that is not a database..."""
