"""The API against its own OpenAPI document (schemathesis): every operation, with
generated parameters and bodies, answers as the document says (status codes, content
types, response shapes) and never with a server error."""

from __future__ import annotations

import json

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from tests.e2e.web_site import ROOT, TOKEN, Site


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    s = Site(tmp_path_factory.mktemp("web-openapi"))
    s.make_state()
    s.start()
    yield s
    s.stop()


DOCUMENT = json.loads((ROOT / "jobrunner" / "web" / "openapi.json").read_text())
OPERATIONS = [
    (method.upper(), path) for path, methods in DOCUMENT["paths"].items() for method in methods
]


@pytest.fixture(scope="module")
def api_schema(site):
    return schemathesis.openapi.from_url(f"{site.url}/api/openapi.json")


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_web_api_follows_its_openapi_document(api_schema, method, path):
    """Every operation (one test each), through hypothesis strategies of schemathesis."""
    operation = api_schema[path][method]
    # /healthz answers 503, as documented, when no runner is up (none is here)
    excluded = [checks.not_a_server_error] if path == "/healthz" else []

    @given(case=operation.as_strategy())
    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    def check(case):
        case.call_and_validate(
            headers={"authorization": f"Bearer {TOKEN}"}, excluded_checks=excluded
        )

    check()


def test_web_openapi_document_names_every_api_route(site):
    document = site.client(token=None).get("/api/openapi.json").json()
    assert document["openapi"].startswith("3.")
    assert set(document["paths"]) == {
        "/api/entries",
        "/api/entries/{entry_id}",
        "/api/log",
        "/api/sessions",
        "/api/tasks",
        "/api/categories",
        "/api/status",
        "/api/nodes",
        "/api/entries/{entry_id}/status",
        "/api/entries/{entry_id}/trigger",
        "/api/entries/{entry_id}/cancel",
        "/api/log/{entry_no}/mark-error",
        "/api/tasks/{task_id}/cancel",
        "/healthz",
        "/metrics",
    }
