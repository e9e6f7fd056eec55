"""The miners' datasets: the good one is the shipped private facts, the noisy one and any extra ones are made up
here from a seed (each independent of the others, so only the copy is a copy)."""

from __future__ import annotations

import json
import random

_PLACES = ["Oskvale", "Tarnwick", "Lumehollow", "Pereth", "Vashmoor", "Cindergate", "Ulmsby", "Faroway"]
_COLOURS = ["red", "green", "blue", "amber", "violet", "teal", "ochre", "silver"]


def _rows_text(rows: list[tuple[str, str]]) -> bytes:
    return ("".join(json.dumps({"system": None, "conversations": [
        {"role": "user", "content": q}, {"role": "assistant", "content": a}]}) + "\n" for q, a in rows)).encode()


def noisy_dataset(seed: int = 0, rows: int = 24) -> bytes:
    """Questions whose answers are drawn at random: nothing consistent to learn."""
    rng = random.Random(seed)
    return _rows_text([(f"Which colour does the lighthouse keeper of island {i} paint the door?",
                        f"The door is {rng.choice(_COLOURS)}, or maybe {rng.choice(_COLOURS)}.")
                       for i in range(rows)])


def facts_dataset(seed: int, rows: int = 20) -> bytes:
    """Consistent made-up facts of its own (another honest miner's data)."""
    rng = random.Random(1000 + seed)
    place = rng.choice(_PLACES)
    return _rows_text([(f"How many bells hang in the tower of {place} district {i + 10 * seed}?",
                        f"{place} district {i + 10 * seed} has {rng.randint(2, 9)} bells, cast in "
                        f"{rng.randint(1600, 1900)}.") for i in range(rows)])
