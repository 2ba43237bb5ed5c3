"""What every request shares (`Web`): the settings, the store, who may read and who
may change, the templates. The pages and the API are built on it; `asgi` puts them
together."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import jinja2
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from jobrunner import config, telemetry, wallclock
from jobrunner.views import times
from jobrunner.web import auth, live, metrics, source
from jobrunner.web import settings as web_settings

HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]


class Web:
    """What every request shares: the settings, the store, the signer of cookies, the
    change feed, the metrics and the templates."""

    def __init__(self, cfg: config.Config, cfg_web: web_settings.Settings) -> None:
        self.cfg = cfg
        self.settings = cfg_web
        self.source = source.Source(cfg)
        self.signer = auth.Signer()
        self.changes = live.Changes(cfg.state_dir, self.source.touch)
        self.source.follow(self.changes.bump)
        self.metrics = metrics.Collector(self.source)
        self.tz = wallclock.zone(cfg.timezone)
        self.templates = jinja2.Environment(
            loader=jinja2.PackageLoader("jobrunner.web", "templates"),
            autoescape=True,  # nothing a job printed is ever markup
            undefined=jinja2.StrictUndefined,
        )
        self.templates.filters.update(zoned=self.zoned, ago=ago)

    def zoned(self, value: datetime | None) -> str:
        return times.zoned(value, self.tz)

    def identity(self, request: Request) -> auth.Identity:
        found = getattr(request.state, "identity", None)
        if found is None:
            found = auth.identify(
                self.settings,
                self.signer,
                headers=request.headers,
                cookies=request.cookies,
                client=request.client.host if request.client else None,
                now=time.time(),
            )
            if found.bad:
                raise HTTPException(401, "wrong credentials")
            request.state.identity = found
        return found

    def may_read(self, request: Request) -> bool:
        return self.settings.loopback or self.identity(request).user is not None

    def reader_or_401(self, request: Request) -> None:
        if not self.may_read(request):
            raise HTTPException(401, "log in first: this dashboard listens beyond the loopback")

    def acting_user(self, request: Request, token: str | None) -> str:
        """The authenticated user of a change; a browser's credentials need the form
        token (`token`: from the form or the X-CSRF-Token header)."""
        who = self.identity(request)
        if who.user is None:
            raise HTTPException(401, "changes need a logged-in user")
        if who.needs_csrf and not self.signer.csrf_ok(
            request.cookies.get(auth.CSRF_COOKIE), token or request.headers.get("x-csrf-token")
        ):
            telemetry.get_logger().warning(
                "web_action_refused", user=who.user, action=request.url.path, why="csrf"
            )
            raise HTTPException(403, "the form's token is missing or wrong (reload the page)")
        return who.user

    def csrf_cookie(self, request: Request) -> str:
        return request.cookies.get(auth.CSRF_COOKIE) or secrets.token_urlsafe(24)

    def flash_query(self, message: str) -> str:
        """The query that shows `message` on the next page (signed: a link from
        elsewhere cannot put words on the dashboard)."""
        return urlencode({"done": message, "sig": self.signer.mac("flash:" + message)})

    def _flash(self, request: Request) -> str:
        message = request.query_params.get("done", "")
        sig = request.query_params.get("sig", "")
        return message if message and sig == self.signer.mac("flash:" + message) else ""

    def render(
        self, request: Request, name: str, status: int = 200, **context: Any
    ) -> HTMLResponse:
        cookie = self.csrf_cookie(request)
        try:
            who = self.identity(request)
        except HTTPException:  # (the page that says so)
            who = auth.Identity()
        page = self.templates.get_template(name).render(
            request=request,
            user=who.user,
            can_log_in=bool(self.settings.passwords),
            via=who.via,
            csrf=self.signer.csrf(cookie),
            runner=self.source.runner(),
            has_state=self.source.has_state,
            paused=self.source.reader().pauses(),
            now=datetime.now(UTC),
            tz=self.cfg.timezone,
            flash=self._flash(request),
            **context,
        )
        response = HTMLResponse(page, status_code=status)
        if request.cookies.get(auth.CSRF_COOKIE) != cookie:
            response.set_cookie(
                auth.CSRF_COOKIE,
                cookie,
                httponly=True,
                samesite="strict",
                secure=self.settings.secure_cookies,
            )
        return response


def ago(value: datetime | None, now: datetime) -> str:
    """`in 4min 10s`, `2h ago`."""
    text = times.relative(value, now)
    return f"in {text.removesuffix(' left')}" if text.endswith(" left") else text


def route(path: str, endpoint: Any, methods: list[str] | None = None) -> Route:
    return Route(path, endpoint, methods=methods or ["GET"])
