"""Exact product averaging for LoRA: average the clients' weight changes B_i A_i, then factor back."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from edge_sdk.errors import InvalidRequestError
from edge_sdk.federation.aggregation.base import Aggregate, ClientUpdate, check_int, check_updates, \
    client_weights, weighted_mean, weights
from edge_sdk.federation.tensors import lora_pairs


def _factor_mean(a_list: list[np.ndarray], b_list: list[np.ndarray], w: np.ndarray, rank: int
                 ) -> tuple[np.ndarray, np.ndarray, float, float]:
    """(B', A', ||M - B'A'||_F^2, ||M||_F^2) for M = sum_i w_i B_i A_i truncated to `rank`, without forming
    M: M = B_cat A_cat with B_cat = [sqrt(w_i) B_i] (out x nr) and A_cat = [sqrt(w_i) A_i] (nr x in); with
    B_cat = Q_b R_b and A_cat^T = Q_a R_a, M = Q_b (R_b R_a^T) Q_a^T and only the small core is SVD'd."""
    sw = np.sqrt(w)
    b_cat = np.concatenate([s * np.asarray(b, dtype=np.float64) for s, b in zip(sw, b_list)], axis=1)
    a_cat = np.concatenate([s * np.asarray(a, dtype=np.float64) for s, a in zip(sw, a_list)], axis=0)
    q_b, r_b = np.linalg.qr(b_cat)
    q_a, r_a = np.linalg.qr(a_cat.T)
    u, s, vt = np.linalg.svd(r_b @ r_a.T, full_matrices=False)
    keep = min(rank, s.size)
    # Balanced split B' = U sqrt(S), A' = sqrt(S) V^T; but a (numerically) zero singular value would leave a
    # zero A row and B column, which get zero gradient forever (round one, with B still at peft's zero
    # init, would kill the adapter): there A' keeps the unit singular vector and B' gets U S (~0).
    tiny = s[:keep] <= s[0] * max(b_cat.shape[0], a_cat.shape[1]) * np.finfo(np.float64).eps
    root = np.where(tiny, 1.0, np.sqrt(s[:keep]))
    new_b = np.zeros((b_cat.shape[0], rank), dtype=np.float32)
    new_a = np.zeros((rank, a_cat.shape[1]), dtype=np.float32)
    new_b[:, :keep] = (q_b @ u[:, :keep]) * (s[:keep] / root)
    new_a[:keep] = root[:, None] * (vt[:keep] @ q_a.T)
    return new_b, new_a, float(np.sum(s[keep:] ** 2)), float(np.sum(s ** 2))


def product_average(updates: Iterable[ClientUpdate], rank: int | None = None) -> Aggregate:
    """For each LoRA module, M = sum_i w_i B_i A_i (w = normalised num_examples), truncated-SVD'd back to
    rank r (A's row count unless `rank` is given): B' = U_r sqrt(S_r), A' = sqrt(S_r) V_r^T (float32).

    FedAvg of A and B separately is inexact for LoRA, since mean(B_i) mean(A_i) != mean(B_i A_i); here
    the only error is the SVD truncation (none when n * r <= rank), reported per pair as
    info["truncation_error"][A name] = ||M - B'A'||_F / ||M||_F (0 when M is 0), plus
    "max_truncation_error" and "total_truncation_error" (over all pairs together). Computed in float64
    from QR factors, never forming the out x in matrix M. A `rank` other than r changes the tensor shapes:
    the adapter_config.json saved with them then needs r (and lora_alpha, to keep alpha / r) updated.
    Tensors that are not LoRA factors are plain weighted means."""
    updates = check_updates(updates, weighted=True)
    if rank is not None:
        rank = check_int("rank", rank, 1)
    first = updates[0].tensors
    w = weights(updates)
    pairs = lora_pairs(first)
    paired = {name for pair in pairs for name in pair}
    tensors = weighted_mean(updates, w, [n for n in first if n not in paired])
    errors, dropped_total, norm_total = {}, 0.0, 0.0
    for a_name, b_name in pairs:
        a_shape, b_shape = np.shape(first[a_name]), np.shape(first[b_name])
        if len(a_shape) != 2 or len(b_shape) != 2 or a_shape[0] != b_shape[1]:
            raise InvalidRequestError(f"{a_name} {a_shape} and {b_name} {b_shape} are not a LoRA pair of "
                                      "matrices (r, in) and (out, r): product_average needs linear LoRA "
                                      "layers")
        a_list, b_list = [u.tensors[a_name] for u in updates], [u.tensors[b_name] for u in updates]
        new_b, new_a, dropped, norm = _factor_mean(a_list, b_list, w, rank or a_shape[0])
        tensors[a_name], tensors[b_name] = new_a, new_b
        errors[a_name] = float(np.sqrt(dropped / norm)) if norm > 0 else 0.0
        dropped_total, norm_total = dropped_total + dropped, norm_total + norm
    info = {"truncation_error": errors, "max_truncation_error": max(errors.values(), default=0.0),
            "total_truncation_error": float(np.sqrt(dropped_total / norm_total)) if norm_total > 0 else 0.0,
            "weights": client_weights(updates, w)}
    return Aggregate({n: tensors[n] for n in first}, info)
