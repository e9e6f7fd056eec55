"""Where miners publish datasets and the validator fetches them, pinned to the committed revision.

`LocalDatasetStore` (the default, a folder; content-addressed: the revision is the sha256 of the data, so what
the validator reads is exactly what was committed) and `HuggingFaceDatasetStore` (a dataset repo, pinned by
commit; `huggingface_hub` honours its offline cache, `HF_HUB_OFFLINE=1`). Each revision holds `data.jsonl` and,
when the miner is backed by a PoAI node, `link.json` (validator/datasets/link.py).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from edge_sdk.errors import EdgeProofError, InvalidRequestError
from validator.datasets.link import NodeLink
from validator.datasets.refs import DatasetRef

DATA_FILE = "data.jsonl"
LINK_FILE = "link.json"


class FetchError(EdgeProofError):
    """The committed dataset cannot be fetched at its revision (missing, changed, unreachable)."""


@dataclass(frozen=True)
class FetchedDataset:
    ref: DatasetRef
    path: Path  # data.jsonl at exactly the committed revision
    link: NodeLink | None
    link_problem: str | None = None  # a link.json that does not parse


def _read_link(path: Path) -> tuple[NodeLink | None, str | None]:
    if not path.is_file():
        return None, None
    try:
        return NodeLink.from_json(path.read_bytes()), None
    except (ValueError, KeyError, TypeError) as exc:
        return None, f"link.json does not parse: {exc}"


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class LocalDatasetStore:
    def __init__(self, root: str | Path = "datasets") -> None:
        self.root = Path(root).expanduser()

    def publish(self, name: str, data: bytes, link: NodeLink | None = None) -> DatasetRef:
        ref = DatasetRef.parse(f"local:{name}@{hashlib.sha256(data).hexdigest()}")
        folder = self.root / ref.repo / ref.revision
        if link is not None:
            _atomic_write(folder / LINK_FILE, link.to_json().encode())
        _atomic_write(folder / DATA_FILE, data)  # the data last: a revision with data.jsonl is complete
        return ref

    def fetch(self, ref: DatasetRef) -> FetchedDataset:
        if ref.store != "local":
            raise InvalidRequestError(f"{ref} is not in the local dataset store")
        folder = self.root / ref.repo / ref.revision
        path = folder / DATA_FILE
        if not path.is_file():
            raise FetchError(f"{ref} is not in the dataset store {self.root}: nothing was published at that revision")
        if _sha256_file(path) != ref.revision:
            raise FetchError(f"{ref}: the stored file no longer matches its revision (sha256); it was changed after "
                             "it was committed")
        link, problem = _read_link(folder / LINK_FILE)
        return FetchedDataset(ref, path, link, problem)


class HuggingFaceDatasetStore:
    """A Hugging Face dataset repo per miner; the commitment pins the commit sha."""

    def __init__(self, token: str | None = None, cache_dir: str | Path | None = None) -> None:
        self.token = token
        self.cache_dir = str(cache_dir) if cache_dir else None

    def publish(self, repo: str, data: bytes, link: NodeLink | None = None) -> DatasetRef:
        from huggingface_hub import CommitOperationAdd, HfApi

        api = HfApi(token=self.token)
        api.create_repo(repo, repo_type="dataset", exist_ok=True)
        operations = [CommitOperationAdd(DATA_FILE, data)]
        if link is not None:
            operations.append(CommitOperationAdd(LINK_FILE, link.to_json().encode()))
        info = api.create_commit(repo, operations, commit_message="edgeproof dataset", repo_type="dataset")
        return DatasetRef("hf", repo, info.oid)

    def fetch(self, ref: DatasetRef) -> FetchedDataset:
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import EntryNotFoundError

        try:
            path = Path(hf_hub_download(ref.repo, DATA_FILE, repo_type="dataset", revision=ref.revision,
                                        token=self.token, cache_dir=self.cache_dir))
        except Exception as exc:  # noqa: BLE001 - offline without a cached copy, unknown repo or revision
            raise FetchError(f"cannot fetch {ref}: {exc}") from None
        try:
            link_path = Path(hf_hub_download(ref.repo, LINK_FILE, repo_type="dataset", revision=ref.revision,
                                             token=self.token, cache_dir=self.cache_dir))
        except EntryNotFoundError:
            return FetchedDataset(ref, path, None)
        except Exception:  # noqa: BLE001 - the data came, the link did not: treated as no link
            return FetchedDataset(ref, path, None, "link.json could not be fetched")
        link, problem = _read_link(link_path)
        return FetchedDataset(ref, path, link, problem)


class DatasetStores:
    """Fetch any reference from the store its prefix names."""

    def __init__(self, local: LocalDatasetStore, hf: HuggingFaceDatasetStore | None = None) -> None:
        self.local, self.hf = local, hf or HuggingFaceDatasetStore()

    def fetch(self, ref: DatasetRef) -> FetchedDataset:
        return self.local.fetch(ref) if ref.store == "local" else self.hf.fetch(ref)
