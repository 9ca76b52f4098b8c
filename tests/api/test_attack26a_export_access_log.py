"""Attack pass 26a, A26a-18: a subject access export discloses every record of each case of the
child it covers, but only the case asked for had the read in its access log. README: "Every read
request that loads a case record (... exports; each case shown in the caseload or on the
register) ... is noted". From the attacker's side: the export of one case shows up in the access
log of every case it carried, matched by name and date of birth or included on request.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import Tenant

DOB = "2009-02-14"
WHAT = "GET /v1/cases/{case_id}/subject-access-export"


async def _exports_in_log(client: httpx.AsyncClient, t: Tenant, case_id: str) -> list[Any]:
    r = await client.get(f"/v1/cases/{case_id}/access-log", headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    return [(e["what"], e["actor"]) for e in r.json()["data"] if e["what"] == WHAT]


async def test_an_export_is_in_the_access_log_of_every_case_it_discloses(
    client: httpx.AsyncClient, somerset: Tenant,
) -> None:
    """Three cases: the one asked for, one of the same recorded name and date of birth (in the
    export by match), one whose name only resembles, included by the requester: the export is
    in each one's access log, under the requester; a fourth case of another child is not."""
    def child(given: str, family: str) -> dict[str, str]:
        return {"given_name": given, "family_name": family, "date_of_birth": DOB}

    asked = (await somerset.open_case(child=child("Jordan", "Reed")))["data"]["id"]
    same = (await somerset.open_case(child=child("JORDAN", "reed")))["data"]["id"]
    resembles = (await somerset.open_case(child=child("Jordon", "Reed")))["data"]["id"]
    other = (await somerset.open_case(child=child("Ava", "Lund")))["data"]["id"]
    r = await client.get(f"/v1/cases/{asked}/subject-access-export",
                         params={"include": resembles},
                         headers=somerset.auth("line_manager"))
    assert r.status_code == 200, r.text
    assert {c["case"]["id"] for c in r.json()["data"]["cases"]} == {asked, same, resembles}
    for case_id in (asked, same, resembles):
        assert await _exports_in_log(client, somerset, case_id) == [
            (WHAT, "line_manager-1")], case_id
    assert await _exports_in_log(client, somerset, other) == []
