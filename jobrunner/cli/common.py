"""What every command shares: the config, the store opened for a block, `--json`, the
options that take a time, and how an error becomes an exit code.

Exit codes: 0 success, 1 the checked thing is not OK (invalid files, a failed run),
2 usage or input errors (JobRunnerError becomes one line on stderr, an invalid job file
its located problem lines), 130 on Ctrl-C, 141 when stdout's reader went away
(`jobrunner log | head`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TypeAlias
from zoneinfo import ZoneInfo

from jobrunner import config, errors, model, store, timetext, wallclock
from jobrunner.store import open as store_open

Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
"""What `ArgumentParser.add_subparsers` returns (argparse names its type private)."""

READER_GONE = 141
"""The exit status when stdout's reader went away: what a shell reports for a command
that SIGPIPE ended (128 + 13), so `set -o pipefail` sees it as other tools."""


def execute(args: argparse.Namespace) -> int:
    """Run the parsed command; its errors as exit codes."""
    try:
        code = int(args.func(args))
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
        return code
    except BrokenPipeError:
        return _reader_gone()
    except errors.SpecError as exc:
        for problem in exc.problems:
            print(problem.format(), file=sys.stderr)
        return 2
    except errors.JobRunnerError as exc:
        print(f"jobrunner: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _reader_gone() -> int:
    """Stop quietly, as Unix tools do: what is still buffered goes to /dev/null."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return READER_GONE


def glued(argv: Sequence[str]) -> list[str]:
    """`--since -1h` as `--since=-1h`: argparse takes a value that starts with `-` for
    an option."""
    out: list[str] = []
    for arg in argv:
        if out and out[-1] == "--since" and arg.startswith("-") and arg != "--":
            out[-1] = f"--since={arg}"
        else:
            out.append(arg)
    return out


def add_json(parser: argparse.ArgumentParser, help: str | None = None) -> None:
    parser.add_argument("--json", action="store_true", help=help)


def print_json(data: object) -> None:
    print(json.dumps(data, indent=2))


def load_config(args: argparse.Namespace) -> config.Config:
    return config.load(args.config)


def reading(cfg: config.Config) -> contextlib.closing[store.Store]:
    """The state store open for reading, for the block (an empty one before any state)."""
    return contextlib.closing(store_open.open_for_reading(cfg))


def writing(cfg: config.Config) -> contextlib.closing[store.Store]:
    """The existing state store, open for the block (a command that changes it)."""
    return contextlib.closing(store_open.open_existing(cfg))


def making(cfg: config.Config) -> contextlib.closing[store.Store]:
    """The state store, made when it does not exist yet, open for the block."""
    return contextlib.closing(store_open.open_store(cfg))


def print_problems(problems: Sequence[model.Problem], as_json: bool) -> None:
    if as_json:
        print_json([p.as_dict() for p in problems])
    else:
        for p in problems:
            print(p.format())


def tz(cfg: config.Config) -> ZoneInfo:
    return wallclock.zone(cfg.timezone)


def colour() -> bool:
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def width() -> int | None:
    """The width a table must fit: COLUMNS, else the terminal's; in a pipe, none."""
    if os.environ.get("COLUMNS", "").isdigit() or sys.stdout.isatty():
        import shutil  # (only for a table on a terminal)

        return shutil.get_terminal_size().columns
    return None


def parse_when(text: str, tz_name: str, option: str = "--from") -> datetime:
    try:
        return timetext.parse_instant(text, tz_name)
    except ValueError:
        raise errors.JobRunnerError(
            f"{option}: {text!r} is not an ISO-8601 date and time"
        ) from None


def since(text: str | None, cfg: config.Config, now: datetime | None = None) -> datetime | None:
    """An ISO-8601 time (wall time in the configured zone without an offset), or how long
    ago: `-1h`, `2d`, `1h30m` (the sign is optional; journalctl --since's `-1h`)."""
    if text is None:
        return None
    try:
        return timetext.parse_since(text, cfg.timezone, now or datetime.now(UTC))
    except ValueError:
        raise errors.JobRunnerError(
            f"--since: {text!r} is neither a time ago (-1h, 2d, 30m) nor an ISO-8601 date and time"
        ) from None


def duration(text: str, option: str) -> timedelta:
    """A duration option's value (`30s`, `1h30m`); a bad one is a usage error."""
    try:
        return timetext.parse_duration(text)
    except ValueError as exc:
        raise errors.JobRunnerError(f"{option}: {exc}") from None
