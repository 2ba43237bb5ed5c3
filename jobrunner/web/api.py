"""The JSON API under /api/ (the shapes of the CLI's --json, which are public API),
its OpenAPI document, /healthz, /metrics and the event stream of changes."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute

from jobrunner import lifecycle, model
from jobrunner.views import items, nodes, shapes
from jobrunner.views import queries as views_queries
from jobrunner.web import actions, metrics, params, queries
from jobrunner.web.app import Web, route

OPENAPI_PATH = "/api/openapi.json"


def routes(web: Web) -> list[BaseRoute]:
    def reading(handler: Any) -> Any:
        def endpoint(request: Request) -> Response:
            web.reader_or_401(request)
            return JSONResponse(handler(web, request))

        return endpoint

    def acting(handler: Any) -> Any:
        def endpoint(request: Request) -> Response:
            user = web.acting_user(request, None)
            return JSONResponse(handler(web, request, user))

        return endpoint

    document = json.loads(resources.files("jobrunner.web").joinpath("openapi.json").read_text())
    return [
        route("/api/entries", reading(list_entries)),
        route("/api/entries/{entry_id}", reading(show_entry)),
        route("/api/log", reading(list_log)),
        route("/api/sessions", reading(list_sessions)),
        route("/api/tasks", reading(list_tasks)),
        route("/api/categories", reading(list_categories)),
        route("/api/status", reading(status)),
        route("/api/nodes", reading(list_nodes)),
        route("/api/entries/{entry_id}/status", acting(set_status), ["POST"]),
        route("/api/entries/{entry_id}/trigger", acting(trigger), ["POST"]),
        route("/api/entries/{entry_id}/cancel", acting(cancel), ["POST"]),
        route("/api/log/{entry_no:int}/mark-error", acting(mark_error), ["POST"]),
        route("/api/tasks/{task_id}/cancel", acting(cancel_task), ["POST"]),
        route(OPENAPI_PATH, lambda r: JSONResponse(document)),
        route("/healthz", lambda r: healthz(web, r)),
        route("/metrics", lambda r: scrape(web, r)),
        route("/events", lambda r: events(web, r)),
    ]


def list_entries(web: Web, request: Request) -> list[dict[str, Any]]:
    q = request.query_params
    found = queries.entries(
        web.source,
        q=params.text(q, "q") or "",
        status=params.choice(q, "status", model.EntryStatus),
        category=params.text(q, "category"),
        offset=params.integer(q, "offset", 0, 0, 10**9),
        limit=params.integer(q, "limit", queries.MAX_PAGE, 1, queries.MAX_PAGE),
    )
    counts = views_queries.item_counts(web.source.reader())  # as `list --json` has them
    return [items.with_counts(shapes.entry_json(e), counts) for e in found.rows]


def show_entry(web: Web, request: Request) -> dict[str, Any]:
    entry_id = request.path_params["entry_id"]
    db = web.source.reader()
    found = db.get_entry(entry_id)
    if found is None:
        raise HTTPException(404, f"no entry {entry_id!r}")
    limit = params.integer(request.query_params, "log", 5, 0, queries.MAX_PAGE)
    return queries.show(db, found, limit)


def list_log(web: Web, request: Request) -> list[dict[str, Any]]:
    q = request.query_params
    db = web.source.reader()
    found = queries.log(
        db,
        entry_id=params.text(q, "entry"),
        status=params.choice(q, "status", model.LogStatus),
        since=params.since(q, web.cfg),
        offset=params.integer(q, "offset", 0, 0, 10**6),
        limit=params.integer(q, "limit", 20, 1, queries.MAX_PAGE),
    )
    runs = views_queries.item_runs(db, found.rows)  # as `log --json` has them
    return [items.log_with_items(shapes.log_json(row), runs) for row in found.rows]


def list_sessions(web: Web, request: Request) -> list[dict[str, Any]]:
    q = request.query_params
    found = queries.sessions(
        web.source.reader(),
        since=params.since(q, web.cfg),
        entry_id=params.text(q, "entry"),
        offset=params.integer(q, "offset", 0, 0, 10**6),
        limit=params.integer(q, "limit", 50, 1, queries.MAX_PAGE),
    )
    return [shapes.session_json(e) for e in found.rows]


def list_tasks(web: Web, request: Request) -> list[dict[str, Any]]:
    every = params.integer(request.query_params, "all", 0, 0, 1) == 1
    found = web.source.reader().list_tasks()
    return [shapes.task_json(t) for t in found if every or t.object != lifecycle.DISPATCH]


def list_categories(web: Web, request: Request) -> list[dict[str, Any]]:
    return queries.categories(web.source.reader(), web.source.entries())


def list_nodes(web: Web, request: Request) -> list[dict[str, Any]]:
    return [nodes.node_json(n, running) for n, running in web.source.nodes()]


def status(web: Web, request: Request) -> dict[str, Any]:
    db = web.source.reader()
    return {
        "runner": _runner(web),
        "store": db.where,
        "has_state": web.source.has_state,
        "paused": [shapes.pause_json(p) for p in db.pauses()],
        "entries": queries.counts(web.source.states()),
    }


def _runner(web: Web) -> dict[str, Any]:
    state = web.source.runner()
    since = None if state.since is None else state.since.isoformat().replace("+00:00", "Z")
    return {
        "up": state.up,
        "pid": state.pid,
        "since": since,
        "runners": state.count,
        "host": state.host,
    }


def _body(request: Request) -> dict[str, Any]:
    import anyio.from_thread

    raw = anyio.from_thread.run(request.body)
    try:
        data = json.loads(raw or b"{}")
    except ValueError:
        raise HTTPException(400, "the body is not JSON") from None
    if not isinstance(data, dict):
        raise HTTPException(400, "the body must be a JSON object")
    return data


def set_status(web: Web, request: Request, user: str) -> dict[str, Any]:
    wanted = _body(request).get("status")
    if wanted not in ("ready", "on_hold"):
        raise HTTPException(400, f"status: {wanted!r} is not one of: ready, on_hold")
    return actions.entry_action(web.source, user, wanted, request.path_params["entry_id"])


def trigger(web: Web, request: Request, user: str) -> dict[str, Any]:
    return actions.entry_action(web.source, user, "run_now", request.path_params["entry_id"])


def cancel_task(web: Web, request: Request, user: str) -> dict[str, Any]:
    task_id: str = request.path_params["task_id"]
    return actions.cancel_task(web.source, user, task_id)


def cancel(web: Web, request: Request, user: str) -> dict[str, Any]:
    return actions.entry_action(web.source, user, "cancel", request.path_params["entry_id"])


def mark_error(web: Web, request: Request, user: str) -> dict[str, Any]:
    return actions.mark_error(web.source, user, int(request.path_params["entry_no"]))


def healthz(web: Web, request: Request) -> Response:
    """200 when the store answers and a runner is up; 503 otherwise. `?check=store`:
    only the store (a liveness check of the web process itself)."""
    store_ok, problem = True, None
    try:
        web.source.reader().pauses()
    except Exception as exc:  # any failure to read is "unreachable", said as it is
        store_ok, problem = False, f"{type(exc).__name__}: {exc}"
    runner = _runner(web)
    healthy = store_ok and (runner["up"] or request.query_params.get("check") == "store")
    reached: dict[str, Any] = {"reachable": store_ok}
    if problem:
        reached["problem"] = problem
    body = {"ok": healthy, "store": reached, "runner": runner}
    return JSONResponse(body, status_code=200 if healthy else 503)


def scrape(web: Web, request: Request) -> Response:
    web.reader_or_401(request)
    return Response(web.metrics.scrape(), media_type=metrics.CONTENT_TYPE)


def events(web: Web, request: Request) -> Response:
    web.reader_or_401(request)
    return StreamingResponse(
        web.changes.stream(),
        media_type="text/event-stream",
        headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
    )
