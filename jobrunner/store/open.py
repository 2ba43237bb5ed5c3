"""Opening the state store: the only place that names its file (and, with a shared
store, its connection string). Every reader and writer opens it through here."""

from __future__ import annotations

from pathlib import Path

from jobrunner import config, errors
from jobrunner.store import Store
from jobrunner.store.memory import MemoryStore
from jobrunner.store.sqlite import FILE_NAME, SqliteStore, state_exists


def state_file(state_dir: Path) -> Path:
    """The SQLite file of the state in `state_dir`."""
    return state_dir / FILE_NAME


def has_state(cfg: config.Config) -> bool:
    """Whether a runner has written state yet (StateAccessDenied when this account may
    not look into another account's state folder; StoreUnreachable when the shared
    store's server cannot be reached)."""
    if cfg.store is not None:
        from jobrunner.store.postgres import PostgresStore

        probe = PostgresStore(cfg.store, create=False)
        try:
            return probe.exists
        finally:
            probe.close()
    return state_exists(state_file(cfg.state_dir))


def open_store(cfg: config.Config, *, background_checkpoints: bool = False) -> Store:
    """The store of `cfg`, made when it does not exist yet (the runner, run-once)."""
    return open_at(cfg.state_dir, background_checkpoints=background_checkpoints, dsn=cfg.store)


def open_at(
    state_dir: Path, *, background_checkpoints: bool = False, dsn: str | None = None
) -> Store:
    """The store kept in `state_dir` (a session finds its runner's state by folder), or
    the shared one `dsn` names (a `postgresql://` connection string)."""
    if dsn is not None:
        from jobrunner.store.postgres import PostgresStore  # psycopg only where used

        return PostgresStore(dsn)
    return SqliteStore(state_file(state_dir), background_checkpoints=background_checkpoints)


def open_existing(cfg: config.Config) -> Store:
    """The store of `cfg` for a command that changes it; an error when no runner has
    written any state yet."""
    if not has_state(cfg):
        where = str(cfg.state_dir) if cfg.store is None else _described(cfg.store)
        raise errors.JobRunnerError(
            f"no state in {where} yet: start the runner once (jobrunner run)"
        )
    return open_store(cfg)


def open_for_reading(cfg: config.Config) -> Store:
    """The store of `cfg` for reading; an empty one when no runner has written any yet
    (reading never makes the state)."""
    return open_store(cfg) if has_state(cfg) else MemoryStore()


def _described(dsn: str) -> str:
    from jobrunner.store.postgres import describe

    return describe(dsn)
