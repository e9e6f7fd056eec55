"""The training engine: LoRA fine-tuning of a causal LM on chat rows, and its evaluation loss.

    trainer = LoraTrainer(model=None, recipe=CPU_RECIPE)          # SmolLM2 by default
    result = trainer.train(rows, "my-adapter")                    # resumes from my-adapter/checkpoints
    trainer.evaluate(eval_rows)                                   # mean loss per assistant token

One optimizer step is `recipe.rows_per_step` rows (the FLock OFF recipe: 8); the engine computes them in as
few micro-batches as the memory estimate allows (length-grouped, so padding stays small) and takes the loss
only where it is needed: logits are computed for assistant positions alone, not for every prompt token. The
step's gradient is the mean over its rows' assistant tokens whatever the micro-batching (without dropout the
adapter is the same for any micro-batch size; with dropout the masks are drawn per micro-batch, so a resumed
run keeps the micro-batch it started with). Deterministic under `recipe.seed`: the same data, recipe, seed and
micro-batch give the same adapter, also across a kill and resume (checkpoint.py). With `recipe.proximal_mu > 0` the FedProx term
mu/2 * ||w - w_start||^2 pulls the adapter towards the one training started from (federation).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import resource
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from edge_sdk.errors import BackendUnavailableError, InvalidRequestError
from edge_sdk.models.validate import require_adapter_folder
from edge_sdk.training import checkpoint
from edge_sdk.training.batching import collate, micro_batches, padding_fraction, plan_epoch
from edge_sdk.training.data import ChatRow
from edge_sdk.training.encode import IGNORE, EncodedRow, encode_rows
from edge_sdk.training.memory_plan import MemoryPlan, ModelShape, budget_from_available, plan_micro_batch
from edge_sdk.runtime.chat import DEFAULT_SYSTEM_PROMPT
from edge_sdk.training.recipe import CPU_RECIPE, LoraRecipe

RESULT_FILE = "training.json"
# transformers loads weights through a process-wide meta-device context: two threads loading at once (an app
# with a federated client beside a coordinator, tests) can see each other's meta tensors. Loads take turns.
_LOAD_LOCK = threading.Lock()


@dataclass(frozen=True)
class TrainProgress:
    step: int
    total_steps: int
    epoch: int
    loss: float  # mean assistant-token loss of the last step
    tokens_per_s: float  # trained (assistant) + context tokens computed per second, whole run so far
    elapsed_s: float


@dataclass(frozen=True)
class TrainResult:
    adapter_dir: str
    steps: int
    total_steps: int
    rows: int
    tokens: int  # tokens computed (prompt + answer, no padding)
    trained_tokens: int  # assistant tokens the loss was taken on
    seconds: float
    tokens_per_s: float
    final_loss: float
    micro_batch: int
    padding_fraction: float
    peak_rss_bytes: int
    resumed_from_step: int
    recipe: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _peak_rss() -> int:
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def _fingerprint(parts: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:24]


class LoraTrainer:
    """One base model, one recipe. `model`: a model reference for `edge_sdk.models.resolve_model` (None:
    the default SmolLM2). `init_adapter`: a peft folder to start from (federation: the global adapter)."""

    def __init__(self, model: Any = None, recipe: LoraRecipe = CPU_RECIPE, *, init_adapter: str | os.PathLike | None = None,
                 device: str | None = None, memory_budget_bytes: int | None = None,
                 default_system: str | None = DEFAULT_SYSTEM_PROMPT) -> None:
        try:
            import torch
            from peft import PeftModel, get_peft_model
            from transformers import AutoModelForCausalLM
        except ImportError as exc:  # pragma: no cover - depends on installed extras
            raise BackendUnavailableError(f"training needs torch, transformers and peft "
                                          f"(pip install 'edgeproof[train]'): {exc}") from exc
        from edge_sdk.models import resolve_model

        self._torch = torch
        self.recipe = recipe
        self.assets = resolve_model(model)
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.default_system = default_system
        self.tokenizer = self.assets.tokenizer()
        with _LOAD_LOCK:
            base = AutoModelForCausalLM.from_pretrained(self.assets.hf_dir(), dtype=torch.float32)
            self.shape = ModelShape.of(base)
            torch.manual_seed(recipe.seed)  # LoRA A's initialisation
            if init_adapter is not None:
                path = require_adapter_folder(init_adapter)
                self.model = PeftModel.from_pretrained(base, str(path), is_trainable=True)
            else:
                self.model = get_peft_model(base, recipe.to_peft_config())
        if recipe.freeze_lora_a:
            for name, param in self.model.named_parameters():
                if "lora_A" in name:
                    param.requires_grad_(False)
        self.model.to(self.device)
        self.init_adapter = str(init_adapter) if init_adapter else None
        self._memory_budget = memory_budget_bytes
        pad = self.tokenizer.pad_token_id
        self.pad_id = int(pad if pad is not None else self.tokenizer.eos_token_id)

    # ---------------------------------------------------------------------------------------- plumbing
    def trainable(self) -> dict[str, Any]:
        return {n: p for n, p in self.model.named_parameters() if p.requires_grad}

    def encode(self, rows: Sequence[ChatRow]) -> list[EncodedRow]:
        """Rows -> ids and labels under this recipe's context (errors name the lines)."""
        return encode_rows(self.tokenizer, list(rows), self.recipe.max_seq_len, self.default_system)

    def memory_plan(self, longest: int) -> MemoryPlan:
        budget = self._memory_budget
        if budget is None:
            if self.device.startswith("cuda"):
                free, _total = self._torch.cuda.mem_get_info()
                budget = budget_from_available(int(free))
            else:
                from edge_sdk.device.profile import collect_profile

                available = collect_profile(0.0, probe_torch=False).memory.effective_available or 0
                budget = budget_from_available(int(available))
        return plan_micro_batch(self.shape, self.recipe.r, longest, self.recipe.rows_per_step, budget)

    def _loss_sum(self, rows: Sequence[EncodedRow]) -> tuple[Any, int]:
        """Sum of assistant-token losses of a micro-batch, with logits only at labelled positions."""
        torch = self._torch
        ids, mask, labels = collate(rows, self.pad_id)
        ids_t = torch.tensor(ids, device=self.device)
        mask_t = torch.tensor(mask, device=self.device)
        labels_t = torch.tensor(labels, device=self.device)
        causal_lm = self.model.get_base_model()
        hidden = causal_lm.get_decoder()(input_ids=ids_t, attention_mask=mask_t, use_cache=False).last_hidden_state
        target = labels_t[:, 1:]
        keep = target != IGNORE
        logits = causal_lm.get_output_embeddings()(hidden[:, :-1][keep]).float()
        loss = torch.nn.functional.cross_entropy(logits, target[keep], reduction="sum")
        return loss, int(keep.sum())

    # ------------------------------------------------------------------------------------------ train
    def train(self, rows: Sequence[ChatRow], out_dir: str | os.PathLike, *, resume: bool = True,
              progress: Callable[[TrainProgress], None] | None = None,
              stop_after_steps: int | None = None, should_stop: Callable[[], bool] | None = None) -> TrainResult:
        """Train on `rows`, write the adapter to `out_dir` (peft folder + training.json). Checkpoints go to
        `out_dir/checkpoints` every `recipe.checkpoint_every` steps; with `resume` a run with the same
        fingerprint continues from the newest one. `stop_after_steps` ends the call early (as a kill would,
        but cleanly) after that many steps in total: for tests and for time-sliced training. `should_stop` is
        asked before every step; when it returns True the run stops the same way (an app's cancel button, or
        federation when the device stops being eligible). An early stop returns `steps < total_steps`."""
        torch = self._torch
        recipe = self.recipe
        encoded = self.encode(rows)
        out = Path(out_dir).expanduser()
        lengths = [len(r) for r in encoded]
        plan = self.memory_plan(max(lengths))
        epochs = [plan_epoch(lengths, recipe.rows_per_step, recipe.seed, e) for e in range(recipe.epochs)]
        total = sum(len(e) for e in epochs)
        if recipe.max_steps is not None:
            total = min(total, recipe.max_steps)
        fingerprint = _fingerprint({"recipe": recipe.to_dict(), "data": [(r.input_ids, r.labels) for r in encoded],
                                    "model": self.assets.name, "init": self.init_adapter})
        done = out / RESULT_FILE
        if resume and done.is_file() and json.loads(done.read_text()).get("fingerprint") == fingerprint:
            return TrainResult(**json.loads(done.read_text())["result"])

        trainable = self.trainable()
        start = {n: p.detach().clone() for n, p in trainable.items()} if recipe.proximal_mu > 0 else {}
        optimizer = torch.optim.AdamW(list(trainable.values()), lr=recipe.learning_rate,
                                      weight_decay=recipe.weight_decay)

        def lr_factor(step: int) -> float:
            warm = min(1.0, (step + 1) / recipe.warmup_steps) if recipe.warmup_steps else 1.0
            decay = 1.0 if recipe.lr_schedule == "constant" else max(0.0, 1.0 - step / total)
            return warm * decay

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)
        ckpt_dir = out / "checkpoints"
        position = checkpoint.Position(0, 0, 0)
        if resume and (last := checkpoint.latest(ckpt_dir)) is not None:
            if checkpoint.meta(last).get("fingerprint") != fingerprint:
                raise InvalidRequestError(
                    f"{out} holds checkpoints of a different run (other data, recipe, model or starting "
                    "adapter): train into another folder, or start over with resume=False (--no-resume)")
            position = checkpoint.restore(last, trainable, optimizer, scheduler)
            # dropout masks depend on how rows are grouped: keep the interrupted run's micro-batch
            plan = dataclasses.replace(plan, micro_batch=int(checkpoint.meta(last).get("micro_batch",
                                                                                       plan.micro_batch)))
        elif not resume:
            shutil.rmtree(ckpt_dir, ignore_errors=True)
        resumed_from = position.step

        self.model.train()
        t0 = time.perf_counter()
        tokens = trained = 0
        step, loss_value = position.step, float("nan")
        for epoch in range(position.epoch, recipe.epochs):
            for index, step_rows in enumerate(epochs[epoch]):
                if (epoch, index) < (position.epoch, position.index):
                    continue
                if step >= total or (stop_after_steps is not None and step >= stop_after_steps):
                    break
                if should_stop is not None and should_stop():
                    break
                batch = [encoded[i] for i in step_rows]
                n_tokens = sum(r.trained_tokens for r in batch)
                step_loss = 0.0
                for mb in micro_batches(range(len(batch)), plan.micro_batch):
                    rows_mb = [batch[i] for i in mb]
                    loss_sum, _n = self._loss_sum(rows_mb)
                    (loss_sum / n_tokens).backward()
                    step_loss += float(loss_sum.detach()) / n_tokens
                    tokens += sum(len(r) for r in rows_mb)
                if recipe.proximal_mu > 0:
                    prox = sum(((p - start[n]) ** 2).sum() for n, p in trainable.items())
                    (0.5 * recipe.proximal_mu * prox).backward()
                torch.nn.utils.clip_grad_norm_(list(trainable.values()), recipe.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                trained += n_tokens
                step += 1
                loss_value = step_loss
                elapsed = time.perf_counter() - t0
                if progress is not None:
                    progress(TrainProgress(step, total, epoch, loss_value, tokens / max(elapsed, 1e-9), elapsed))
                if step % recipe.checkpoint_every == 0 and step < total:
                    self._checkpoint(ckpt_dir, epochs, step, fingerprint, trainable, optimizer, scheduler,
                                     {"loss": loss_value, "micro_batch": plan.micro_batch})
            else:
                continue
            break
        elapsed = time.perf_counter() - t0
        result = TrainResult(
            adapter_dir=str(out), steps=step, total_steps=total, rows=len(encoded), tokens=tokens,
            trained_tokens=trained, seconds=round(elapsed, 3), tokens_per_s=round(tokens / max(elapsed, 1e-9), 1),
            final_loss=loss_value, micro_batch=plan.micro_batch,
            padding_fraction=round(padding_fraction(encoded, [s for e in epochs for s in e], plan.micro_batch), 4),
            peak_rss_bytes=_peak_rss(), resumed_from_step=resumed_from, recipe=recipe.to_dict(),
        )
        if step < total:  # stopped early on request: keep a checkpoint exactly here
            self._checkpoint(ckpt_dir, epochs, step, fingerprint, trainable, optimizer, scheduler,
                             {"loss": loss_value, "micro_batch": plan.micro_batch})
            return result
        self._save_adapter(out, result, fingerprint)
        shutil.rmtree(ckpt_dir, ignore_errors=True)
        return result

    @staticmethod
    def _checkpoint(folder: Path, epochs: list[list[list[int]]], step: int, fingerprint: str, trainable: Any,
                    optimizer: Any, scheduler: Any, extra: dict[str, Any]) -> None:
        """Checkpoint after `step` optimizer steps; the run continues at step number `step` (0-based) of
        the plan, i.e. at (epoch, index)."""
        seen, position = 0, (len(epochs), 0)
        for e, plan in enumerate(epochs):
            if step < seen + len(plan):
                position = (e, step - seen)
                break
            seen += len(plan)
        checkpoint.save(folder, checkpoint.Position(step, *position), fingerprint, trainable, optimizer, scheduler,
                        extra)

    def save_adapter(self, out_dir: str | os.PathLike) -> Path:
        """Write the current adapter (e.g. a fresh one: A from `recipe.seed`, B = 0) as a peft folder; federation
        starts its first global adapter this way."""
        out = Path(out_dir).expanduser()
        self._write_peft_folder(out)
        return out

    def _write_peft_folder(self, out: Path) -> None:
        out.mkdir(parents=True, exist_ok=True)
        tmp = out / f".tmp-adapter-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        self.model.save_pretrained(str(tmp))
        files = sorted(tmp.iterdir(), key=lambda p: p.name == "adapter_config.json")
        for f in files:
            os.replace(f, out / f.name)
        tmp.rmdir()

    def _save_adapter(self, out: Path, result: TrainResult, fingerprint: str) -> None:
        """The peft folder, written beside and moved in file by file (config last: a folder with a config
        is complete), then training.json."""
        self._write_peft_folder(out)
        (out / RESULT_FILE).write_text(json.dumps({"fingerprint": fingerprint, "result": result.to_json()},
                                                  indent=2))

    # --------------------------------------------------------------------------------------- evaluate
    def evaluate(self, rows: Sequence[ChatRow] | Sequence[EncodedRow], micro_batch: int = 8) -> float:
        """Mean loss per assistant token over `rows` (no dropout, no gradient)."""
        torch = self._torch
        encoded = [r for r in rows if isinstance(r, EncodedRow)] or self.encode(rows)  # type: ignore[arg-type]
        order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i]))
        was_training = self.model.training
        self.model.eval()
        total_loss, total_tokens = 0.0, 0
        try:
            with torch.no_grad():
                for mb in micro_batches(order, micro_batch):
                    loss_sum, n = self._loss_sum([encoded[i] for i in mb])
                    total_loss += float(loss_sum)
                    total_tokens += n
        finally:
            self.model.train(was_training)
        return total_loss / max(total_tokens, 1) if total_tokens else math.nan
