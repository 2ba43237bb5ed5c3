"""Two real runners on one PostgreSQL store, each with its own git checkout of the same
repository of job files, in the middle of a deploy: the runner on the new commit stores
the new definitions (a changed entry, a removed one, an added one); the runner still on
the old commit, rescanning and restarting, writes none of its older definitions back,
starts no run of a definition its checkout does not hold, and says so; with the new
runner gone, the due run waits (`show`, `nodes`) instead of running the old version;
once the old runner pulls, both run the new definitions."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

import pytest

from jobrunner import model
from tests import gitrepo, pgdb
from tests.e2e.cluster_env import Cluster
from tests.e2e.runner_env import ROOT, events, named, written_lines

pytestmark = [pytest.mark.postgres, pytest.mark.alone]  # leases of 3 s: see tests/alone.py
VERSIONED = "tests.entrypoints.cluster_jobs:versioned"


def _job(version: str) -> str:
    return f"object_id: {VERSIONED}\nparameter_string: {version}\nrecurrence:\n  every: 1s\n"


@dataclass(frozen=True)
class Start:
    entry_id: str
    version: str
    runner: str
    pid: int
    at: float


@pytest.fixture
def schema():
    with pgdb.schema() as db:
        yield db


class Deploy:
    """The cluster, the store as a reader sees it, and each runner's events by life."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.db = cluster.store()
        self.lives: dict[str, list[list[dict]]] = {name: [] for name in cluster.names}

    def starts(self, since: float = 0.0) -> list[Start]:
        path = self.cluster.marks / "versions.log"
        lines = written_lines(path)
        found = [Start(e, v, r, int(p), float(t)) for e, v, r, p, t in map(str.split, lines)]
        return [s for s in found if s.at >= since]

    def stop(self, name: str) -> list[dict]:
        """SIGTERM one runner; the events of the life that ended."""
        proc = self.cluster.procs.pop(name)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        self.lives[name].append(events(out))
        return self.lives[name][-1]

    def cli(self, name: str, *args: str) -> object:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "TZ": "UTC"}
        done = subprocess.run(
            [sys.executable, "-m", "jobrunner", *args, "--json"],
            cwd=self.cluster.root / name,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def node(self, name: str) -> model.Node | None:
        """The live runner of the folder `name` (its state folder names it)."""
        found = [
            n for n in self.db.nodes() if n.alive and n.state_dir.endswith(f"/{name}/.jobrunner")
        ]
        return found[0] if found else None

    def logged(self, name: str, event: str) -> list[dict]:
        """The events of that name in the runner's log file (every life so far; written
        at the end of each pass)."""
        path = self.cluster.root / name / ".jobrunner" / "log" / "jobrunner.jsonl"
        text = path.read_text() if path.exists() else ""
        return [e for e in events(text) if e["event"] == event]

    def wait(self, predicate, what: str, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < deadline, f"timed out waiting for {what}: {self.state()}"
            time.sleep(0.02)

    def state(self) -> str:
        entries = [(e.id, e.spec.parameter_string, e.spec.revision) for e in self.db.list_entries()]
        nodes = [(n.state_dir, n.revision, n.unheld) for n in self.db.nodes()]
        gone = ""  # a runner that exited: its status and the end of what it wrote
        for name, proc in self.cluster.procs.items():
            if proc.poll() is not None:
                out, err = proc.communicate(timeout=10)
                gone += f"; {name} exited {proc.returncode}: {(out + err)[-3000:]}"
        return f"store {self.db.revision()}, entries {entries}, nodes {nodes}{gone}"


def test_a_cluster_in_the_middle_of_a_deploy(tmp_path, schema, monkeypatch):
    monkeypatch.delenv("JOBRUNNER_REVISION", raising=False)  # the git checkouts' commits
    origin = gitrepo.Origin(tmp_path / "origin")
    first = origin.commit({"x.yaml": _job("v1"), "y.yaml": _job("v1")})
    cluster = Cluster(tmp_path, schema, 2)
    new, old = cluster.names
    for name in cluster.names:
        origin.clone(tmp_path / name / "jobs.d")
    d = Deploy(cluster)
    cluster.start_all()
    try:
        d.wait(lambda: {s.runner for s in d.starts()} == {new, old}, "both runners to run v1")
        assert {(s.entry_id, s.version) for s in d.starts()} <= {("x", "v1"), ("y", "v1")}
        assert d.db.revision() == first

        # The deploy reaches one machine: x changes, y goes, z comes.
        second = origin.commit({"x.yaml": _job("v2"), "y.yaml": None, "z.yaml": _job("v2")})
        assert gitrepo.pull(tmp_path / new / "jobs.d") == second

        def deployed() -> bool:
            found = {e.id: e.spec for e in d.db.list_entries()}
            x, z = found.get("x"), found.get("z")
            return (
                d.db.revision() == second
                and "y" not in found
                and (x and x.parameter_string, z and z.revision) == ("v2", second)
            )

        d.wait(deployed, "the new commit in the store")
        at = time.time()

        # The old machine rescans (a file event) and restarts, still on the first commit.
        (tmp_path / old / "jobs.d" / "x.yaml").write_text(_job("v1"))  # (rewritten, unchanged)
        d.wait(lambda: d.logged(old, "definition_newer_in_store"), "the rescan to keep x")
        d.stop(old)
        cluster.start(old)
        d.wait(lambda: d.node(old) is not None and d.node(old).revision == first, "old entered")
        d.wait(
            lambda: set(d.node(old).unheld) == {"x", "z"},
            "the old runner to leave x and z to the new one",
        )
        d.wait(lambda: len([s for s in d.starts(at) if s.runner == new]) >= 4, "new runs")
        assert d.db.get_entry("x").spec.parameter_string == "v2"
        assert d.db.get_entry("y") is None  # the old checkout did not bring it back
        assert d.db.get_entry("z") is not None  # nor remove what it does not have
        assert d.db.revision() == second
        mid = d.starts(at + 1.0)  # (a run the old one started just before the deploy ends)
        assert {(s.entry_id, s.version, s.runner) for s in mid} <= {
            ("x", "v2", new),
            ("z", "v2", new),
        }
        assert {s.version for s in d.starts(at) if s.runner == old} <= {"v1"}
        shown = {n["state_dir"].split("/")[-2]: n for n in d.cli(old, "nodes")}
        assert (shown[new]["revision"], shown[old]["revision"]) == (second, first)
        assert (shown[new]["unheld"], shown[old]["unheld"]) == ([], ["x", "z"])

        # The new machine goes away: x's due run waits for a runner that holds it.
        d.stop(new)
        d.wait(
            lambda: d.cli(old, "show", "x")["waiting_for_revision"] == second,
            "show to say x waits for the new revision",
        )
        quiet = time.time()
        time.sleep(1.5)  # (runs of x and z every second: none may start here)
        assert d.starts(quiet) == []
        x = d.db.get_entry("x")
        assert (x.status, x.spec.parameter_string) == (model.EntryStatus.READY, "v2")

        # The old machine gets the deploy: it runs the new definitions; so does the new one.
        assert gitrepo.pull(tmp_path / old / "jobs.d") == second
        d.wait(
            lambda: {(s.entry_id, s.runner) for s in d.starts(quiet)} >= {("x", old), ("z", old)},
            "the old runner to run x and z once it holds them",
        )
        assert d.cli(old, "show", "x")["waiting_for_revision"] is None
        back = time.time()
        cluster.start(new)
        d.wait(lambda: {s.runner for s in d.starts(back)} == {new, old}, "both to run v2")
        assert {(s.entry_id, s.version) for s in d.starts(quiet)} <= {("x", "v2"), ("z", "v2")}
    finally:
        codes = cluster.stop_all()
        d.db.close()
    assert set(codes.values()) <= {0}, cluster.outputs
    lives = {name: [*d.lives[name], cluster.events(name)] for name in cluster.names}
    for name, found in lives.items():
        for life in found:
            assert not [e for e in life if e["level"] == "error"], name
    newer = [named(life, "definition_newer_in_store") for life in lives[old]]
    assert [(e["entry_id"], e["change"]) for e in newer[0]] == [("x", "change")]  # the rescan
    assert {(e["stored_revision"], e["own_revision"]) for e in newer[1]} == {(second, first)}
    # the restart (and, it may be, a batch read while its pull had x.yaml out of place)
    assert {(e["entry_id"], e["change"]) for e in newer[1]} - {("x", "remove")} == {
        ("x", "change"),
        ("y", "add"),
        ("z", "remove"),
    }
    assert not any(named(life, "definition_newer_in_store") for life in lives[new])
    started = [e for life in lives[old] for e in named(life, "runner_started")]
    assert [e["revision"] for e in started] == [first, first]
