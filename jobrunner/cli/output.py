"""`jobrunner output LOG_ENTRY_NO [--save DIR]`: the document a report's run kept,
printed (a text format, or any format into a pipe) or saved under its own name."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from jobrunner import errors
from jobrunner.cli import common
from jobrunner.reports import reading as report_reading


def configure_output_parser(sub: common.Subparsers) -> None:
    p = sub.add_parser("output", help="print or save the document of a report's run")
    p.add_argument("log_no", type=int, metavar="LOG_ENTRY_NO")
    p.add_argument("--save", type=Path, metavar="DIR", help="write it into DIR, under its name")
    p.set_defaults(func=output_command)


def output_command(args: argparse.Namespace) -> int:
    cfg = common.load_config(args)
    with common.reading(cfg) as db:
        kept = report_reading.document(cfg, db, args.log_no)
        if args.save is not None:
            print(report_reading.save(cfg, db, kept, args.save))
            return 0
        if kept.format != "csv" and sys.stdout.isatty():
            raise errors.JobRunnerError(
                f"log entry {args.log_no}'s output {kept.name} is not text; "
                "save it with --save DIR, or redirect the output"
            )
        data = report_reading.content(cfg, db, kept)
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    return 0
