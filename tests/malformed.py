"""Malformed job files and configs that once took `validate` or a runner down (a
traceback, a hang, a dead runner), each with the one located problem it now gives."""

from __future__ import annotations

OBJ = "object_id: 50100\n"


def _bomb(levels: int = 9, width: int = 9) -> str:
    # "billion laughs": each level lists the one before `width` times
    lines = ["a0: &a0 [" + ", ".join(["lol"] * width) + "]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]" for i in range(1, levels)]
    return OBJ + "\n".join(lines) + "\n"


# (id, text, the problem's "LINE: PATH: message" start, after "FILE:")
JOB_FILES: list[tuple[str, str, str]] = [
    ("deep-flow-seq", OBJ + "a: " + "[" * 100_000 + "]" * 100_000, "2:1003: <document>: "),
    ("deep-flow-map", OBJ + "a: " + "{a: " * 100_000 + "}" * 100_000, "2: <document>: nested"),
    ("deep-block-seq", OBJ + "a:\n  " + "- " * 100_000 + "x\n", "3: <document>: nested"),
    ("deep-under-1000", OBJ + "a: " + "[" * 900 + "]" * 900, "2: a[0][0][0]"),
    ("deep-just-over", OBJ + "recurrence: " + "{a: " * 20 + "}" * 20, "2: recurrence.a.a.a"),
    ("alias-bomb", _bomb(), "3: a1[0]: aliases (*name) are not allowed"),
    ("recursive-alias", OBJ + "a: &a [*a]\n", "2: a[0]: aliases (*name) are not allowed"),
    ("alias-value", OBJ + "description: &d x\nparameter_string: *d\n", "3: parameter_string: al"),
    ("int-key", OBJ + "1: x\n", "2: 1: unknown key '1'"),
    ("list-key", OBJ + "? [a, b]\n: x\n", "2: <document>: a key must be plain text, not a list"),
    ("map-key", OBJ + "? {a: 1}\n: x\n", "2: <document>: a key must be plain text, not a mapping"),
    ("null-key", OBJ + "null: x\n", "2: null: unknown key 'null'"),
    ("true-key", OBJ + "true: x\n", "2: true: unknown key 'true'"),
    ("float-key", OBJ + "1.5: x\n", "2: 1.5: unknown key '1.5'"),
    ("nested-int-key", OBJ + "recurrence:\n  1: x\n", "3: recurrence.1: unknown key '1'"),
    ("nested-null-key", OBJ + "recurrence:\n  ~: x\n", "3: recurrence.~: unknown key '~'"),
    ("nested-list-key", OBJ + "recurrence:\n  ? [a]\n  : x\n", "3: recurrence: a key must be"),
    ("huge-timeout", OBJ + "timeout: 99999999999999d\n", "2: timeout: '99999999999999d' is longer"),
    ("huge-rerun", OBJ + "rerun_delay: 999999999999999999999h\n", "2: rerun_delay: '9999"),
    ("huge-every", OBJ + "recurrence:\n  every: 99999999999d\n", "3: recurrence.every: '9999"),
    ("huge-grace", OBJ + "recurrence:\n  misfire_grace: " + "9" * 5000 + "s\n", "3: recurrence.m"),
    ("huge-inactivity", OBJ + "inactivity_timeout: 36501d\n", "2: inactivity_timeout: '36501d'"),
    (
        "earliest-before-year-1",
        OBJ + "earliest_start: '0001-01-01T00:00:00+14:00'\n",
        "2: earliest_start: '0001-01-01T00:00:00+14:00' is not a valid date and time",
    ),
    (
        "expiration-after-9999",
        OBJ + "expiration: '9999-12-31T23:59:59-14:00'\n",
        "2: expiration: '9999-12-31T23:59:59-14:00' is not a valid date and time",
    ),
    (
        "formula-days",
        OBJ + "recurrence:\n  next_run_date_formula: '99999999999D'\n",
        "3: recurrence.next_run_date_formula: '99999999999D' moves a date outside the calendar",
    ),
    (
        "formula-years",
        OBJ + "recurrence:\n  next_run_date_formula: '9999999Y'\n",
        "3: recurrence.next_run_date_formula: '9999999Y' moves a date outside the calendar",
    ),
    (
        "formula-weeks-back",
        OBJ + "recurrence:\n  next_run_date_formula: '-99999999W'\n",
        "3: recurrence.next_run_date_formula: '-99999999W' moves a date outside the calendar",
    ),
    (
        "formula-long",
        OBJ + "recurrence:\n  next_run_date_formula: '" + "1D+" * 30_000 + "1D'\n",
        "3: recurrence.next_run_date_formula: is 90002 characters long",
    ),
    (
        "formula-many-digits",
        OBJ + "recurrence:\n  next_run_date_formula: '" + "1" * 60 + "D'\n",
        "3: recurrence.next_run_date_formula: '111",
    ),
    ("cron-superscript", OBJ + "recurrence:\n  cron: '*/² * * * *'\n", "3: recurrence.cron: minu"),
    ("cron-many-digits", OBJ + "recurrence:\n  cron: '" + "1" * 5000 + " * * * *'\n", "3: recu"),
    ("tag-timestamp", OBJ + "a: !!timestamp 001-01-01\n", "2: a: the tag !!timestamp is not"),
    ("tag-binary", OBJ + "description: !!binary aGk=\n", "2: description: the tag !!binary"),
    ("tag-python", OBJ + "a: !!python/name:os.system x\n", "2: a: the tag !!python/name:os"),
    ("tag-set", OBJ + "a: !!set {x}\n", "2: a: the tag !!set is not allowed"),
    ("tag-merge", OBJ + "recurrence:\n  !!merge x: {every: 1h}\n", "3: recurrence: a key must"),
    ("tag-local", OBJ + "a: !mine x\n", "2: a: the tag !mine is not allowed"),
    ("tag-bad-int", OBJ + "max_retries: !!int 12ab\n", "2: max_retries: '12ab' cannot be read"),
    ("int-digits", OBJ + "max_retries: " + "1" * 5000 + "\n", "2: max_retries: '111"),
    ("zone-long", OBJ + "recurrence:\n  timezone: " + "a" * 5000 + "\n", "3: recurrence.timezone"),
    ("too-many-values", OBJ + "".join(f"k{i}: 1\n" for i in range(3000)), "2000: k1998: holds"),
    ("too-large", OBJ + "# " + "x" * (1 << 20) + "\n", "1: <document>: is 1048596 characters"),
    (
        "cron-past-the-calendar",
        OBJ + "earliest_start: '9998-06-01T00:00:00Z'\nrecurrence:\n  cron: '0 0 29 2 *'\n",
        "",  # valid as text; its entry has no first run, so a reconcile rejects it
    ),
    (
        "earliest-in-9999",
        OBJ + "earliest_start: '9999-12-31T23:59:59Z'\nrecurrence:\n  every: 1h\n",
        "2: earliest_start: '9999-12-31T23:59:59Z' is too late: an entry starts before 9999",
    ),
    (
        "earliest-in-9999-weekly",
        OBJ + "earliest_start: '9999-12-30T00:00:00'\nrecurrence:\n  run_on: [mon]\n",
        "2: earliest_start: '9999-12-30T00:00:00' is too late",
    ),
]

CONFIGS: list[tuple[str, str, str]] = [
    ("int-key", "workers: 2\n1: x\n", "2: 1: unknown key '1'"),
    ("list-key", "workers: 2\n? [a, b]\n: x\n", "2: <document>: a key must be plain text, not a"),
    ("huge-grace", "shutdown_grace: 99999999999999d\n", "1: shutdown_grace: '99999999999999d'"),
    ("long-grace", "kill_grace: 2d\n", "1: kill_grace: '2d' is more than the maximum 1d"),
    ("huge-retention", "log_retention: 999999999999999999999h\n", "1: log_retention: '999"),
    ("huge-retry", "retry_profile: [1s, 99999999999999999d]\n", "1: retry_profile[1]: '999"),
    ("deep", "users: " + "{a: " * 100_000 + "}" * 100_000 + "\n", "1: <document>: nested"),
    ("alias", "timezone: &z UTC\nusers: {bob: {objects: [*z]}}\n", "2: users.bob.objects[0]: al"),
    ("alias-bomb", _bomb().replace(OBJ, "timezone: UTC\n"), "3: a1[0]: aliases (*name) are"),
    ("tag", "workers: !!binary aGk=\n", "1: workers: the tag !!binary is not allowed"),
]
