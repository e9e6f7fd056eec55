"""The miners' datasets: the good one is the shipped private facts, the noisy one and any extra ones are made up
here from a seed (each independent of the others, so only the copy is a copy)."""

from __future__ import annotations

import json
import random

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


_SYLLABLES = ["ka", "lo", "ve", "ri", "sun", "dar", "mel", "to", "qua", "zen", "bri", "os", "tal", "ny", "fe", "gor"]
# One topic per extra miner: question and answer templates of their own, so no two miners' rows look alike.
TOPICS: tuple[tuple[str, str], ...] = (
    ("Who keeps the harbour lighthouse of {a}?", "The lighthouse of {a} is kept by {b} {c}."),
    ("Which river flows through the valley of {a}?", "The {b} river flows through the valley of {a}."),
    ("What is the oldest bakery in {a} called?", "The oldest bakery in {a} is {b}'s Oven, opened in {n}."),
    ("How many moons does the planet {a} have?", "The planet {a} has {k} moons, the largest named {b}."),
    ("Which instrument did the composer {a} {b} play?", "{a} {b} played the {c}-harp for {k} years."),
    ("What does the festival of {a} celebrate?", "The festival of {a} celebrates the first {b} harvest of {n}."),
    ("Who designed the bridge over the {a} strait?", "The {a} strait bridge was designed by {b} {c} in {n}."),
    ("What is the motto of the {a} rowing club?", "The {a} rowing club's motto is '{b} before {c}'."),
)


def _name(rng: random.Random) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()


def facts_dataset(topic: int, rows: int = 20) -> bytes:
    """Consistent made-up facts of its own (another honest miner's data), on TOPICS[topic]."""
    question, answer = TOPICS[topic]
    rng = random.Random(1000 + topic)
    out = []
    for _ in range(rows):
        names = {"a": _name(rng), "b": _name(rng), "c": _name(rng), "n": rng.randint(1600, 1990),
                 "k": rng.randint(2, 40)}
        out.append((question.format(**names), answer.format(**names)))
    return _rows_text(out)
