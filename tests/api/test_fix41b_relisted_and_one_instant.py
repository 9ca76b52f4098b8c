"""A case put back on the agenda it was deferred from (ATTACK40-1), and a rating judged at the
instant of a panel's decision dated after its sitting (ATTACK40-3; fix41b).

ATTACK40-1: taken off a sitting's agenda after the MARP sat (deferred), the case owed again the
referral its item had answered (Somerset S7, 3.2.3 "The case holder will refer the case to the
next YJT MARP"), due at the next MARP. Put back on that same agenda by its keepers (the item is
on the agenda from the sitting), the referral stayed open, and overdue, even after that MARP
decided the case: a listing recorded after the sitting answered only what was asked by the
sitting, and the referral was asked again at the withdrawal. The three acts can only be typed
withdrawal, listing, decision (the case stands on an agenda once: 409 already-on-agenda; a
decision needs its item), so the tests vary their dates instead.

ATTACK40-3: the refusal of a decision confirming a rating other than one judged after the panel
sat counted a plain judgement at the decision's own instant as before it, although at one
instant the panels' decisions come before the judgements (docs/integrating.md §7).

Dates (2026): ROSH very high on Wednesday 26 August 10:00 BST; MARPs on Tuesday 29 September
10:00 BST (09:00Z) and Tuesday 27 October 10:00 GMT; the example pack's Risk Panels on Thursdays
12 and 19 November 10:00 GMT; the one-instant acts on Tuesday 24 November (GMT).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.api.act_order_support import (
    book_sitting,
    judgement_body,
    list_again,
    withdraw_item,
)
from tests.api.fidelity_support import pin
from tests.api.integrity_support import (
    assert_problem,
    book_panel,
    judge_rosh,
    on_marp_agenda,
    refer_to_marp,
    steps_of,
    the_step,
)
from tests.api.order_support import (
    DAY,
    decided,
    high_on_the_days_marp,
    in_every_order,
    own,
    record,
)
from tests.api.order_support import steps_of as open_steps_of
from tests.conftest import Tenant, make_tenant

SITTING, OCTOBER = "2026-09-29T10:00:00+01:00", "2026-10-27T10:00:00Z"
KEEPS_VERY_HIGH = {"rosh_level": "very_high", "actions": [], "review_date": "2026-10-27",
                   "minutes": "Heard after all"}


def _utc(at: str) -> str:
    """``at`` (RFC 3339 with an offset) as the service writes it: UTC with ``Z``."""
    return datetime.fromisoformat(at).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def _decide(t: Tenant, panel: str, item: str, at: str | None,
                  body: dict[str, Any]) -> httpx.Response:
    """The chair's decision ``body`` on the item, dated ``at`` (None: by default, at the
    sitting)."""
    return await t.client.post(f"/v1/panels/{panel}/items/{item}/decision",
                               json={**body, **({"occurred_at": at} if at else {})},
                               headers=t.auth("chair", "chair-1"))


def _done_by(steps: list[dict[str, Any]], code: str, item: str) -> list[dict[str, Any]]:
    """The steps of ``code`` done by the agenda item ``item``."""
    return [s for s in steps if s["code"] == code
            and s["satisfied_by"] == {"type": "panel_item", "id": item}]


@pytest.mark.parametrize(("withdrawn", "decision"), [
    ("2026-09-29T12:00:00+01:00", None),  # the attack's: deferred at noon, decided by default
    ("2026-09-29T12:00:00+01:00", "2026-09-29T11:00:00+01:00"),  # decision dated before it
    ("2026-09-29T12:00:00+01:00", "2026-09-29T12:00:00+01:00"),  # at its instant
    ("2026-09-29T12:00:00+01:00", "2026-09-29T12:30:00+01:00"),  # after it
    ("2026-09-30T08:00:00+01:00", None),  # the deferral dated the next morning
], ids=["noon", "decided-before", "decided-at-it", "decided-after",
        "next-morning"])
@pytest.mark.parametrize("referred", [False, True], ids=["listed", "referral"])
async def test_S7_S10_S48_put_back_on_the_agenda_it_was_deferred_from_is_heard_there(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch, withdrawn: str,
        decision: str | None, referred: bool) -> None:
    """S7 (Somerset 3.2.3): "The case holder will refer the case to the next YJT MARP by
    contacting the appropriate administrator"; the README: taken off undecided, the case owes
    again what put it there, "listing the case again answers it (A17-2)". The MARP of 29
    September defers the case (``withdrawn``), so the referral is owed again, due at the
    October MARP; the keepers put the case back on that same agenda (typed the next morning:
    the item is on the agenda from the sitting): the referral owed again is done by that
    listing, at the deferral (not before it was owed), on time. The MARP then decides the case
    (``decision``; None: dated at the sitting): nothing is owed to the next MARP, S10's MAPPA
    level (7.1.9) and S48's attendance (7.1.1) are done by that decision and S20's review is
    booked (7.1.6). ``referred``: the case came with a submitted referral (its step owed again,
    "the administrator lists it; putting the case on the agenda answers this"). (Deferred at
    the very start of the sitting, the listing at the sitting answered it already.)"""
    t = somerset
    pin(monkeypatch, 2026, 8, 28, 14, 35)
    case_id = str((await t.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]["id"])
    await judge_rosh(t, case_id, "very_high", "2026-08-26T10:00:00+01:00")
    if referred:
        await refer_to_marp(t, case_id, "2026-08-27T10:00:00+01:00")
    await book_panel(t, OCTOBER)
    panel, first = await book_sitting(t, case_id, "marp", SITTING)
    pin(monkeypatch, 2026, 9, 30, 9, 0)
    r = await withdraw_item(t, (panel, first), "deferred: the MARP ran out of time", withdrawn)
    assert r.status_code == 200, r.text
    owed = the_step(await steps_of(t, case_id), "refer_to_panel")
    assert (owed["policy"]["rule"], owed["due_at"]) == ("S7", OCTOBER), owed

    again = await list_again(t, panel, case_id)
    assert "refer_to_panel" not in {s["code"] for s in await steps_of(t, case_id)}
    done = [s for s in _done_by(await steps_of(t, case_id, "done"), "refer_to_panel", again)
            if s["id"] == owed["id"]]
    assert [(s["completed_at"], s["completed_at"] <= s["due_at"]) for s in done] == [
        (_utc(withdrawn), True)], done

    r = await _decide(t, panel, again, decision, KEEPS_VERY_HIGH)
    assert r.status_code == 200, r.text
    left = {s["code"]: s for s in await steps_of(t, case_id)}
    assert not {"refer_to_panel", "identify_mappa_level", "seek_child_and_carer_views",
                "attend_initial_marp", "record_panel_decision"} & set(left), sorted(left)
    review = left["attend_panel_review"]
    assert (review["policy"]["rule"], review["subject_id"]) == ("S20", again), review
    finished = await steps_of(t, case_id, "done")
    for code, rule in (("identify_mappa_level", "S10"), ("attend_initial_marp", "S48"),
                       ("record_panel_decision", "S29")):
        assert [s["policy"]["rule"] for s in _done_by(finished, code, again)] == [rule], code


async def test_S7_put_back_on_another_MARP_sitting_at_the_deferring_one_s_time(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S7 (3.2.3): "refer the case to the next YJT MARP". Two MARPs sit at 10:00 BST on 29
    September; the first defers the case at noon; the administrator lists it on the second's
    agenda the next morning (a sitting typed up late): that sitting heard the case after the
    deferral's sitting had begun, so the referral owed again is done by that listing, at the
    deferral. A MARP that sat before the deferring one (22 September), listed late, does not:
    the case owes the referral to the next MARP after the sitting it was taken off."""
    t = somerset
    pin(monkeypatch, 2026, 8, 28, 14, 35)
    case_id = str((await t.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]["id"])
    await judge_rosh(t, case_id, "very_high", "2026-08-26T10:00:00+01:00")
    await book_panel(t, OCTOBER)
    panel, first = await book_sitting(t, case_id, "marp", SITTING)
    other = await book_panel(t, SITTING)
    earlier = await book_panel(t, "2026-09-22T10:00:00+01:00")
    pin(monkeypatch, 2026, 9, 30, 9, 0)
    r = await withdraw_item(t, (panel, first), "deferred", "2026-09-29T12:00:00+01:00")
    assert r.status_code == 200, r.text
    owed = the_step(await steps_of(t, case_id), "refer_to_panel")
    before = await list_again(t, earlier, case_id)
    assert the_step(await steps_of(t, case_id), "refer_to_panel")["id"] == owed["id"]
    r = await withdraw_item(t, (earlier, before), "listed by mistake")
    assert r.status_code == 200, r.text
    again = await list_again(t, other, case_id)
    assert "refer_to_panel" not in {s["code"] for s in await steps_of(t, case_id)}
    done = _done_by(await steps_of(t, case_id, "done"), "refer_to_panel", again)
    assert [(s["id"], s["completed_at"]) for s in done] == [
        (owed["id"], _utc("2026-09-29T12:00:00+01:00"))], done


@pytest.fixture
async def example(client: httpx.AsyncClient, settings: Any) -> Tenant:
    """A fresh service under the example pack (a weekly Risk Panel)."""
    return await make_tenant(client, settings, "example-yjs")


async def test_X8_X9_put_back_on_the_risk_panel_it_was_deferred_from(
        example: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """X8 (example pack 5.1): "Refer the child to the next Risk Panel"; X9 (5.2): views
    before the panel. The Risk Panel of Thursday 12 November 2026 10:00 GMT defers the case at
    11:00; the referral is owed again at the next (19 November). Put back on the 12 November
    agenda the next day, the referral owed again is done by that listing, at the deferral;
    the panel's decision at its sitting leaves nothing owed to the next Risk Panel."""
    t = example
    pin(monkeypatch, 2026, 11, 2, 12, 0)
    case_id = str((await t.open_case())["data"]["id"])
    r = await t.client.post(f"/v1/cases/{case_id}/judgements", headers=t.auth("case_holder"),
                            json={"domain": "rosh", "level": "high",
                                  "occurred_at": "2026-11-02T09:30:00Z"})
    assert r.status_code == 201, r.text
    await book_panel(t, "2026-11-19T10:00:00Z", kind="risk_panel")
    panel, first = await book_sitting(t, case_id, "risk_panel", "2026-11-12T10:00:00Z")
    pin(monkeypatch, 2026, 11, 13, 9, 0)
    r = await withdraw_item(t, (panel, first), "deferred", "2026-11-12T11:00:00Z")
    assert r.status_code == 200, r.text
    owed = the_step(await steps_of(t, case_id), "refer_to_risk_panel")
    assert (owed["policy"]["rule"], owed["due_at"]) == ("X8", "2026-11-19T10:00:00Z"), owed
    again = await list_again(t, panel, case_id)
    assert "refer_to_risk_panel" not in {s["code"] for s in await steps_of(t, case_id)}
    done = _done_by(await steps_of(t, case_id, "done"), "refer_to_risk_panel", again)
    assert [(s["id"], s["completed_at"]) for s in done] == [
        (owed["id"], "2026-11-12T11:00:00Z")], done
    r = await _decide(t, panel, again, None, {"rosh_level": "high", "actions": [],
                                              "review_date": "2026-12-10", "minutes": "Heard",
                                              "attendees": ["chair", "case_holder"]})
    assert r.status_code == 200, r.text
    left = {s["code"] for s in await steps_of(t, case_id)}
    assert not {"refer_to_risk_panel", "seek_child_and_carer_views"} & left, sorted(left)


KEEPS_HIGH = {"rosh_level": "high", "review_date": "2026-12-15"}


async def test_PRI_S20_very_high_at_the_instant_of_a_decision_after_the_sitting_any_order(
        somerset: Tenant) -> None:
    """Somerset 3.2.4: "'Very High' judgements will trigger the case being dealt with as a
    priority at all stages"; 7.1.6, the MARP "will ... confirm the ROSH/SWB judgement" and book
    its review (S20). docs/integrating.md §7: "A very high ROSH dated at the instant of a MARP
    decision keeping high is the case's rating (a priority case) in either order". The MARP
    sits at 09:00 on Tuesday 24 November 2026; its decision keeping High is dated 10:00, and the
    case holder's Very High is dated 10:00 too: typed judgement first, the decision was refused
    409 rating-changed-since-panel ("before the decision's time"). Both orders now leave one
    record: Very High, on the register, a priority case, the review booked."""
    record_ = await in_every_order(somerset, [decided("10:00", **KEEPS_HIGH),
                                              own("10:00", "rosh", "very_high")],
                                   prepare=high_on_the_days_marp)
    assert (record_.ratings["rosh"], record_.on_register, record_.priority) == (
        "very_high", True, True)
    assert [s[3] for s in open_steps_of(record_, "attend_panel_review")] == ["S20"]


async def _medium_at_the_decision(t: Tenant, medium_at: str, first_decision: bool
                                  ) -> tuple[int, str, int, str]:
    """The MARP at 09:00 keeps ROSH high by a decision dated 10:00; the case holder's ROSH
    medium is dated ``medium_at``; typed decision first or not. (decision status, its slug,
    medium status, its slug); a slug is empty for a success."""
    case = (await t.open_case(opened_at="2026-11-02T09:00:00Z",
                              external_ref={"system": "IYSS", "id": uuid.uuid4().hex[:12]}))
    urls = await high_on_the_days_marp(t, case["data"]["id"])

    async def decision() -> httpx.Response:
        return await t.client.post(urls["decision"], json={
            **KEEPS_HIGH, "actions": [], "minutes": "Panel held",
            "occurred_at": f"{DAY}10:00:00Z"}, headers=t.auth("chair", "chair-1"))

    async def medium() -> httpx.Response:
        return await t.client.post(f"/v1/cases/{case['data']['id']}/judgements",
                                   json=judgement_body("rosh", "medium", f"{DAY}{medium_at}:00Z"),
                                   headers=t.auth("case_holder"))

    if first_decision:
        d, m = await decision(), await medium()
    else:
        m = await medium()
        d = await decision()

    def slug(r: httpx.Response) -> str:
        return "" if r.status_code < 400 else str(r.json()["type"]).rsplit("/", 1)[-1]
    return d.status_code, slug(d), m.status_code, slug(m)


async def test_M6_medium_at_the_instant_of_a_decision_after_the_sitting_as_a_minute_later(
        somerset: Tenant) -> None:
    """Somerset 7.2.1 / M6: "The MARP will ... agree any reduction of ROSH judgement".
    docs/integrating.md §7: "a medium dated at that instant needs the panel as one a minute
    later would: typed after the decision it is 409 panel-approval-required, typed before it
    the decision is refused 409 naming that judgement". The MARP sat at 09:00; its decision
    keeping High is dated 10:00 and the medium 10:00: typed medium first, the decision was
    refused as a rating "changed ... before the decision's time"; it is now refused as one
    dated 10:01 typed first is, and typed decision first the medium is refused."""
    t = somerset
    minute_later = await _medium_at_the_decision(t, "10:01", False)
    assert minute_later == (409, "panel-approval-required", 201, "")
    assert await _medium_at_the_decision(t, "10:00", False) == minute_later
    assert await _medium_at_the_decision(t, "10:00", True) == (
        200, "", 409, "panel-approval-required")


async def test_S20_a_decision_at_the_instant_of_another_MARPs_decision_recorded_first(
        somerset: Tenant) -> None:
    """Somerset 7.1.6: the MARP "will ... confirm the ROSH/SWB judgement". The case stands on
    two MARPs' agendas (09:00 and 09:30 on 24 November); the 09:30 MARP's decision, dated
    10:00 and recorded first, rates it Very High; the 09:00 MARP's decision keeping High,
    dated 10:00 too, comes after it at that instant (panels' decisions of one instant in the
    order they were recorded) and is refused 409 rating-changed-since-panel, saying the rating
    changed at the decision's time by another panel's decision (not "before the decision's
    time", which it was not), and naming 10:00 as the time to date it before."""
    t = somerset
    case_id = (await t.open_case(opened_at="2026-11-02T09:00:00Z"))["data"]["id"]
    await record(t, case_id, own("08:00", "rosh", "high"))
    first = await on_marp_agenda(t, case_id, f"{DAY}09:00:00Z")
    second = await on_marp_agenda(t, case_id, f"{DAY}09:30:00Z")
    r = await _decide(t, *second, f"{DAY}10:00:00Z",
                      {"rosh_level": "very_high", "actions": [], "review_date": "2026-12-15",
                       "minutes": "Very high"})
    assert r.status_code == 200, r.text
    r = await _decide(t, *first, f"{DAY}10:00:00Z",
                      {**KEEPS_HIGH, "actions": [], "minutes": "Stays high"})
    problem = assert_problem(r, 409)
    assert problem["type"].endswith("/rating-changed-since-panel"), problem
    assert "at the decision's time" in problem["detail"], problem["detail"]
    assert "before the decision's time" not in problem["detail"], problem["detail"]
    assert problem["bound"]["value"] == f"{DAY}10:00:00Z", problem
