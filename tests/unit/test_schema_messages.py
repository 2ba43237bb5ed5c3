"""The schemas word their own problems (`errorMessage`, which yaml-language-server shows
in the editor), and `jobrunner validate` says the same text."""

from __future__ import annotations

from typing import Any

import pytest

from jobrunner import errors, problems, schemas, spec


def _walk(node: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        found.append(node)
        for value in node.values():
            found += _walk(value)
    elif isinstance(node, list):
        for value in node:
            found += _walk(value)
    return found


@pytest.mark.parametrize("name", schemas.NAMES)
def test_every_pattern_the_schema_checks_has_a_message_of_its_own(name):
    for node in _walk(schemas.load(name)):
        if "pattern" in node and node is not schemas.load(name):
            assert "errorMessage" in node, node  # else an editor shows the raw pattern


def test_a_bad_duration_reads_as_the_schema_words_it():
    message = schemas.load("job.schema.json")["$defs"]["duration"]["errorMessage"]
    assert message == "not a duration (examples: 30s, 5m, 1h30m)"
    with pytest.raises(errors.SpecError) as caught:
        spec.parse_spec(
            "object_id: 1\ntimeout: often\n", "job.yaml", default_id="job", timezone="UTC"
        )
    (problem,) = caught.value.problems
    assert problem.message == "'often' is " + message


@pytest.mark.parametrize(
    ("recurrence", "key", "excluder"),
    [
        ("cron: '@daily'\n  every: 5m", "every", "cron"),
        ("cron: '@daily'\n  starting_time: '08:00'", "starting_time", "cron"),
        ("next_run_date_formula: 1D\n  every: 5m", "every", "next_run_date_formula"),
    ],
)
def test_keys_that_exclude_each_other_say_so_where_the_editor_shows_it(recurrence, key, excluder):
    defs = schemas.load("job.schema.json")["$defs"]
    text = f"object_id: 1\nrecurrence:\n  {recurrence}\n"
    with pytest.raises(errors.SpecError) as caught:
        spec.parse_spec(text, "job.yaml", default_id="job", timezone="UTC")
    (problem,) = caught.value.problems
    assert problem.path == f"recurrence.{key}"
    assert problem.line == 4
    wanted = defs["not_with_cron" if excluder == "cron" else "not_with_formula"]["errorMessage"]
    assert problem.message == wanted
    assert problem.message.startswith(f"cannot be used with {excluder} ({excluder} excludes ")


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("object_id: 1\nkey: value: other\n", "job.yaml:2:11: <document>: not valid YAML"),
        ("object_id: 1\ndescription: 'open\n", "job.yaml:3:1: <document>: not valid YAML"),
    ],
)
def test_a_yaml_syntax_error_carries_its_column(text, where):
    with pytest.raises(errors.SpecError) as caught:
        spec.parse_spec(text, "job.yaml", default_id="job", timezone="UTC")
    (problem,) = caught.value.problems
    assert problem.format().startswith(where), problem.format()
    assert problem.as_dict()["column"] == int(where.split(":")[2])


def test_other_problems_keep_file_line_path_message():
    with pytest.raises(errors.SpecError) as caught:
        spec.parse_spec(
            "object_id: 1\nstatus: paused\n", "job.yaml", default_id="job", timezone="UTC"
        )
    (problem,) = caught.value.problems
    assert problem.format() == "job.yaml:2: status: 'paused' is not one of: ready, on_hold"
    assert problem.as_dict()["column"] is None


def test_a_file_reports_the_schemas_problems_and_the_meanings_together():
    text = (
        "object_id: 1\n"
        "timeout: 5x\n"  # schema
        "expiration: 2020-13-01T00:00\n"  # meaning
        "recurrence:\n"
        "  every: 0s\n"  # meaning
        "  run_on: [mondy]\n"  # schema
    )
    with pytest.raises(errors.SpecError) as caught:
        spec.parse_spec(text, "job.yaml", default_id="job", timezone="UTC")
    assert [p.format() for p in caught.value.problems] == [
        "job.yaml:2: timeout: '5x' is not a duration (examples: 30s, 5m, 1h30m)",
        "job.yaml:3: expiration: '2020-13-01T00:00' is not a valid date and time "
        "(month must be in 1..12)",
        "job.yaml:5: recurrence.every: must be longer than 0 (leave every out to run once a day)",
        "job.yaml:6: recurrence.run_on[0]: 'mondy' is not one of: mon, tue, wed, thu, fri, "
        "sat, sun",
    ]


def test_a_missing_object_id_does_not_hide_the_meanings_problems():
    with pytest.raises(errors.SpecError) as caught:
        spec.parse_spec("rerun_delay: 2h\n", "job.yaml", default_id="job", timezone="UTC")
    assert [p.message for p in caught.value.problems] == [
        "missing required key 'object_id'",
        "'2h' is more than the maximum 1h",
    ]


def test_without_leaves_out_the_paths_and_copies():
    raw = {"a": 1, "b": {"c": 2, "d": 3}, "e": [1, 2]}
    assert problems.without(raw, [["a"], ["b", "c"], ["e", 1], []]) == {"b": {"d": 3}}
    assert raw == {"a": 1, "b": {"c": 2, "d": 3}, "e": [1, 2]}


_AGREEMENT = [
    {"object_id": 50100},
    {"object_id": "pkg.mod:func", "object_type": "report", "report_output": "pdf"},
    {"object_id": 50100, "report_output": "pdf"},  # a report key on a codeunit
    {"object_id": 50100, "object_type": "report", "report_parameters": {"a": 1}},
    {"object_id": 50100, "report_parameters": {}},
    {"object_id": 50100, "recurrence": {"cron": "5 4 * * *", "every": "1h"}},
    {"object_id": 50100, "recurrence": {"next_run_date_formula": "1D", "run_on": ["mon"]}},
    {"object_id": 50100, "recurrence": {"every": "5m", "run_on": ["mon", "mon"]}},
    {"object_id": 0},
    {"object_id": True},
    {"object_id": 50100, "priority": "urgent", "timeout": "often"},
    {"object_id": 50100, "history": {"keep_failed": 2, "failed_retention": "1d"}},
    {"object_id": 50100, "environment": {"1BAD": "x"}},
    {"description": "no object"},
]


@pytest.mark.parametrize("document", _AGREEMENT)
def test_the_compiled_validator_agrees_with_the_full_one(document):
    """The hot path's answer (fastjsonschema, draft 7, no details) is the full
    validator's (jsonschema, the schema as written)."""
    full = not list(schemas.full_validator("job.schema.json").iter_errors(document))
    assert schemas.is_valid("job.schema.json", document) == full


def test_the_validator_is_compiled_once_per_process():
    schemas.fast_validator.cache_clear()
    schemas.fast_validator(spec.SCHEMA)  # (the runner's start, before READY)
    assert schemas.is_valid(spec.SCHEMA, {"object_id": 50100})
    assert schemas.fast_validator.cache_info().misses == 1
