"""The ASGI application: the routes of the pages and the API, errors as pages or JSON,
security headers. Endpoints are plain functions run in the server's thread pool (the
store is synchronous); only the event stream is a coroutine."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jobrunner import config
from jobrunner.web import actions, api, pages
from jobrunner.web import settings as web_settings
from jobrunner.web.app import HEADERS, Web


def _headers(app: ASGIApp) -> ASGIApp:
    """The security headers, and Server-Timing: how long the server took until it
    answered (`app;dur=` milliseconds, shown by browsers' developer tools)."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                took = f"app;dur={(time.perf_counter() - started) * 1000:.2f}".encode()
                message["headers"] = [
                    *message.get("headers", []),
                    *HEADERS,
                    (b"server-timing", took),
                ]
            await send(message)

        await app(scope, receive, sending)

    return wrapped


def build(cfg: config.Config, cfg_web: web_settings.Settings) -> Starlette:
    web = Web(cfg, cfg_web)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        web.changes.start(asyncio.get_running_loop())
        try:
            yield
        finally:
            web.changes.stop()
            web.source.close()

    static = StaticFiles(packages=[("jobrunner.web", "static")])
    app = Starlette(
        routes=[*pages.routes(web), *api.routes(web), Mount("/static", static, name="static")],
        exception_handlers={
            HTTPException: lambda r, e: _error(web, r, e.status_code, e.detail),
            actions.ActionError: lambda r, e: _error(web, r, e.status, str(e)),
        },
        lifespan=lifespan,
    )
    app.state.web = web
    app.add_middleware(_Headers)
    return app


class _Headers:
    def __init__(self, app: ASGIApp) -> None:
        self.app = _headers(app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def _error(web: Web, request: Request, status: int, detail: str) -> Response:
    api = request.url.path.startswith(("/api/", "/metrics", "/healthz", "/events"))
    if status == 401 and not api and web.settings.passwords and request.method == "GET":
        return RedirectResponse(f"/login?{urlencode({'next': request.url.path})}", 303)
    if api:
        headers = {"www-authenticate": 'Bearer realm="jobrunner"'} if status == 401 else None
        return JSONResponse({"error": detail}, status_code=status, headers=headers)
    return web.render(request, "error.html", status=status, status_code=status, detail=detail)
