"""The README's commands are the ones CI runs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def quick_start_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", section)


def test_quick_start_has_two_commands():
    assert len(quick_start_commands()) == 2


def test_ci_runs_the_readme_test_command():
    test_command = quick_start_commands()[1]
    assert test_command in (ROOT / ".ci" / "run").read_text().splitlines()


def test_the_examples_run(cli):
    """The quick start's runner on the example jobs: due ones run and nothing fails."""
    import json

    result = cli("run", "--until-idle", timeout=60)
    assert result.code == 0
    found = [json.loads(line) for line in result.out.splitlines()]
    names = [e["event"] for e in found]
    assert names.count("entry_added") == 7
    assert not [e for e in found if e["event"].startswith(("run_failed", "job_file"))]
    assert {"entry_id": "reminder-once", "status": "finished"}.items() <= next(
        e for e in found if e["event"] == "run_finished" and e["entry_id"] == "reminder-once"
    ).items()
    month_end = next(
        e for e in found if e["event"] == "entry_added" and e["entry_id"] == "month-end-close"
    )
    assert month_end["earliest_start"].endswith("T23:00:00Z")
