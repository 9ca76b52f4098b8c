"""A MAPPA feed message that cannot be applied as sent (attack 36, ATTACK36-7): refused 422
with its own problem type, nothing of it stored (its referral, the case's fields, history,
audit; the Idempotency-Key not used up), where it was answered 201 with its level silently
dropped. The feed refuses what ``PATCH`` of the case refuses: a level with no category, a
level on the category the same message clears (null), a level out of range.

Wokingham, MAPPA categories: "To be eligible for referral under MAPPA, an individual must fall
into one of 3 categories"; Referrals into MAPPA: "For children that are expected to be managed
at level 2/3, the PYJS should make the referral using the MAPPA A form" (W17). Somerset 8.4:
"The YJT seconded probation officer will be made aware of all cases relevant to MAPPA 2" (S38).
"""

from __future__ import annotations

import uuid
from typing import Any

from tests.api.integrity_support import (
    LEVEL_WITHOUT_CATEGORY,
    assert_refused_quoting_nothing,
    audit_of,
    mappa_message,
    opened_with_iyss_ref,
    patch_case,
    steps_of,
)
from tests.conftest import Tenant

# Friday 28 August 2026 (BST).
AT = "2026-08-28T{}:00+01:00"
CLEARED_BY_FEED = "mappa-field-cleared-by-feed"


async def _record(t: Tenant, case_id: str) -> dict[str, Any]:
    """What a refused message must leave as it was: the case's MAPPA fields, its referrals,
    timeline, audit and open steps."""
    manager = t.auth("line_manager")
    case = (await t.client.get(f"/v1/cases/{case_id}", headers=manager)).json()["data"]
    referrals = (await t.client.get(f"/v1/cases/{case_id}/referrals",
                                    headers=manager)).json()["data"]
    timeline = (await t.client.get(f"/v1/cases/{case_id}/timeline?limit=200",
                                   headers=manager)).json()["data"]
    return {"fields": (case["mappa_category"], case["mappa_level"],
                       case["expected_release_date"]),
            "referrals": [r["id"] for r in referrals], "timeline": timeline,
            "audit": [e["id"] for e in await audit_of(t, case_id)],
            "steps": sorted(s["id"] for s in await steps_of(t, case_id))}


async def test_W17_ATTACK36_7_a_level_with_no_category_is_refused_and_nothing_is_stored(
        wokingham: Tenant) -> None:
    """Wokingham, MAPPA categories: "To be eligible for referral under MAPPA, an individual
    must fall into one of 3 categories"; Referrals into MAPPA: "For children that are expected
    to be managed at level 2/3, the PYJS should make the referral using the MAPPA A form"
    (W17). The MAPPA unit's level 2 message of 10:20 for a child with no category was 201 and
    its level dropped (ATTACK36-7); ``PATCH`` of the same level was 422. Now 422
    ``mappa-level-without-category`` for both, nothing of the message stored, and a retry of
    the same key refused again (not replayed). Once the category 1 message of 10:12 is on file,
    the same message (same key) is taken: level 2 from its 10:20, W17's MAPPA A form owed."""
    t = wokingham
    ref, case_id = await opened_with_iyss_ref(t)
    before = await _record(t, case_id)
    key = f"atk36-7-{uuid.uuid4().hex[:8]}"
    for _ in range(2):  # the same message again: refused again, nothing replayed
        r = await mappa_message(t, ref, AT.format("10:20"), {"mappa_level": 2}, key=key)
        assert_refused_quoting_nothing(r, LEVEL_WITHOUT_CATEGORY, ["body.details.mappa_level"])
        assert "Idempotent-Replayed" not in r.headers
        assert await _record(t, case_id) == before
    r = await patch_case(t, case_id, {"mappa_level": 2, "occurred_at": AT.format("10:20")})
    assert_refused_quoting_nothing(r, LEVEL_WITHOUT_CATEGORY, ["body.mappa_level"])
    r = await mappa_message(t, ref, AT.format("10:12"), {"mappa_category": 1})
    assert r.status_code == 201, r.text
    r = await mappa_message(t, ref, AT.format("10:20"), {"mappa_level": 2}, key=key)
    assert r.status_code == 201, r.text
    after = await _record(t, case_id)
    assert after["fields"] == (1, 2, None)
    assert len(after["referrals"]) == 2
    [form] = [s for s in await steps_of(t, case_id) if s["code"] == "mappa_a_referral"]
    assert (form["actor"], form["assignee_id"], form["policy"]["rule"],
            form["policy"]["ref"]) == ("case_holder", "case_holder-1", "W17",
                                       "Referrals into MAPPA")


async def test_W16_W17_ATTACK36_7_what_patch_refuses_the_feed_refuses_whole(
        wokingham: Tenant) -> None:
    """Wokingham, MAPPA categories: "To be eligible for referral under MAPPA, an individual
    must fall into one of 3 categories" (W16's MAPPA H form for "all MAPPA eligible young
    people"; W17's A form at "level 2/3"). On a category 2, level 1 child, a message setting
    level 2 and clearing the category (null) had its null ignored and its level applied
    (ATTACK36-7; ``PATCH`` of the same is 422): now 422 ``mappa-field-cleared-by-feed``, as is
    any null (a message sets fields, a person clears them); a level or category out of 1-3 is
    422 by both. Nothing of any of them is stored; the same message without the null is
    taken."""
    t = wokingham
    ref, case_id = await opened_with_iyss_ref(t, mappa_category=2, mappa_level=1)
    before = await _record(t, case_id)
    for details, slug, patch_status in (
            ({"mappa_category": None, "mappa_level": 2}, CLEARED_BY_FEED, 422),
            ({"mappa_category": None}, CLEARED_BY_FEED, 422),
            ({"mappa_level": None}, CLEARED_BY_FEED, 200),
            ({"expected_release_date": None, "mappa_level": 2}, CLEARED_BY_FEED, 200),
            ({"mappa_level": 4}, "validation-error", 422),
            ({"mappa_category": 0, "mappa_level": 2}, "validation-error", 422)):
        r = await mappa_message(t, ref, AT.format("10:20"), details)
        locs = sorted(f"body.details.{f}" for f, v in details.items()
                      if v is None or not 1 <= v <= 3)
        assert_refused_quoting_nothing(r, slug, locs)
        assert await _record(t, case_id) == before, details
        if patch_status == 422:
            r = await patch_case(t, case_id, {**details, "occurred_at": AT.format("10:20")})
            assert r.status_code == 422, (details, r.text)
    r = await mappa_message(t, ref, AT.format("10:20"), {"mappa_level": 2})
    assert r.status_code == 201, r.text
    assert (await _record(t, case_id))["fields"] == (2, 2, None)


async def test_S38_ATTACK36_7_a_level_after_the_category_was_cleared_is_refused(
        somerset: Tenant) -> None:
    """Somerset 8.4: "The YJT seconded probation officer will be made aware of all cases
    relevant to MAPPA 2" (S38); 8.2: MAPPA manages those who fall into its categories. A child
    whose category 2 and level 1 were cleared at 10:00 (no longer MAPPA eligible): the MAPPA
    unit's level 2 message of 10:20 stands on no category and is refused 422 as ``PATCH`` of
    it is, raising no S38 step; its level 2 message of 09:30, while the child was category 2,
    is taken as history (the clearing of 10:00 stands over it now)."""
    t = somerset
    ref, case_id = await opened_with_iyss_ref(t, mappa_category=2, mappa_level=1)
    r = await patch_case(t, case_id, {"mappa_category": None, "mappa_level": None,
                                      "occurred_at": AT.format("10:00")})
    assert r.status_code == 200, r.text
    before = await _record(t, case_id)
    r = await mappa_message(t, ref, AT.format("10:20"), {"mappa_level": 2})
    assert_refused_quoting_nothing(r, LEVEL_WITHOUT_CATEGORY, ["body.details.mappa_level"])
    assert await _record(t, case_id) == before
    assert "inform_seconded_probation_officer" not in {
        s["code"] for s in await steps_of(t, case_id)}
    r = await patch_case(t, case_id, {"mappa_level": 2})
    assert_refused_quoting_nothing(r, LEVEL_WITHOUT_CATEGORY, ["body.mappa_level"])
    r = await mappa_message(t, ref, AT.format("09:30"), {"mappa_level": 2})
    assert r.status_code == 201, r.text
    assert (await _record(t, case_id))["fields"] == (None, None, None)
