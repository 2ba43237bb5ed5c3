"""The dashboard's pages (BC's Job Queue Entries, one entry's card, Job Queue Log
Entries, Session Events, Scheduled Tasks, categories), the login, and the forms that
carry out actions (each posts back here and is redirected to the page it came from)."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute

from jobrunner import lifecycle, model, telemetry
from jobrunner.views import shapes
from jobrunner.web import actions, auth, params, queries
from jobrunner.web.app import Web, route

PAGE = 100


def routes(web: Web) -> list[BaseRoute]:
    def page(handler: Any) -> Any:
        def endpoint(request: Request) -> Response:
            web.reader_or_401(request)
            result: Response = handler(web, request)
            return result

        return endpoint

    return [
        route("/", page(entries)),
        route("/entries/{entry_id}", page(entry)),
        route("/log", page(log)),
        route("/sessions", page(sessions)),
        route("/tasks", page(tasks)),
        route("/categories", page(categories)),
        route("/runners", page(runners)),
        route("/login", lambda r: login_form(web, r)),
        route("/login", lambda r: login(web, r), ["POST"]),
        route("/logout", lambda r: logout(web, r), ["POST"]),
        route("/entries/{entry_id}/{action}", lambda r: entry_action(web, r), ["POST"]),
        route("/log/{entry_no:int}/mark-error", lambda r: mark_error(web, r), ["POST"]),
        route("/tasks/{task_id}/cancel", lambda r: cancel_task(web, r), ["POST"]),
    ]


def _pager(request: Request, page: queries.Page[Any]) -> dict[str, Any]:
    def link(offset: int) -> str:
        query = {k: v for k, v in request.query_params.items() if k not in ("offset", "done")}
        return "?" + urlencode({**query, "offset": offset})

    return {
        "first": page.offset + 1 if page.rows else 0,
        "last": page.offset + len(page.rows),
        "total": page.total,
        "prev": link(max(0, page.offset - page.limit)) if page.offset else None,
        "next": link(page.offset + page.limit) if page.more else None,
    }


def entries(web: Web, request: Request) -> Response:
    q = request.query_params
    status = params.choice(q, "status", model.EntryStatus)
    category = params.text(q, "category")
    states = web.source.states()
    found = queries.entries(
        web.source,
        q=params.text(q, "q") or "",
        status=status,
        category=category,
        offset=params.integer(q, "offset", 0, 0, 10**9),
        limit=params.integer(q, "limit", PAGE, 1, queries.MAX_PAGE),
    )
    return web.render(
        request,
        "entries.html",
        page=found,
        paging=_pager(request, found),
        counts=queries.counts(states),
        rejected=sum(1 for e in states if e.rejected),
        categories=sorted({e.category for e in states if e.category}),
        statuses=[s.value for s in model.EntryStatus],
        query={"q": q.get("q", ""), "status": q.get("status", ""), "category": category or ""},
    )


def entry(web: Web, request: Request) -> Response:
    entry_id = request.path_params["entry_id"]
    db = web.source.reader()
    found = db.get_entry(entry_id)
    if found is None:
        raise HTTPException(404, f"no entry {entry_id!r}")
    logs = db.list_log(entry_id=entry_id, limit=20)
    return web.render(
        request,
        "entry.html",
        entry=found,
        data=shapes.entry_json(found),
        next_runs=shapes.next_runs(found, 5),
        logs=logs,
        log_rows=[(row, shapes.log_json(row)) for row in logs],
        sessions=queries.sessions(db, entry_id=entry_id, limit=20).rows,
        definition=_definition(found),
    )


def _definition(e: model.Entry) -> str:
    import yaml

    return str(yaml.safe_dump(e.spec.raw, sort_keys=False, allow_unicode=True)).rstrip()


def log(web: Web, request: Request) -> Response:
    q = request.query_params
    entry_id = params.text(q, "entry")
    found = queries.log(
        web.source.reader(),
        entry_id=entry_id,
        status=params.choice(q, "status", model.LogStatus),
        since=params.since(q, web.cfg),
        offset=params.integer(q, "offset", 0, 0, 10**6),
        limit=params.integer(q, "limit", PAGE, 1, queries.MAX_PAGE),
    )
    return web.render(
        request,
        "log.html",
        page=found,
        paging=_pager(request, found),
        rows=[(row, shapes.log_json(row)) for row in found.rows],
        statuses=[s.value for s in model.LogStatus],
        query={k: q.get(k, "") for k in ("entry", "status", "since")},
    )


def sessions(web: Web, request: Request) -> Response:
    q = request.query_params
    found = queries.sessions(
        web.source.reader(),
        since=params.since(q, web.cfg),
        entry_id=params.text(q, "entry"),
        offset=params.integer(q, "offset", 0, 0, 10**6),
        limit=params.integer(q, "limit", PAGE, 1, queries.MAX_PAGE),
    )
    return web.render(
        request,
        "sessions.html",
        page=found,
        paging=_pager(request, found),
        query={k: q.get(k, "") for k in ("entry", "since")},
    )


def tasks(web: Web, request: Request) -> Response:
    every = request.query_params.get("all") == "1"
    found = [t for t in web.source.reader().list_tasks() if every or t.object != lifecycle.DISPATCH]
    return web.render(request, "tasks.html", tasks=found, every=every, dispatch=lifecycle.DISPATCH)


def categories(web: Web, request: Request) -> Response:
    return web.render(
        request,
        "categories.html",
        categories=queries.categories(web.source.reader(), web.source.entries()),
    )


def runners(web: Web, request: Request) -> Response:
    return web.render(request, "runners.html", nodes=web.source.nodes())


def login_form(web: Web, request: Request, problem: str = "", status: int = 200) -> Response:
    nxt = _local(request.query_params.get("next", "/"))
    return web.render(request, "login.html", status=status, next=nxt, problem=problem)


def _local(path: str) -> str:
    """Only a path of this site to go back to (never `//elsewhere`)."""
    return path if path.startswith("/") and not path.startswith(("//", "/\\")) else "/"


def login(web: Web, request: Request) -> Response:
    form = _form(request)
    if not web.signer.csrf_ok(request.cookies.get(auth.CSRF_COOKIE), form.get("csrf")):
        raise HTTPException(403, "the form's token is missing or wrong (reload the page)")
    user = form.get("user", "")
    stored = web.settings.passwords.get(user)
    if stored is None or not auth.check_password(stored, form.get("password", "")):
        telemetry.get_logger().warning("web_action_refused", user=user, action="login")
        return login_form(web, request, "wrong user name or password", 401)
    response = RedirectResponse(_local(form.get("next", "/")), status_code=303)
    response.set_cookie(
        auth.SESSION_COOKIE,
        web.signer.session(user, time.time()),
        max_age=auth.SESSION_SECONDS,
        httponly=True,
        samesite="lax",
        secure=web.settings.secure_cookies,
    )
    return response


def logout(web: Web, request: Request) -> Response:
    web.acting_user(request, _form(request).get("csrf"))
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(auth.SESSION_COOKIE)
    return response


def _form(request: Request) -> dict[str, str]:
    """The posted form (urlencoded), read synchronously from the thread pool."""
    import anyio.from_thread

    async def read() -> dict[str, str]:
        form = await request.form()
        return {k: v for k, v in form.items() if isinstance(v, str)}

    return anyio.from_thread.run(read)


def _back(web: Web, path: str, message: str) -> Response:
    return RedirectResponse(f"{path}?{web.flash_query(message)}", status_code=303)


def entry_action(web: Web, request: Request) -> Response:
    entry_id, action = request.path_params["entry_id"], request.path_params["action"]
    if action not in actions.ENTRY_ACTIONS:
        raise HTTPException(404, f"no action {action!r}")
    user = web.acting_user(request, _form(request).get("csrf"))
    result = actions.entry_action(web.source, user, action, entry_id)
    message = result.get("message") or {
        "run_now": "run asked for"
        + (
            "; the runner runs it now"
            if result.get("runner")
            else "; no runner is running: the next one runs it"
        ),
        "cancel": "its session was asked to end",
    }.get(action, "done")
    return _back(web, f"/entries/{entry_id}", f"{entry_id}: {message}")


def cancel_task(web: Web, request: Request) -> Response:
    task_id = request.path_params["task_id"]
    user = web.acting_user(request, _form(request).get("csrf"))
    actions.cancel_task(web.source, user, task_id)
    return _back(web, "/tasks", f"task {task_id} cancelled")


def mark_error(web: Web, request: Request) -> Response:
    entry_no = int(request.path_params["entry_no"])
    user = web.acting_user(request, _form(request).get("csrf"))
    result = actions.mark_error(web.source, user, entry_no)
    return _back(web, "/log", f"log entry {entry_no}: {result['message']}")
