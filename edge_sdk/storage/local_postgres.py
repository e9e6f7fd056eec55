"""A throwaway PostgreSQL cluster in a temporary folder: for tests, benchmarks and trying `--db postgresql://`.

    with LocalPostgres() as pg:                  # initdb + pg_ctl start on a free loopback port
        url = pg.create_database("poai")         # postgresql://edgeproof:...@127.0.0.1:PORT/poai

It needs PostgreSQL's server binaries (`initdb`, `pg_ctl`) on the PATH or in a Debian-style
/usr/lib/postgresql/<version>/bin. `initdb` refuses to run as root, so as root the cluster runs as the
unprivileged user `nobody` on a folder that user owns. Password authentication (scram-sha-256) is on, so a
wrong password fails as it would on a real server. `stop()` (or leaving the `with`) stops the server and
deletes the folder.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from edge_sdk.storage.errors import StorageError

USER = "edgeproof"


def _server_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if candidates:
        return candidates[-1]
    raise StorageError(f"PostgreSQL's {name} is not installed: install the PostgreSQL server package "
                       "(Debian: apt install postgresql) to run a local cluster")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalPostgres:
    """One cluster: `start()`, `url(dbname)`, `create_database(name)`, `stop()`."""

    def __init__(self, *, port: int | None = None, password: str | None = None) -> None:
        self.port = port or _free_port()
        self.password = password or secrets.token_hex(12)
        self.root: Path | None = None
        self._as_user: str | None = "nobody" if os.geteuid() == 0 else None
        self._running = False

    # ----------------------------------------------------------------------------------- lifecycle
    def start(self) -> LocalPostgres:
        initdb, pg_ctl = _server_bin("initdb"), _server_bin("pg_ctl")
        self.root = Path(tempfile.mkdtemp(prefix="edgeproof-pg-"))
        data, sock = self.root / "data", self.root / "sock"
        sock.mkdir()
        pwfile = self.root / "pw"
        pwfile.write_text(self.password + "\n")
        if self._as_user:
            entry = pwd.getpwnam(self._as_user)
            for p in (self.root, sock, pwfile):
                os.chown(p, entry.pw_uid, entry.pw_gid)
        self._run([initdb, "-D", str(data), "-U", USER, f"--pwfile={pwfile}", "--auth=scram-sha-256",
                   "-E", "UTF8", "--locale=C", "--no-sync"], "initdb")
        pwfile.unlink()
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {sock} -c max_connections=100"
        self._run([pg_ctl, "-D", str(data), "-o", options, "-l", str(self.root / "server.log"), "-w", "-t", "60",
                   "start"], "pg_ctl start")
        self._running = True
        return self

    def stop(self) -> None:
        if self.root is None:
            return
        if self._running:
            try:
                self._run([_server_bin("pg_ctl"), "-D", str(self.root / "data"), "-m", "fast", "-w", "stop"],
                          "pg_ctl stop")
            finally:
                self._running = False
        shutil.rmtree(self.root, ignore_errors=True)
        self.root = None

    def __enter__(self) -> LocalPostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----------------------------------------------------------------------------------------- use
    def url(self, dbname: str = "postgres", *, password: str | None = None) -> str:
        return f"postgresql://{USER}:{password or self.password}@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, name: str) -> str:
        """CREATE DATABASE `name` (letters, digits, underscores); returns its URL."""
        if not name.replace("_", "").isalnum() or not name[0].isalpha():
            raise ValueError(f"database name {name!r}: use letters, digits and underscores")
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def log(self) -> str:
        path = self.root / "server.log" if self.root else None
        return path.read_text(errors="replace") if path and path.exists() else ""

    def _run(self, args: list[str], what: str) -> None:
        env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
        res = subprocess.run(args, capture_output=True, text=True, env=env, cwd=str(self.root),
                             user=self._as_user, timeout=120)
        if res.returncode != 0:
            raise StorageError(f"{what} failed ({res.returncode}): {(res.stderr or res.stdout).strip()[-800:]}"
                               + (f"\nserver log:\n{self.log()[-800:]}" if self.root else ""))
