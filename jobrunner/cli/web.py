"""`jobrunner web`: the dashboard, the JSON API and /metrics as a process of its own
(`jobrunner.web`, the `web` extra), and the hashes its config takes."""

from __future__ import annotations

import argparse

from jobrunner.cli import common


def configure_web_parser(sub: common.Subparsers) -> None:
    p = sub.add_parser("web", help="serve the dashboard, the JSON API and /metrics")
    p.add_argument("--listen", metavar="HOST:PORT", help="default: web.listen, else 127.0.0.1:8750")
    hashes = p.add_mutually_exclusive_group()
    hashes.add_argument(
        "--hash-password", action="store_true", help="print the hash of a password for web.users"
    )
    hashes.add_argument(
        "--hash-token", action="store_true", help="make a token and print its hash for web.tokens"
    )
    p.set_defaults(func=web_command)


def web_command(args: argparse.Namespace) -> int:
    from jobrunner.web import server  # (imports no web framework until it serves)

    if args.hash_password:
        return server.hash_password()
    if args.hash_token:
        return server.hash_token()
    return server.serve(common.load_config(args), args.listen)
