"""fix36a (attack 35b, ATTACK35B-1): Somerset S10 is not owed once the case's MAPPA A referral
form has been sent.

Somerset 7.1.9: "The MARP will decide if cases with Very High ROSH judgements need to be
referred to MAPPA 2, unless this has already been done." 8.3.3: "Referral to MAPPA 2 is
achieved by sending a 'MAPPA A' Referral form to level 2/3". A Very High judgement when the
case holder has already sent the MAPPA A form raises no S10; an S10 open when the form is sent
is superseded (the MARP's decision is moot: the MARP did not make it, and the case holder who
sent the form did not do the chair's step), so S10 stays a step only the MARP's decision does
(its end-of-day grace at the sitting, A19-1, kept). A form withdrawn before the judgement was
not sent as far as the service stands (the referral no longer stands): S10 is owed.

Dates: case opened Monday 3 August 2026 (BST); the MAPPA A form made and sent on Tuesday
4 August (or Thursday 6 August) at 10:00; ROSH Very High on Wednesday 5 August at 10:00.
"""

from __future__ import annotations

from typing import Any

from tests.api.integrity_support import judge, steps_of
from tests.conftest import Tenant

OPENED = "2026-08-03T09:00:00+01:00"
JUDGED = "2026-08-05T10:00:00+01:00"


async def _mappa_a(t: Tenant, case_id: str, at: str, *actions: str) -> str:
    """The case holder's MAPPA A referral made at ``at`` and moved by ``actions`` at that
    time (``submit``, ``send``, ``withdraw``): its id."""
    r = await t.client.post(f"/v1/cases/{case_id}/referrals",
                            json={"kind": "mappa_a", "occurred_at": at, "details": {}},
                            headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text
    referral = str(r.json()["data"]["id"])
    for action in actions:
        r = await t.client.post(f"/v1/referrals/{referral}/{action}", json={"occurred_at": at},
                                headers=t.auth("case_holder"))
        assert r.status_code == 200, r.text
    return referral


async def _s10(t: Tenant, case_id: str) -> list[tuple[Any, ...]]:
    """The case's S10 steps in any status: (code, actor, status, ref, completed_at)."""
    found = []
    for status in ("open", "done", "superseded"):
        found += [(s["code"], s["actor"], s["status"], s["policy"]["ref"], s["completed_at"])
                  for s in await steps_of(t, case_id, status) if s["policy"]["rule"] == "S10"]
    return found


async def test_S10_not_raised_when_the_mappa_a_form_was_already_sent(somerset: Tenant) -> None:
    """Somerset 7.1.9 "The MARP will decide if cases with Very High ROSH judgements need to be
    referred to MAPPA 2, unless this has already been done"; 8.3.3 "Referral to MAPPA 2 is
    achieved by sending a 'MAPPA A' Referral form". The form sent on Tue 4 Aug 2026: the Very
    High of Wed 5 Aug raises no S10."""
    t = somerset
    case = (await t.open_case(opened_at=OPENED))["data"]["id"]
    await _mappa_a(t, case, "2026-08-04T10:00:00+01:00", "submit", "send")
    await judge(t, case, "rosh", "very_high", JUDGED)
    assert await _s10(t, case) == []


async def test_S10_open_is_superseded_when_the_mappa_a_form_is_sent(somerset: Tenant) -> None:
    """Somerset 7.1.9 "... unless this has already been done"; 8.3.3. The Very High of Wed
    5 Aug 2026 raises S10 (the chair's, at the next MARP, 7.1.9 and 3.2.4); the case holder
    sends the MAPPA A form on Thu 6 Aug at 10:00: the MARP's decision is moot, S10 superseded
    as its condition no longer holds (not done: nobody did the MARP's decision, no
    completion): no S10 is left open."""
    t = somerset
    case = (await t.open_case(opened_at=OPENED))["data"]["id"]
    await judge(t, case, "rosh", "very_high", JUDGED)
    assert await _s10(t, case) == [("identify_mappa_level", "chair", "open", "7.1.9, 3.2.4",
                                    None)]
    await _mappa_a(t, case, "2026-08-06T10:00:00+01:00", "submit", "send")
    assert await _s10(t, case) == [("identify_mappa_level", "chair", "superseded",
                                    "7.1.9, 3.2.4", None)]
    (step,) = await steps_of(t, case, "superseded")
    assert (step["completed_by"], step["note"].splitlines()[-1]) == (
        None, "Superseded: the condition that required it no longer holds")


async def test_S10_owed_when_the_mappa_a_form_was_withdrawn(somerset: Tenant) -> None:
    """Somerset 7.1.9, 8.3.3: a MAPPA A form made and withdrawn on Tue 4 Aug 2026 was never
    sent as the service records it: the Very High of Wed 5 Aug raises S10, open, the chair's,
    7.1.9 and 3.2.4."""
    t = somerset
    case = (await t.open_case(opened_at=OPENED))["data"]["id"]
    await _mappa_a(t, case, "2026-08-04T10:00:00+01:00", "submit", "send", "withdraw")
    await judge(t, case, "rosh", "very_high", JUDGED)
    assert await _s10(t, case) == [("identify_mappa_level", "chair", "open", "7.1.9, 3.2.4",
                                    None)]


async def test_S10_a_mappa_a_form_only_submitted_is_not_sent(somerset: Tenant) -> None:
    """Somerset 8.3.3 "Referral to MAPPA 2 is achieved by sending a 'MAPPA A' Referral form":
    a form submitted on Tue 4 Aug 2026 and not yet sent has not done it: the Very High of Wed
    5 Aug raises S10, open."""
    t = somerset
    case = (await t.open_case(opened_at=OPENED))["data"]["id"]
    await _mappa_a(t, case, "2026-08-04T10:00:00+01:00", "submit")
    await judge(t, case, "rosh", "very_high", JUDGED)
    assert await _s10(t, case) == [("identify_mappa_level", "chair", "open", "7.1.9, 3.2.4",
                                    None)]
