"""The latest-dated MAPPA level wins, whoever records it and in whatever order (attack 37,
ATTACK37-1), and ``PATCH`` judges a dated level against the category at its date as the MAPPA
feed does (ATTACK37-2).

docs/integrating.md §3: "Each field follows the latest message by ``received_at``, not the last
delivered: a message dated before one already applied (or before a change of the field recorded
since by staff or the CMS) is stored as its referral and leaves the field alone."

Somerset 8.4: "The YJT seconded probation officer will be made aware of all cases relevant to
MAPPA 2" (S38); 8.2: "To be eligible for referral under MAPPA a child must fall into one of three
categories".
"""

from __future__ import annotations

from tests.api.history_order_support import Act, mappa, patched, record
from tests.api.integrity_support import (
    LEVEL_WITHOUT_CATEGORY,
    assert_refused_quoting_nothing,
    mappa_message,
    opened_with_iyss_ref,
    patch_case,
    steps_of,
)
from tests.conftest import Tenant

AT = "2026-08-{}T10:00:00+01:00"


async def _fields(t: Tenant, case_id: str) -> tuple[int | None, int | None]:
    r = await t.client.get(f"/v1/cases/{case_id}", headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    return r.json()["data"]["mappa_category"], r.json()["data"]["mappa_level"]


async def test_S38_ATTACK37_1_a_staff_level_dated_after_a_waiting_feed_level_wins(
        somerset: Tenant) -> None:
    """Somerset 8.4: "The YJT seconded probation officer will be made aware of all cases
    relevant to MAPPA 2" (S38). Category 2 dated 25 August, level 3 dated 24 August, level 1
    dated 23 August (both levels before the category), delivered in that order by the feed (F)
    or staff (P). The feed's level 1 message delivered last after a staff level 3 (FPF, PPF)
    took the case to level 1 from the category's date (ATTACK37-1): the latest-dated level (3)
    stands in every twin, and S38's step for the level 3 case is open. A staff level at the
    category's own instant, dated after the feed's, wins alike; a staff level dated before the
    feed's loses to it."""
    t = somerset

    def act(source: str, day: str, **fields: int) -> Act:
        return (mappa if source == "F" else patched)(AT.format(day), **fields)

    for sources in ("FPF", "PPF", "PFF", "FFP", "PFP"):
        ref, case_id = await opened_with_iyss_ref(t)
        for source, (day, fields) in zip(sources, (
                ("25", {"mappa_category": 2}), ("24", {"mappa_level": 3}),
                ("23", {"mappa_level": 1})), strict=True):
            await record(t, case_id, ref, act(source, day, **fields))
        assert await _fields(t, case_id) == (2, 3), sources
        assert "inform_seconded_probation_officer" in {
            s["code"] for s in await steps_of(t, case_id)}, sources
    for staff_day, expected in (("25", 3), ("22", 1)):
        ref, case_id = await opened_with_iyss_ref(t)
        for a in (patched(AT.format("25"), mappa_category=2),
                  patched(AT.format(staff_day), mappa_level=3),
                  mappa(AT.format("23"), mappa_level=1)):
            await record(t, case_id, ref, a)
        assert await _fields(t, case_id) == (2, expected), staff_day


async def test_S38_ATTACK37_2_patch_judges_a_dated_level_by_the_category_at_its_date(
        somerset: Tenant) -> None:
    """Somerset 8.2: "To be eligible for referral under MAPPA a child must fall into one of
    three categories"; 8.4 (S38). Category 2 dated 20 August, cleared dated 26 August: a
    level dated 22 August (the category then on file) was refused 422 by ``PATCH``, judged on
    the case now, while the feed's level of 23 August was taken (ATTACK37-2). Now both are
    history at their dates, the case stays with no category nor level. A level dated after the
    clearing is refused by both; a level dated before a later category, also cleared since,
    is taken by both; one dated before a category that stands now is taken by both."""
    t = somerset
    ref, case_id = await opened_with_iyss_ref(t)
    for day, category in (("20", 2), ("26", None)):
        r = await patch_case(t, case_id, {"mappa_category": category,
                                          "occurred_at": AT.format(day)})
        assert r.status_code == 200, r.text
    r = await patch_case(t, case_id, {"mappa_level": 2, "occurred_at": AT.format("22")})
    assert r.status_code == 200, r.text
    r = await mappa_message(t, ref, AT.format("23"), {"mappa_level": 1})
    assert r.status_code == 201, r.text
    assert await _fields(t, case_id) == (None, None)
    r = await patch_case(t, case_id, {"mappa_level": 2, "occurred_at": AT.format("27")})
    assert_refused_quoting_nothing(r, LEVEL_WITHOUT_CATEGORY, ["body.mappa_level"])
    r = await mappa_message(t, ref, AT.format("27"), {"mappa_level": 2})
    assert_refused_quoting_nothing(r, LEVEL_WITHOUT_CATEGORY, ["body.details.mappa_level"])
    r = await patch_case(t, case_id, {"mappa_level": 2, "occurred_at": AT.format("18")})
    assert r.status_code == 200, r.text
    r = await mappa_message(t, ref, AT.format("19"), {"mappa_level": 2})
    assert r.status_code == 201, r.text
    assert await _fields(t, case_id) == (None, None)
    assert "inform_seconded_probation_officer" not in {
        s["code"] for s in await steps_of(t, case_id)}
    r = await patch_case(t, case_id, {"mappa_category": 1, "occurred_at": AT.format("28")})
    assert r.status_code == 200, r.text
    r = await patch_case(t, case_id, {"mappa_level": 2, "occurred_at": AT.format("27")})
    assert r.status_code == 200, r.text
    r = await mappa_message(t, ref, AT.format("27"), {"mappa_level": 3})
    assert r.status_code == 201, r.text
    assert (await _fields(t, case_id))[0] == 1
