"""Proof-of-AI challenges. Each module follows the same commit-then-reveal shape:

    challenger: spec = <mod>.make_spec(budget, rng)
    node:       work = <mod>.NodeWork(spec, device); commitment = work.run()
    challenger: request = <mod>.choose_openings(spec, commitment, rng)     # only after the commitment
    node:       opening = work.open(request)
    challenger: result = <mod>.verify(spec, commitment, request, opening, ...) -> CheckResult

One folder per kind, each holding the kind's module (its `__init__.py`) and what belongs to it alone:
compute/ (TFLOPS), memory/ (capacity + bandwidth; one extra nonce round; CALIBRATION.md), latency/ (RTT,
TTFT, inter-token gaps) and inference/ (output correctness against the reference model; words.py, the
prompt vocabulary; calibration.py, the measurement behind its thresholds; CALIBRATION.md). common.py holds
what they share (budget, results, seeds, hashing). Import the kind you need; this package does not import
them eagerly (inference pulls in the model runtime).
"""

from poai.challenges.common import Budget, ChallengeError, CheckResult, Claim

__all__ = ["Budget", "ChallengeError", "CheckResult", "Claim"]
