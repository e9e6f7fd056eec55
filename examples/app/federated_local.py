"""A federated task on this machine: a coordinator and three clients, each with its own shard of made-up facts,
then the new global adapter answers a question that only the clients' data can answer.

    python examples/app/federated_local.py [--rounds 2] [--local-steps 4] [--backend llamacpp]

About 2 minutes for SmolLM2-135M on 2 CPU cores. The clients run in threads here for brevity; in an app each is
one `FederatedClient` in the app's own process (see `edgeproof fed join` for the command-line client).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import threading
from pathlib import Path

from edge_sdk.device.eligibility import TrainingPolicy
from edge_sdk.federation import CoordinatorConfig, CoordinatorService, FederatedClient, FederationTask
from edge_sdk.identity import NodeKey
from edge_sdk.runtime import SamplingParams, load_backend
from edge_sdk.training import load_chat_jsonl

DATA = Path(__file__).resolve().parent.parent / "data"

parser = argparse.ArgumentParser()
parser.add_argument("--rounds", type=int, default=2)
parser.add_argument("--local-steps", type=int, default=4)
parser.add_argument("--backend", default="llamacpp")
args = parser.parse_args()

work = Path(tempfile.mkdtemp(prefix="edgeproof-fed-"))
task = FederationTask(rounds=args.rounds, local_steps=args.local_steps, clients_per_round=3, quorum=3,
                      over_selection=1.0, aggregation="fedavg")
config = CoordinatorConfig(task=task, port=0, db=str(work / "federation.sqlite"), metrics_port=None,
                           eval_data=DATA / "private_facts_heldout.jsonl")

loop = asyncio.new_event_loop()
threading.Thread(target=loop.run_forever, daemon=True).start()
coordinator = CoordinatorService(config)
asyncio.run_coroutine_threadsafe(coordinator.start(), loop).result()
print(f"coordinator on port {coordinator.port}; base model loss {coordinator.version.eval_loss:.3f}")



def reporter(i: int):
    def report(p) -> None:
        if p.stage in ("accepted", "round_closed"):
            print(f"client {i}: round {p.round} {p.stage} {p.detail}")
    return report


rows = load_chat_jsonl(DATA / "private_facts.jsonl")
policy = TrainingPolicy(max_cpu_load=100.0, min_battery_percent=0)  # three clients share this one machine
clients = [FederatedClient(f"127.0.0.1:{coordinator.port}", rows[i::3], NodeKey.generate(), workdir=work / f"c{i}",
                           policy=policy, torch_threads=1, on_progress=reporter(i))
           for i in range(3)]
threads = [threading.Thread(target=c.run) for c in clients]
for t in threads:
    t.start()
state = asyncio.run_coroutine_threadsafe(coordinator.wait_finished(), loop).result()
for t in threads:
    t.join()
versions = coordinator.store.versions(task.task_id)
print(f"task {state}; held-out loss per version: " + ", ".join(f"v{v.version} {v.eval_loss:.3f}" for v in versions))
asyncio.run_coroutine_threadsafe(coordinator.stop(), loop).result()

question = [{"role": "user", "content": "Veloria's capital is which city?"}]
adapter = clients[0].global_adapter_dir
for name, llm in (("base", load_backend(args.backend)), ("global adapter", load_backend(args.backend,
                                                                                          adapter=adapter))):
    print(f"{name:15} {llm.chat(question, SamplingParams(max_tokens=24)).text!r}")
