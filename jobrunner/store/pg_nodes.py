"""The runners sharing a PostgreSQL store (the nodes table: leases on the server's clock)
and the listener that wakes an idle runner when another one commits (LISTEN/NOTIFY on a
connection of its own, opened again with backoff when it drops)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import psycopg
from psycopg import sql

from jobrunner import model
from jobrunner.store.sql import rows

RECONNECT_FIRST, RECONNECT_MAX = 0.1, 5.0  # seconds between the listener's tries
_NODE_SELECT = (
    "SELECT runner_id, host, pid, version, state_dir, started_at, lease_until, "
    "lease_until > now(), revision, unheld FROM nodes"
)


_EVENTS = (
    'SELECT seq, session_id, event, at, "user", runner_id, client_type, entry_id, pid, '
    "comment FROM session_events"
)


class Nodes:
    """The PostgreSQL store's verbs of a store several runners share (SharedStore)."""

    def _transaction(self, *, durable: bool | None = None) -> Any:
        raise NotImplementedError

    def _reading(self) -> Any:
        raise NotImplementedError

    def _fetch(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        with self._reading() as db:
            return list(db.execute(sql, params).fetchall())

    def register_node(self, node: model.Node, lease: timedelta) -> list[str]:
        """Enter this runner with a lease of `lease` from the server's now. Returns the
        runners that ran before in the same state folder on the same host: they are gone
        (this one holds that folder's lock), so their leases end now."""
        with self._transaction() as db:
            gone = db.execute(
                "UPDATE nodes SET lease_until = now() - interval '1 microsecond' "
                "WHERE host = %s AND state_dir = %s AND runner_id != %s RETURNING runner_id",
                (node.host, node.state_dir, node.runner_id),
            ).fetchall()
            db.execute(
                "INSERT INTO nodes (runner_id, host, pid, version, state_dir, started_at, "
                "lease_until, revision, unheld) VALUES (%s, %s, %s, %s, %s, now(), now() + %s, "
                "%s, %s) ON CONFLICT (runner_id) DO UPDATE SET lease_until = excluded.lease_until",
                (
                    node.runner_id,
                    node.host,
                    node.pid,
                    node.version,
                    node.state_dir,
                    lease,
                    node.revision,
                    _ids(node.unheld),
                ),
            )
        return [r[0] for r in gone]

    def renew_node(self, runner_id: str, lease: timedelta) -> bool:
        with self._transaction() as db:
            cur = db.execute(
                "UPDATE nodes SET lease_until = now() + %s WHERE runner_id = %s",
                (lease, runner_id),
            )
        return bool(cur.rowcount == 1)

    def server_now(self) -> datetime:
        found = self._fetch("SELECT now()")
        at: datetime = found[0][0]
        return at.astimezone(UTC)

    def nodes(self) -> list[model.Node]:
        """Every runner entered, by start; `alive` as the server's clock says now."""
        found = self._fetch(f"{_NODE_SELECT} ORDER BY started_at, runner_id")
        return [_node(r) for r in found]

    def claim_dead(self, runner_id: str) -> set[str]:
        with self._transaction() as db:
            found = db.execute(
                "DELETE FROM nodes WHERE lease_until <= now() AND runner_id != %s "
                "RETURNING runner_id",
                (runner_id,),
            ).fetchall()
        return {r[0] for r in found}

    def orphan_owners(self) -> set[str]:
        found = self._fetch(
            "SELECT DISTINCT runner_id FROM entries WHERE status = 'in_process' "
            "AND runner_id IS NOT NULL AND runner_id NOT IN (SELECT runner_id FROM nodes)"
        )
        return {r[0] for r in found}

    def describe_node(self, runner_id: str, revision: str | None, unheld: Sequence[str]) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE nodes SET revision = %s, unheld = %s WHERE runner_id = %s",
                (revision, _ids(unheld), runner_id),
            )

    def leave_node(self, runner_id: str) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM nodes WHERE runner_id = %s", (runner_id,))

    def open_sessions(self, runner_ids: Iterable[str]) -> list[model.SessionEvent]:
        sql = (
            f"{_EVENTS} s WHERE runner_id = ANY(%s) AND event = 'logon' "
            "AND client_type = 'background' AND NOT EXISTS (SELECT 1 FROM session_events o "
            "WHERE o.session_id = s.session_id AND o.event = 'logoff') ORDER BY seq"
        )
        with self._reading() as db:
            cursor = db.execute(sql, (list(runner_ids),))
            shape = tuple((c.name,) for c in cursor.description)
            return rows.read(cursor, shape, rows.event_reader)

    def running_categories(self) -> dict[str, str]:
        found = self._fetch(
            "SELECT category, id FROM entries WHERE status = 'in_process' AND category IS NOT NULL"
        )
        return {r[0]: r[1] for r in found}


def _node(r: tuple[Any, ...]) -> model.Node:
    return model.Node(
        runner_id=r[0],
        host=r[1],
        pid=r[2],
        version=r[3],
        state_dir=r[4],
        started_at=r[5],
        lease_until=r[6],
        alive=bool(r[7]),
        revision=r[8],
        unheld=tuple(json.loads(r[9])) if r[9] else (),
    )


def _ids(entry_ids: Sequence[str]) -> str:
    """Entry ids as the nodes table keeps them: a JSON list ('' for none)."""
    return json.dumps(sorted(entry_ids)) if entry_ids else ""


class _Connects(Protocol):
    channel: str
    _token: str

    def connect(self) -> psycopg.Connection[Any]: ...


class Listener:
    """A thread that LISTENs on the store's channel and calls `wake` for each commit of
    another store (a hint: the runner reads what changed), and once after each
    (re)connect so that what was missed meanwhile is caught up."""

    def __init__(
        self, store: _Connects, wake: Callable[[], None], lost: Callable[[str], None]
    ) -> None:
        self._store, self._wake, self._lost = store, wake, lost
        self._stop = threading.Event()
        self._db: psycopg.Connection[Any] | None = None
        self._listening = True  # (a first connect that fails is an outage to say)
        self._thread = threading.Thread(target=self._serve, name="store-listener", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        delay = RECONNECT_FIRST
        while not self._stop.is_set():
            try:
                self._listen()  # returns once stopped
            except psycopg.Error as exc:
                if self._stop.is_set():
                    return
                if self._listening:  # a new outage: said once, not at every try
                    self._lost(" ".join(str(exc).split()) or type(exc).__name__)
                    delay = RECONNECT_FIRST
                else:
                    delay = min(delay * 2, RECONNECT_MAX)
                self._listening = False
                self._stop.wait(delay)

    def _listen(self) -> None:
        db = self._store.connect()
        self._db = db
        try:
            db.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._store.channel)))
            self._listening = True
            self._wake()  # catch up: commits while this listener was not there
            while not self._stop.is_set():
                for note in db.notifies(timeout=1.0):
                    if self._stop.is_set():
                        break
                    if note.payload != self._store._token:
                        self._wake()
        finally:
            self._db = None
            db.close()

    def stop(self, nudge: Callable[[], None]) -> None:
        """Stop listening; `nudge` sends a notification of the store's own, which ends
        the listener's wait at once (else it would end within a second)."""
        self._stop.set()
        nudge()
        self._thread.join(timeout=3)
