"""Reading the schedule as `systemctl list-timers` does, through the real CLI: LEFT and
PASSED beside the next and last run with their zone, a table that fits the terminal,
the last run's output in `show`, relative times for `log --since`."""

from __future__ import annotations

import json
import re
import subprocess

from tests.e2e.runner_env import CONFIG, Env

J = "tests.entrypoints.jobs"
LONG = "Synchronise the customers with the CRM, then mail the account managers a summary"


def cli(env: Env, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        env.command(*args),
        cwd=env.root,
        env={**env.env, **extra},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def _hourly(env: Env) -> None:
    env.job("sync", f"object_id: {J}:ok\ndescription: {LONG}\nrecurrence:\n  every: 1h\n")
    code, _, err = env.run()
    assert code == 0, err


def test_list_shows_left_and_passed_with_the_zone(env):
    (env.root / "jobrunner.yaml").write_text(CONFIG.replace("UTC", "Europe/Berlin"))
    _hourly(env)
    env.env.pop("COLUMNS", None)
    lines = cli(env, "list").stdout.splitlines()
    assert lines[0].split() == [
        "ID",
        "STATUS",
        "NEXT",
        "LEFT",
        "LAST",
        "PASSED",
        "RESULT",
        "ATTEMPTS",
        "CATEGORY",
        "DESCRIPTION",
    ]
    row = lines[1]
    stamp = r"\w{3} \d{4}-\d\d-\d\d \d\d:\d\d:\d\d CET"
    assert re.search(rf"ready\s+{stamp}\s+(59min|1h 0min) left\s+{stamp}\s+\d+(ms|s) ago", row)
    assert row.endswith(LONG)  # in a pipe, nothing is cut
    listed = json.loads(cli(env, "list", "--json").stdout)
    assert listed[0]["next_run"].endswith("Z")  # the JSON is as it was


def test_list_fits_the_terminal_width_by_cutting_the_description_first(env):
    _hourly(env)
    full = cli(env, "list").stdout.splitlines()
    width = len(full[1]) - 30
    cut = cli(env, "list", COLUMNS=str(width)).stdout.splitlines()
    assert max(map(len, cut)) <= width
    assert cut[1].endswith("…")
    assert re.search(r"success\s+0/0\s+-\s+Synchronise the customers", cut[1])
    narrow = cli(env, "list", COLUMNS="40").stdout.splitlines()
    assert "DESCRIPTION" not in narrow[0]
    assert "sync" in narrow[1]


def test_show_prints_the_last_runs_captured_output(env):
    env.job("talky", f"object_id: {J}:ok\nparameter_string: hello\n")
    code, _, err = env.run()
    assert code == 0, err
    text = cli(env, "show", "talky").stdout
    _, _, tail = text.partition("last run's output (log entry ")
    assert tail, text
    assert "ok ran with parameter 'hello'" in tail


def test_log_since_takes_a_time_ago_as_well_as_iso(env):
    _hourly(env)
    for since in ("-1h", "1h", "2d", "-30m", "2020-01-01T00:00"):
        rows = [
            json.loads(x)
            for x in cli(env, "log", "--since", since, "--json").stdout.split("\n")
            if x
        ]
        assert [r["entry_id"] for r in rows] == ["sync"], since
    assert cli(env, "log", "--since=-1h", "--json").stdout.strip()
    assert cli(env, "log", "--since", "2099-01-01T00:00", "--json").stdout == ""
    assert cli(env, "sessions", "--since", "-1h", "--json").stdout.strip() != "[]"
    bad = cli(env, "log", "--since", "yesterday")
    assert bad.returncode == 2
    assert "--since: 'yesterday' is neither a time ago (-1h, 2d, 30m)" in bad.stderr
