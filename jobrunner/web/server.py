"""`jobrunner web`: checks the settings, then serves the app with uvicorn until SIGTERM
or Ctrl-C."""

from __future__ import annotations

import getpass
import secrets
import sys

from jobrunner import config, errors, telemetry
from jobrunner.web import auth
from jobrunner.web import settings as web_settings

GRACE_S = 2  # open event streams are ended after this on a stop


def serve(cfg: config.Config, listen: str | None) -> int:
    lacking = missing()
    if lacking:
        raise errors.JobRunnerError(
            f"jobrunner web needs the web extra ({', '.join(lacking)} missing): "
            "pip install 'jobrunner[web]'"
        )
    import uvicorn

    from jobrunner.web import asgi

    chosen = web_settings.load(cfg, listen)
    telemetry.configure(None, log_format=cfg.log_format, log_level=cfg.log_level)
    application = asgi.build(cfg, chosen)
    telemetry.get_logger().info(
        "web_started",
        listen=f"{chosen.host}:{chosen.port}",
        url=url(chosen),
        authentication=sorted(_methods(chosen)),
    )
    uvicorn.run(
        application,
        host=chosen.host,
        port=chosen.port,
        log_level="warning",
        access_log=False,
        server_header=False,
        # the peer is the peer: X-Forwarded-For never renames it (web.trusted_proxies
        # are believed by their own address)
        proxy_headers=False,
        timeout_graceful_shutdown=GRACE_S,
        lifespan="on",
    )
    return 0


def url(chosen: web_settings.Settings) -> str:
    host = f"[{chosen.host}]" if ":" in chosen.host else chosen.host
    return f"http://{host}:{chosen.port}/"


def _methods(chosen: web_settings.Settings) -> set[str]:
    found = {"password"} if chosen.passwords else set()
    found |= {"token"} if chosen.tokens else set()
    return found | ({"proxy"} if chosen.proxy_header else set())


def hash_password() -> int:
    """Read a password (twice on a terminal), print its hash for web.users."""
    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if first != getpass.getpass("again: "):
            print("jobrunner: the passwords differ", file=sys.stderr)
            return 2
    else:
        first = sys.stdin.readline().rstrip("\n")
    if len(first) < 8:
        print("jobrunner: a password needs at least 8 characters", file=sys.stderr)
        return 2
    print(auth.hash_password(first))
    return 0


def hash_token() -> int:
    """A new random token (on a terminal; shown once) or the token on stdin; print its
    hash for web.tokens."""
    if sys.stdin.isatty():
        token = secrets.token_urlsafe(32)
        print(f"token (give it to the client; it is not kept): {token}", file=sys.stderr)
    else:
        token = sys.stdin.readline().strip()
    if len(token) < 16:
        print("jobrunner: a token needs at least 16 characters", file=sys.stderr)
        return 2
    print(auth.hash_token(token))
    return 0


NEEDED = ("starlette", "uvicorn", "jinja2", "prometheus_client", "multipart")


def missing() -> list[str]:
    """The web extra's modules this installation lacks."""
    import importlib.util

    return [name for name in NEEDED if importlib.util.find_spec(name) is None]
