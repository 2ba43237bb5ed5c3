"""Work items: retry-safe staging queues that jobs (and tasks) process in chunks.

A job stages one item per unit of work (`ctx.items("orders").add(key, payload)`),
claims a chunk of pending ones and processes each inside `with item:`; an item is done
only once its block returned, failed (error and call stack kept) when it raised, and
pending again with its attempt counted when its session died while it was in process.

Layout (imports flow downwards only):

- `model`: the frozen records (Item, Queue, Failure, RunCount) and the errors;
- `core`: pure decisions, functions of their inputs and `now` (claim, finish, fail,
  release of a dead session's items, retry, discard, what may be pruned, payloads);
- `storage`: the ItemStore protocol, the few reads and writes the operations need inside
  one transaction, documented once, and `for_store`, which picks the implementation of a
  state store; `memory` (the reference), `sqlite` (the state file, on a connection of
  its own) and `jobrunner.store.sql.items.SqlItems` (PostgreSQL, on the store's
  connection) implement it; the SQL ones share their statements and rows
  (`jobrunner.store.sql.item_queries`, `jobrunner.store.sql.items`), and their tables
  are version 5 of each dialect's schema;
- `ops`: every operation written once over a transaction of any ItemStore;
- `job` (the job's API: Queue and WorkItem), `shell` (what the runner does when a session
  ends, at recovery and on a pruning pass: `runner.endings`, `runner.recovery` and
  `pruning` call it), `demo`.

The operator's side is outside the package: `cli.items` (the `jobrunner items`
commands), `views.items` (their shapes and text, and what `list`, `show` and `log`
add) and `views.queries` (the counts those read).

A store of its own plugs in with one class that implements `storage.ItemStore` and one
branch in `storage.for_store` (see there); another SQL store needs only its dialect's
wording of the item statements and the tables in its schema.
"""
