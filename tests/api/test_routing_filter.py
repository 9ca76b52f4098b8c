"""Issue 15: every router the app includes answers ``Match.NONE`` at once for a path none of
its routes can match (:class:`app.core.http.PathFilteredRouter`); the app's routing decisions
are the same as FastAPI's own, route by route, for every documented path and method, their
trailing-slash twins and paths no route has."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import APIRouter
from fastapi import routing as fastapi_routing
from starlette.routing import Match

from app.core.config import Settings
from app.core.http import PathFilteredRouter
from app.main import create_app
from tests.api.support import concrete_path

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
NO_ROUTE = ["/", "/v1", "/v1/", "/v1/nothing", "/v1/cases/x/unknown", "/v1/cases/x/y/z",
            "/docs/", "/ui/static/app.js", "/ui/static", "/ui/static/", "/healthz/x",
            "/v1/next-steps/x", "/v1/next-steps/x/complete/", "//v1/cases"]


def _included(app: Any) -> list[Any]:
    # FastAPI 0.165 keeps each include_router() as an _IncludedRouter on the app's routes:
    # this test fails here if that changes, and the filter must be looked at again.
    included = [r for r in app.router.routes if isinstance(r, fastapi_routing._IncludedRouter)]
    assert len(included) == 17
    return included


def _probes(app: Any) -> list[str]:
    routes = fastapi_routing._iter_included_route_candidates(app.router.routes)
    templates = {str(getattr(r, "path", "")) for r in routes} - {""}
    paths = {concrete_path(t, {}) for t in templates}
    paths |= {concrete_path(t, {name: "x" for name in ("case_id", "step_id", "slug",
                                                        "panel_id", "action", "pack_id")})
              for t in templates}
    paths |= {p + "/" for p in paths} | {p.rstrip("/") for p in paths if p != "/"}
    return sorted(paths | set(NO_ROUTE))


def _decisions(app: Any, paths: list[str]) -> list[tuple[str, str, list[Match]]]:
    """For each method and path: how every route of the app's table matches it (what the app
    chooses from: the first full match, else the first partial one)."""
    out = []
    for path in paths:
        for method in METHODS:
            scope = {"type": "http", "method": method, "path": path, "root_path": "",
                     "headers": [], "query_string": b""}
            out.append((method, path, [route.matches(dict(scope))[0]
                                       for route in app.router.routes]))
    return out


@pytest.fixture
def routed_app(settings: Settings) -> Any:
    return create_app(settings)


def test_every_included_router_is_filtered(routed_app: Any) -> None:
    """Every router is a PathFilteredRouter, included without a prefix, whose filter is on."""
    for included in _included(routed_app):
        router = included.original_router
        assert isinstance(router, PathFilteredRouter), router.prefix
        assert included.include_context.prefix == ""
        assert router._paths() is not None, router.prefix


def test_routing_decisions_are_fastapis(
    routed_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same Match from every route of the app's table, filter on or off, for every
    documented path (ids as UUIDs and as other text), its trailing-slash twin, paths no route
    has, and every method (so 404, 405 and redirects are chosen as before)."""
    paths = _probes(routed_app)
    filtered = _decisions(routed_app, paths)
    monkeypatch.setattr(PathFilteredRouter, "_paths", lambda self: None)
    unfiltered = _decisions(routed_app, paths)
    assert filtered == unfiltered
    assert any(Match.PARTIAL in row for _, _, row in filtered)  # 405s were among the probes
    assert len(filtered) > 600


def test_a_judgement_write_is_tried_by_its_own_router_only(
    routed_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the judgements router tries its routes for a judgement write: FastAPI still asks
    each router's ``matches`` (if it stops doing so, the filter is bypassed: this fails)."""
    tried: list[str] = []
    unfiltered_matches = APIRouter.matches

    def spy(self: APIRouter, scope: Any) -> Any:
        tried.append(self.prefix)
        return unfiltered_matches(self, scope)

    monkeypatch.setattr(APIRouter, "matches", spy)
    scope = {"type": "http", "method": "POST", "root_path": "", "headers": [],
             "path": "/v1/cases/0b7e6c43-0e5c-4a4e-9d1e-3a0c1f0b2f61/judgements"}
    matched = [route for route in routed_app.router.routes
               if route.matches(dict(scope))[0] == Match.FULL]
    assert len(matched) == 1
    assert tried == ["/v1/cases/{case_id}/judgements"]
