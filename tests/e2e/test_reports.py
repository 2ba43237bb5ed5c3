"""Report entries through the real CLI: `jobrunner run --until-idle` and `run-once` run
them, each format's document is kept with its log entry and read back with its library,
`output`, `log` and `show` find it, and it goes with its log entry."""

from __future__ import annotations

import csv
import json
import os
import pwd
import re
import stat
import subprocess
import tempfile
from pathlib import Path

import openpyxl
import pypdf
import pytest

from tests.e2e.runner_env import named

R = "tests.entrypoints.reports"
NAME = re.compile(r"^(?P<entry>.+)_(?P<no>\d+)_\d{8}T\d{6}Z\.(?P<fmt>csv|xlsx|pdf)$")


def cli(env, *args):
    proc = subprocess.run(
        env.command(*args), cwd=env.root, env=env.env, capture_output=True, timeout=60
    )
    assert b"Traceback" not in proc.stderr, proc.stderr
    return proc


def report(env, name, ref, fmt=None, extra=""):
    output = f"report_output: {fmt}\n" if fmt else ""
    env.job(name, f"object_type: report\nobject_id: {R}:{ref}\n{output}{extra}")


def numbers(env):
    return {log.entry_id: log.entry_no for log in env.log()}


def saved(env, log_no, tmp_path):
    proc = cli(env, "output", str(log_no), "--save", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    return tmp_path / proc.stdout.decode().strip().rsplit("/", 1)[1]


def test_each_format_is_kept_with_its_run_and_reads_back(env, tmp_path):
    report(env, "sales-csv", "sales")  # csv: the default
    report(env, "sales-xlsx", "sales", "xlsx", "report_parameters: {rows: 2}\n")
    report(env, "sales-pdf", "table", "pdf", "description: Run table\nparameter_string: x\n")
    report(env, "layout", "own")
    code, found, _ = env.run()
    assert code == 0
    assert not named(found, "run_failed")
    no = numbers(env)
    with open(saved(env, no["sales-csv"], tmp_path), newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["region", "orders", "amount", "closed", "day"]
    assert rows[1:] == [
        ["North", "3", "1250.50", "true", ""],
        ["Süd", "0", "0.0", "false", ""],
        ["East", "12", "99.25", "", "2026-11-30"],
    ]
    book = openpyxl.load_workbook(saved(env, no["sales-xlsx"], tmp_path))
    assert list(book.active.iter_rows(values_only=True)) == [
        ("region", "orders", "amount", "closed"),
        ("North", 3, 1250.5, True),
        ("Süd", 0, 0, False),
    ]
    pdf = pypdf.PdfReader(saved(env, no["sales-pdf"], tmp_path))
    assert pdf.pages[0].extract_text().splitlines() == ["Run table", "entry runs", "a 1", "b 2"]
    assert saved(env, no["layout"], tmp_path).read_bytes() == b"custom;layout\r\n1;2\r\n"
    kept = sorted((env.root / ".jobrunner" / "reports").iterdir())
    assert [(NAME.match(p.name)["entry"], int(NAME.match(p.name)["no"])) for p in kept] == sorted(
        (e, n) for e, n in no.items()
    )
    assert {stat.S_IMODE(p.stat().st_mode) for p in kept} == {0o600}


def test_output_prints_a_document_or_says_why_there_is_none(env):
    report(env, "sales", "sales")
    report(env, "quiet", "effects", "none")
    report(env, "broken", "fail", "xlsx")
    env.job("plain", "object_id: tests.entrypoints.jobs:ok\n")
    env.run()
    no = numbers(env)
    printed = cli(env, "output", str(no["sales"]))
    assert printed.returncode == 0
    assert printed.stdout.decode("utf-8").splitlines()[1] == "North,3,1250.50,true,"
    assert env.marks_of("effects") == ["ran"]
    expected = {
        "quiet": "(report_output: none)",
        "broken": ": the run failed",
        "plain": ": it ran a codeunit, not a report",
    }
    for entry_id, why in expected.items():
        proc = cli(env, "output", str(no[entry_id]))
        assert proc.returncode == 2
        message = f"jobrunner: log entry {no[entry_id]} ({entry_id}) has no output{why}\n"
        assert proc.stderr.decode() == message.replace("output(", "output (")
    gone = cli(env, "output", "999")
    assert (gone.returncode, gone.stderr) == (2, b"jobrunner: no log entry number 999\n")
    bad = cli(env, "output", str(no["sales"]), "--save", str(env.root / "nowhere"))
    assert bad.returncode == 2
    assert b"is not a folder" in bad.stderr


def test_log_and_show_say_which_runs_have_a_document(env):
    report(env, "weekly", "sales", "xlsx")
    env.job("plain", "object_id: tests.entrypoints.jobs:ok\n")
    env.run()
    no = numbers(env)
    table = cli(env, "log").stdout.decode().splitlines()
    assert any(
        re.search(rf"^{no['weekly']}\s+weekly\s+success\s+job \(xlsx\)\s", line) for line in table
    )
    assert any(re.search(rf"^{no['plain']}\s+plain\s+success\s+job\s", line) for line in table)
    rows = {
        r["entry_id"]: r for r in map(json.loads, cli(env, "log", "--json").stdout.splitlines())
    }
    assert rows["plain"]["report_output"] is None
    assert rows["weekly"]["object_type"] == "report"
    document = rows["weekly"]["report_output"]
    assert NAME.match(document["file"])["fmt"] == document["format"] == "xlsx"
    assert document["bytes"] > 0
    shown = cli(env, "show", "weekly").stdout.decode()
    assert f"report output of log entry {no['weekly']}: jobrunner output {no['weekly']}" in shown
    data = json.loads(cli(env, "show", "weekly", "--json").stdout)
    assert data["object_type"] == "report"
    assert data["log"][0]["report_output"] == document
    assert "report output" not in cli(env, "show", "plain").stdout.decode()


def test_a_document_over_the_limit_fails_its_run(env):
    env.configure("report_output_limit: 50000\n")
    report(env, "huge", "big")
    report(env, "small", "big", extra="parameter_string: '10'\n")
    env.run()
    (huge,) = env.log("huge")
    assert huge.error_message == (
        "The report's output is 100,206 bytes, over the limit of 50,000 bytes "
        "(report_output_limit)."
    )
    assert [p.name.split("_")[0] for p in (env.root / ".jobrunner" / "reports").iterdir()] == [
        "small"
    ]


def test_run_once_keeps_a_foreground_document(env, tmp_path):
    report(env, "adhoc", "sales", "xlsx", "report_parameters: {rows: 1}\n")
    proc = cli(env, "run-once", "jobs.d/adhoc.yaml")
    assert proc.returncode == 0, proc.stderr
    (log,) = env.log("adhoc")
    assert (log.client_type.value, log.object_type) == ("foreground", "report")
    book = openpyxl.load_workbook(saved(env, log.entry_no, tmp_path))
    assert list(book.active.values) == [
        ("region", "orders", "amount", "closed"),
        ("North", 3, 1250.5, True),
    ]
    assert list((env.root / ".jobrunner" / "sessions").iterdir()) == []


def test_prune_log_takes_the_documents_with_the_log_entries(env):
    report(env, "weekly", "sales")
    env.run()
    assert len(list((env.root / ".jobrunner" / "reports").iterdir())) == 1
    assert cli(env, "prune-log", "--older-than", "0s").returncode == 0
    assert list((env.root / ".jobrunner" / "reports").iterdir()) == []


def test_history_limits_prune_the_documents_of_the_runs_they_remove(env):
    env.configure("history: {keep_successful: 1}\n")
    report(env, "weekly", "sales")
    env.run()
    env.job("weekly", f"object_type: report\nobject_id: {R}:sales\ndescription: again\n")
    code, found, _ = env.run()
    assert code == 0
    (kept,) = env.log("weekly")
    (document,) = (env.root / ".jobrunner" / "reports").iterdir()
    assert int(NAME.match(document.name)["no"]) == kept.entry_no
    assert {"event": "outputs_pruned", "files": 1}.items() <= named(found, "outputs_pruned")[
        0
    ].items()


def test_validate_locates_report_keys_where_they_do_not_belong(env):
    env.job("cu", "object_id: 1\nreport_output: xlsx\n")
    env.job("fmt", "object_type: report\nobject_id: 1\nreport_output: docx\n")
    proc = cli(env, "validate", "--no-resolve")
    assert proc.returncode == 1
    assert proc.stdout.decode().splitlines()[:2] == [
        "jobs.d/cu.yaml:2: report_output: only a report entry (object_type: report) takes "
        "this key; this one runs a codeunit",
        "jobs.d/fmt.yaml:3: report_output: 'docx' is not a report output (csv, xlsx, pdf or none)",
    ]


def test_the_demo_report_counts_the_runs_of_the_other_demo_entries(cli, tmp_path):
    assert cli("run", "--until-idle", timeout=60).code == 0
    done = cli("run-once", "weekly-run-stats", timeout=60)
    assert done.code == 0, done.err
    log_no = json.loads(cli("log", "weekly-run-stats", "--json").out)["entry_no"]
    saved_to = cli("output", str(log_no), "--save", str(tmp_path)).out.strip()
    book = openpyxl.load_workbook(saved_to)
    header, *rows = book.active.values
    assert header == (
        "entry",
        "runs",
        "succeeded",
        "failed",
        "success_rate",
        "average_seconds",
        "last_run",
    )
    by_entry = {row[0]: row for row in rows}
    assert by_entry["reminder-once"][1:5] == (1, 1, 0, 100)
    assert book.properties.title == "Run statistics of the week"


@pytest.mark.parametrize("mode", ["fork", "spawn"])
def test_a_report_in_either_session_mode(env, tmp_path, mode):
    env.configure(f"session_mode: {mode}\n")
    report(env, "weekly", "sales", "xlsx", "report_parameters: {rows: 1}\n")
    code, _, _ = env.run()
    assert code == 0
    (log,) = env.log("weekly")
    book = openpyxl.load_workbook(saved(env, log.entry_no, tmp_path))
    assert list(book.active.values)[1] == ("North", 3, 1250.5, True)


REPORT_AS_ANYONE = """\
def sales(ctx):
    return [{"user": __import__("os").getuid(), "text": "Süd"}]
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="switching to another account needs root")
@pytest.mark.parametrize("fmt", ["csv", "xlsx", "pdf"])
def test_a_report_run_as_another_account_keeps_the_runners_private_document(env, tmp_path, fmt):
    """The account need not reach the state folder nor read the interpreter's files: the
    document is opened and its renderer loaded before the session switches."""
    folder = Path(tempfile.mkdtemp(prefix="jobrunner-any-user-", dir="/tmp"))
    env.cleanup.append(folder)
    folder.chmod(0o755)
    module = folder / f"{folder.name.replace('-', '_')}.py"
    module.write_text(REPORT_AS_ANYONE)
    module.chmod(0o644)
    env.env["PYTHONPATH"] = f"{folder}{os.pathsep}{env.env['PYTHONPATH']}"
    env.job(
        "weekly",
        f"object_type: report\nobject_id: {module.stem}:sales\nreport_output: {fmt}\n"
        "user: nobody\n",
    )
    code, _, _ = env.run()
    assert code == 0
    (log,) = env.log("weekly")
    assert log.status.value == "success", log.error_message
    path = saved(env, log.entry_no, tmp_path)
    nobody = str(pwd.getpwnam("nobody").pw_uid)
    if fmt == "csv":
        assert path.read_text(encoding="utf-8").splitlines() == ["user,text", f"{nobody},Süd"]
    elif fmt == "xlsx":
        rows = list(openpyxl.load_workbook(path).active.values)
        assert rows == [("user", "text"), (int(nobody), "Süd")]
    else:
        assert f"{nobody} Süd" in pypdf.PdfReader(path).pages[0].extract_text()
    kept = (env.root / ".jobrunner" / "reports" / path.name).stat()
    assert (kept.st_uid, stat.S_IMODE(kept.st_mode)) == (os.geteuid(), 0o600)


def test_report_dir_keeps_the_documents_elsewhere(env, tmp_path):
    env.configure("report_dir: shared/reports\n")
    report(env, "weekly", "sales", "pdf")
    env.run()
    (log,) = env.log("weekly")
    (document,) = (env.root / "shared" / "reports").iterdir()
    assert int(NAME.match(document.name)["no"]) == log.entry_no
    assert stat.S_IMODE((env.root / "shared" / "reports").stat().st_mode) == 0o700
    assert not (env.root / ".jobrunner" / "reports").exists()
    assert saved(env, log.entry_no, tmp_path).read_bytes().startswith(b"%PDF-")


def test_output_does_not_print_a_binary_document_on_a_terminal(env):
    import pty

    report(env, "weekly", "sales", "xlsx")
    env.run()
    (log,) = env.log("weekly")
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run(
            env.command("output", str(log.entry_no)),
            cwd=env.root,
            env=env.env,
            stdout=follower,
            stderr=subprocess.PIPE,
            timeout=60,
        )
    finally:
        os.close(follower)
        os.close(leader)
    assert proc.returncode == 2
    assert proc.stderr.decode() == (
        f"jobrunner: log entry {log.entry_no}'s output weekly_{log.entry_no}_"
        f"{log.start_at:%Y%m%dT%H%M%SZ}.xlsx is not text; save it with --save DIR, or "
        "redirect the output\n"
    )


def test_a_report_run_the_runner_did_not_see_end_keeps_its_document_at_the_next_start(
    env, tmp_path
):
    """The session wrote its document and result while the runner was stopped, then the
    runner was killed: the next start ends the run as the session said, document kept."""
    import signal
    import time

    from tests.e2e.test_recovery import _gone, _logged_on

    report(env, "j", "late", "xlsx")
    proc = env.start()
    try:
        env.wait_for_mark("j", "late")
        session_pid = int(env.marks_of("j")[0].split(" ")[2])
        deadline = time.monotonic() + 10
        while not _logged_on(env):
            assert time.monotonic() < deadline, "the session's logon was never committed"
            time.sleep(0.005)
        proc.send_signal(signal.SIGSTOP)
        while not _gone(session_pid):
            assert time.monotonic() < deadline, "the session did not end"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        proc.kill()
        proc.communicate()
    assert not (env.root / ".jobrunner" / "reports").exists()
    code, _, _ = env.run()
    assert code == 0
    (log,) = env.log("j")
    assert log.status.value == "success"
    book = openpyxl.load_workbook(saved(env, log.entry_no, tmp_path))
    assert len(list(book.active.values)) == 4
    assert len(env.marks_of("j")) == 1  # never run again
    assert list((env.root / ".jobrunner" / "sessions").iterdir()) == []
