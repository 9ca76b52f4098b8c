"""Control characters in path and query parameters (attack A, L4): a NUL byte, or any other C0
control character or DEL, in a staff id, an external reference, a pack id or a query value is a
422 problem naming the parameter (never echoing it), before anything reaches the database
(PostgreSQL cannot store U+0000 in text). Run on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from tests.api.integrity_support import assert_problem
from tests.conftest import Tenant

BAD = ["%00", "a%00b", "%01", "x%0A", "%1F", "%7F"]


@pytest.mark.parametrize("bad", BAD)
async def test_control_character_in_a_staff_id_is_422(somerset: Tenant, bad: str) -> None:
    """POST /v1/staff/{staff_id}/absences with a control character in the id: 422, no absence."""
    r = await somerset.client.post(f"/v1/staff/{bad}/absences",
                                   json={"starts_on": "2026-09-01", "ends_on": "2026-09-02"},
                                   headers=somerset.auth("line_manager"))
    body = assert_problem(r, 422)
    assert body["errors"][0]["loc"] == "path.staff_id"
    assert "\x00" not in r.text
    assert "\\u0000" not in r.text


@pytest.mark.parametrize("bad", BAD)
async def test_control_character_in_an_external_reference_is_422(
        somerset: Tenant, bad: str) -> None:
    """PUT /v1/cases/by-external-ref/{system}/{id} with a control character in the id: 422."""
    r = await somerset.client.put(f"/v1/cases/by-external-ref/IYSS/{bad}", json={},
                                  headers=somerset.auth("line_manager"))
    body = assert_problem(r, 422)
    assert body["errors"][0]["loc"] == "path.external_id"


@pytest.mark.parametrize("bad", BAD)
async def test_control_character_in_a_query_value_is_422(somerset: Tenant, bad: str) -> None:
    """GET /v1/cases?case_holder_id=<control character>: 422 naming the query parameter."""
    r = await somerset.client.get(f"/v1/cases?case_holder_id={bad}",
                                  headers=somerset.auth("duty_manager"))
    body = assert_problem(r, 422)
    assert body["errors"][0]["loc"] == "query.case_holder_id"


async def test_control_character_in_a_pack_id_is_422(somerset: Tenant) -> None:
    """GET /v1/policy-packs/{pack_id} with a NUL: 422, not 404 or 500."""
    r = await somerset.client.get("/v1/policy-packs/a%00", headers=somerset.auth("duty_manager"))
    body = assert_problem(r, 422)
    assert body["errors"][0]["loc"] == "path.pack_id"


async def test_a_stranger_gets_401_before_the_input_rule(somerset: Tenant) -> None:
    """Without a token the control character is not looked at: 401 first."""
    r = await somerset.client.post("/v1/staff/%00/absences",
                                   json={"starts_on": "2026-09-01", "ends_on": "2026-09-02"})
    assert_problem(r, 401)
