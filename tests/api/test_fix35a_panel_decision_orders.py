"""ATTACK34A-1 (fix35a): a ROSH/SWB judgement dated before a panel's sitting and the panel's
decision on the case, typed in either order (Somerset's MARP, Wokingham's High-Risk Panel).

Somerset 4.3: "Should a case at MARP be reclassified as medium, the case will be de-registered
from the MARP panel and managed by case holder alongside manager oversight." Typed in time
order, a lowering dated before the sitting takes the case off the register and off the
sitting's agenda, and the decision is then refused (409 ``conflicting-transition``: the item
is withdrawn). Typed the other way round it was kept as a back-fill and the case stayed high:
the lowering is now refused (409 ``decided-after-judgement``, naming the decided item and the
sitting as its ``bound``). A judgement that leaves the case on the register (a raise, or a
lowering while the other domain stays high) is taken in either order, to the same record.

Tuesday 3 November 2026 10:00Z the case is judged high; a sitting is booked for Monday 23
November 2026 10:00Z (GMT) with the case on its agenda; the judgement is dated Friday 20
November 2026 10:00Z, the working day before the weekend before the sitting.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import httpx
import pytest

from tests.api.act_order_support import HOLDER, MANAGER, judgement_body, rate, record, the_record
from tests.api.integrity_support import assert_problem
from tests.conftest import Tenant

HIGH_AT, LOWERED_AT, SAT = "2026-11-03T10:00:00Z", "2026-11-20T10:00:00Z", "2026-11-23T10:00:00Z"
PANEL = {"somerset-yjt-2023": "marp", "wokingham-pyjs-2024": "high_risk_panel"}


class Sitting:
    """A case judged high on 3 Nov on the agenda of a sitting on 23 Nov."""

    def __init__(self, t: Tenant, case_id: str, panel_id: str, item_id: str) -> None:
        self.t, self.case, self.panel, self.item = t, case_id, panel_id, item_id

    async def judge(self, domain: str, level: str, at: str = LOWERED_AT) -> httpx.Response:
        return await self.t.client.post(f"/v1/cases/{self.case}/judgements",
                                        json=judgement_body(domain, level, at),
                                        headers=self.t.auth("case_holder"))

    async def decide(self, **levels: Any) -> httpx.Response:
        body: dict[str, Any] = {**levels, "minutes": "Discussed", "occurred_at": SAT,
                                "actions": [{"description": "Review the plan",
                                             "owner_id": HOLDER, "due_date": "2026-12-18"}]}
        if any(v in ("high", "very_high") for v in levels.values()):
            body["review_date"] = "2026-12-21"
        return await self.t.client.post(
            f"/v1/panels/{self.panel}/items/{self.item}/decision", json=body,
            headers=self.t.auth("chair"))

    async def record(self) -> Any:
        return await the_record(self.t, self.case)


async def refer(t: Tenant, case_id: str) -> None:
    """A panel referral with the child's and carer's views, made, submitted and sent on
    Wednesday 4 November 2026."""
    r = await t.client.post(f"/v1/cases/{case_id}/referrals", json={
        "kind": "panel", "occurred_at": "2026-11-04T10:00:00Z",
        "details": {"child_views": "Wants to be heard", "carer_views": "Supportive"}},
        headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text
    for action in ("submit", "send"):
        r = await t.client.post(f"/v1/referrals/{r.json()['data']['id']}/{action}",
                                json={"occurred_at": "2026-11-04T11:00:00Z"},
                                headers=t.auth("case_holder"))
        assert r.status_code == 200, r.text


async def sitting(t: Tenant, *more: tuple[str, str], start: str = "high",
                  referred: bool = False, **opening: Any) -> Sitting:
    """The case (``opening``: more of its fields; ROSH ``start`` at 3 Nov, ``more``: other
    (domain, level) judged then; ``referred``: a panel referral sent on 4 Nov) on the agenda
    of the pack's panel sitting at 23 Nov."""
    case = (await t.open_case(opened_at="2026-11-02T09:00:00Z", **opening))["data"]["id"]
    await record(t, case, rate(start, HIGH_AT))
    for domain, level in more:
        await record(t, case, rate(level, HIGH_AT, domain=domain))
    if referred:
        await refer(t, case)
    r = await t.client.post("/v1/panels", json={"kind": PANEL[t.pack], "scheduled_for": SAT,
                                                "chair_id": "chair-1"},
                            headers=t.auth("panel_admin"))
    assert r.status_code == 201, r.text
    panel = r.json()["data"]["id"]
    r = await t.client.post(f"/v1/panels/{panel}/items",
                            json={"case_id": case, "presenter_id": HOLDER},
                            headers=t.auth("panel_admin"))
    assert r.status_code == 201, r.text
    return Sitting(t, case, panel, r.json()["data"]["id"])


class Typed(NamedTuple):
    """What one typing order left: the judgement's and the decision's answers, the record."""

    judgement: httpx.Response
    decision: httpx.Response
    record: Any


async def both_orders(t: Tenant, judged: tuple[str, str], decided: dict[str, Any],
                      *more: tuple[str, str], **opening: Any) -> tuple[Typed, Typed]:
    """The judgement ``judged`` (domain, level) dated 20 Nov and the sitting's decision
    ``decided`` at 23 Nov typed judgement first, then (on a case of its own) decision first
    (``more``, ``opening``: as :func:`sitting`'s)."""
    first = await sitting(t, *more, **opening)
    j = await first.judge(*judged)
    d = await first.decide(**decided)
    second = await sitting(t, *more, **opening)
    d2 = await second.decide(**decided)
    j2 = await second.judge(*judged)
    return Typed(j, d, await first.record()), Typed(j2, d2, await second.record())


def status(typed: Typed) -> tuple[int, int]:
    return typed.judgement.status_code, typed.decision.status_code


# The Somerset case judged high on 3 Nov: its record with a medium (or low) dated 20 Nov that
# took it off the register (S12 inform the child of the change, S13 the plan of a medium; the
# high's S5, S6 and S1 stay; S7's referral and S11's reviews ended with the register).
SOMERSET_LOWERED = (
    ("complete_assessment", "case_holder", HOLDER, "2026-11-30T09:00:00Z", "S1", "2.1"),
    ("countersign_risk_plan", "line_manager", MANAGER, None, "S6", "3.1"),
    ("discuss_with_manager", "line_manager", MANAGER, "2026-11-04T10:00:00Z", "S5", "3.1"),
    ("inform_child_and_carer", "case_holder", HOLDER, None, "S12", "6.1"),
    ("update_intervention_plan", "case_holder", HOLDER, None, "S13", "4.2"),
)
# ... and with the MARP's decision of 23 Nov keeping it high, review 21 Dec (S20), its action
# due 18 Dec, the review stage (S18), the panel contact (S19), the register's monthly
# discussion (S41) and the line manager's monthly review (S11) from the high of 3 Nov.
SOMERSET_KEPT_HIGH = tuple(sorted((
    ("attend_panel_review", "case_holder", HOLDER, "2026-12-21T23:59:59Z", "S20",
     "7.1.6, 7.2.3"),
    ("complete_assessment", "case_holder", HOLDER, "2026-11-30T09:00:00Z", "S1", "2.1"),
    ("complete_review_stage", "case_holder", HOLDER, None, "S18", "7.1.3"),
    ("countersign_risk_plan", "line_manager", MANAGER, None, "S6", "3.1"),
    ("discuss_register_monthly", "chair", None, "2026-12-03T10:00:00Z", "S41", "9"),
    ("discuss_with_manager", "line_manager", MANAGER, "2026-11-04T10:00:00Z", "S5", "3.1"),
    ("inform_child_and_carer", "case_holder", HOLDER, None, "S12", "6.1"),
    ("monthly_manager_review", "line_manager", MANAGER, "2026-12-03T10:00:00Z", "S11", "4.5"),
    ("panel_action", "action_owner", HOLDER, "2026-12-18T23:59:59Z", "S18", "7.1.2, 7.1.7"),
    ("record_panel_contact", "panel_admin", None, None, "S19", "7.1.4"),
    ("update_intervention_plan", "case_holder", HOLDER, None, "S13", "4.2"),
)))


@pytest.mark.parametrize("lowered", ["medium", "low"])
async def test_S21_lowering_before_the_marp_typed_first_withdraws_the_case_from_its_agenda(
        somerset: Tenant, lowered: str) -> None:
    """S21 (Somerset 4.3): "Should a case at MARP be reclassified as medium, the case will be
    de-registered from the MARP panel and managed by case holder alongside manager
    oversight." High 3 Nov 2026, on the agenda of the MARP of Mon 23 Nov; the case holder's
    {lowered} dated Fri 20 Nov (no MARP had heard the case: no approval needed, M6) typed
    first: 201, the case leaves the register and the MARP's agenda, and the chair's decision
    of 23 Nov (keeping high) is then 409 ``conflicting-transition`` (the item withdrawn)."""
    first, _ = await both_orders(somerset, ("rosh", lowered), {"rosh_level": "high"})
    assert status(first) == (201, 409)
    problem = assert_problem(first.decision, 409)
    assert problem["type"].endswith("/conflicting-transition")
    assert problem["current"]["withdrawn_at"] == LOWERED_AT
    assert problem["current"]["withdrawal_reason"] == \
        f"the case left the register (rosh {lowered})"
    assert first.record == (SOMERSET_LOWERED,
                            ({"rosh": lowered, "swb": None, "lor": None}, False, False))


@pytest.mark.parametrize("decided", ["high", "very_high", "medium"])
@pytest.mark.parametrize("lowered", ["medium", "low"])
async def test_S21_lowering_before_the_marp_typed_after_its_decision_is_refused(
        somerset: Tenant, lowered: str, decided: str) -> None:
    """S21 (Somerset 4.3): "Should a case at MARP be reclassified as medium, the case will be
    de-registered from the MARP panel", and 7.2.1: "Where the current judgment of ROSH/S and
    WB concern is High or Very high, recommendation that the risk level is reduced must be
    approved by the panel." The same acts typed the other way round (ATTACK34A-1): the
    MARP's decision of Mon 23 Nov first (200), then the case holder's lowering dated Fri 20
    Nov, which in time order would have withdrawn the case from that MARP: 409
    ``decided-after-judgement`` naming the decided item, its panel and the sitting as the
    ``bound``; the record is the decision's, unchanged. Before, it was kept as a back-fill
    and the case stayed as the MARP left it: two records for one history."""
    t = somerset
    case = await sitting(t)
    assert (await case.decide(rosh_level=decided)).status_code == 200
    before = await case.record()
    r = await case.judge("rosh", lowered)
    problem = assert_problem(r, 409)
    assert problem["type"].endswith("/decided-after-judgement")
    assert (problem["panel_item_id"], problem["panel_id"], problem["decided_at"]) == \
        (case.item, case.panel, SAT)
    assert problem["bound"] == {"field": "occurred_at",
                                "name": "the Multi-Agency Risk Panel (MARP)'s sitting",
                                "value": SAT}
    assert [e["loc"] for e in problem["errors"]] == ["body.occurred_at"]
    assert await case.record() == before
    if decided == "high":
        assert before == (SOMERSET_KEPT_HIGH,
                          ({"rosh": "high", "swb": None, "lor": None}, True, False))
    r = await t.client.get(f"/v1/cases/{case.case}/judgements", headers=t.auth("line_manager"))
    assert [(j["level"], j["occurred_at"]) for j in r.json()["data"]] == \
        [(decided, SAT), ("high", HIGH_AT)]


async def test_S21_lowering_one_domain_while_the_other_holds_the_register_any_order(
        somerset: Tenant) -> None:
    """Somerset 7.2.3: "Where cases continue to be classified as High or Very high, the case
    will remain relevant to ongoing MARP oversight." ROSH and SWB high 3 Nov; the ROSH
    medium dated 20 Nov leaves the case on the register (SWB high), so on the MARP's agenda:
    typed before or after the MARP's decision of 23 Nov (ROSH high, SWB high), both are
    recorded, to the same record."""
    first, second = await both_orders(somerset, ("rosh", "medium"),
                                      {"rosh_level": "high", "swb_level": "high"},
                                      ("swb", "high"))
    assert (status(first), status(second)) == ((201, 200), (201, 200))
    assert first.record == second.record
    assert first.record[1] == ({"rosh": "high", "swb": "high", "lor": None}, True, False)


async def test_S7_raising_before_the_marp_any_order(somerset: Tenant) -> None:
    """Somerset 3.2.4: "'Very High' judgements will trigger the case being dealt with as a
    priority at all stages." High 3 Nov; a very high dated 20 Nov (the case stays on the
    register and the agenda) and the MARP's decision of 23 Nov keeping very high: recorded in
    either order, to the same record."""
    first, second = await both_orders(somerset, ("rosh", "very_high"),
                                      {"rosh_level": "very_high"})
    assert (status(first), status(second)) == ((201, 200), (201, 200))
    assert first.record == second.record
    assert first.record[1] == ({"rosh": "very_high", "swb": None, "lor": None}, True, False)


@pytest.mark.parametrize("decided", ["high", "medium"])
async def test_W8_lowering_before_the_high_risk_panel_any_order(
        wokingham: Tenant, decided: str) -> None:
    """Wokingham High Risk Panel: the chair holds the panel ("chaired by the Team Manager"),
    the W8 step the agenda item raised, which keeps the case on the panel's agenda whatever
    its register (:func:`app.domain.agenda.has_panel_route`). High 3 Nov; the case worker's
    medium dated 20 Nov and the High-Risk Panel's decision of 23 Nov: recorded in either
    order, to the same record."""
    first, second = await both_orders(wokingham, ("rosh", "medium"), {"rosh_level": decided})
    assert (status(first), status(second)) == ((201, 200), (201, 200))
    assert first.record == second.record
    assert first.record[1] == ({"rosh": decided, "swb": None, "lor": None},
                               decided == "high", False)


async def test_S22_lowering_very_high_to_high_before_a_marp_deciding_mappa_2_any_order(
        somerset: Tenant) -> None:
    """S22 (Somerset 7.1.9): "The MARP will decide if cases with Very High ROSH judgements
    need to be referred to MAPPA 2". A MAPPA category 3 case judged very high on 3 Nov; the
    case holder's high dated 20 Nov (still on the register, so on the agenda) and the MARP's
    decision of 23 Nov (very high, MAPPA level 2): recorded in either order, to the same
    record, the MAPPA A referral (8.3.3) among its steps."""
    first, second = await both_orders(
        somerset, ("rosh", "high"), {"rosh_level": "very_high", "mappa_level": 2},
        start="very_high", mappa_category=3)
    assert (status(first), status(second)) == ((201, 200), (201, 200))
    assert first.record == second.record
    assert first.record[1] == ({"rosh": "very_high", "swb": None, "lor": None}, True, False)
    assert [s[:5] for s in first.record[0] if s[0] == "mappa_a_referral"] == \
        [("mappa_a_referral", "case_holder", HOLDER, None, "S22")]


async def test_S21_lowering_before_a_marp_the_case_was_referred_to_any_order(
        somerset: Tenant) -> None:
    """Somerset 3.2.3: "The case holder will refer the case to the next YJT MARP by contacting
    the appropriate administrator and completion of section 1 of the MARP referral form."
    High 3 Nov, a MARP referral sent 4 Nov, on the agenda of the MARP of 23 Nov: the case
    holder's medium dated 20 Nov takes the case off the register but not off the agenda (the
    referral stands until the MARP hears it), so it and the MARP's decision keeping high are
    recorded in either order, to the same record."""
    first, second = await both_orders(somerset, ("rosh", "medium"), {"rosh_level": "high"},
                                      referred=True)
    assert (status(first), status(second)) == ((201, 200), (201, 200))
    assert first.record[1] == second.record[1] == \
        ({"rosh": "high", "swb": None, "lor": None}, True, False)


async def test_S11_S41_lowering_before_a_marp_the_case_was_referred_to_same_steps(
        somerset: Tenant) -> None:
    """S11 (Somerset 4.5): "It is the responsibility of line managers to review all cases where
    there is a High or Very High ROSH and/or Safety and Well-Being rating with case holders at
    least monthly". The referred case above: the same open steps in either order, the
    monthly reviews due a month after the MARP's high of 23 Nov (Wed 23 Dec 2026), as time
    order has them (fix36c, ATTACK35B-3: typed after the decision, the medium was checked on the
    review the MARP booked, kept as history only, and left those of 3 Nov due 3 Dec)."""
    first, second = await both_orders(somerset, ("rosh", "medium"), {"rosh_level": "high"},
                                      referred=True)
    assert [s for s in first.record[0] if s[0] in ("discuss_register_monthly",
                                                  "monthly_manager_review")] == [
        ("discuss_register_monthly", "chair", None, "2026-12-23T10:00:00Z", "S41", "9"),
        ("monthly_manager_review", "line_manager", MANAGER, "2026-12-23T10:00:00Z", "S11",
         "4.5")]
    assert second.record == first.record
