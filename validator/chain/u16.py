"""The u16 weight vector a validator's weights become on chain, computed without bittensor.

A port of what bittensor 11.3.0's ``SetWeights`` intent does to ``{uid: weight}`` before it composes
``set_mechanism_weights`` (or encrypts the same vector into a timelocked commit), so the embedded LocalChain and
BittensorChain store identical vectors. Source read: ``bittensor/intents/weights.py`` in the 11.3.0 wheel:

- ``_as_pairs``: a mapping becomes parallel lists sorted by uid;
- ``_conform`` (non-raw path): unless the vector is a single self-weight, clip with ``clip_to_max_weight`` to the
  subnet's ``MaxWeightsLimit`` (u16; 65535 = no limit, the SDK's default when the storage is unset), then
  ``normalize``: max-upscale to 65535 with Python's ``round`` (half to even) and drop entries that round to 0;
- ``normalize`` rejects non-finite or negative weights and uids outside 0..65535.

``_conform`` also refuses (a) an all-zero vector ("All weights are zero; nothing to set.") and (b) fewer non-zero
entries than the subnet's ``MinAllowedWeights``. Those are refusals, not transformations: ``normalize_u16``
returns ``([], [])`` for (a) and leaves (b) to the caller; a chain must refuse both before storing anything.
"""

from __future__ import annotations

from itertools import accumulate
from math import isfinite

U16_MAX = 65535


def clip_to_max_weight(weights: list[float], limit: float) -> list[float]:
    """Normalise to sum 1 with no element above ``limit`` (a fraction), redistributing the clipped mass.

    Same algorithm and constants as ``bittensor.intents.weights.clip_to_max_weight`` (11.3.0). ``weights`` must
    have a positive sum. When ``len * limit <= 1`` no distribution fits and the uniform one is returned.
    """
    n = len(weights)
    total = float(sum(weights))
    if n == 0 or total <= 0:
        raise ValueError("all weights are zero; nothing to clip")
    if n * limit <= 1:
        return [1.0 / n] * n
    estimation = sorted(w / total for w in weights)
    if estimation[-1] <= limit:
        return [w / total for w in weights]
    epsilon = 1e-7
    cumsum = list(accumulate(estimation))
    n_values = sum(1 for i, e in enumerate(estimation) if e / ((n - i - 1) * e + cumsum[i] + epsilon) < limit)
    cutoff = (limit * cumsum[n_values - 1] - epsilon) / (1 - limit * (n - n_values)) * total
    clipped = [min(float(w), cutoff) for w in weights]
    clipped_total = sum(clipped)
    return [w / clipped_total for w in clipped]


def normalize_u16(weights: dict[int, float], *, max_weight_limit: int | None = None,
                  self_uid: int | None = None) -> tuple[list[int], list[int]]:
    """``{uid: weight}`` -> ``(uids, u16 values)`` exactly as bittensor 11's ``SetWeights`` submits them.

    ``max_weight_limit`` is the subnet's ``MaxWeightsLimit`` storage value (u16, ``None`` or 65535 = no clipping);
    ``self_uid`` is the submitting validator's own uid (a vector that is only ``{self_uid: w}`` is exempt from
    clipping, as on chain). Returns uids ascending, zeros dropped; ``([], [])`` when nothing is positive.
    Raises ``ValueError`` for a negative or non-finite weight, a uid outside 0..65535, or a duplicate uid.
    """
    items = sorted((int(uid), float(w)) for uid, w in weights.items())
    uids = [uid for uid, _ in items]
    values = [w for _, w in items]
    if len(set(uids)) != len(uids):
        raise ValueError("duplicate uids in weights; each uid may appear once")
    if any(not isfinite(w) or w < 0 for w in values):
        raise ValueError("weights must be finite and non-negative")
    if any(u < 0 or u > U16_MAX for u in uids):
        raise ValueError("uids must be in 0..65535")
    if not values or max(values) <= 0:
        return [], []
    limit = U16_MAX if max_weight_limit is None else int(max_weight_limit)
    if uids != [self_uid] and limit < U16_MAX:
        values = clip_to_max_weight(values, limit / U16_MAX)
    top = max(values)
    out_uids: list[int] = []
    out_vals: list[int] = []
    for uid, w in zip(uids, values):
        q = round((w / top) * U16_MAX)
        if q != 0:
            out_uids.append(uid)
            out_vals.append(int(q))
    return out_uids, out_vals
