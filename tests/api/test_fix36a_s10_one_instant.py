"""fix36a (attack 35b, ATTACK35B-6's kind): a panel's decision answers only the steps raised
before it in the one order of an instant, then Somerset S10 is done by the MARP's decision.

Somerset 7.1.9: "The MARP will decide if cases with Very High ROSH judgements need to be
referred to MAPPA 2, unless this has already been done." docs/integrating.md §7: acts at one
instant are in one order whatever order they are typed in: the case's events and feed messages,
then the panels' decisions, then the judgements (app.workflows.instant_order). S10 is now done by
the MARP's decision on the case (``[closures] panel_decision``), with or without a MAPPA level;
a Very High the case holder dates at the sitting's instant comes after the MARP's decision, so
that decision does not do the S10 it raised, typed before or after it (the next MARP decides).
The same holds for every step an act of the order closes (``act_answers``' ``kind``): a step
raised at its instant by an act ranked after it is not its to answer.

Dates: Tue 24 Nov 2026 (London on GMT, no bank holiday near), cases opened Mon 2 Nov; the
case holder's own ROSH high at 08:00; the MARP sits at 09:00 with the case on its agenda.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.domain.next_steps import act_answers
from app.domain.steps import Step
from app.workflows.packs import load_packs
from tests.api.order_support import (
    DAY,
    decided,
    high_on_the_days_marp,
    in_every_order,
    own,
    record,
    steps_of,
)
from tests.conftest import Tenant

KEEPS_HIGH = {"rosh_level": "high", "review_date": "2026-12-15"}
SITTING = f"{DAY}09:00:00Z"


async def _s10(t: Tenant, case_id: str) -> list[tuple[Any, ...]]:
    """The case's S10 steps, whatever their status: (code, actor, status, due, ref,
    completed_by, completed_at)."""
    found = []
    for status in ("open", "done", "superseded"):
        r = await t.client.get("/v1/next-steps", params={"case_id": case_id, "status": status,
                                                         "limit": 200},
                               headers=t.auth("line_manager"))
        assert r.status_code == 200, r.text
        found += [(s["code"], s["actor"], s["status"], s["due_at"], s["policy"]["ref"],
                   s["completed_by"], s["completed_at"])
                  for s in r.json()["data"] if s["policy"]["rule"] == "S10"]
    return found


async def test_S10_very_high_at_the_sitting_instant_is_not_done_by_that_decision_in_both_orders(
        somerset: Tenant) -> None:
    """Somerset 7.1.9 "The MARP will decide if cases with Very High ROSH judgements need to be
    referred to MAPPA 2" (S10: the chair, at the next MARP). The MARP at 09:00 keeps ROSH high;
    the case holder's Very High is dated 09:00 too, so it comes after the decision (§7): the
    one S10 it raises stays open, typed before or after the decision, owed to the next MARP:
    not the 09:00 sitting, which had decided the case (fix37a, ATTACK36-1: it was due there,
    born overdue); none booked, it waits for one (a service per order, ``fresh``)."""
    got = await in_every_order(somerset, [decided("09:00", **KEEPS_HIGH),
                                          own("09:00", "rosh", "very_high")],
                               prepare=high_on_the_days_marp, fresh=True)
    assert steps_of(got, "identify_mappa_level") == [("chair", None, None, "S10")]


async def test_S10_very_high_typed_before_a_decision_of_its_instant_stays_open(
        somerset: Tenant) -> None:
    """Somerset 7.1.9 (as above): typed first, the 09:00 Very High raises S10; the MARP's
    decision dated 09:00, typed after it, does not do it (in the instant's order it came before
    that judgement): open, the chair's, 7.1.9 and 3.2.4, nobody's completion, and no longer
    due at that sitting, which has decided the case: at the next MARP, none booked yet
    (fix37a, ATTACK36-1)."""
    t = somerset
    case = (await t.open_case(opened_at="2026-11-02T09:00:00Z"))["data"]["id"]
    urls = await high_on_the_days_marp(t, case)
    await record(t, case, own("09:00", "rosh", "very_high"))
    await record(t, case, decided("09:00", **KEEPS_HIGH), urls)
    assert await _s10(t, case) == [("identify_mappa_level", "chair", "open", None,
                                    "7.1.9, 3.2.4", None, None)]


async def test_S10_very_high_a_minute_before_the_decision_is_done_by_it(
        somerset: Tenant) -> None:
    """Somerset 7.1.9: a Very High at 08:59 comes before the MARP of 09:00, which confirms it
    and records no MAPPA level: S10 is done by the decision, the chair's, in the chair's name
    at 09:00."""
    t = somerset
    case = (await t.open_case(opened_at="2026-11-02T09:00:00Z"))["data"]["id"]
    urls = await high_on_the_days_marp(t, case)
    await record(t, case, own("08:59", "rosh", "very_high"))
    await record(t, case, decided("09:00", rosh_level="very_high", review_date="2026-12-15"),
                 urls)
    assert await _s10(t, case) == [("identify_mappa_level", "chair", "done", SITTING,
                                    "7.1.9, 3.2.4", "chair-1", SITTING)]


async def test_S10_a_marp_rating_very_high_decides_it_at_its_sitting(somerset: Tenant) -> None:
    """Somerset 7.1.9, 7.1.6 ("the MARP will ... confirm the ROSH/SWB judgement"): the MARP at
    09:00 rates the High case Very High and records no MAPPA level (none asked: the child has
    no MAPPA category). Its own Very High raises S10 and its decision on the case is the
    decision 7.1.9 asks for: done by it, the chair's, at 09:00 (no S10 owed to the next MARP)."""
    t = somerset
    case = (await t.open_case(opened_at="2026-11-02T09:00:00Z"))["data"]["id"]
    urls = await high_on_the_days_marp(t, case)
    r = await t.client.post(urls["decision"], json={
        "rosh_level": "very_high", "review_date": "2026-12-15", "actions": [],
        "minutes": "MARP: ROSH very high; no MAPPA 2 referral", "occurred_at": SITTING},
        headers=t.auth("chair", "chair-1"))
    assert r.status_code == 200, r.text
    assert await _s10(t, case) == [("identify_mappa_level", "chair", "done", SITTING,
                                    "7.1.9, 3.2.4", "chair-1", SITTING)]


async def _decision_and_plain_very_high(t: Tenant, decision_first: bool
                                        ) -> list[tuple[Any, ...]]:
    """The MARP at 09:00 rates the High case Very High (no MAPPA level); the case holder's own
    Very High is dated 09:00 too; typed decision first or judgement first: the case's S10s,
    sorted."""
    case = (await t.open_case(opened_at="2026-11-02T09:00:00Z"))["data"]["id"]
    urls = await high_on_the_days_marp(t, case)
    decision = decided("09:00", rosh_level="very_high", review_date="2026-12-15")
    judgement = own("09:00", "rosh", "very_high")
    for act in (decision, judgement) if decision_first else (judgement, decision):
        await record(t, case, act, urls)
    return sorted(await _s10(t, case))


DONE_AND_OWED = [
    ("identify_mappa_level", "chair", "done", SITTING, "7.1.9, 3.2.4", "chair-1", SITTING),
    ("identify_mappa_level", "chair", "open", None, "7.1.9, 3.2.4", None, None)]


@pytest.mark.parametrize("decision_first", [True, False], ids=["decision_first",
                                                               "judgement_first"])
async def test_S10_a_decision_does_only_its_own_instants_earlier_reasons(
        somerset: Tenant, decision_first: bool) -> None:
    """Somerset 7.1.9 "The MARP will decide if cases with Very High ROSH judgements need to be
    referred to MAPPA 2". The MARP at 09:00 rates the case Very High and records no level: its
    decision does the S10 its own rating raised. The case holder's Very High of 09:00 comes
    after that decision (§7) and asks again (each Very High judgement is S10's reason): one
    S10 done by the chair at 09:00, one open, owed to the next MARP (none booked: not the
    sitting that decided, fix37a), typed in either order (typed first, the judgement's reason
    joined the one step the decision does and is asked for again: fix36a, ``act_kind``)."""
    assert await _decision_and_plain_very_high(somerset, decision_first) == DONE_AND_OWED


# The one order of an instant, on the steps an act closes (pure: no database).
_T = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def _step(trigger: str, at: datetime, **record: Any) -> Step:
    """An open S10 raised at ``at`` by an act of ``trigger`` (its record marked ``record``)."""
    return Step(service_id=uuid.uuid4(), case_id=uuid.uuid4(), code="identify_mappa_level",
                rule_id="S10", title="S10", actor="chair", policy_pack="somerset-yjt-2023",
                policy_ref="7.1.9, 3.2.4", subject_id=uuid.uuid4(), raised_at=at,
                reasons=[{"rule": "S10", "pack": "somerset-yjt-2023", "ref": "7.1.9, 3.2.4",
                          "trigger": trigger, "at": at.isoformat(),
                          "record": {"type": "judgement", "id": str(uuid.uuid4()), **record}}])


@pytest.mark.parametrize(("trigger", "raised", "record", "kind", "answers"), [
    # A plain judgement of the decision's instant comes after it; one a minute before, before.
    ("judgement_recorded", _T, {}, "panel_decision", False),
    ("judgement_recorded", _T - timedelta(minutes=1), {}, "panel_decision", True),
    # The decision's own judgement (and another decision's) is of its kind: before or it.
    ("judgement_recorded", _T, {"via_panel_decision": True}, "panel_decision", True),
    # A case event or a feed's change of the case comes before the decision and the judgements.
    ("case_event", _T, {}, "panel_decision", True),
    ("case_changed", _T, {}, "judgement", True),
    # A judgement answers what its instant's earlier kinds (and judgements) raised.
    ("judgement_recorded", _T, {}, "judgement", True),
    ("panel_decision", _T, {}, "judgement", True),
    # A case event does not answer what a judgement or decision of its instant raised.
    ("judgement_recorded", _T, {}, "case_event", False),
    ("panel_decision", _T, {}, "case_event", False),
    # An act outside the order (a referral, an agenda item, a completion): as before.
    ("judgement_recorded", _T, {}, None, True),
    ("referral_transition", _T, {}, "panel_decision", True),
])
def test_SAME_INSTANT_an_act_answers_only_steps_raised_before_it_in_its_instants_order(
        trigger: str, raised: datetime, record: dict[str, Any], kind: str | None,
        answers: bool) -> None:
    """docs/integrating.md §7: "Acts at one instant (the same occurred_at) are in one order
    whatever order you type them in: first the case's events and the feeds' messages ..., then
    the panels' decisions, then the judgements". An act of ``kind`` at 09:00 on Tue 24 Nov
    2026 answers an open S10 (7.1.9) raised by ``trigger`` at ``raised`` only if that act came
    before it in that order."""
    pack = load_packs()["somerset-yjt-2023"]
    assert act_answers(pack, _step(trigger, raised, **record), _T, kind=kind) is answers

