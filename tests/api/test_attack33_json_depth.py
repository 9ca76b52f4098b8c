"""Attack 33, ATTACK33-3: one JSON nesting limit (32 levels) had two answers: a body nested
33 to 998 levels was 422 validation-error, 999 and deeper (where the standard library's parser
gives up) 400 malformed-json. One limit, one answer: 422 at the first value too deep, the same
at every depth, for arrays and objects, on every route that takes a body (feeds included)."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from app.core.config import Settings
from app.core.deps import MAX_JSON_DEPTH
from app.core.security import mint_dev_token
from app.main import create_app
from tests.conftest import Tenant

DEPTHS = (MAX_JSON_DEPTH + 1, MAX_JSON_DEPTH + 2, 200, 998, 999, 1000, 5000)


def _arrays(depth: int) -> bytes:
    """``{"note": [[...[1]...]]}``: the 1 inside ``depth`` levels (the object and arrays)."""
    return b'{"note": ' + b"[" * (depth - 1) + b"1" + b"]" * (depth - 1) + b"}"


def _objects(depth: int) -> bytes:
    """``{"k": {"k": ... {"k": 1}}}``: the 1 inside ``depth`` objects."""
    return b'{"k": ' * depth + b"1" + b"}" * depth


def _top_level_arrays(depth: int) -> bytes:
    """``[[...[1]...]]``: a body that is an array, the 1 inside ``depth`` arrays."""
    return b"[" * depth + b"1" + b"]" * depth


SHAPES = {"arrays": _arrays, "objects": _objects, "top_level_arrays": _top_level_arrays}


def _body_routes(settings: Settings) -> list[APIRoute]:
    """Every route of the app that takes a JSON body."""
    found = []
    for entry in create_app(settings).router.routes:
        for route in getattr(getattr(entry, "original_router", None), "routes", [entry]):
            if isinstance(route, APIRoute) and route.body_field is not None:
                found.append(route)
    return found


def _callers(tenant: Tenant) -> list[dict[str, str]]:
    """A token of each role and machine scope the routes may admit."""
    staff = [tenant.auth(role) for role in (
        "case_holder", "line_manager", "duty_manager", "chair", "panel_admin", "admin")]
    feeds = [tenant.auth("feed", "feed-1", scope=s) for s in ("cms", "feed:emrac", "feed:mappa")]
    admin = mint_dev_token(tenant.settings, sub="admin-1", roles=["admin"], service=None)
    return [*staff, *feeds, {"Authorization": f"Bearer {admin}"}]


def _answer(r: httpx.Response) -> tuple[int, str, Any]:
    problem = r.json()
    return r.status_code, problem["type"].rsplit("/", 1)[1], problem.get("errors")


async def test_one_nesting_limit_one_answer_at_every_depth_on_every_body_route(
        settings: Settings, client: httpx.AsyncClient, somerset: Tenant) -> None:
    """Every body-taking route, three shapes of nesting, 33 to 5,000 levels: the same 422
    validation-error at every depth (errors naming the first value too deep and the limit);
    32 levels pass the check. Before the fix, 999 levels and deeper were 400 malformed-json."""
    case = (await somerset.open_case())["data"]
    values = {"case_id": case["id"], "staff_id": "case_holder-1", "source": "emrac",
              "system": "iyss", "external_id": "X-1", "slug": somerset.slug,
              "action": "withdraw"}
    checked = []
    for route in _body_routes(settings):
        path = re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), str(uuid.uuid4())),
                      route.path)
        method = sorted(route.methods)[0]
        headers = {"Content-Type": "application/json", "Idempotency-Key": "k-1",
                   "If-Match": '"1"'}
        admitted = None
        for caller in _callers(somerset):
            r = await client.request(method, path, content=_arrays(MAX_JSON_DEPTH + 1),
                                     headers={**headers, **caller})
            if r.status_code not in (401, 403, 404):
                admitted = caller
                break
        assert admitted is not None, route.path
        for shape, build in SHAPES.items():
            answers = {}
            for depth in DEPTHS:
                r = await client.request(method, path, content=build(depth),
                                         headers={**headers, **admitted})
                answers[depth] = _answer(r)
            first = answers[DEPTHS[0]]
            assert first[:2] == (422, "validation-error"), (route.path, shape, first)
            assert f"nested deeper than {MAX_JSON_DEPTH} levels" in first[2][0]["msg"], (
                route.path, shape, first)
            assert all(a == first for a in answers.values()), (route.path, shape, answers)
            shallow = await client.request(method, path, content=build(MAX_JSON_DEPTH),
                                           headers={**headers, **admitted})
            assert "nested deeper" not in shallow.text, (route.path, shape)
        checked.append(route.path)
    assert "/v1/feeds/{source}/referrals" in checked
    assert len(checked) == len(_body_routes(settings))


@pytest.mark.parametrize("depth", DEPTHS)
async def test_nesting_answer_names_the_same_place_at_every_depth(
        client: httpx.AsyncClient, somerset: Tenant, depth: int) -> None:
    """ATTACK33-3, the tester's shape (an oversight note of nested arrays): 422 at
    ``body.note.0.0...`` (the contract's field, then the list indexes), "nested deeper than 32
    levels", whatever the depth; nothing stored."""
    case = (await somerset.open_case())["data"]
    url = f"/v1/cases/{case['id']}/oversight"
    headers = {**somerset.auth("line_manager"), "Content-Type": "application/json"}
    r = await client.post(url, content=_arrays(depth), headers=headers)
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [{"loc": "body.note" + ".0" * MAX_JSON_DEPTH,
                                   "msg": f"nested deeper than {MAX_JSON_DEPTH} levels"}]
    listed = await client.get(url, headers=somerset.auth("line_manager"))
    assert listed.json()["data"] == []


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 5000])
async def test_too_deep_and_broken_is_malformed_at_every_depth(
        client: httpx.AsyncClient, somerset: Tenant, depth: int) -> None:
    """A deep body that is not JSON above the limit (a stray comma) or not UTF-8 is the
    malformed-json 400 the shallower body gets, at 33 levels as at 5,000; one left open at
    depth is not JSON either."""
    case = (await somerset.open_case())["data"]
    url = f"/v1/cases/{case['id']}/oversight"
    headers = {**somerset.auth("line_manager"), "Content-Type": "application/json"}
    for content, detail in (
            (b'{"note": ' + b"[" * depth + b"]" * depth + b",}", "not valid JSON"),
            (b'{"note": "Caf\xe9", "x": ' + b"[" * depth + b"]" * depth + b"}", "not UTF-8"),
            (b'{"note": ' + b"[" * depth, "not valid JSON")):
        r = await client.post(url, content=content, headers=headers)
        assert r.status_code == 400, r.text
        assert r.json()["type"].endswith("/malformed-json")
        assert detail in r.json()["detail"]
