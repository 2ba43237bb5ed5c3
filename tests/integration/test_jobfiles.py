"""Reading many job files at once on every core: forked helpers, real files."""

from __future__ import annotations

import os
import select
import signal
import threading
from pathlib import Path

import pytest

from jobrunner import jobfiles, reconcile


def _folder(tmp_path: Path) -> list[Path]:
    jobs = tmp_path / "jobs.d"
    jobs.mkdir()
    for n in range(30):
        text = f"object_id: demo.jobs:noop{n}\nrecurrence:\n  cron: '{n} 3 * * *'\n"
        if n % 7 == 3:
            text = "object_id: [\n"  # not YAML
        elif n % 7 == 5:
            text = "object_id: demo.jobs:noop\npriority: urgent\n"  # not the schema
        (jobs / f"job{n:02d}.yaml").write_text(text)
    return [*sorted(jobs.iterdir()), jobs / "gone.yaml"]


@pytest.mark.parametrize("helpers", [1, 2, 3])
def test_helpers_read_the_same_results_in_the_same_order(tmp_path, helpers):
    paths = _folder(tmp_path)
    alone = jobfiles.read_all(paths, "Europe/Berlin", tmp_path, helpers=0)
    assert jobfiles.read_all(paths, "Europe/Berlin", tmp_path, helpers=helpers) == alone
    assert [r.path for r in alone] == [f"jobs.d/{p.name}" for p in paths]
    assert sum(1 for r in alone if r.problems) == 8
    assert alone[-1].deleted
    assert all(r.spec.stamp for r in alone if r.spec is not None)
    assert jobfiles.read_all([], "UTC", tmp_path, helpers=helpers) == []
    assert jobfiles.read_all(paths[:1], "UTC", tmp_path, helpers=helpers) == [
        jobfiles.read(paths[0], "UTC", tmp_path)
    ]


def test_a_helper_that_dies_has_its_share_read_by_the_process_itself(tmp_path, monkeypatch):
    paths = _folder(tmp_path)
    started = jobfiles._start

    def killed(*args):
        helper = started(*args)
        assert helper is not None
        os.kill(helper[0], signal.SIGKILL)
        return helper

    monkeypatch.setattr(jobfiles, "_start", killed)
    alone = jobfiles.read_all(paths, "UTC", tmp_path, helpers=0)
    assert jobfiles.read_all(paths, "UTC", tmp_path, helpers=2) == alone


def test_a_threaded_process_forks_no_helper(tmp_path, monkeypatch):
    paths = _folder(tmp_path)

    def refused(*args):
        raise AssertionError("forked a helper from a threaded process")

    monkeypatch.setattr(jobfiles, "_start", refused)
    release = threading.Event()
    thread = threading.Thread(target=release.wait, args=(5,))
    thread.start()
    try:
        results = jobfiles.read_all(paths, "UTC", tmp_path, helpers=2)
    finally:
        release.set()
        thread.join()
    assert len(results) == len(paths)


def test_helpers_by_default_only_for_many_files_and_one_per_spare_core():
    assert jobfiles._helpers(jobfiles.PARALLEL_MIN - 1) == 0
    cores = len(os.sched_getaffinity(0))
    assert jobfiles._helpers(100_000) == min(cores - 1, jobfiles.MAX_HELPERS)


def test_a_helper_holds_none_of_the_files_of_the_process(tmp_path):
    """A runner's lock, sockets and pipes stay its own while a helper reads: here a pipe
    end is closed in the helper though its read is still blocked (on a FIFO: a job file
    never is one, so the read here waits on one first)."""
    fifo = tmp_path / "gate"
    os.mkfifo(fifo)
    job = tmp_path / "slow.yaml"

    def slow(path: Path) -> reconcile.FileResult:
        job.write_text(Path(fifo).read_text())
        return jobfiles.read(path, "UTC", tmp_path)

    r, w = os.pipe()
    helper = jobfiles._start([job], slow)
    assert helper is not None
    os.close(w)
    try:
        ready, _, _ = select.select([r], [], [], 5)
        assert ready, "the helper kept the write end open"
        assert os.read(r, 1) == b""  # end of file: no one holds the write end
    finally:
        with open(fifo, "w") as f:  # let the helper's read finish
            f.write("object_id: 1\n")
        os.close(r)
    (result,) = jobfiles._finish(helper)
    assert result.spec is not None
    assert result.spec.object_id == 1


def test_a_read_of_many_files_names_each_as_display_does(tmp_path, monkeypatch):
    jobs = tmp_path / "jobs.d"
    jobs.mkdir()
    (jobs / "a.yaml").write_text("object_id: 1\n")
    monkeypatch.chdir(jobs)
    cases = [
        (jobs / "a.yaml", tmp_path),
        (jobs / "a.yaml", jobs),
        (jobs / "a.yaml", tmp_path / "elsewhere"),
        (Path("a.yaml"), None),
        (jobs / "gone.yaml", None),
        (tmp_path / "missing" / "b.yaml", tmp_path),
    ]
    found = []
    for path, base in cases:
        folders = jobfiles.Folders(base)
        try:
            found.append(folders.find(path))
        finally:
            folders.close()
    assert [name for name, _, _ in found] == [jobfiles.display(p, b) for p, b in cases]
    assert [gone for _, _, gone in found] == [False, False, False, False, True, True]


def test_a_first_reconciles_listing_names_the_files_a_rescan_stamps(tmp_path):
    jobs = tmp_path / "jobs.d"
    jobs.mkdir()
    (jobs / "a.yaml").write_text("object_id: 1\n")
    (jobs / "b.yml").write_text("object_id: 2\n")
    (jobs / ".hidden.yaml").write_text("object_id: 3\n")
    (jobs / "notes.txt").write_text("x\n")
    (jobs / "dir.yaml").mkdir()
    os.mkfifo(jobs / "fifo.yaml")
    (jobs / "link.yaml").symlink_to(jobs / "a.yaml")
    (jobs / "dangling.yaml").symlink_to(jobs / "missing.yaml")
    (jobs / "to-dir.yaml").symlink_to(jobs / "dir.yaml")
    os.close(os.open(os.fsencode(jobs) + b"/bad-\xff.yaml", os.O_CREAT | os.O_WRONLY, 0o644))
    stamped = jobfiles.stamps(jobs, tmp_path)
    assert sorted(stamped) == ["jobs.d/a.yaml", "jobs.d/b.yml", "jobs.d/link.yaml"]
    assert jobfiles.stamps(jobs, tmp_path, stamped=False) == dict.fromkeys(stamped, "")
