"""The validator: one round = sync the chain, take in every miner's dataset, score what is new, turn losses and PoAI
integrity into weights, and set them once per epoch. `run()` repeats rounds at the configured interval.

    validator = Validator(ValidatorConfig(eval_data="eval.jsonl"), chain=LocalChain("chain.sqlite"), key=key)
    report = validator.run_round()        # a dict: intake verdicts, losses, weights with reasons, what was set

State (validator/service/state.py) makes a restart safe: finished scores are never lost or recomputed, and
weights are set at most once per epoch.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from edge_sdk.training.data import ChatRow, load_chat_jsonl
from edge_sdk.training.recipe import preset as recipe_preset
from validator.chain.base import Chain, ChainError
from validator.datasets.limits import DatasetLimits
from validator.datasets.store import DatasetStores, LocalDatasetStore
from validator.scoring.runner import InProcessRunner, JobResult
from validator.scoring.scorer import ScoreJob
from validator.service.intake import MinerIntake, run_intake
from validator.service.metrics import ValidatorMetrics
from validator.service.state import ScoreRecord, ValidatorState
from validator.weights import WeightConfig, weights_from_losses

log = logging.getLogger("edgeproof.validator")


@dataclass(frozen=True)
class ValidatorConfig:
    eval_data: str | Path = "eval.jsonl"  # the validator's fixed eval set (chat JSONL)
    state_db: str = "validator.sqlite"
    poai_db: str | None = "poai.sqlite"  # the challenger's --db; None: no PoAI (every miner's integrity is 0)
    datasets_root: str | Path = "datasets"  # the local dataset store
    preset: str = "validator-cpu"  # the LoRA recipe datasets are scored with (edge_sdk/training/recipe.py)
    model: str | None = None  # the fixed base model (None: SmolLM2-135M-Instruct)
    seed: int = 0
    limits: DatasetLimits = field(default_factory=DatasetLimits)
    weights: WeightConfig = field(default_factory=WeightConfig)
    interval_s: float = 60.0
    workdir: str | Path = "validator-work"
    threads: int | None = None  # torch threads per scoring job


class Validator:
    def __init__(self, config: ValidatorConfig, *, chain: Chain, key: Any, runner: Any = None,
                 state: ValidatorState | None = None, stores: DatasetStores | None = None,
                 metrics: ValidatorMetrics | None = None) -> None:
        self.config = config
        self.chain = chain
        self.key = key  # signs weights: a NodeKey (LocalChain) or a bittensor Wallet
        self.hotkey = getattr(key, "node_id", None) or key.hotkey.ss58_address
        self.runner = runner or InProcessRunner()
        self.state = state or ValidatorState(config.state_db)
        self.stores = stores or DatasetStores(LocalDatasetStore(config.datasets_root))
        self.metrics = metrics or ValidatorMetrics()
        self.eval_rows = tuple(load_chat_jsonl(config.eval_data))
        self.recipe = recipe_preset(config.preset)
        self._tokenizer: Any = None

    # ------------------------------------------------------------------------------------------ helpers
    def count_tokens(self, row: ChatRow) -> int:
        if self._tokenizer is None:
            from edge_sdk.models import resolve_model

            self._tokenizer = resolve_model(self.config.model).tokenizer()
        return len(self._tokenizer.apply_chat_template(row.messages(), tokenize=True))

    def _limits(self) -> DatasetLimits:
        """The configured limits, with rows no longer than the scoring recipe's context."""
        return self.config.limits.within_context(self.recipe.max_seq_len)

    def _standings(self) -> dict[str, Any]:
        db = self.config.poai_db
        if not db or ("://" not in db and not Path(db).exists()):
            return {}
        from poai.report import node_standings

        return node_standings(db)

    # -------------------------------------------------------------------------------------------- round
    def run_round(self, progress: Callable[[str, dict[str, Any]], None] | None = None) -> dict[str, Any]:
        started = time.time()
        block = self.chain.block()
        epoch = self.chain.epoch(block)
        neurons = self.chain.neurons()
        commitments = self.chain.commitments()
        standings = self._standings()
        intakes = run_intake(netuid=self.chain.netuid, neurons=neurons, commitments=commitments, stores=self.stores,
                             limits=self._limits(), count_tokens=self.count_tokens, known_nodes=set(standings),
                             exclude={self.hotkey})
        for i in intakes:
            self.metrics.intake.labels(i.status).inc()
        losses = self._score(intakes, progress)
        weights, new_ema, details = self._weights(intakes, losses, standings)
        submitted = self._set_weights(epoch, block, weights, new_ema, {i.miner: i.uid for i in intakes})
        report = {
            "block": block, "epoch": epoch, "seconds": round(time.time() - started, 3),
            "miners": [{**i.summary(), "eval_loss": losses.get(i.miner),
                        "weight": weights.get(i.miner, 0.0), "why": self._why(i, weights, details, standings),
                        "detail": details[i.miner].to_dict() if i.miner in details else None} for i in intakes],
            "weights": weights, "set_weights": submitted,
        }
        self.state.save_round(epoch, block, report)
        self.metrics.rounds.inc()
        self.metrics.block.set(block)
        log.info("round done", extra={"block": block, "epoch": epoch, "miners": len(intakes),
                                      "scored": len(losses), "weights_set": bool(submitted)})
        return report

    @staticmethod
    def _why(i: MinerIntake, weights: dict[str, float], details: dict[str, Any], standings: dict[str, Any]) -> str:
        """One sentence: why this miner got no weight ("" when it got some)."""
        if weights.get(i.miner, 0.0) > 0:
            return ""
        if i.status != "ok":
            return "; ".join(i.reasons)
        if i.node_id is None:
            return i.node_reason or "no verified PoAI node"
        standing = standings.get(i.node_id)
        if standing is None:
            return f"its PoAI node {i.node_id} has no session on record yet"
        if standing.failed:
            return f"its PoAI node {i.node_id} failed PoAI (" + ("banned" if standing.banned else
                                                                 "latest session struck") + ")"
        detail = details.get(i.miner)
        return (detail.reason if detail is not None and detail.reason else "") or "no score this round"

    def _score(self, intakes: list[MinerIntake], progress: Callable[[str, dict[str, Any]], None] | None
               ) -> dict[str, float]:
        """Eval loss per valid miner: cached ones read, new ones trained (each stored the moment it finishes)."""
        losses: dict[str, float] = {}
        jobs: list[ScoreJob] = []
        owners: dict[str, MinerIntake] = {}
        for i in intakes:
            if i.status != "ok":
                continue
            cached = self.state.score(i.miner, i.revision, self.config.preset)
            if cached is not None and cached.status == "scored" and cached.eval_loss is not None:
                losses[i.miner] = cached.eval_loss
                continue
            key = f"{i.miner[:48]}-{i.revision[:16]}-{self.config.preset}"
            jobs.append(ScoreJob(key=key, rows=tuple(i.rows), eval_rows=self.eval_rows, preset=self.config.preset,
                                 model=self.config.model, workdir=str(Path(self.config.workdir).expanduser()),
                                 seed=self.config.seed, threads=self.config.threads))
            owners[key] = i
        for n, result in enumerate(self.runner.run(jobs), 1):
            i = owners[result.job.key]
            self._store_result(i, result)
            if result.outcome is not None:
                losses[i.miner] = result.outcome.eval_loss
            if progress is not None:
                progress("scored", {"done": n, "total": len(jobs), "miner": i.miner,
                                    "eval_loss": None if result.outcome is None else result.outcome.eval_loss,
                                    "error": result.error})
        return losses

    def _store_result(self, i: MinerIntake, result: JobResult) -> None:
        if result.outcome is not None:
            o = result.outcome
            record = ScoreRecord(i.miner, i.revision, self.config.preset, "scored", o.eval_loss, "",
                                 {**o.to_dict(), "attempts": result.attempts})
            self.metrics.score_seconds.observe(o.train_seconds + o.eval_seconds)
            self.metrics.scored.labels("scored").inc()
        else:
            record = ScoreRecord(i.miner, i.revision, self.config.preset, "failed", None, result.error or "",
                                 {"attempts": result.attempts})
            self.metrics.scored.labels("failed").inc()
            log.warning("scoring failed", extra={"miner": i.miner, "error": result.error})
        self.state.save_score(record)

    def _weights(self, intakes: list[MinerIntake], losses: dict[str, float], standings: dict[str, Any]
                 ) -> tuple[dict[str, float], dict[str, float], dict[str, Any]]:
        blocks = {i.miner: i.block for i in intakes if i.block}
        integrity, failed, capacity = {}, set(), {}
        for i in intakes:
            standing = standings.get(i.node_id) if i.node_id else None
            if standing is None:  # no verified node: cannot be paid, and takes no wins from those who can
                failed.add(i.miner)
                continue
            integrity[i.miner] = standing.integrity
            if standing.failed:
                failed.add(i.miner)
            tops = standing.capacity.get("matmul_tops") if standing.capacity else None
            if tops:
                capacity[i.miner] = float(tops)
        paid = {m: v for m, v in losses.items() if math.isfinite(v)}
        weights, new_ema, details = weights_from_losses(paid, blocks, self.state.ema(), integrity, failed,
                                                        self.config.weights, capacity=capacity or None)
        every = {i.miner: weights.get(i.miner, 0.0) for i in intakes}
        return every, new_ema, details

    def _set_weights(self, epoch: int, block: int, weights: dict[str, float], new_ema: dict[str, float],
                     uids: dict[str, int]) -> dict[str, Any] | None:
        """Once per epoch: recorded as pending, submitted, recorded as done (see state.py)."""
        state = self.state.weights_state(epoch)
        if state == "pending":  # a previous run died between recording and finishing: did the chain take it?
            last = self.chain.last_weights_block(self.hotkey)
            if last is not None and self.chain.epoch(last) == epoch:
                self.state.finish_weights(epoch, "done", {"block": last, "recovered": True})
                log.info("weights of this epoch were already set before a restart", extra={"epoch": epoch})
                return None
            state = None
            self.state.finish_weights(epoch, "retrying", {})
        if state not in (None, "retrying"):
            return None
        if state is None and not self.state.begin_weights(epoch, block, weights, new_ema):
            return None
        by_uid = {uids[m]: w for m, w in weights.items() if w > 0 and m in uids}
        if not by_uid:
            self.state.finish_weights(epoch, "skipped", {"reason": "no miner earned weight"})
            log.info("no miner earned weight this epoch; nothing set", extra={"epoch": epoch})
            return None
        try:
            submission = self.chain.set_weights(self.key, by_uid)
        except ChainError as exc:
            self.state.finish_weights(epoch, "failed", {"code": exc.code, "error": str(exc)})
            self.metrics.weights_set.labels("failed").inc()
            log.error("setting weights failed", extra={"epoch": epoch, "code": exc.code, "error": str(exc)})
            return {"error": str(exc), "code": exc.code}
        detail = asdict(submission)
        self.state.finish_weights(epoch, "done", detail)
        self.metrics.weights_set.labels("done").inc()
        log.info("weights set", extra={"epoch": epoch, "block": submission.block, "uids": list(submission.uids)})
        return detail

    # ---------------------------------------------------------------------------------------------- loop
    def run(self, stop: threading.Event, progress: Callable[[str, dict[str, Any]], None] | None = None,
            max_rounds: int | None = None) -> int:
        """Rounds every `interval_s` until `stop` is set; returns the number of rounds run."""
        rounds = 0
        while not stop.is_set():
            try:
                self.run_round(progress)
            except Exception:  # noqa: BLE001 - a chain hiccup must not end the service; the next round retries
                log.exception("round failed")
                self.metrics.round_errors.inc()
            rounds += 1
            if max_rounds is not None and rounds >= max_rounds:
                break
            stop.wait(self.config.interval_s)
        return rounds

    def close(self) -> None:
        self.runner.close()
        self.state.close()
