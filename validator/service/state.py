"""The validator's persisted state: every finished score (the cache: nothing is trained twice), intake verdicts,
the smoothed scores, and one row per epoch for the weights it set.

Any engine of `edge_sdk.storage` (SQLite by default). A score is written the moment it finishes, so a validator
killed mid-round keeps every finished score. Weights: the epoch's row is written as `pending` before the chain
call and marked `done` after it, so a validator killed between the two finds the pending row on restart and
checks the chain before setting anything again: weights are set at most once per epoch.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from edge_sdk.storage import Database, Migration, Schema, migrate, open_database

SCHEMA = Schema(component="validator", migrations=(
    Migration(1, "scores, verdicts, ema, weights", (
        """CREATE TABLE IF NOT EXISTS v_scores (
            miner TEXT NOT NULL,
            revision TEXT NOT NULL,
            preset TEXT NOT NULL,
            status TEXT NOT NULL,
            eval_loss DOUBLE PRECISION,
            reason TEXT NOT NULL,
            details_json TEXT NOT NULL,
            scored_at DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (miner, revision, preset)
        )""",
        """CREATE TABLE IF NOT EXISTS v_ema (
            miner TEXT PRIMARY KEY,
            value DOUBLE PRECISION NOT NULL,
            epoch INTEGER NOT NULL
        )""",
        """CREATE TABLE IF NOT EXISTS v_weights (
            epoch INTEGER PRIMARY KEY,
            state TEXT NOT NULL,
            block INTEGER NOT NULL,
            weights_json TEXT NOT NULL,
            submission_json TEXT NOT NULL,
            updated_at DOUBLE PRECISION NOT NULL
        )""",
        """CREATE TABLE IF NOT EXISTS v_rounds (
            round_id INTEGER PRIMARY KEY,
            epoch INTEGER NOT NULL,
            block INTEGER NOT NULL,
            report_json TEXT NOT NULL,
            finished_at DOUBLE PRECISION NOT NULL
        )""",
    )),
))


@dataclass(frozen=True)
class ScoreRecord:
    miner: str
    revision: str
    preset: str
    status: str  # "scored" or "failed" (training crashed: retried next round)
    eval_loss: float | None
    reason: str
    details: dict[str, Any]


class ValidatorState:
    def __init__(self, db: str | Database = "validator.sqlite") -> None:
        self.db = db if isinstance(db, Database) else open_database(db)
        migrate(self.db, SCHEMA)

    @property
    def url(self) -> str:
        return self.db.url.display

    def close(self) -> None:
        self.db.close()

    # ------------------------------------------------------------------------------------------ scores
    def score(self, miner: str, revision: str, preset: str) -> ScoreRecord | None:
        with self.db.read() as tx:
            row = tx.one("SELECT status, eval_loss, reason, details_json FROM v_scores WHERE miner = ? AND "
                         "revision = ? AND preset = ?", (miner, revision, preset))
        return None if row is None else ScoreRecord(miner, revision, preset, row[0], row[1], row[2],
                                                    json.loads(row[3]))

    def save_score(self, r: ScoreRecord) -> None:
        with self.db.transaction() as tx:
            tx.execute("INSERT INTO v_scores (miner, revision, preset, status, eval_loss, reason, details_json, "
                       "scored_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (miner, revision, preset) DO UPDATE "
                       "SET status = excluded.status, eval_loss = excluded.eval_loss, reason = excluded.reason, "
                       "details_json = excluded.details_json, scored_at = excluded.scored_at",
                       (r.miner, r.revision, r.preset, r.status, r.eval_loss, r.reason,
                        json.dumps(r.details, default=str), time.time()))

    def scores(self) -> list[ScoreRecord]:
        with self.db.read() as tx:
            rows = tx.all("SELECT miner, revision, preset, status, eval_loss, reason, details_json FROM v_scores "
                          "ORDER BY scored_at")
        return [ScoreRecord(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6])) for r in rows]

    # --------------------------------------------------------------------------------------------- ema
    def ema(self) -> dict[str, float]:
        with self.db.read() as tx:
            return {r[0]: float(r[1]) for r in tx.all("SELECT miner, value FROM v_ema")}

    def last_ema_epoch(self) -> int | None:
        with self.db.read() as tx:
            value = tx.scalar("SELECT MAX(epoch) FROM v_ema")
        return None if value is None else int(value)

    # ----------------------------------------------------------------------------------------- weights
    def weights_state(self, epoch: int) -> str | None:
        with self.db.read() as tx:
            return tx.scalar("SELECT state FROM v_weights WHERE epoch = ?", (epoch,))

    def begin_weights(self, epoch: int, block: int, weights: dict[str, float], ema: dict[str, float]) -> bool:
        """Record the intent to set weights in `epoch` together with the EMA they come from (one transaction);
        False when this epoch already has a row (pending or done): the caller must not set weights again."""
        with self.db.transaction() as tx:
            tx.lock("validator:weights")
            if tx.one("SELECT 1 FROM v_weights WHERE epoch = ?", (epoch,)) is not None:
                return False
            tx.execute("INSERT INTO v_weights (epoch, state, block, weights_json, submission_json, updated_at) "
                       "VALUES (?, 'pending', ?, ?, '{}', ?)", (epoch, block, json.dumps(weights), time.time()))
            tx.execute("DELETE FROM v_ema")
            for miner, value in ema.items():
                tx.execute("INSERT INTO v_ema (miner, value, epoch) VALUES (?, ?, ?)", (miner, value, epoch))
        return True

    def finish_weights(self, epoch: int, state: str, submission: dict[str, Any]) -> None:
        """state: "done" (the chain took them), "failed" (it refused: the row is kept, no retry this epoch)."""
        with self.db.transaction() as tx:
            tx.execute("UPDATE v_weights SET state = ?, submission_json = ?, updated_at = ? WHERE epoch = ?",
                       (state, json.dumps(submission, default=str), time.time(), epoch))

    def weights_history(self) -> list[dict[str, Any]]:
        with self.db.read() as tx:
            rows = tx.all("SELECT epoch, state, block, weights_json, submission_json FROM v_weights ORDER BY epoch")
        return [{"epoch": int(r[0]), "state": r[1], "block": int(r[2]), "weights": json.loads(r[3]),
                 "submission": json.loads(r[4])} for r in rows]

    # ------------------------------------------------------------------------------------------ rounds
    def save_round(self, epoch: int, block: int, report: dict[str, Any]) -> None:
        with self.db.transaction() as tx:
            next_id = int(tx.scalar("SELECT COALESCE(MAX(round_id) + 1, 1) FROM v_rounds"))
            tx.execute("INSERT INTO v_rounds (round_id, epoch, block, report_json, finished_at) VALUES (?, ?, ?, ?, ?)",
                       (next_id, epoch, block, json.dumps(report, default=str), time.time()))

    def last_round(self) -> dict[str, Any] | None:
        with self.db.read() as tx:
            row = tx.one("SELECT report_json FROM v_rounds ORDER BY round_id DESC LIMIT 1")
        return None if row is None else json.loads(row[0])
