"""Bad input never takes anything down: generated and mutated job files and configs
through the validator, the config reader and a live reconcile into a real SQLite store.
Only located problems come out, and an entry whose file turns bad keeps its last good
definition."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from jobrunner import config, errors, jobfiles, model, spec, validate
from jobrunner.reconciler import Reconciler
from jobrunner.store.sqlite import SqliteStore
from tests import malformed
from tests.e2e.runner_env import CONFIG

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = {p.stem: p.read_text() for p in sorted((ROOT / "jobs.d").glob("*.yaml"))}
CONFIG_EXAMPLES = [CONFIG, (ROOT / "deploy" / "jobrunner.yaml").read_text()]
# fmt: off
NASTY_VALUES = [
    "99999999999999d", "999999999999999999999h", "36501d", "1" * 5000, "-1", "1e308", ".nan",
    "'0001-01-01T00:00:00+14:00'", "'9999-12-31T23:59:59-14:00'", "'9999-12-31T00:00:00Z'",
    "'99999999999D'", "'9999999Y'", "'-99999999W'", "'WD9'", "'D0'", "'*/0 * * * *'",
    "'0 0 1 1 *'", "'0 0 30 2 *'", "[a, b]", "{1: 2}", "null", "true", "~", "&a x", "*a",
    "&a [*a]", "!!binary aGk=", "!!timestamp 2001-01-01", "!!python/name:os.system x",
    "!!int x", "!foo bar", "'" + "x" * 300 + "'", "[" * 2000 + "]" * 2000,
    "{a: " * 40 + "}" * 40, "'10:00'", "10:00", "'25:00'", "Mars/Olympus", "'" + "a" * 300 + "'",
]
ODD_KEYS = ["1", "null", "true", "~", "1.5", "? [a, b]\n", "? {a: 1}\n", "<<", "!!merge x",
            "*a", "&k key", "''", "-1"]
# fmt: on
PUNCTUATION = list("[]{}:,-&*!|>'\"#?%@`\t\n ")


@st.composite
def mutated(draw: st.DrawFn, texts: list[str]) -> str:
    """An example with a few edits: a character inserted, deleted or replaced, a value
    swapped for a nasty one, an odd key added at some indentation, or an alias bomb."""
    text = draw(st.sampled_from(texts))
    for _ in range(draw(st.integers(1, 4))):
        lines = text.splitlines() or [""]
        i = draw(st.integers(0, len(lines) - 1))
        kind = draw(st.integers(0, 5))
        if kind == 0:
            at = draw(st.integers(0, len(text)))
            text = text[:at] + draw(st.sampled_from(PUNCTUATION)) + text[at:]
        elif kind == 1 and text:
            at = draw(st.integers(0, len(text) - 1))
            text = text[:at] + text[at + 1 :]
        elif kind == 2 and ":" in lines[i]:
            lines[i] = lines[i].split(":")[0] + ": " + draw(st.sampled_from(NASTY_VALUES))
            text = "\n".join(lines) + "\n"
        elif kind == 3:
            indent = " " * (len(lines[i]) - len(lines[i].lstrip()))
            key = draw(st.sampled_from(ODD_KEYS))
            lines.insert(i, f"{indent}{key}: {draw(st.sampled_from(NASTY_VALUES))}")
            text = "\n".join(lines) + "\n"
        elif kind == 4:
            text += draw(st.sampled_from([m[1] for m in malformed.JOB_FILES[:20]]))
        else:
            at = draw(st.integers(0, len(text)))
            text = text[:at] + draw(st.text(max_size=8)) + text[at:]
    return text


def assert_located(problems: list[model.Problem], source: str) -> None:
    assert problems
    for p in problems:
        assert p.file == source
        assert p.line >= 1
        assert p.path
        assert p.message
        assert "internal error" not in p.message, p.format()


LIMITS = settings(
    max_examples=300,
    deadline=timedelta(seconds=2),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@LIMITS
@given(mutated(list(EXAMPLES.values())))
def test_validator_gives_only_located_problems(text):
    try:
        spec.parse_spec(text, "jobs.d/x.yaml", default_id="x", timezone="UTC")
    except errors.SpecError as exc:
        assert_located(exc.problems, "jobs.d/x.yaml")


@pytest.fixture(scope="module")
def folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as name:
        yield Path(name)


@settings(LIMITS, max_examples=150)
@given(mutated(CONFIG_EXAMPLES))
def test_config_reader_gives_only_located_problems(folder, text):
    path = folder / "jobrunner.yaml"
    path.write_text(text)
    try:
        config.load(path)
    except errors.ConfigError as exc:
        assert_located(exc.problems, str(path))


class Live:
    """A reconciler on a real folder and store, and each entry's last good definition."""

    def __init__(self, base: Path) -> None:
        self.jobs = base / "jobs.d"
        self.jobs.mkdir()
        for name, text in EXAMPLES.items():
            (self.jobs / f"{name}.yaml").write_text(text)
        self.cfg = config.Config(
            path=None, base=base, jobs_dir=self.jobs, state_dir=base / "state", timezone="UTC"
        )
        self.store = SqliteStore(self.cfg.state_dir / "jobrunner.sqlite3")
        self.rec = Reconciler(self.cfg, self.store, lambda: datetime.now(UTC))
        self.rec.full()
        self.good = {e.id: e.spec.digest for e in self.store.list_entries()}
        assert sorted(self.good) == sorted(EXAMPLES)

    def edit(self, name: str, text: str) -> None:
        """Write the file, reconcile it as the runner does, and check the outcome."""
        path = self.jobs / f"{name}.yaml"
        path.write_text(text)
        with capture_logs() as logs:
            self.rec.paths([path])
        entry = self.store.get_entry(name)
        if entry is not None and entry.spec.source == f"jobs.d/{name}.yaml":
            if entry.rejected:
                assert entry.spec.digest == self.good[name], "lost its last good definition"
            else:
                self.good[name] = entry.spec.digest
        for event in logs:
            if event["event"] == "job_file_rejected":
                assert event["problems"], event
                for line in event["problems"]:
                    assert line.startswith(f"jobs.d/{name}.yaml:"), line
                    assert "internal error" not in line, line

    def close(self) -> None:
        self.store.close()


@pytest.fixture(scope="module")
def live(folder) -> Iterator[Live]:
    (folder / "live").mkdir()
    live = Live(folder / "live")
    yield live
    live.close()


@settings(LIMITS, max_examples=150)
@given(st.sampled_from(sorted(EXAMPLES)), st.data())
def test_live_reconcile_never_raises_and_keeps_the_last_good_definition(live, name, data):
    live.edit(name, data.draw(mutated([EXAMPLES[name]])))
    if data.draw(st.booleans()):
        live.edit(name, EXAMPLES[name])  # good again, so the next bad edit has one to keep


@pytest.mark.parametrize(
    ("name", "text"), [pytest.param(m[0], m[1], id=m[0]) for m in malformed.JOB_FILES]
)
def test_live_reconcile_rejects_each_malformed_file(tmp_path, name, text):
    live = Live(tmp_path)
    try:
        before = live.store.get_entry("inbox-poll")
        live.edit("inbox-poll", text)
        after = live.store.get_entry("inbox-poll")
        assert after.rejected.startswith("jobs.d/inbox-poll.yaml:"), after.rejected
        assert after.spec.digest == before.spec.digest
        assert after.earliest_start == before.earliest_start
    finally:
        live.close()


def test_a_file_changed_to_non_utf8_after_its_read_is_located_at_line_1(tmp_path):
    """validate words a duplicate id by reading the file again for its line; a file
    changed in between (here to bytes that are not UTF-8) gives line 1, not a crash."""
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    for path in (first, second):
        path.write_text("id: same\nobject_id: 50100\n")
    specs = [jobfiles.load_file(p, timezone="UTC") for p in (first, second)]
    second.write_bytes(b"\xff\xfe id: same\n")
    (problem,) = validate.duplicate_ids(specs)
    assert (problem.file, problem.line, problem.path) == (str(second), 1, "id")


@pytest.mark.parametrize(
    ("text", "expected"), [pytest.param(m[1], m[2], id=m[0]) for m in malformed.CONFIGS]
)
def test_malformed_config_is_one_located_problem(tmp_path, text, expected):
    path = tmp_path / "jobrunner.yaml"
    path.write_text(text)
    with pytest.raises(errors.ConfigError) as caught:
        config.load(path)
    (problem,) = caught.value.problems
    assert problem.format().startswith(f"{path}:{expected}"), problem.format()
