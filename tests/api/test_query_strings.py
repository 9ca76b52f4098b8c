"""Attack A L5: every /v1 route checks its query string against the parameters it declares:
an unknown parameter, a scalar one given twice, or a yes/no value other than true/false is a
422 problem naming the parameter (never ignored, never guessed)."""

from __future__ import annotations

import re
from typing import Any

import httpx

from app.core.security import mint_dev_token
from tests.api.support import concrete_path
from tests.conftest import Tenant

UNKNOWN_MSG = re.compile(r"^unknown query parameter \(parameter 1 of the query string\); "
                         r"this route takes ")


def _concrete(path: str, tenant: Tenant) -> str:
    return concrete_path(path, {"slug": tenant.slug, "pack_id": "somerset-yjt-2023",
                                "token": "a" * 40, "action": "submit", "system": "IYSS",
                                "external_id": "x-1"})


def _only_error(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code == 422, (r.request.url, r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/problem+json")
    errors = r.json()["errors"]
    assert len(errors) == 1, errors
    return errors[0]  # type: ignore[no-any-return]


async def test_every_get_route_refuses_an_unknown_query_parameter(
        client: httpx.AsyncClient, somerset: Tenant) -> None:
    """GET and HEAD on every /v1 route with ?bogus=1: 422 at ``query``, by its place, not its
    name (attack pass 9, N8: a parameter's name is the client's text) (after the token
    and the role gate: the staff token carries every staff role, admin routes get admin)."""
    paths = [p for p, ops in (await client.get("/openapi.json")).json()["paths"].items()
             if "get" in ops and p.startswith("/v1/")]
    assert len(paths) > 20
    staff = {"Authorization": "Bearer " + mint_dev_token(
        somerset.settings, sub="dm-1", service=somerset.slug,
        roles=["case_holder", "line_manager", "duty_manager", "chair", "panel_admin"])}
    admin = {"Authorization": "Bearer " + mint_dev_token(
        somerset.settings, sub="admin-1", roles=["admin"], service=None)}
    for path in paths:
        url = _concrete(path, somerset) + "?bogus=1"
        r = await client.get(url, headers=staff)
        if r.status_code == 403:
            r = await client.get(url, headers=admin)
        error = _only_error(r)
        assert error["loc"] == "query", (path, error)
        assert UNKNOWN_MSG.match(error["msg"]), (path, error)
        head = await client.head(url, headers=staff if r.request.headers["authorization"]
                                 == staff["Authorization"] else admin)
        assert head.status_code == 422, path


async def test_case_read_names_the_unknown_parameter_not_as_of(somerset: Tenant) -> None:
    """GET /v1/cases/{id}?foo=1 used to say "only one as_of is accepted"; now it names foo."""
    case = (await somerset.open_case())["data"]
    r = await somerset.client.get(f"/v1/cases/{case['id']}?foo=1",
                                  headers=somerset.auth("line_manager"))
    assert _only_error(r) == {"loc": "query",
                              "msg": "unknown query parameter (parameter 1 of the query "
                                     "string); this route takes as_of"}
    r = await somerset.client.get(
        f"/v1/cases/{case['id']}?as_of=2026-03-02T10:00:00Z&as_of=2026-03-03T10:00:00Z",
        headers=somerset.auth("line_manager"))
    assert _only_error(r) == {"loc": "query.as_of", "msg": "given more than once; send it once"}


async def test_yes_no_parameters_take_only_true_or_false(somerset: Tenant) -> None:
    """on_register=yes (or 1, on) is refused, not guessed; true and false are answered."""
    auth = somerset.auth("line_manager")
    for word in ("yes", "1", "on", "True", ""):
        r = await somerset.client.get(f"/v1/cases?on_register={word}", headers=auth)
        assert _only_error(r) == {"loc": "query.on_register", "msg": "must be true or false"}
    r = await somerset.client.get("/v1/cases?on_register=false", headers=auth)
    assert r.status_code == 200


async def test_a_list_parameter_may_repeat(somerset: Tenant) -> None:
    """group_by is a list: given twice it is answered (200), not refused."""
    r = await somerset.client.get(
        "/v1/reports/timeliness?from=2026-03-01&to=2026-03-31&group_by=rule&group_by=month",
        headers=somerset.auth("line_manager"))
    assert r.status_code == 200, r.text


async def test_unknown_parameter_without_a_token_is_401(client: httpx.AsyncClient) -> None:
    """A stranger learns nothing about a route's parameters: 401 before the query check."""
    r = await client.get("/v1/cases?bogus=1")
    assert r.status_code == 401


async def test_calendar_feed_refuses_a_bogus_format(somerset: Tenant) -> None:
    """The feed URL is the credential (no token): ?format=bogus and ?foo=1 are 422."""
    r = await somerset.client.post("/v1/me/calendar-feeds", headers=somerset.auth("case_holder"))
    url = r.json()["data"]["url"].removeprefix("http://yjrisk.test")
    assert (await somerset.client.get(url)).status_code == 200
    assert (await somerset.client.get(url + "?format=bogus")).status_code == 422
    error = _only_error(await somerset.client.get(url + "?foo=1"))
    assert error == {"loc": "query",
                     "msg": "unknown query parameter (parameter 1 of the query string); "
                            "this route takes format"}
