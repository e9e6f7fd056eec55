"""One Proof-of-AI session on this machine: a challenger on a loopback port, an honest node dialling it.

    python examples/node/poai_local_session.py [--plan lightweight|standard]

The node measures its own matmul TOPS and memory bandwidth to make an honest claim, answers the compute and
memory challenges (and the inference challenge when the plan includes it), and the challenger prints the
integrity score it stored, with the reasons, and the capacity the session verified.
"""

import argparse
import asyncio
import tempfile
from pathlib import Path

from edge_sdk.identity import NodeKey
from poai.challenger import ChallengerConfig
from poai.challenger.background import BackgroundChallenger
from poai.node import NodeAgent, NodeConfig
from poai.report import integrity_scores, verified_capacity

ap = argparse.ArgumentParser()
ap.add_argument("--plan", default="lightweight")
args = ap.parse_args()

db = Path(tempfile.mkdtemp()) / "poai.sqlite"
with BackgroundChallenger(ChallengerConfig(port=0, metrics_port=0, db=str(db), plan=args.plan)) as ch:
    outcome = asyncio.run(NodeAgent(NodeConfig(challenger=ch.address), key=NodeKey.generate()).run_once())
print(f"session {outcome.session_id}: score {outcome.score:.2f} (smoothed {outcome.smoothed_score:.2f})")
for reason in outcome.reasons:
    print("  -", reason)
print("integrity scores the validator will read:", integrity_scores(db))
print("verified capacity:", verified_capacity(db))
