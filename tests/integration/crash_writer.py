"""A writer that loops through run transitions until killed (used by the crash test)."""

from __future__ import annotations

import dataclasses
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from jobrunner import model
from jobrunner.store import codec
from jobrunner.store.sqlite import SqliteStore

S = model.EntryStatus


def main(path: str) -> None:
    store = SqliteStore(Path(path))
    now = datetime.now(UTC)
    for i in range(5):
        if store.get_entry(f"e{i}") is None:
            definition = codec.from_definition(json.dumps({"object_id": 1}), "f", f"e{i}", "UTC")
            store.commit(
                model.Transition(
                    reason="add",
                    put=(model.Entry(spec=definition, status=S.READY, earliest_start=now),),
                )
            )
    print("ready", flush=True)
    n = 0
    while True:
        entry = store.get_entry(f"e{n % 5}")
        assert entry is not None
        session = f"s{n}"
        if entry.status is S.READY:
            store.commit(
                model.Transition(
                    reason="run_started",
                    put=(dataclasses.replace(entry, status=S.IN_PROCESS, session_id=session),),
                    log_insert=(
                        model.LogEntry(entry_id=entry.id, start_at=now, session_id=session),
                    ),
                    events=(
                        model.SessionEvent(
                            session_id=session, event="logon", at=now, entry_id=entry.id
                        ),
                    ),
                )
            )
        else:
            (log,) = store.list_log(entry_id=entry.id, status=model.LogStatus.IN_PROCESS)
            store.commit(
                model.Transition(
                    reason="run_finished",
                    put=(
                        dataclasses.replace(
                            entry, status=S.READY, session_id=None, attempts=entry.attempts + 1
                        ),
                    ),
                    log_update=(
                        dataclasses.replace(log, status=model.LogStatus.SUCCESS, end_at=now),
                    ),
                    events=(
                        model.SessionEvent(
                            session_id=log.session_id, event="logoff", at=now, entry_id=entry.id
                        ),
                    ),
                )
            )
        n += 1


if __name__ == "__main__":
    main(sys.argv[1])
