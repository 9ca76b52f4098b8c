"""Attack 24a, A24a-7 (high) and A24a-2 (low): what a refused request costs the service.

A24a-7: a 209 KB JSON body of 20,000 unknown keys held the event loop 10-15 s and was answered
20,000 errors (1.7 MB): each error located its key by a scan of the whole object
(``list(node).index(key)``), so building the errors was quadratic in their number; 85,000
victims cost 4-7 s in the schema validator, which reports every item before ``maxItems``.
Now a problem lists at most the first 50 errors (``error_count`` says how many were found),
each built once, locating keys from one pass over their object; and an object of more than
1000 members or a list of more than 1000 items is refused before the body meets its schema.

A24a-2: every unknown query parameter was its own error (a 120 KB request line, a 5.3 MB
answer), and the request target was not counted against ``YJ_MAX_HEADER_BYTES``.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from app.core import deps, errors

NOWHERE = "/v1/cases/00000000-0000-0000-0000-000000000000/judgements"


def _unknown_keys(n: int) -> str:
    return '{"domain":"rosh","level":"high",' + ",".join(f'"k{i}":1' for i in range(n)) + "}"


async def test_A24a7_errors_are_capped_and_each_built_once_from_one_pass_over_the_object(
    client: httpx.AsyncClient, somerset: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    built: list[Any] = []
    passes: list[Any] = []
    real_loc, real_positions = errors.safe_loc, getattr(errors, "_key_positions", None)

    def counting_loc(*a: Any, **kw: Any) -> Any:
        built.append(a[0])
        return real_loc(*a, **kw)

    def counting_positions(node: Any) -> Any:
        passes.append(len(node))
        assert real_positions is not None
        return real_positions(node)

    monkeypatch.setattr(deps, "safe_loc", counting_loc)
    monkeypatch.setattr(errors, "_key_positions", counting_positions, raising=False)
    r = await client.post(NOWHERE, content=_unknown_keys(900), headers={
        **somerset.auth("case_holder", "cw-alex"), "content-type": "application/json"})
    assert r.status_code == 422, r.text
    body = r.json()
    assert len(body["errors"]) == 50
    assert body["error_count"] == 900
    assert body["errors"][0] == {"loc": "body",
                                 "msg": "Extra inputs are not permitted (at key 3 of this object)"}
    assert body["errors"][49]["msg"].endswith("(at key 52 of this object)")
    # One error built per error answered, and the object's keys walked once for all of them.
    assert len(built) == 50
    assert passes == [902]


@pytest.mark.parametrize(("content", "loc", "msg"), [
    (_unknown_keys(5000), "body", "an object may hold at most 1000 members"),
    (json.dumps({"domain": "rosh", "level": "high", "victims": [""] * 5000}),
     "body.victims", "a list may hold at most 1000 items"),
])
async def test_A24a7_an_oversized_object_or_list_is_refused_before_the_schema_walks_it(
    client: httpx.AsyncClient, somerset: Any, monkeypatch: pytest.MonkeyPatch,
    content: str, loc: str, msg: str,
) -> None:
    walked: list[Any] = []
    monkeypatch.setattr(deps, "check_body_against_contract",
                        lambda request, body: walked.append(body))
    r = await client.post(NOWHERE, content=content, headers={
        **somerset.auth("case_holder", "cw-alex"), "content-type": "application/json"})
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [{"loc": loc, "msg": msg}]
    assert walked == []


async def test_A24a2_unknown_query_parameters_are_capped(
    client: httpx.AsyncClient, somerset: Any,
) -> None:
    r = await client.get("/v1/cases?" + "a=1&" * 3000,
                         headers=somerset.auth("case_holder", "cw-alex"))
    assert r.status_code == 422, r.text
    body = r.json()
    assert len(body["errors"]) == 50
    assert body["error_count"] == 3000
    assert body["errors"][49]["msg"].startswith(
        "unknown query parameter (parameter 50 of the query string)")


async def test_A24a2_a_request_target_over_the_limit_is_414_problem(
    client: httpx.AsyncClient, somerset: Any,
) -> None:
    r = await client.get("/v1/cases?" + "a=1&" * 4200,
                         headers=somerset.auth("case_holder", "cw-alex"))
    assert r.status_code == 414, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["title"] == "URI Too Long"
    assert r.json()["type"].endswith("/uri-too-long")
    assert "a=1" not in r.text


async def test_A24a2_the_request_target_counts_with_the_header_fields(
    client: httpx.AsyncClient, somerset: Any,
) -> None:
    headers = {**somerset.auth("case_holder", "cw-alex"), "X-Padding": "p" * 9000}
    assert (await client.get("/v1/cases", headers=headers)).status_code == 200
    r = await client.get("/v1/cases?" + "a=1&" * 2000, headers=headers)
    assert r.status_code == 431, r.text
    assert r.json()["title"] == "Request Header Fields Too Large"
