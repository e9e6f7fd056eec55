"""The embeddable federated client: runs inside an app's own process and takes part in the coordinator's rounds.

    client = FederatedClient("coordinator.example:50071", "my_rows.jsonl", NodeKey.load("client.key"),
                             workdir="~/.myapp/federation", on_progress=print)
    threading.Thread(target=client.run).start()   # returns when the task is finished or stop() is called
    ...
    client.stop()                                  # finishes the current step cleanly, then returns

Per round it is selected for: check the eligibility policy (decline when it does not hold), fetch the global
adapter (resuming a cut download from the bytes on disk), train `local_steps` with the training engine
(stopping when eligibility stops holding, the round closes, or stop() is called), and upload the delta from
the global adapter (clipped and noised when the task asks for local DP, encoded as the task says). The
encoded update is kept on disk until the coordinator confirms it, so a dropped connection or a restarted app
re-sends the same update instead of training again. Each new global adapter is written as a peft folder and
handed to `on_global_adapter` (and kept as `global_adapter_dir`), where the inference runtime loads it.
Rows never leave the device: the only payloads are adapter tensors.
"""

from __future__ import annotations

import logging
import math
import random
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edge_sdk import __version__
from edge_sdk.device.eligibility import Eligibility, TrainingPolicy
from edge_sdk.errors import EdgeProofError, InvalidRequestError
from edge_sdk.federation._proto import federation_pb2 as pb
from edge_sdk.federation.client.eligibility import EligibilityCheck, OwnLoadExcluded
from edge_sdk.federation.client.local_round import PreparedUpdate, make_update, train_round
from edge_sdk.federation.client.stream import CoordinatorRejected, CoordinatorStream, StreamLost
from edge_sdk.federation.hello import default_coordinator_id, device_report, sign_hello
from edge_sdk.federation.peft_folder import write_peft_folder
from edge_sdk.federation.privacy import PrivacyAccountant
from edge_sdk.federation.task import ReceivedTask
from edge_sdk.federation.transfer import ChunkBuffer, TransferError, chunks, parse_weights, sha256
from edge_sdk.identity import NodeKey
from edge_sdk.runtime.chat import DEFAULT_SYSTEM_PROMPT
from edge_sdk.training.data import ChatRow, load_chat_jsonl

log = logging.getLogger("edgeproof.federation.client")

FATAL_CODES = {"not_registered", "protocol_version", "wrong_coordinator", "identity_mismatch", "unknown_scheme"}


@dataclass(frozen=True)
class ClientProgress:
    """What the client is doing: stage in connecting, checked_in, selected, declined, downloading, training,
    uploading, accepted, refused, round_closed, global_adapter, finished, reconnecting, stopped."""

    stage: str
    round: int = 0
    detail: str = ""
    step: int = 0
    total_steps: int = 0
    loss: float | None = None
    values: dict[str, Any] = field(default_factory=dict)


class FederatedClient:
    def __init__(self, coordinator: str, data: str | Path | Sequence[ChatRow], key: NodeKey, *,
                 workdir: str | Path = "federation-client", model: Any = None,
                 coordinator_id: str | None = None, tls: bool = False, ca_file: str | None = None,
                 policy: TrainingPolicy | None = None, eligibility: EligibilityCheck | None = None,
                 on_progress: Callable[[ClientProgress], None] | None = None,
                 on_global_adapter: Callable[[Path, int, float | None], None] | None = None,
                 default_system: str | None = DEFAULT_SYSTEM_PROMPT, eligibility_every_s: float = 10.0,
                 response_timeout_s: float = 120.0, max_backoff_s: float = 30.0,
                 max_reconnects: int | None = None, torch_threads: int | None = None) -> None:
        self.coordinator = coordinator
        self.rows = list(load_chat_jsonl(data) if isinstance(data, (str, Path)) else data)
        if not self.rows:
            raise InvalidRequestError("the client has no training rows: pass a chat JSONL file or ChatRow list")
        self.key = key
        self.workdir = Path(workdir).expanduser()
        self.model = model
        self.coordinator_id = coordinator_id or default_coordinator_id(coordinator)
        self.tls, self.ca_file = tls, ca_file
        self.check_eligibility: EligibilityCheck = eligibility or OwnLoadExcluded(policy)
        self.on_progress = on_progress
        self.on_global_adapter = on_global_adapter
        self.default_system = default_system
        self.eligibility_every_s = eligibility_every_s
        self.response_timeout_s = response_timeout_s
        self.max_backoff_s = max_backoff_s
        self.max_reconnects = max_reconnects
        self.torch_threads = torch_threads
        self.task: ReceivedTask | None = None
        self.global_adapter_dir: Path | None = None
        self.global_version = -1
        self.state = "idle"  # then "running", "finished", "stopped" or "failed"
        self.rounds_trained: list[int] = []
        self._stop = threading.Event()
        self._stream: CoordinatorStream | None = None
        self._closed_rounds: set[tuple[int, int]] = set()
        self._eligible: Eligibility | None = None
        self._rng = np.random.default_rng()

    # ------------------------------------------------------------------------------------------ control
    def stop(self) -> None:
        """Ask run() to return: training stops at the next step, the stream is closed."""
        self._stop.set()
        stream = self._stream
        if stream is not None:
            stream.close()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def _progress(self, stage: str, round_no: int = 0, detail: str = "", **kw: Any) -> None:
        if self.on_progress is not None:
            try:
                self.on_progress(ClientProgress(stage, round_no, detail, **kw))
            except Exception:  # noqa: BLE001 - an app's callback must not break the client
                log.exception("progress callback raised")

    def run(self) -> str:
        """Take part until the task finishes, stop() is called, or a fatal refusal; returns the end state."""
        if self.torch_threads:
            import torch

            torch.set_num_threads(self.torch_threads)
        self.state = "running"
        backoff, reconnects = 1.0, 0
        while not self._stop.is_set():
            try:
                self._progress("connecting", detail=self.coordinator)
                if self._session():
                    if self.state == "running":
                        self.state = "finished"
                    break
                backoff = 1.0
            except CoordinatorRejected as exc:
                if exc.fatal and exc.code in FATAL_CODES:
                    log.error("coordinator refused this client", extra={"code": exc.code, "reason": exc.reason})
                    self.state = "failed"
                    self._progress("refused", detail=str(exc))
                    raise
                log.warning("refused; will retry", extra={"code": exc.code, "reason": exc.reason})
            except (StreamLost, TimeoutError, TransferError) as exc:
                log.info("connection lost; will reconnect", extra={"error": str(exc)})
            finally:
                if self._stream is not None:
                    self._stream.close()
                    self._stream = None
            if self._stop.is_set():
                break
            reconnects += 1
            if self.max_reconnects is not None and reconnects > self.max_reconnects:
                self.state = "failed"
                raise EdgeProofError(f"gave up after {self.max_reconnects} reconnects to {self.coordinator}")
            delay = min(self.max_backoff_s, backoff) * (0.5 + random.random() / 2)
            self._progress("reconnecting", detail=f"in {delay:.1f} s")
            self._stop.wait(delay)
            backoff *= 2
        if self.state == "running":
            self.state = "stopped"
            self._progress("stopped")
        return self.state

    # ------------------------------------------------------------------------------------------ session
    def _on_message(self, message: pb.CoordinatorMessage) -> None:
        """Reader thread: note rounds that closed, so training for them stops at once."""
        if message.WhichOneof("body") == "round_closed":
            self._closed_rounds.add((message.round_closed.round, message.round_closed.attempt))

    def _eligibility(self) -> Eligibility:
        self._eligible = self.check_eligibility()
        return self._eligible

    def _session(self) -> bool:
        """One connection; True when the task finished."""
        stream = self._stream = CoordinatorStream(self.coordinator, tls=self.tls, ca_file=self.ca_file,
                                                  max_message_bytes=8 << 20, on_message=self._on_message)
        challenge = stream.next(("challenge",), self.response_timeout_s).challenge
        if challenge.coordinator_id != self.coordinator_id:
            raise CoordinatorRejected("wrong_coordinator", f"the server calls itself {challenge.coordinator_id!r}, "
                                      f"not the expected {self.coordinator_id!r}: refusing to sign for it", True)
        eligibility = self._eligibility()
        hello = sign_hello(self.key, challenge.nonce, challenge.coordinator_id,
                           device_report(self._profile(), eligibility, f"edgeproof/{__version__}"))
        stream.send("hello", hello)
        welcome = stream.next(("welcome",), self.response_timeout_s).welcome
        self.task = ReceivedTask.from_proto(welcome.task)
        if self.model is None:
            self.model = self.task.base_model or None
        gv = welcome.global_adapter
        self._progress("checked_in", welcome.current_round, f"task {self.task.task_id}",
                       values={"global_version": gv.version,
                               "eval_loss": None if math.isnan(gv.eval_loss) else gv.eval_loss})
        self._resend_pending(welcome.current_round)
        self._adopt_global(welcome.global_adapter)
        last_beat = time.monotonic()
        while not self._stop.is_set():
            try:
                message = stream.next(None, timeout=min(welcome.heartbeat_s or 10.0, 5.0))
            except TimeoutError:
                message = None
            if time.monotonic() - last_beat >= (welcome.heartbeat_s or 10.0):
                e = self._eligibility()
                stream.send("heartbeat", pb.Heartbeat(eligible=e.allowed,
                                                      ineligible_reasons=[] if e.allowed else e.reasons))
                last_beat = time.monotonic()
            if message is None:
                continue
            kind = message.WhichOneof("body")
            if kind == "assignment":
                self._round(message.assignment)
            elif kind == "round_closed":
                closed = message.round_closed
                self._progress("round_closed", closed.round, pb.RoundOutcome.Name(closed.outcome).lower(),
                               values={"global_version": closed.global_adapter.version, "updates": closed.updates,
                                       "eval_loss": closed.global_adapter.eval_loss, "reason": closed.reason})
                self._adopt_global(closed.global_adapter)
            elif kind == "finished":
                done = message.finished
                self._adopt_global(done.global_adapter)
                self._progress("finished", detail=done.reason or f"global version {done.global_adapter.version}",
                               values={"eval_loss": done.global_adapter.eval_loss, "failed": done.failed})
                if done.failed:
                    self.state = "failed"
                return True
            elif kind == "rejected":
                log.warning("coordinator refused a message", extra={"code": message.rejected.code,
                                                                    "reason": message.rejected.reason})
        return False

    def _profile(self) -> Any:
        from edge_sdk.device.profile import collect_profile

        return collect_profile(0.0, probe_torch=False)

    # -------------------------------------------------------------------------------------------- rounds
    def _update_dir(self, round_no: int, attempt: int) -> Path:
        assert self.task is not None
        return self.workdir / "updates" / self.task.task_id / f"round-{round_no}-attempt-{attempt}"

    def _resend_pending(self, current_round: int) -> None:
        """An update trained before a drop or restart, not yet confirmed: send it again (counted once)."""
        assert self.task is not None
        root = self.workdir / "updates" / self.task.task_id
        for folder in sorted(root.glob("round-*")) if root.is_dir() else []:
            loaded = PreparedUpdate.load(folder)
            if loaded is None:
                continue
            prepared, payload = loaded
            if prepared.round != current_round:
                shutil.rmtree(folder, ignore_errors=True)  # that round is over
                continue
            self._upload(prepared, payload, folder)

    def _round(self, a: pb.RoundAssignment) -> None:
        task = self.task
        assert task is not None and self._stream is not None
        self._progress("selected", a.round, f"attempt {a.attempt}, {a.local_steps} local steps")
        folder = self._update_dir(a.round, a.attempt)
        loaded = PreparedUpdate.load(folder)
        if loaded is not None:
            self._upload(loaded[0], loaded[1], folder)
            return
        eligibility = self._eligibility()
        if not eligibility.allowed:
            self._decline(a.round, "not eligible: " + "; ".join(eligibility.reasons))
            return
        global_dir = self._fetch_global(a.base)
        deadline = a.deadline_unix_ms / 1000.0
        stop_reason: list[str] = []
        last_check = [time.monotonic()]

        def should_stop() -> bool:
            if self._stop.is_set():
                stop_reason.append("the client is stopping")
            elif (a.round, a.attempt) in self._closed_rounds:
                stop_reason.append("the round closed")
            elif time.time() > deadline:
                stop_reason.append("the round's deadline passed")
            elif time.monotonic() - last_check[0] >= self.eligibility_every_s:
                last_check[0] = time.monotonic()
                e = self._eligibility()
                if not e.allowed:
                    stop_reason.append("no longer eligible: " + "; ".join(e.reasons))
            return bool(stop_reason)

        def on_step(p: Any) -> None:
            self._progress("training", a.round, step=p.step, total_steps=p.total_steps, loss=p.loss)

        train_dir = self.workdir / "train" / task.task_id / f"round-{a.round}-attempt-{a.attempt}"
        try:
            result = train_round(model=self.model, task=task, global_dir=global_dir, rows=self.rows,
                                 out_dir=train_dir, seed=a.seed, default_system=self.default_system,
                                 should_stop=should_stop, progress=on_step)
        except EdgeProofError as exc:  # bad rows for this recipe, out of memory, missing model...
            log.error("local training failed", extra={"round": a.round, "error": str(exc)})
            self._decline(a.round, f"local training failed: {exc}")
            return
        if result.steps < result.total_steps:
            shutil.rmtree(train_dir, ignore_errors=True)
            if not self._stop.is_set() and (a.round, a.attempt) not in self._closed_rounds:
                self._decline(a.round, stop_reason[0] if stop_reason else "training stopped early")
            return
        accountant_path = self.workdir / "privacy" / f"{task.task_id}.json"
        accountant = PrivacyAccountant.load(accountant_path)
        payload, norm, epsilon = make_update(task=task, global_dir=global_dir, trained_dir=train_dir,
                                             accountant=accountant, rng=self._rng)
        accountant.save(accountant_path)  # before the update leaves the device
        prepared = PreparedUpdate(a.round, a.attempt, a.base.version, len(self.rows), result.steps,
                                  float(result.final_loss), norm, epsilon, sha256(payload).hex(), len(payload))
        prepared.save(folder, payload)
        shutil.rmtree(train_dir, ignore_errors=True)
        self.rounds_trained.append(a.round)
        self._upload(prepared, payload, folder)

    def _decline(self, round_no: int, reason: str) -> None:
        assert self._stream is not None
        self._stream.send("decline", pb.RoundDecline(round=round_no, reason=reason[:300]))
        self._progress("declined", round_no, reason)

    def _upload(self, prepared: PreparedUpdate, payload: bytes, folder: Path) -> None:
        stream, task = self._stream, self.task
        assert stream is not None and task is not None
        self._progress("uploading", prepared.round, f"{len(payload)} bytes")
        stream.send("update_begin", pb.UpdateBegin(
            round=prepared.round, attempt=prepared.attempt, base_version=prepared.base_version,
            total_bytes=len(payload), sha256=bytes.fromhex(prepared.sha256), num_examples=prepared.num_examples,
            steps=prepared.steps, train_loss=prepared.train_loss, update_norm=prepared.update_norm,
            epsilon=prepared.epsilon))
        answer = stream.next(("upload_ready", "receipt", "rejected"), self.response_timeout_s)
        if answer.WhichOneof("body") == "upload_ready":
            for offset, data in chunks(payload, int(answer.upload_ready.offset), task.chunk_bytes):
                stream.send("update_chunk", pb.UpdateChunk(round=prepared.round, offset=offset, data=data))
            answer = stream.next(("receipt", "rejected"), self.response_timeout_s)
        if answer.WhichOneof("body") == "receipt" and answer.receipt.accepted:
            shutil.rmtree(folder, ignore_errors=True)
            self._progress("accepted", prepared.round, answer.receipt.code)
            return
        refusal = answer.rejected
        shutil.rmtree(folder, ignore_errors=True)  # refused for good (late, stale, invalid): never re-sent
        self._progress("refused", prepared.round, f"{refusal.code}: {refusal.reason}")
        log.warning("update refused", extra={"code": refusal.code, "reason": refusal.reason})

    # ------------------------------------------------------------------------------------ global adapter
    def _fetch_global(self, gv: pb.GlobalVersion) -> Path:
        """The global adapter version `gv` as a peft folder, downloaded once (resuming from the bytes on disk
        after a drop) and checked against its sha256."""
        task, stream = self.task, self._stream
        assert task is not None and stream is not None
        version, digest = gv.version, bytes(gv.adapter_sha256)
        folder = self.workdir / "global" / task.task_id / f"v{version}"
        marker = folder / "sha256"
        if marker.is_file() and marker.read_text() == digest.hex():
            return folder
        part = self.workdir / "downloads" / f"{task.task_id}-v{version}-{digest.hex()[:16]}.part"
        part.parent.mkdir(parents=True, exist_ok=True)
        buffer = ChunkBuffer(gv.adapter_bytes, digest, path=part)
        if not buffer.complete:
            self._progress("downloading", detail=f"global version {version} from byte {buffer.offset}",
                           values={"offset": buffer.offset, "total": gv.adapter_bytes})
            stream.send("adapter_request", pb.AdapterRequest(global_version=version, offset=buffer.offset))
            while not buffer.complete:
                message = stream.next(("adapter_chunk", "rejected"), self.response_timeout_s)
                if message.WhichOneof("body") == "rejected":
                    raise TransferError(message.rejected.code, message.rejected.reason)
                chunk = message.adapter_chunk
                if chunk.global_version == version:
                    buffer.add(chunk.offset, chunk.data)
        tensors = parse_weights(buffer.payload(), encodings=("float32",))
        write_peft_folder(folder, tensors, task.recipe)
        marker.write_text(digest.hex())
        buffer.reset()
        return folder

    def _adopt_global(self, gv: pb.GlobalVersion) -> None:
        """A newer global version than the one held: fetch it and hand it to the runtime (on_global_adapter).
        Version 0 is the untrained adapter, nothing to hand over."""
        if gv.version <= max(self.global_version, 0):
            return
        folder = self._fetch_global(gv)
        loss = None if math.isnan(gv.eval_loss) else gv.eval_loss
        self.global_version, self.global_adapter_dir = gv.version, folder
        self._progress("global_adapter", detail=str(folder), values={"version": gv.version, "eval_loss": loss})
        if self.on_global_adapter is not None:
            self.on_global_adapter(folder, gv.version, loss)
