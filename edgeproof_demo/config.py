"""Everything `edgeproof demo` can be told, in one dataclass with working defaults (the embedded network).

Each `*_address` / `db` / `network` field swaps one embedded part for a real endpoint; left at None the demo starts
that part itself on loopback. `DemoConfig.check()` says what is wrong with a combination before anything starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from edge_sdk.errors import InvalidRequestError


def _repo_examples_data() -> Path:
    return Path(__file__).resolve().parent.parent / "examples" / "data"


@dataclass
class DemoConfig:
    # scale: the three roles of each part are always there (honest llama.cpp node, honest torch node, cheat;
    # good, noisy and copying miner); larger counts add honest nodes, clients and independent miners
    nodes: int = 3
    clients: int = 3
    miners: int = 3
    rounds: int = 2  # federated rounds
    local_steps: int = 8  # training steps per client per round (2 x 8 steps: the adapter answers the question)
    # PoAI sessions per node: integrity is an EMA from 0 (weight 0.3 per session), so an honest node needs 2 clean
    # sessions to clear the validator's 0.5 gate; 3 give 0.66
    sessions_per_node: int = 3
    memory_claim_mib: int = 256  # each PoAI node offers this much memory (the standard plan fills it)
    # where the run's files go (databases, client workdirs, the report); None: ./edgeproof-demo/<run id>
    out_dir: Path | None = None
    data_dir: Path = field(default_factory=_repo_examples_data)  # private_facts(.jsonl|_heldout.jsonl)
    answer_backend: str = "llamacpp"  # serves the base-vs-adapter answers
    question: str = "Veloria's capital is which city?"  # a fact every client's shard holds
    # real endpoints instead of the embedded ones
    challenger_address: str | None = None  # host:port of a running `edgeproof poai serve`
    poai_db: str | None = None  # that challenger's --db (the validator reads integrity from it)
    coordinator_address: str | None = None  # host:port of a running `edgeproof fed serve`
    coordinator_id: str | None = None  # the id that coordinator signs with (default: coordinator@<address>)
    db: str | None = None  # postgresql://... for every store the demo keeps (PoAI, federation, validator, chain)
    network: str = "local"  # "local" (the embedded chain) or a Bittensor network: finney, test, ws://...
    netuid: int | None = None  # None: a fresh subnet id on the embedded chain
    validator_wallet: str | None = None  # NAME/HOTKEY (Bittensor network only)
    miner_wallets: tuple[str, ...] = ()  # NAME/HOTKEY per miner, registered already (Bittensor network only)
    wallet_path: str | None = None
    torch_threads: int = 1  # per federation client (several train at once on one machine)

    def check(self) -> None:
        """Raise InvalidRequestError listing every problem (nothing has started yet)."""
        problems = []
        if self.nodes < 3:
            problems.append(f"--nodes must be >= 3 (honest llama.cpp, honest torch and a cheat), got {self.nodes}")
        from edgeproof_demo.datasets import TOPICS

        if not 3 <= self.miners <= 3 + len(TOPICS):
            problems.append(f"--miners must be 3 (good, noisy and a copy) to {3 + len(TOPICS)} (one made-up topic "
                            f"per extra miner), got {self.miners}")
        if self.clients > 16:
            problems.append(f"--clients must be <= 16 (each gets a shard of at least 2 of the 32 rows), got "
                            f"{self.clients}")
        if self.clients < 1 or self.rounds < 1 or self.local_steps < 1 or self.sessions_per_node < 1:
            problems.append("--clients, --rounds, --local-steps and --sessions must be >= 1")
        if self.memory_claim_mib < 64:
            problems.append(f"--memory-mib must be >= 64 (the standard plan refuses smaller claims), got "
                            f"{self.memory_claim_mib}")
        for name in ("private_facts.jsonl", "private_facts_heldout.jsonl"):
            if not (Path(self.data_dir) / name).is_file():
                problems.append(f"{Path(self.data_dir) / name} is missing: pass --data with a checkout's "
                                "examples/data folder")
        if self.challenger_address and not self.poai_db:
            problems.append("--challenger needs --poai-db (that challenger's database): the validator reads the "
                            "nodes' integrity from it")
        if self.db and not self.db.startswith(("postgresql://", "postgres://")):
            problems.append(f"--db takes a postgresql:// URL (the embedded default is SQLite files), got {self.db!r}")
        if self.network != "local":
            if not self.validator_wallet or len(self.miner_wallets) != self.miners:
                problems.append(f"--network {self.network} needs --validator-wallet and one --miner-wallet per "
                                f"miner ({self.miners}), each a registered NAME/HOTKEY")
            if self.netuid is None:
                problems.append(f"--network {self.network} needs --netuid")
        elif self.validator_wallet or self.miner_wallets:
            problems.append("wallets are for a Bittensor --network; the embedded chain makes its own keys")
        if problems:
            raise InvalidRequestError("the demo cannot start:\n  " + "\n  ".join(problems))
