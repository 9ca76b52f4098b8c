"""Staff ids hold nothing invisible (attack pass 1, finding 5).

A token subject of ``"\\u200b"`` or ``"cw-alex\\u202e"`` was accepted, and such an id, set as a
case holder, showed as a blank or as another person (``cw-alex``) in the audit trail, the
timeline and exports. A staff id now refuses Unicode format, control, private-use and
unassigned characters and every separator but the plain space: 401 for a token's subject,
422 for a staff id in a body or a path. Ordinary ids (ASCII, accented names, a space) pass.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.support import restrict
from tests.conftest import Tenant

INVISIBLE = ["\u200b", "cw-alex\u200b", "cw-alex\u202e", "cw\u00a0alex", "cw\u2028alex",
             "cw\ue000alex", "\ufeffcw-alex",
             # Default_Ignorable_Code_Point and blank symbols (attack pass 2, finding 3):
             "cw\u034fx", "cw\u3164x", "cw\uffa0x", "cw\u115fx", "cw\u2800x", "cw\u17b4x",
             "cw\ufe0fx", "cw\U000e0100x", "cw\u180bx",
             # replacement characters, a blank notehead, a leading combining mark, spaces
             # around the id (attack pass 3, findings 1-4):
             "cw\ufffdalex", "cw\ufffcalex", "cw\U0001d159alex", "\u0301cw", "cw-alex ",
             " cw-alex", "cw-alex\u00a0"]
ORDINARY = ["cw-alex", "José Núñez", "o'brien.k", "staff 42"]


def _case_body(holder: str, manager: str) -> dict[str, Any]:
    return {"child": {"given_name": "Sam", "family_name": "Taylor",
                      "date_of_birth": "2010-05-01"},
            "case_holder_id": holder, "line_manager_id": manager,
            "intervention": "court_order", "csc_status": "none"}


@pytest.mark.parametrize("sub", INVISIBLE)
async def test_token_subject_with_an_invisible_character_is_401(
    somerset: Tenant, sub: str
) -> None:
    """The token is refused before anything is read or written: 401 problem."""
    r = await somerset.client.post("/v1/cases", json=_case_body(sub, sub),
                                   headers=somerset.auth("line_manager", sub))
    assert r.status_code == 401, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    r = await somerset.client.get("/v1/cases", headers=somerset.auth("case_holder", sub))
    assert r.status_code == 401, r.text


@pytest.mark.parametrize("holder", INVISIBLE)
async def test_case_holder_id_with_an_invisible_character_is_422(
    somerset: Tenant, holder: str
) -> None:
    """A duty manager opening a case for a holder id that does not show: 422 naming the field
    and the code point, nothing stored; a PATCH to such a holder likewise."""
    r = await somerset.client.post("/v1/cases", json=_case_body(holder, "line_manager-1"),
                                   headers=somerset.auth("duty_manager"))
    assert r.status_code == 422, r.text
    problem = r.json()
    errors = [e for e in problem["errors"] if e["loc"] == "body.case_holder_id"]
    assert errors, problem
    # Spaces (of any kind) around the id are named as such; anything else by its code point.
    assert ("space" if holder != holder.strip() else "U+") in errors[0]["msg"], errors
    case = (await somerset.open_case())["data"]
    etag = (await somerset.client.get(f"/v1/cases/{case['id']}",
                                      headers=somerset.auth("line_manager"))).headers["ETag"]
    r = await somerset.client.patch(f"/v1/cases/{case['id']}", json={"case_holder_id": holder},
                                    headers={**somerset.auth("line_manager"), "If-Match": etag})
    assert r.status_code == 422, r.text


async def test_access_list_and_absence_staff_ids_are_checked(somerset: Tenant) -> None:
    """An access list naming an invisible id, and an absence for one (in the path): 422."""
    case = (await somerset.open_case())["data"]
    r = await restrict(somerset.client, somerset, case["id"],
                       {"excluded_staff": ["cw-alex\u200b"]})
    assert r.status_code == 422, r.text
    r = await somerset.client.post("/v1/staff/cw-alex%E2%80%8B/absences",
                                   json={"starts_on": "2026-12-01", "ends_on": "2026-12-02"},
                                   headers=somerset.auth("line_manager"))
    assert r.status_code == 422, r.text


@pytest.mark.parametrize("sub", ORDINARY)
async def test_ordinary_staff_ids_pass(somerset: Tenant, sub: str) -> None:
    """Letters with accents, an apostrophe, a dot, a plain space: a case opened (by its line
    manager, another person) and read by its holder."""
    manager = f"{sub}-lm"
    r = await somerset.client.post("/v1/cases", json=_case_body(sub, manager),
                                   headers=somerset.auth("line_manager", manager))
    assert r.status_code == 201, r.text
    assert r.json()["data"]["case_holder_id"] == sub
    r = await somerset.client.get(f"/v1/cases/{r.json()['data']['id']}",
                                  headers=somerset.auth("case_holder", sub))
    assert r.status_code == 200, r.text


async def test_one_spelling_per_id_nfc_and_no_surrounding_spaces(somerset: Tenant) -> None:
    """UAX #15: a holder id sent with a combining accent is stored in NFC (``cw-é`` as one
    character), so the holder's NFC token reads the case; a token whose subject is not in NFC,
    or has surrounding spaces (which a body's id never keeps), is refused: one person, one id
    (attack pass 2, finding 4)."""
    decomposed, composed = "cw-e\u0301", "cw-\u00e9"
    r = await somerset.client.post("/v1/cases", json=_case_body(decomposed, "line_manager-1"),
                                   headers=somerset.auth("duty_manager"))
    assert r.status_code == 201, r.text
    case = r.json()["data"]
    assert case["case_holder_id"] == composed
    r = await somerset.client.get(f"/v1/cases/{case['id']}",
                                  headers=somerset.auth("case_holder", composed))
    assert r.status_code == 200, r.text
    for sub in (decomposed, " cwx", "cwx "):
        r = await somerset.client.get("/v1/cases", headers=somerset.auth("case_holder", sub))
        assert r.status_code == 401, (sub, r.text)


async def test_absence_path_and_caseload_filter_check_the_id_too(somerset: Tenant) -> None:
    """``/v1/staff/{id}/absences`` refuses spaces around the id and broken UTF-8 (stored as
    U+FFFD before); the caseload's ``case_holder_id`` filter refuses what a body refuses and
    finds an NFC-stored holder by the decomposed spelling (attack pass 3, findings 1, 2, 5)."""
    body = {"starts_on": "2026-09-01", "ends_on": "2026-09-02"}
    for path in ("cw-alex%20", "%20cw-alex", "%C3", "%FF%FE"):
        r = await somerset.client.post(f"/v1/staff/{path}/absences", json=body,
                                       headers=somerset.auth("line_manager"))
        assert r.status_code == 422, (path, r.text)
    r = await somerset.client.post("/v1/cases", json=_case_body("jos\u00e9", "line_manager-1"),
                                   headers=somerset.auth("duty_manager"))
    assert r.status_code == 201, r.text
    for spelling in ("jos\u00e9", "jose\u0301"):
        r = await somerset.client.get("/v1/cases", params={"case_holder_id": spelling},
                                      headers=somerset.auth("duty_manager"))
        assert r.status_code == 200, r.text
        assert [c["case_holder_id"] for c in r.json()["data"]] == ["jos\u00e9"]
    for bad in ("cw\u200balex", " cw-alex"):
        r = await somerset.client.get("/v1/cases", params={"case_holder_id": bad},
                                      headers=somerset.auth("duty_manager"))
        assert r.status_code == 422, (bad, r.text)

