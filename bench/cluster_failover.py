"""Failover over repeated kill -9s: three runners on one store and a job that works for
a minute. Each time the runner running it is killed (SIGKILL), and measured from the
kill: until another runner has recovered the run (its log entry closed, as interrupted)
and until the retry's first instruction (the platform retry profile's 0 s). The floor
of each kill is read at the kill from the nodes table: the time until the killed
runner's lease lapses on the server's clock, before which no runner may take its runs
(it might only be slow). The killed runner is started again in its folder once its run
was taken over, so that three runners share the queue at every kill."""

from __future__ import annotations

import time

from bench.cluster_nodes import Nodes, schema, wait_for
from jobrunner import model
from jobrunner.store.postgres import PostgresStore

RECOVERY_WAIT = 30.0  # seconds: far beyond the bound (lease + sweep), a failure if reached


def failover(kills: int) -> dict[str, list[float]]:
    """Seconds from each kill: 'recovered', 'retried' (the retry's first instruction)
    and 'floor' (the killed runner's lease lapsing)."""
    found: dict[str, list[float]] = {"recovered": [], "retried": [], "floor": []}
    steps = ", ".join(["0s"] * (kills + 1))
    with schema() as dsn:
        nodes = Nodes(dsn, 3, config=f"retry_profile: [{steps}]\nshutdown_grace: 1s\n")
        nodes.job("hold", "object_id: bench.jobs:hold\n")
        nodes.start_all()
        try:
            wait_for(lambda: nodes.alive() == 3, 60, "three runners", poll=0.2)
            store = PostgresStore(dsn, create=False)
            try:
                for k in range(kills):
                    for name, value in _kill_once(nodes, store, k).items():
                        found[name].append(value)
            finally:
                store.close()
        finally:
            nodes.stop_all()
    return found


def _kill_once(nodes: Nodes, store: PostgresStore, k: int) -> dict[str, float]:
    wait_for(lambda: nodes.out.exists() and len(nodes.lines()) > k, 60, "the run's start")
    session, name, _ = nodes.lines()[k]
    pid = nodes.procs[name].pid
    killed = time.time()
    nodes.kill(name)
    (lease,) = [n.lease_until for n in store.nodes() if n.pid == pid]
    floor = lease.timestamp() - killed

    def closed() -> bool:
        logs = [g for g in store.list_log(entry_id="hold") if g.session_id == session]
        return bool(logs) and logs[0].status is not model.LogStatus.IN_PROCESS

    wait_for(closed, RECOVERY_WAIT, "the recovery", poll=0.01)
    recovered = time.time() - killed
    wait_for(lambda: len(nodes.lines()) > k + 1, RECOVERY_WAIT, "the retry", poll=0.01)
    retried = float(nodes.lines()[k + 1][2]) - killed
    nodes.start(name)  # the same runner again (its folder, a new process)
    wait_for(lambda: nodes.alive() == 3, 60, "the runner back", poll=0.2)
    return {"recovered": recovered, "retried": retried, "floor": floor}
