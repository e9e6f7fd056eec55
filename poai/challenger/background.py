"""A challenger on its own thread and event loop: for tests, benchmarks and embedding in a sync program.

with BackgroundChallenger(ChallengerConfig(port=0, db="x.sqlite")) as ch:
    asyncio.run(NodeAgent(NodeConfig(challenger=ch.address), ...).run_once())
"""

from __future__ import annotations

from typing import Any

from edge_sdk.serving.background import BackgroundLoop
from poai.challenger.config import ChallengerConfig
from poai.challenger.server import ChallengerService


class BackgroundChallenger:
    def __init__(self, config: ChallengerConfig, **service_kwargs: Any) -> None:
        self.config = config
        self._kwargs = service_kwargs
        self._loop: BackgroundLoop | None = None
        self.service: ChallengerService | None = None

    def start(self) -> BackgroundChallenger:
        self._loop = BackgroundLoop("poai-challenger")

        async def boot() -> ChallengerService:
            service = ChallengerService(self.config, **self._kwargs)
            await service.start()
            return service

        self.service = self._loop.call(boot())
        return self

    @property
    def address(self) -> str:
        assert self.service is not None
        return f"{self.config.host}:{self.service.port}"

    def call(self, coro: Any, timeout: float | None = None) -> Any:
        """Run a coroutine on the challenger's loop (e.g. to read state consistently)."""
        assert self._loop is not None, "start() first"
        return self._loop.call(coro, timeout)

    def wait_for_reports(self, count: int, timeout_s: float = 10.0) -> bool:
        """Wait until `count` sessions are recorded (the challenger records after replying, or after the
        stream died, so a node's run_once() can return before its session is stored)."""
        import time

        deadline = time.monotonic() + timeout_s
        while self.service is not None and len(self.service.reports) < count:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def stop(self, grace_s: float = 1.0) -> None:
        if self._loop is None:
            return
        if self.service is not None:
            self._loop.call(self.service.stop(grace_s))
            self.service = None
        self._loop.close()
        self._loop = None

    def __enter__(self) -> BackgroundChallenger:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
