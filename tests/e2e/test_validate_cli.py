"""`jobrunner validate` through the real CLI."""

from __future__ import annotations


def write(cli, name: str, text: str, folder: str = "jobs.d"):
    path = cli.dir / folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_examples_are_valid(cli):
    result = cli("validate")
    assert result.code == 0
    assert result.out == ""
    assert "7 job file(s) checked, 0 with problems" in result.err


def test_problems_are_one_located_line_each(cli):
    write(cli, "bad.yaml", "object_id: 50100\nrecurrence:\n  every: 5 min\n")
    result = cli("validate")
    assert result.code == 1
    assert result.out.splitlines() == [
        "jobs.d/bad.yaml:3: recurrence.every: '5 min' is not a duration (examples: 30s, 5m, 1h30m)"
    ]


def test_json_output(cli):
    write(cli, "bad.yaml", "object_id: 50100\nstatus: paused\n")
    result = cli("validate", "--json")
    assert result.code == 1
    assert result.json() == [
        {
            "file": "jobs.d/bad.yaml",
            "line": 2,
            "path": "status",
            "message": "'paused' is not one of: ready, on_hold",
            "column": None,
        }
    ]


def test_json_output_when_valid_is_an_empty_list(cli):
    result = cli("validate", "--json")
    assert (result.code, result.json()) == (0, [])


def test_duplicate_ids_across_files(cli):
    write(cli, "a.yaml", "id: same\nobject_id: 50100\n")
    write(cli, "b.yaml", "id: same\nobject_id: 50100\n")
    result = cli("validate")
    assert result.code == 1
    assert result.out.strip() == "jobs.d/b.yaml:1: id: id 'same' is already used by jobs.d/a.yaml"


def test_unregistered_object_and_missing_module(cli):
    write(cli, "a.yaml", "object_id: 99999\n")
    write(cli, "b.yaml", "object_id: 50100\nfailure_handler: no_such_pkg.alerts:notify\n")
    result = cli("validate")
    assert result.code == 1
    lines = result.out.splitlines()
    assert lines[0].startswith("jobs.d/a.yaml:1: object_id: codeunit 99999 is not registered")
    assert lines[1] == (
        "jobs.d/b.yaml:2: failure_handler: 'no_such_pkg.alerts:notify': "
        "module 'no_such_pkg.alerts' is not installed"
    )
    assert cli("validate", "--no-resolve").code == 0


def test_config_objects_map_resolves(cli):
    write(cli, "a.yaml", "object_id: 77\n")
    write(cli, "jobrunner.yaml", "objects:\n  77: jobrunner.demo:close_month\n", folder=".")
    assert cli("validate").code == 0


def test_validate_named_files_only(cli):
    path = write(cli, "x.yml", "object_id: 50100\n", folder="elsewhere")
    result = cli("validate", str(path))
    assert result.code == 0
    assert "1 job file(s) checked" in result.err


def test_non_utf8_and_binary_files(cli):
    (cli.dir / "jobs.d" / "latin1.yaml").write_bytes(b"description: caf\xe9\nobject_id: 1\n")
    result = cli("validate")
    assert result.code == 1
    assert "jobs.d/latin1.yaml:1: <document>: not UTF-8 text" in result.out


def test_tab_indentation_is_a_yaml_error(cli):
    write(cli, "tabs.yaml", "object_id: 1\nrecurrence:\n\tevery: 5m\n")
    result = cli("validate")
    assert result.code == 1
    assert result.out.startswith("jobs.d/tabs.yaml:3:1: <document>: not valid YAML")


def test_config_unknown_key_and_bad_zone(cli):
    write(cli, "jobrunner.yaml", "jobs_dir: jobs.d\nworkerz: 4\nfrobnicate: 1\n", folder=".")
    result = cli("validate")
    assert result.code == 1
    lines = result.out.strip().splitlines()
    assert lines[0].endswith(
        "jobrunner.yaml:2: workerz: unknown key 'workerz'; did you mean 'workers'?"
    )
    assert (
        "jobrunner.yaml:3: frobnicate: unknown key 'frobnicate' (known keys: history, jobs_dir, "
        in (lines[1])
    )
    write(cli, "jobrunner.yaml", "timezone: Europe/Atlantis\n", folder=".")
    result = cli("validate")
    assert result.code == 1
    assert "jobrunner.yaml:1: timezone: 'Europe/Atlantis' is not a known IANA" in result.out


def test_missing_jobs_dir(cli):
    write(cli, "jobrunner.yaml", "jobs_dir: nowhere\n", folder=".")
    result = cli("validate")
    assert result.code == 1
    assert "nowhere:1: <document>: the jobs folder does not exist" in result.out


def test_usage_error_exits_2(cli):
    assert cli("validate", "--bogus").code == 2
    assert cli().code == 2


def test_many_files_read_by_helpers_give_the_same_report(cli):
    """Past jobrunner.jobfiles.PARALLEL_MIN files, forked helpers read shares of them:
    the report is the same, in the same order."""
    for n in range(2100):
        write(cli, f"m{n:04d}.yaml", f"object_id: 50100\nrecurrence:\n  cron: '{n % 60} 3 * * *'\n")
    write(cli, "m0007.yaml", "object_id: 50100\npriority: urgent\n")  # in the first share
    write(cli, "m2050.yaml", "object_id: [\n")  # in the helper's
    result = cli("validate", "--no-resolve", timeout=120)
    assert result.code == 1
    assert result.out.splitlines() == [
        "jobs.d/m0007.yaml:2: priority: 'urgent' is not one of: high, normal, low",
        "jobs.d/m2050.yaml:2:1: <document>: not valid YAML: did not find expected node content "
        "(while parsing a flow node)",
    ]
    assert "2107 job file(s) checked, 2 with problems" in result.err


def test_non_ascii_digits_in_cron_are_located_problems(cli):
    write(cli, "sup.yaml", "object_id: 50100\nrecurrence:\n  cron: '\u00b9 * * * *'\n")
    write(cli, "ara.yaml", "object_id: 50100\nrecurrence:\n  cron: '\u0663 * * * *'\n")
    result = cli("validate")
    assert result.code == 1
    assert result.out.splitlines() == [
        "jobs.d/ara.yaml:3: recurrence.cron: minute: '\u0663' is not a number or name",
        "jobs.d/sup.yaml:3: recurrence.cron: minute: '\u00b9' is not a number or name",
    ]


def test_malformed_files_are_one_line_each_and_every_file_is_checked(cli):
    from tests import malformed

    files = [(name, text, want) for name, text, want in malformed.JOB_FILES if want]
    for name, text, _ in files:
        write(cli, f"{name}.yaml", text)
    result = cli("validate", "--no-resolve", timeout=60)
    assert result.code == 1
    assert "Traceback" not in result.err
    lines = result.out.splitlines()
    assert sorted(lines) == sorted(
        next(line for line in lines if line.startswith(f"jobs.d/{name}.yaml:{_read_as(want)}"))
        for name, _, want in files
    )
    assert f"{len(files) + 7} job file(s) checked, {len(files)} with problems" in result.err


def _read_as(want: str) -> str:
    """What the file reader says where the text reader says `want`: it refuses a file
    over the size limit before the text is read, in words of its own."""
    return "1: <document>: larger than" if want.startswith("1: <document>: is ") else want


def test_a_yaml_syntax_error_is_located_by_line_and_column(cli):
    write(cli, "colon.yaml", "object_id: 50100\ndescription: a: b\n")
    result = cli("validate", "--no-resolve")
    assert result.code == 1
    assert result.out.splitlines() == [
        "jobs.d/colon.yaml:2:15: <document>: not valid YAML: mapping values are not allowed "
        "in this context"
    ]
    (found,) = cli("validate", "--no-resolve", "--json").json()
    assert (found["line"], found["column"]) == (2, 15)


def test_every_problem_of_a_file_and_of_the_config_is_reported_at_once(cli):
    write(cli, "many.yaml", "object_id: 50100\nstatus: paused\nrecurrence:\n  every: 0s\n")
    result = cli("validate", "--no-resolve")
    assert result.code == 1
    assert result.out.splitlines() == [
        "jobs.d/many.yaml:2: status: 'paused' is not one of: ready, on_hold",
        "jobs.d/many.yaml:4: recurrence.every: must be longer than 0 (leave every out to run "
        "once a day)",
    ]
    (cli.dir / "jobrunner.yaml").write_text("timezone: Mars/Olympus\nworkers: 0\n")
    result = cli("validate", "--config-only")
    assert result.code == 1
    config = cli.dir / "jobrunner.yaml"
    assert result.out.splitlines() == [
        f"{config}:1: timezone: 'Mars/Olympus' is not a known IANA time zone (e.g. Europe/Berlin)",
        f"{config}:2: workers: 0 is out of range 1..1024",
    ]
