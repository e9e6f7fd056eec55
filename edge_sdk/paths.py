"""Where edgeproof keeps derived files (converted models, exports).

One directory, overridable with EDGEPROOF_CACHE_DIR, so a device with a small home partition or a CI job
can point it elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "EDGEPROOF_CACHE_DIR"


def cache_dir() -> Path:
    """The root cache directory (created on demand)."""
    root = os.environ.get(CACHE_ENV)
    path = Path(root).expanduser() if root else Path.home() / ".cache" / "edgeproof"
    path.mkdir(parents=True, exist_ok=True)
    return path
