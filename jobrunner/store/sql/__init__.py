"""What every SQL store shares: named statements (`queries`), rows mapped by column name
(`rows`; the dashboard's states and log counts: `summary`), the schema and its
migrations per dialect (`migrations`), the commit of a Transition with compare-and-set
(`writes`) and the reads (`base.SqlStore`); work items' statements (`item_queries`)
and their transaction over any SQL connection (`items`). A database's
own ways are a `dialect.Dialect`; no module here imports a driver.

How a store for another database plugs in (PostgreSQL with psycopg 3, `store/postgres.py`):

- a Dialect: `queries=QUERIES.styled("%s")`, with `dataclasses.replace` for the few it
  words otherwise (`entries_by_source` as `source = ANY(%s)` with `many=list`,
  `insert_log` with `RETURNING entry_no` and `inserted_id` reading that row);
  `migrations.POSTGRES` starting at LATEST in one step (BIGINT for the microsecond
  instants, BIGSERIAL for `log_entries.entry_no` and `session_events.seq`, DOUBLE
  PRECISION for `session_started`, the same partial index `tasks_queue`);
  `version_query`/`version_update` on a one-row table; `unique_violation=
  (psycopg.errors.UniqueViolation,)`; `savepoint=lambda cur: cur.connection.transaction()`
  (a failed statement aborts a PostgreSQL transaction; a savepoint keeps it going);
  `shape=lambda cur: tuple((c.name,) for c in cur.description)` (the readers' cache key);
- a subclass of `base.SqlStore` that opens the connection (`open.py` hands it the DSN)
  and implements `_transaction(durable=...)` as `with conn.transaction(): yield
  conn.cursor()` (with `SET LOCAL synchronous_commit = off` when `durable` is False) and
  `_reading()` as a cursor of its own; `sync` makes earlier commits durable
  (`SELECT pg_current_wal_flush_lsn()` is no fsync: commit one durable statement),
  `check_alive`, `upkeep` (nothing to do, or a VACUUM of the log), `where` (host and
  database, never the password) and `close` are its own.

The aggregates (`log_stats`: GROUP BY with CASE, `entry_states`, `running_sessions`:
UNION, a page: LIMIT/OFFSET) are standard SQL; a SUM is read with int() (PostgreSQL
sums a BIGINT as NUMERIC). The shared commit assumes only what both databases give:
each statement's `rowcount`, `UPDATE ... RETURNING`, `INSERT ... ON CONFLICT (key) DO
UPDATE`, and a transaction that takes the counter row's lock first
(`take_entry_numbers`), so concurrent writers number entries in turn.
"""
