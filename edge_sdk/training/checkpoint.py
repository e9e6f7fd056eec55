"""Resumable training state: written atomically every few optimizer steps, read back on restart.

A checkpoint is a folder `checkpoints/step-<N>` holding the adapter's trainable tensors, the optimizer and
scheduler state, every RNG state the run draws from (dropout masks), and where the run stands. It is built
under a temporary name and renamed into place, so a process killed while writing leaves the previous
checkpoint as the latest complete one. The run's fingerprint (recipe, data, base model, starting adapter) is
stored beside it: a checkpoint is never resumed into a different run.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

KEEP = 2
STATE_FILE = "state.pt"
META_FILE = "meta.json"


@dataclass(frozen=True)
class Position:
    step: int  # optimizer steps done
    epoch: int  # epoch of the next step
    index: int  # index of the next step within that epoch's plan


def _rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state(), "python": random.getstate(),
                             "numpy": np.random.get_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save(folder: Path, position: Position, fingerprint: str, trainable: dict[str, torch.Tensor], optimizer: Any,
         scheduler: Any, extra: dict[str, Any]) -> Path:
    """Write checkpoint `step-<N>` under `folder` atomically; keep the newest KEEP."""
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"step-{position.step:08d}"
    tmp = folder / f".tmp-step-{position.step:08d}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    torch.save({"trainable": {k: v.detach().cpu().clone() for k, v in trainable.items()},
                "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "rng": _rng_state()},
               tmp / STATE_FILE)
    meta = {"step": position.step, "epoch": position.epoch, "index": position.index, "fingerprint": fingerprint,
            **extra}
    (tmp / META_FILE).write_text(json.dumps(meta, indent=2))
    for f in (tmp / STATE_FILE, tmp / META_FILE):
        with open(f, "rb") as fh:
            os.fsync(fh.fileno())
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    for old in sorted(p for p in folder.glob("step-*") if p.is_dir())[:-KEEP]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def latest(folder: Path) -> Path | None:
    """The newest complete checkpoint, or None."""
    done = sorted(p for p in folder.glob("step-*") if (p / META_FILE).is_file() and (p / STATE_FILE).is_file())
    return done[-1] if done else None


def meta(path: Path) -> dict[str, Any]:
    return json.loads((path / META_FILE).read_text())


def restore(path: Path, trainable: dict[str, torch.Tensor], optimizer: Any, scheduler: Any) -> Position:
    """Load a checkpoint into the live tensors and optimizer; returns where to continue."""
    state = torch.load(path / STATE_FILE, map_location="cpu", weights_only=False)
    with torch.no_grad():
        for name, tensor in trainable.items():
            tensor.copy_(state["trainable"][name].to(tensor.device))
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    _set_rng_state(state["rng"])
    m = meta(path)
    return Position(int(m["step"]), int(m["epoch"]), int(m["index"]))
