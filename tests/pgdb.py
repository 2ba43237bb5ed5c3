"""PostgreSQL for the tests: each test gets a schema of its own in the server's test
database (the connection string's search_path names it), dropped afterwards.

The server is $JOBRUNNER_TEST_POSTGRES (default postgresql://postgres@127.0.0.1:5432/test,
which .ci/run starts). The tests marked `postgres` never skip for want of it: deselect
them with `-m "not postgres"` where there is none."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg

SERVER = os.environ.get("JOBRUNNER_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def admin() -> psycopg.Connection:
    return psycopg.connect(SERVER, autocommit=True, connect_timeout=5)


def dsn_for(schema: str) -> str:
    """The server's connection string with `schema` first in the search_path (and as
    the application name, so that a test can find its connections)."""
    joiner = "&" if "?" in SERVER else "?"
    return f"{SERVER}{joiner}options={quote(f'-csearch_path={schema}')}&application_name={schema}"


def terminate(schema: str) -> int:
    """End every server connection of `schema`'s stores (as a server restart would
    end them); how many there were."""
    with admin() as db:
        rows = db.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = %s AND pid != pg_backend_pid()",
            (schema,),
        ).fetchall()
    return len(rows)


@dataclass(frozen=True)
class Schema:
    name: str
    dsn: str


@contextmanager
def schema() -> Iterator[Schema]:
    """A fresh schema and its connection string; the schema goes afterwards."""
    name = f"jr_test_{uuid.uuid4().hex[:12]}"
    with admin() as db:
        db.execute(f"CREATE SCHEMA {name}")
    try:
        yield Schema(name, dsn_for(name))
    finally:
        terminate(name)
        with admin() as db:
            db.execute(f"DROP SCHEMA {name} CASCADE")


def _bin() -> Path:
    """The newest installed server's programs (Debian keeps them per major version)."""
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    return versions[-1] if versions else Path("/usr/bin")


BIN = _bin()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivateServer:
    """A PostgreSQL server of a test's own (initdb in a temporary folder, its own port),
    for what the shared one must not see: a restart. As root, it runs as `postgres`."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="jobrunner-pg-", dir="/tmp"))
        self.data = self.folder / "data"
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres")
        self._as_server(str(BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres")
        self.dsn = (
            f"postgresql://postgres@127.0.0.1:{self.port}/postgres?application_name=jr_private"
        )

    def _as_server(self, *argv: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *argv], check=True, capture_output=True, timeout=60)

    def _ctl(self, *argv: str) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_server(
            str(BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-w",
            "-l",
            str(self.folder / "log"),
            "-o",
            options,
            *argv,
        )

    def start(self) -> None:
        try:
            self._ctl("start")
        except subprocess.CalledProcessError as exc:
            log = (self.folder / "log").read_text(errors="replace")[-2000:]
            told = f"the private server did not start: {exc.stderr!r}\n{log}"
            raise AssertionError(told) from None

    def stop(self) -> None:
        self._ctl("-m", "fast", "stop")

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)
