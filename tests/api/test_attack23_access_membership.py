"""Attack 22, A22-8: the case management system (a ``cms`` machine client, answered a restricted
case's ids only) learnt who is on a restricted case's access list from the upsert: a PUT
reassigning the case holder or line manager to someone on the list was applied (200), to someone
off it refused (422 ``restriction-shuts-out-holder``), a probe per staff id. And the refusal
named ``body.case_holder_id`` when the line manager was the one shut out (PUT and PATCH).

Now a machine client may not reassign a restricted case at all (its holders are reassigned by a
manager who sees the access list): one answer whoever is named, naming the field(s) it would
change. Staff are refused a holder the list shuts out on the field that names them.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.support import restrict
from tests.conftest import Tenant

BODY: dict[str, Any] = {
    "child": {"given_name": "Kai", "family_name": "Morgan", "date_of_birth": "2009-11-12"},
    "case_holder_id": "case_holder-1", "line_manager_id": "line_manager-1",
    "intervention": "court_order", "csc_status": "none",
    "opened_at": "2026-03-02T09:00:00Z",
}
URL = "/v1/cases/by-external-ref/iyss/{}"


async def _restricted_case(client: httpx.AsyncClient, t: Tenant, ref: str) -> dict[str, Any]:
    feed = t.auth("feed", "iyss-connector", scope="cms")
    r = await client.put(URL.format(ref), json=BODY, headers=feed)
    assert r.status_code == 201, r.text
    case = r.json()["data"]
    r = await restrict(client, t, case["id"], {"allowed_staff": [
        "case_holder-1", "line_manager-1", "case_holder-2", "line_manager-2"]})
    assert r.status_code == 200, r.text
    return case  # type: ignore[no-any-return]


async def test_A22_8_cms_reassigning_a_restricted_case_learns_nothing_of_its_access_list(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    await _restricted_case(client, somerset, "Y-8001")
    feed = somerset.auth("feed", "iyss-connector", scope="cms")
    for field, on, off in (("case_holder_id", "case_holder-2", "case_holder-3"),
                           ("line_manager_id", "line_manager-2", "line_manager-3")):
        answers = []
        for staff in (on, off):
            r = await client.put(URL.format("Y-8001"), json={**BODY, field: staff},
                                 headers=feed)
            answers.append((r.status_code, {k: v for k, v in r.json().items()
                                            if k != "instance"}))
        assert answers[0] == answers[1], answers  # on the list or not: the same answer
        status, body = answers[0]
        assert status == 422
        assert body["type"].endswith("/restricted-case-reassignment")
        assert [e["loc"] for e in body["errors"]] == [f"body.{field}"]
    # Nothing was reassigned: the CMS sending the case's own holders is still a no-op.
    r = await client.put(URL.format("Y-8001"), json=BODY, headers=feed)
    assert r.status_code == 200, r.text


async def test_A22_8_a_shut_out_line_manager_is_named_on_its_own_field(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """Staff see the access list: a manager's reassignment to someone it shuts out is 422 on
    the field that names them (PUT and PATCH), not on ``body.case_holder_id``."""
    case = await _restricted_case(client, somerset, "Y-8002")
    manager = somerset.auth("line_manager")
    r = await client.put(URL.format("Y-8002"), json={**BODY, "line_manager_id": "line_manager-3"},
                         headers=manager)
    assert r.status_code == 422, r.text
    assert r.json()["type"].endswith("/restriction-shuts-out-holder")
    assert [e["loc"] for e in r.json()["errors"]] == ["body.line_manager_id"]
    etag = (await client.get(f"/v1/cases/{case['id']}", headers=manager)).headers["ETag"]
    r = await client.patch(f"/v1/cases/{case['id']}", json={"line_manager_id": "line_manager-3"},
                           headers={**manager, "If-Match": etag})
    assert r.status_code == 422, r.text
    assert [e["loc"] for e in r.json()["errors"]] == ["body.line_manager_id"]
    r = await client.patch(f"/v1/cases/{case['id']}", json={"case_holder_id": "case_holder-3"},
                           headers={**manager, "If-Match": etag})
    assert r.status_code == 422, r.text
    assert [e["loc"] for e in r.json()["errors"]] == ["body.case_holder_id"]
