"""A MAPPA message at a panel decision's instant (attack 40, ATTACK40-8): one outcome in both
typing orders, time order's (docs/integrating.md §7: at one instant the feeds' messages come
first, then the case's events and changes of its fields, then the panels' decisions; what the
service records at a message's instant is recorded in the light of it).

Somerset 7.1.9: "The MARP will decide if cases with Very High ROSH judgements need to be
referred to MAPPA 2, unless this has already been done"; 8.3.3: "Referral to MAPPA 2 is
achieved by sending a 'MAPPA A' Referral form to level 2/3" (S22).
"""

from __future__ import annotations

import uuid
from pprint import pformat
from typing import Any

from tests.api.integrity_support import judge_rosh, mappa_message, on_marp_agenda
from tests.conftest import Tenant


async def _decision_and_message(t: Tenant, order: str) -> dict[str, Any]:
    """A Somerset case (category 1, very high ROSH on 20 March 2026) on the MARP of Tuesday 31
    March at 09:30; the MARP's decision setting MAPPA level 2 (D) and a MAPPA message with
    level 1 (F), both at 10:00, typed in ``order``: every answer's status, the case's level,
    its open steps."""
    ref = f"F41E-{uuid.uuid4().hex[:8]}"
    case_id = (await t.open_case(external_ref={"system": "IYSS", "id": ref},
                                 opened_at="2026-03-02T09:00:00Z",
                                 mappa_category=1))["data"]["id"]
    await judge_rosh(t, case_id, "very_high", "2026-03-20T10:00:00Z")
    panel, item = await on_marp_agenda(t, case_id, "2026-03-31T09:30:00Z")
    statuses = []
    for act in order:
        if act == "D":
            r = await t.client.post(
                f"/v1/panels/{panel}/items/{item}/decision", headers=t.auth("chair", "chair-1"),
                json={"rosh_level": "very_high", "mappa_level": 2, "actions": [],
                      "review_date": "2026-04-28", "minutes": "Discussed",
                      "occurred_at": "2026-03-31T10:00:00Z"})
        else:
            r = await mappa_message(t, ref, "2026-03-31T10:00:00Z", {"mappa_level": 1})
        statuses.append((act, r.status_code))
    headers = t.auth("line_manager")
    case = (await t.client.get(f"/v1/cases/{case_id}", headers=headers)).json()["data"]
    steps = (await t.client.get("/v1/next-steps", params={"case_id": case_id, "limit": 200},
                                headers=headers)).json()["data"]
    return {"statuses": sorted(statuses), "level": case["mappa_level"],
            "steps": sorted((s["code"], s["policy"]["rule"], s["due_at"]) for s in steps)}


async def test_S22_a_mappa_message_at_the_marps_decision_comes_before_it_in_both_orders(
        somerset: Tenant) -> None:
    """Somerset 7.1.9: "The MARP will decide if cases with Very High ROSH judgements need to be
    referred to MAPPA 2, unless this has already been done"; 8.3.3: "Referral to MAPPA 2 is
    achieved by sending a 'MAPPA A' Referral form" (S22). A MAPPA message with level 1 received
    at the instant of the MARP's decision setting level 2 comes before it (docs/integrating.md
    §7: the feeds' messages, then the panels' decisions): the decision is taken and its level 2
    stands, the MAPPA A referral owed, typed in either order (ATTACK40-8: message first, the
    decision was 409; decision first, the message's level 1 overwrote the panel's with S22
    still owed)."""
    got = {order: await _decision_and_message(somerset, order) for order in ("FD", "DF")}
    assert got["FD"] == got["DF"], pformat(got)
    assert got["FD"]["statuses"] == [("D", 200), ("F", 201)], got
    assert got["FD"]["level"] == 2, got
    assert ("mappa_a_referral", "S22") in {(c, r) for c, r, _ in got["FD"]["steps"]}, got
