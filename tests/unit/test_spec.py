"""Job files: what a valid one becomes, and a located, clear message for each kind of
bad input (never a traceback)."""

from __future__ import annotations

import textwrap
from datetime import time, timedelta

import pytest

from jobrunner import errors, model, spec
from jobrunner import problems as problems_module
from jobrunner.testing import utc
from tests import malformed


def parse(text: str, *, name: str = "job", timezone: str = "UTC") -> model.JobSpec:
    return spec.parse_spec(
        textwrap.dedent(text), f"jobs.d/{name}.yaml", default_id=name, timezone=timezone
    )


def problems(text: str, **kw) -> list[str]:
    with pytest.raises(errors.SpecError) as caught:
        parse(text, **kw)
    return [p.format() for p in caught.value.problems]


def test_full_entry():
    entry = parse("""
        id: nightly
        description: Nightly sync
        object_id: 50100
        parameter_string: "250"
        status: on_hold
        user: svc-sync
        earliest_start: 2026-12-01T08:00
        expiration: 2027-12-01T08:00:00+01:00
        max_retries: 2
        rerun_delay: 1m
        category: CRM
        priority: high
        timeout: 30m
        inactivity_timeout: 0
        manual_recurrence: true
        failure_handler: pkg.alerts:notify
        on_final_failure: next_recurrence
        recurrence:
          every: 1h30m
          run_on: [mon, fri]
          starting_time: "08:00"
          ending_time: 18:00
          timezone: Europe/Berlin
          misfire_grace: 10m
    """)
    assert entry.id == "nightly"
    assert entry.status is model.DesiredStatus.ON_HOLD
    assert entry.earliest_start == utc(2026, 12, 1, 7)  # 08:00 in Berlin
    assert entry.expiration == utc(2027, 12, 1, 7)
    assert entry.rerun_delay == timedelta(minutes=1)
    assert entry.inactivity_timeout == timedelta(0)
    assert entry.priority is model.Priority.HIGH
    assert entry.on_final_failure is model.FinalFailure.NEXT_RECURRENCE
    rec = entry.recurrence
    assert rec is not None
    assert rec.every == timedelta(hours=1, minutes=30)
    assert rec.run_on == frozenset({1, 5})
    assert (rec.starting_time, rec.ending_time) == (time(8), time(18))
    assert rec.misfire_grace == timedelta(minutes=10)
    assert entry.timezone == "Europe/Berlin"
    assert len(entry.digest) == 64


def test_defaults():
    entry = parse("object_id: 50100\n", name="from-file-name")
    assert entry.id == "from-file-name"
    assert entry.recurrence is None
    assert entry.timeout == timedelta(hours=12)
    assert entry.inactivity_timeout == timedelta(minutes=5)
    assert entry.status is model.DesiredStatus.READY


def test_blank_time_is_not_midnight():
    entry = parse("object_id: 1\nrecurrence:\n  starting_time: '00:00'\n")
    assert entry.recurrence is not None
    assert entry.recurrence.starting_time == time(0)
    assert parse("object_id: 1\nrecurrence: {}\n").recurrence.starting_time is None


def test_unquoted_times_stay_times():
    # YAML 1.1 would read 10:00 as the number 600
    entry = parse("object_id: 1\nrecurrence:\n  starting_time: 10:00\n  ending_time: 18:30\n")
    assert entry.recurrence.starting_time == time(10)


def test_digest_changes_with_content_and_zone():
    a = parse("object_id: 1\n")
    assert a.digest == parse("object_id: 1   # a comment\n").digest
    assert a.digest != parse("object_id: 2\n").digest
    assert a.digest != parse("object_id: 1\n", timezone="Europe/Berlin").digest


BAD = [
    pytest.param(
        "object_id: [1\n", "jobs.d/job.yaml:2:1: <document>: not valid YAML", id="yaml-syntax"
    ),
    pytest.param(
        "object_id: 1\nobject_id: 2\n",
        "jobs.d/job.yaml:2:1: <document>: not valid YAML: duplicate key 'object_id'",
        id="duplicate-key",
    ),
    pytest.param(
        "- 1\n- 2\n",
        "jobs.d/job.yaml:1: <document>: a job file must be a mapping",
        id="not-a-mapping",
    ),
    pytest.param(
        "description: x\n",
        "jobs.d/job.yaml:1: <document>: missing required key 'object_id'",
        id="missing-object-id",
    ),
    pytest.param(
        "object_id: 1\ndescriptoin: x\n",
        "jobs.d/job.yaml:2: descriptoin: unknown key 'descriptoin'; did you mean 'description'?",
        id="unknown-key",
    ),
    pytest.param(
        "object_id: 1\nrecurrence:\n  every: 5 min\n",
        "jobs.d/job.yaml:3: recurrence.every: '5 min' is not a duration (examples: 30s, 5m, 1h30m)",
        id="bad-duration",
    ),
    pytest.param(
        "object_id: 1\nrerun_delay: 60\n",
        "jobs.d/job.yaml:2: rerun_delay: 60 is not a duration",
        id="bare-number",
    ),
    pytest.param(
        "object_id: 1\nrerun_delay: 2h\n",
        "jobs.d/job.yaml:2: rerun_delay: '2h' is more than the maximum 1h",
        id="rerun-delay-range",
    ),
    pytest.param(
        "object_id: 1\nrecurrence:\n  every: 0\n",
        "jobs.d/job.yaml:3: recurrence.every: must be longer than 0",
        id="every-zero",
    ),
    pytest.param(
        "object_id: 1\ntimeout: 0\n",
        "jobs.d/job.yaml:2: timeout: must be longer than 0",
        id="timeout-zero",
    ),
    pytest.param(
        "object_id: 1\nrecurrence:\n  starting_time: '25:00'\n",
        "jobs.d/job.yaml:3: recurrence.starting_time: '25:00' is not a time of day",
        id="bad-time",
    ),
    pytest.param(
        "object_id: 1\nearliest_start: next tuesday\n",
        "jobs.d/job.yaml:2: earliest_start: 'next tuesday' is not an ISO-8601",
        id="bad-datetime",
    ),
    pytest.param(
        "object_id: 1\nearliest_start: 2026-02-30T10:00\n",
        "jobs.d/job.yaml:2: earliest_start: '2026-02-30T10:00' is not a valid date",
        id="impossible-date",
    ),
    pytest.param(
        "object_id: 1\nearliest_start: 2026-12-01T10:00\nexpiration: 2026-11-01T10:00\n",
        "jobs.d/job.yaml:3: expiration: must be later than earliest_start",
        id="expiration-before-start",
    ),
    pytest.param(
        "object_id: 1\nrecurrence:\n  timezone: Mars/Olympus\n",
        "jobs.d/job.yaml:3: recurrence.timezone: 'Mars/Olympus' is not a known IANA",
        id="unknown-zone",
    ),
    pytest.param(
        "object_id: 1\nrecurrence:\n  cron: '61 * * * *'\n",
        "jobs.d/job.yaml:3: recurrence.cron: minute: 61 is out of range 0-59",
        id="bad-cron",
    ),
    pytest.param(
        "object_id: 1\nrecurrence:\n  cron: 'TZ=UTC 0 * * * *'\n",
        "jobs.d/job.yaml:3: recurrence.cron: TZ= / CRON_TZ= is not allowed",
        id="tz-in-cron",
    ),
    pytest.param(
        "object_id: 1\nrecurrence:\n  cron: '0 0 30 2 *'\n",
        "jobs.d/job.yaml:3: recurrence.cron: '0 0 30 2 *' never matches",
        id="cron-never-matches",
    ),
    pytest.param(
        "object_id: 1\nrecurrence:\n  next_run_date_formula: 1X\n",
        "jobs.d/job.yaml:3: recurrence.next_run_date_formula: cannot read '1X'",
        id="bad-formula",
    ),
    pytest.param(
        "object_id: 1\nrecurrence:\n  next_run_date_formula: CM\n",
        "recurrence.next_run_date_formula: 'CM' does not always move the date forward",
        id="formula-loops",
    ),
    pytest.param(
        "object_id: 1\nrecurrence:\n  cron: '@daily'\n  every: 5m\n",
        "jobs.d/job.yaml:4: recurrence.every: cannot be used with cron (cron excludes every, "
        "run_on, starting_time, ending_time and next_run_date_formula)",
        id="cron-and-every",
    ),
    pytest.param(
        "object_id: 1\nrecurrence:\n  next_run_date_formula: 1D\n  run_on: [mon]\n",
        "jobs.d/job.yaml:4: recurrence.run_on: cannot be used with next_run_date_formula "
        "(next_run_date_formula excludes every and run_on)",
        id="formula-and-run-on",
    ),
    pytest.param(
        "object_id: 1\nrecurrence:\n  run_on: [mon, funday]\n",
        "jobs.d/job.yaml:3: recurrence.run_on[1]: 'funday' is not one of: mon, tue",
        id="bad-weekday",
    ),
    pytest.param(
        "object_id: 1\nrecurrence:\n  run_on: []\n",
        "jobs.d/job.yaml:3: recurrence.run_on: must list at least one item",
        id="no-weekday",
    ),
    pytest.param(
        "object_id: 1\nrecurrence:\n  run_on: [mon, mon]\n",
        "recurrence.run_on: lists the same item twice",
        id="weekday-twice",
    ),
    pytest.param(
        "object_id: 1\nmax_retries: 11\n",
        "jobs.d/job.yaml:2: max_retries: 11 is out of range 0..10",
        id="retries-range",
    ),
    pytest.param(
        "object_id: 1\nmax_retries: three\n",
        "jobs.d/job.yaml:2: max_retries: 'three' should be a whole number",
        id="retries-type",
    ),
    pytest.param(
        "object_id: 1\nmanual_recurrence: yes\n",
        "jobs.d/job.yaml:2: manual_recurrence: 'yes' should be true or false",
        id="yes-is-not-a-boolean",
    ),
    pytest.param(
        "object_id: 1\ndescription: " + "x" * 251 + "\n",
        "jobs.d/job.yaml:2: description: is 251 characters long; at most 250",
        id="description-too-long",
    ),
    pytest.param(
        "object_id: 1\nid: 'bad id'\n", "jobs.d/job.yaml:2: id: 'bad id' is not an id", id="bad-id"
    ),
    pytest.param(
        "object_id: 'not a ref'\n",
        "jobs.d/job.yaml:1: object_id: 'not a ref' is not an object id",
        id="bad-object-ref",
    ),
    pytest.param(
        "object_id: 0\n", "jobs.d/job.yaml:1: object_id: 0 is not an object id", id="object-id-zero"
    ),
    pytest.param(
        "object_id: 1\nstatus: paused\n",
        "jobs.d/job.yaml:2: status: 'paused' is not one of: ready, on_hold",
        id="bad-status",
    ),
    pytest.param(
        "object_id: 1\nrecurrence: daily\n",
        "jobs.d/job.yaml:2: recurrence: 'daily' should be a mapping of keys",
        id="recurrence-not-mapping",
    ),
    pytest.param(
        "object_id: 1\nrecurrence:\n  evry: 5m\n",
        "jobs.d/job.yaml:3: recurrence.evry: unknown key 'evry'; did you mean 'every'?",
        id="unknown-nested-key",
    ),
    pytest.param(
        "object_id: 1\ncategory: 'A very long category code'\n",
        "jobs.d/job.yaml:2: category: 'A very long category code' is not a category",
        id="bad-category",
    ),
    pytest.param(
        "object_id: 1\nobject_type: report\n",
        "jobs.d/job.yaml:2: object_type: 'report' is not one of: codeunit",
        id="report-object-type",
    ),
]


@pytest.mark.parametrize(("text", "expected"), BAD)
def test_bad_input_is_located(text, expected):
    found = problems(text)
    assert any(expected in line for line in found), found


def test_file_name_that_is_not_an_id():
    found = problems("object_id: 1\n", name="my job")
    assert found == [
        "jobs.d/my job.yaml:1: id: the file name 'my job' is not a valid id; set id: explicitly"
    ]


def test_every_problem_of_a_file_is_reported():
    found = problems("object_id: x\nmax_retries: 99\nstatus: maybe\n")
    assert [line.split(": ")[1] for line in found] == ["object_id", "max_retries", "status"]


def test_empty_file_lacks_object_id():
    assert problems("") == ["jobs.d/job.yaml:1: <document>: missing required key 'object_id'"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [pytest.param(text, want, id=name) for name, text, want in malformed.JOB_FILES if want],
)
def test_malformed_file_is_one_located_problem(text, expected):
    """Deep nesting, alias bombs, keys that are not text, tags, and numbers, dates and
    formulas past the calendar: one located line each, never an exception or a hang."""
    found = problems(text)
    assert len(found) == 1, found
    assert found[0].startswith(f"jobs.d/job.yaml:{expected}"), found


def test_an_anchor_without_an_alias_is_read():
    assert parse("object_id: &id 1\n").object_id == 1


def test_plain_floats_and_explicit_core_tags_are_read():
    found = problems("object_id: 1\nmax_retries: 1.5\n")
    assert found == ["jobs.d/job.yaml:2: max_retries: 1.5 should be a whole number"]
    assert parse("object_id: 1\nparameter_string: !!str 12\n").parameter_string == "12"


def test_problems_past_the_limit_are_counted_in_one_line():
    found = problems("object_id: 1\n" + "".join(f"k{i}: 1\n" for i in range(50)))
    assert len(found) == problems_module.MAX_PROBLEMS + 1
    more = "30 more problems not listed (fix these first)"
    assert found[-1] == f"jobs.d/job.yaml:1: <document>: {more}"


def test_environment_is_read_as_written():
    entry = parse("""
        object_id: 1
        environment:
          PATH: /opt/app/bin:/usr/bin
          APP_MODE: nightly
          _EMPTY: ''
    """)
    assert entry.environment == {
        "PATH": "/opt/app/bin:/usr/bin",
        "APP_MODE": "nightly",
        "_EMPTY": "",
    }
    assert parse("object_id: 1\n").environment == {}


def test_environment_takes_part_in_the_digest():
    one = parse("object_id: 1\nenvironment: {A: x}\n")
    assert one.digest != parse("object_id: 1\nenvironment: {A: y}\n").digest
    assert one.digest != parse("object_id: 1\n").digest


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "object_id: 1\nenvironment:\n  GOOD: x\n  1BAD: y\n",
            "jobs.d/job.yaml:4: environment.1BAD: '1BAD' is not a variable name "
            "(letters, digits, '_'; not starting with a digit)",
            id="digit-first",
        ),
        pytest.param(
            "object_id: 1\nenvironment:\n  A-B: y\n",
            "jobs.d/job.yaml:3: environment.A-B: 'A-B' is not a variable name",
            id="dash",
        ),
        pytest.param(
            "object_id: 1\nenvironment:\n  PORT: 8080\n",
            "jobs.d/job.yaml:3: environment.PORT: 8080 is not text (quote a number",
            id="number",
        ),
        pytest.param(
            "object_id: 1\nenvironment:\n  LONG: " + "x" * 4097 + "\n",
            "jobs.d/job.yaml:3: environment.LONG: is 4097 characters long; at most 4096",
            id="long-value",
        ),
        pytest.param(
            "object_id: 1\nenvironment:\n" + "".join(f"  V{i}: x\n" for i in range(65)),
            "jobs.d/job.yaml:2: environment: holds 65 keys; at most 64 are allowed",
            id="too-many",
        ),
        pytest.param(
            "object_id: 1\nenvironment: [A]\n",
            "jobs.d/job.yaml:2: environment: ['A'] should be a mapping of keys",
            id="list",
        ),
        pytest.param(
            "object_id: 1\nenvironment:\n  A: x\n  HOME: /tmp\n",
            "jobs.d/job.yaml:4: environment.HOME: HOME is the account's own",
            id="reserved-home",
        ),
        pytest.param(
            'object_id: 1\nenvironment:\n  A: "a\\0b"\n',
            "jobs.d/job.yaml:3: environment.A: holds a NUL character",
            id="nul",
        ),
    ],
)
def test_bad_environment_is_located(text, expected):
    found = problems(text)
    assert any(line.startswith(expected) for line in found), found


@pytest.mark.parametrize("name", ["HOME", "USER", "LOGNAME", "SHELL"])
def test_the_accounts_own_variables_cannot_be_set(name):
    found = problems(f"object_id: 1\nenvironment:\n  {name}: x\n")
    assert found == [
        f"jobs.d/job.yaml:3: environment.{name}: {name} is the account's own "
        "(set from the user database) and cannot be set here"
    ]
