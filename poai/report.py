"""Integrity scores for people (rich tables) and for the validator (plain dicts / JSON).

    from poai.report import integrity_scores, node_standings, verified_capacity
    scores = integrity_scores("poai.sqlite")      # {node_id: effective score in [0, 1]}
    capacity = verified_capacity("poai.sqlite")   # {node_id: {"matmul_tops": ..., "verified_memory_bytes": ...}}
    standing = node_standings("poai.sqlite")      # {node_id: NodeStanding}: all of the above + failed, for the validator

The effective score is the smoothed history, or 0 while the node is banned for recent strikes
(poai.scoring). `db` is what the challenger's --db was: an SQLite path or a postgresql:// URL. The
challenger may be writing while this reads: readers see the last committed sessions without blocking it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.table import Table


@contextmanager
def _open(db: str | Path) -> Iterator[Any]:
    """The store at `db` (an SQLite path or a postgresql:// URL), which must already exist."""
    from edge_sdk.storage import StorageError
    from poai.store import IntegrityStore

    try:
        store = IntegrityStore(db, must_exist=True)
    except StorageError as exc:
        if str(exc).startswith("no database at"):
            raise StorageError(f"no integrity database at {db}: run a challenger with --db {db} first") from None
        raise
    try:
        yield store
    finally:
        store.close()


def integrity_scores(db: str | Path, now: float | None = None) -> dict[str, float]:
    """{node_id: effective integrity score in [0, 1]} for every node the challenger has seen."""
    with _open(db) as store:
        return {n.node_id: float(n.effective) for n in store.list_scores(now)}


def verified_capacity(db: str | Path) -> dict[str, dict[str, float]]:
    """{node_id: what its latest session proved on the challenger's clock}: matmul_tops (8-bit integer
    operands, exact accumulation), verified_memory_bytes, memory_bandwidth_gbs, rtt_ms, ttft_ms,
    tokens_per_s. Empty when the latest session proved nothing. The claim is never used here."""
    with _open(db) as store:
        return {n.node_id: store.capacity(n.node_id) for n in store.list_scores()}


@dataclass(frozen=True)
class NodeStanding:
    """What the validator needs of one node, read in one place (`node_standings`).

    integrity: the effective score in [0, 1] (0 when banned); failed: the node's latest session was struck or
    the node is banned, so the miner it backs gets zero weight; capacity: what its latest session proved
    (see `verified_capacity`), empty when nothing was proved."""

    node_id: str
    integrity: float
    banned: bool
    latest_struck: bool
    sessions: int
    capacity: dict[str, float]

    @property
    def failed(self) -> bool:
        return self.banned or self.latest_struck


def node_standings(db: str | Path, now: float | None = None) -> dict[str, NodeStanding]:
    """{node_id: NodeStanding} for every node the challenger has seen: the validator's one read of PoAI."""
    with _open(db) as store:
        out = {}
        for n in store.list_scores(now):
            latest = store.session_history(n.node_id, limit=1)
            out[n.node_id] = NodeStanding(
                node_id=n.node_id, integrity=float(n.effective), banned=n.banned,
                latest_struck=bool(latest and latest[0].strike), sessions=n.sessions,
                capacity=dict(store.capacity(n.node_id) or {}))
        return out


def _session_dict(rec: Any) -> dict[str, Any]:
    return {
        "session_id": rec.session_id,
        "started_at": rec.started_at,
        "finished_at": rec.finished_at,
        "score": rec.score,
        "strike": rec.strike,
        "smoothed_after": rec.smoothed_after,
        "reasons": list(rec.reasons),
        "components": dict(rec.components),
        "checks": [c.to_dict() for c in rec.checks],
        "claim": rec.claim.to_dict(),
        "status": rec.status,
        "capacity": dict(rec.capacity or {}),
    }


def load_report(
    db: str | Path, *, node_id: str | None = None, limit: int = 20, now: float | None = None
) -> dict[str, Any]:
    """Everything `edgeproof poai report` shows, as JSON-ready data.

    {"generated_at", "db", "nodes": [{node_id, score, smoothed, last_score, sessions, strikes_total,
    recent_strikes, banned, updated_at, last_reasons, claim}], "sessions": [...] (with node_id only)}
    """
    now = time.time() if now is None else now
    with _open(db) as store:
        nodes = []
        for n in store.list_scores(now):
            if node_id is not None and n.node_id != node_id:
                continue
            last = store.session_history(n.node_id, 1)
            nodes.append(
                {
                    "node_id": n.node_id,
                    "score": float(n.effective),
                    "smoothed": n.smoothed,
                    "last_score": n.last_score,
                    "sessions": n.sessions,
                    "strikes_total": n.strikes_total,
                    "recent_strikes": n.recent_strikes,
                    "banned": n.banned,
                    "updated_at": n.updated_at,
                    "last_reasons": list(last[0].reasons) if last else [],
                    "claim": last[0].claim.to_dict() if last else None,
                    "last_status": last[0].status if last else None,
                    "capacity": store.capacity(n.node_id),
                }
            )
        nodes.sort(key=lambda d: (-d["score"], d["node_id"]))
        data: dict[str, Any] = {"generated_at": now, "db": store.url, "nodes": nodes}
        if node_id is not None:
            data["sessions"] = [_session_dict(r) for r in store.session_history(node_id, limit)]
    return data


def _score_style(score: float) -> str:
    return "green" if score >= 0.8 else "yellow" if score >= 0.4 else "red"


def _ago(ts: float, now: float) -> str:
    d = max(0.0, now - ts)
    for unit, secs in (("d", 86400), ("h", 3600), ("m", 60)):
        if d >= secs:
            return f"{d / secs:.0f}{unit} ago"
    return f"{d:.0f}s ago"


def _short(node_id: str) -> str:
    return node_id if len(node_id) <= 24 else f"{node_id[:14]}…{node_id[-6:]}"


def report_table(data: dict[str, Any]) -> Table:
    now = data["generated_at"]
    table = Table(title=f"PoAI integrity ({len(data['nodes'])} nodes, {data['db']})", show_lines=False)
    for col, kw in (
        ("node", {}),
        ("score", {"justify": "right"}),
        ("last", {"justify": "right"}),
        ("sessions", {"justify": "right"}),
        ("strikes", {"justify": "right"}),
        ("claimed", {}),
        ("verified (last session)", {}),
        ("updated", {}),
        ("reasons (last session)", {"overflow": "fold"}),
    ):
        table.add_column(col, **kw)
    for n in data["nodes"]:
        claim = n["claim"] or {}
        claim_text = (
            (
                f"{claim.get('device_kind', '?')} {claim.get('gpu_model', '')[:24]} "
                f"{claim.get('tflops', 0):.3g} TOPS {claim.get('memory_bytes', 0) / 2**30:.2f} GiB"
            )
            if claim
            else ""
        )
        score = f"[{_score_style(n['score'])}]{n['score']:.3f}[/]" + (
            " [red]banned[/]" if n["banned"] else ""
        )
        table.add_row(
            _short(n["node_id"]),
            score,
            f"{n['last_score']:.3f}",
            str(n["sessions"]),
            f"{n['recent_strikes']} ({n['strikes_total']} total)",
            claim_text,
            capacity_text(n.get("capacity") or {}),
            _ago(n["updated_at"], now),
            "; ".join(n["last_reasons"]),
        )
    return table


def capacity_text(cap: dict[str, float]) -> str:
    """Verified capacity in a few words ("nothing proved" when the session failed)."""
    parts = []
    if "matmul_tops" in cap:
        parts.append(f"{cap['matmul_tops']:.3g} TOPS")
    if "verified_memory_bytes" in cap:
        parts.append(f"{cap['verified_memory_bytes'] / 2**20:.0f} MiB")
    if "memory_bandwidth_gbs" in cap:
        parts.append(f"{cap['memory_bandwidth_gbs']:.2f} GB/s")
    if "rtt_ms" in cap:
        parts.append(f"RTT {cap['rtt_ms']:.1f} ms")
    return ", ".join(parts) or "nothing proved"


def sessions_table(data: dict[str, Any]) -> Table:
    now = data["generated_at"]
    table = Table(title="recent sessions", show_lines=True)
    for col in ("when", "score", "status", "checks", "reasons"):
        table.add_column(col, overflow="fold")
    for s in data.get("sessions", []):
        checks = ", ".join(
            f"[{'green' if c['passed'] else 'red'}]{c['name']}[/]" + _check_figure(c) for c in s["checks"]
        )
        table.add_row(
            _ago(s["finished_at"], now),
            f"{s['score']:.3f}",
            s.get("status", "ok") + (" (strike)" if s["strike"] else ""),
            checks,
            "; ".join(s["reasons"]),
        )
    return table


def _check_figure(check: dict[str, Any]) -> str:
    m = check.get("metrics", {})
    if check["name"] == "compute" and "matmul_tops" in m:
        return f" {m['matmul_tops']:.3g} TOPS"
    if check["name"] == "memory" and "nonce_bandwidth_gbs" in m:
        return f" {m.get('verified_bytes', 0) / 2**20:.0f} MiB {m['nonce_bandwidth_gbs']:.2f} GB/s"
    if check["name"] == "latency" and "rtt_median_ms" in m:
        return f" {m['rtt_median_ms']:.1f} ms"
    if check["name"] == "inference" and "argmax_agreement" in m:
        return f" agree {m['argmax_agreement']:.2f}"
    return ""


def outcome_table(outcome: Any) -> Table:
    """One session as the node saw it (`edgeproof poai node --once`)."""
    table = Table(
        title=f"session {outcome.session_id[:12]}: score {outcome.score:.3f} "
        f"(history {outcome.smoothed_score:.3f}, strikes {outcome.strikes})"
    )
    for col in ("check", "passed", "reason", "figures"):
        table.add_column(col, overflow="fold")
    for c in outcome.checks:
        figures = ", ".join(
            f"{k}={v:.4g}"
            for k, v in sorted(c["metrics"].items())
            if k
            in (
                "matmul_tops",
                "matmul_tops_ratio",
                "verified_bytes",
                "bandwidth_ratio",
                "rtt_subtracted_ms",
                "node_seconds",
                "verify_node_ratio",
                "nonce_bandwidth_gbs",
                "rtt_median_ms",
                "argmax_agreement",
                "ttft_ms",
                "tokens_per_s",
            )
        )
        table.add_row(c["name"], "[green]yes[/]" if c["passed"] else "[red]no[/]", c["reason"], figures)
    if outcome.reasons:
        table.caption = "; ".join(outcome.reasons)
    return table
