"""What every edgeproof gRPC server shares (the PoAI challenger, the federation coordinator): TLS credentials
from PEM files and JSON log lines."""
