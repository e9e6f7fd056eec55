"""What the demo exists to show, as named checks over a run's figures (the tables, the page and the test share
them)."""

from __future__ import annotations

from typing import Any

CHECKS = (
    ("honest_nodes_pass", "every honest PoAI node passes"),
    ("cheat_caught", "the cheating node scores 0"),
    ("cheat_miner_zero_weight", "the cheating node's miner gets zero weight"),
    ("copy_below_original", "the later copy scores below the original"),
    ("good_miner_paid", "the good miner is paid"),
    ("adapter_beats_base", "the global adapter's eval loss beats the base model's"),
)


def outcomes(result: dict[str, Any]) -> dict[str, Any]:
    """The claims the demo exists to show, each checked against this run's figures."""
    nodes = {n["name"]: n for n in result["poai"]["nodes"]}
    miners = {m["role"]: m for m in result["subnet"]["miners"]}
    versions = [v for v in result["federation"]["versions"] if v["eval_loss"] is not None]
    base = versions[0]["eval_loss"] if versions and versions[0]["version"] == 0 else None
    final = versions[-1]["eval_loss"] if versions else None
    honest = [n for n in nodes.values() if n["role"] == "honest"]
    return {
        "honest_nodes_pass": all(n["score"] > 0 for n in honest),
        "cheat_caught": nodes["node-cheat"]["score"] == 0.0,
        "cheat_miner_zero_weight": miners["noisy"]["weight"] == 0.0,
        "copy_below_original": miners["copy"]["weight"] < miners["good"]["weight"],
        "good_miner_paid": miners["good"]["weight"] > 0.0,
        "adapter_beats_base": base is not None and final is not None and final < base,
        "base_eval_loss": base, "adapter_eval_loss": final,
    }


def all_held(result_outcomes: dict[str, Any]) -> bool:
    return all(bool(result_outcomes[key]) for key, _text in CHECKS)
