"""PostgreSQL for the tests: each test gets a schema of its own in the server's test
database (the connection string's search_path names it), dropped afterwards.

The server is $JOBRUNNER_TEST_POSTGRES (default postgresql://postgres@127.0.0.1:5432/test,
which .ci/run starts). The tests marked `postgres` never skip for want of it: deselect
them with `-m "not postgres"` where there is none."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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
