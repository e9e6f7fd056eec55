"""The end-to-end demo: a PoAI challenger and nodes, a federated task, miners and a validator on one machine, one
full cycle, and a report. `edgeproof demo` is a thin wrapper over `run_demo`.

    from edgeproof_demo import DemoConfig, run_demo
    result = run_demo(DemoConfig(out_dir="demo-out"))   # the run's JSON; report in demo-out/report/
"""

from edgeproof_demo.config import DemoConfig
from edgeproof_demo.run import run_demo

__all__ = ["DemoConfig", "run_demo"]
