"""The Task Scheduler's end of a task session: pure functions of the task, the outcome
and now (moved here from test_scheduler with taskflow.task_ended)."""

from __future__ import annotations

from datetime import timedelta

from jobrunner import model, taskflow
from jobrunner.testing import utc

NOW = utc(2026, 11, 21, 10, 25)
OK = model.Outcome(ok=True)
BOOM = model.Outcome(ok=False, message="boom\nmore", stack="Traceback ...", cause="exception")


TASK = model.Task(
    id="t",
    object="pkg.mod:main",
    failure_object="pkg.mod:fail",
    parameter="p",
    session_id="s",
    version=3,
)
PROFILE = (timedelta(minutes=2),)


def test_task_success_removes_it():
    assert taskflow.task_ended(TASK, OK, NOW, PROFILE) == (None, "task_finished")


def test_task_retriable_failure_uses_the_profile_then_the_failure_object():
    flaky = model.Outcome(ok=False, message="reset", retriable=True)
    again, event = taskflow.task_ended(TASK, flaky, NOW, PROFILE)
    assert (event, again.attempts, again.not_before, again.session_id) == (
        "task_retry_scheduled",
        1,
        NOW + timedelta(minutes=2),
        None,
    )
    spent, event = taskflow.task_ended(again, flaky, NOW, PROFILE)
    assert (event, spent.phase, spent.object, spent.failure_object) == (
        "task_failure_object_scheduled",
        "failure",
        "pkg.mod:fail",
        None,
    )


def test_task_plain_failure_goes_to_the_failure_object_with_the_error():
    import json

    handed, event = taskflow.task_ended(TASK, BOOM, NOW, PROFILE)
    assert event == "task_failure_object_scheduled"
    error = json.loads(handed.parameter)
    assert (error["message"], error["stack"], error["parameter"], error["last_attempt"]) == (
        "boom",
        "Traceback ...",
        "p",
        True,
    )


def test_task_without_failure_object_fails_and_a_failing_failure_object_is_retried():
    import dataclasses

    plain = dataclasses.replace(TASK, failure_object=None)
    assert taskflow.task_ended(plain, BOOM, NOW, PROFILE) == (None, "task_failed")
    handler = dataclasses.replace(TASK, phase="failure", failure_object=None)
    again, event = taskflow.task_ended(handler, BOOM, NOW, PROFILE)
    assert (event, again.attempts) == ("task_retry_scheduled", 1)
    assert taskflow.task_ended(again, BOOM, NOW, PROFILE) == (None, "task_failed")
