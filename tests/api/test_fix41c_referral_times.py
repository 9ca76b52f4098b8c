"""fix41c: a referral's ``made_at`` and ``ended_at`` (migration 0038): the case's state at an
act's instant counts the panel referrals made before it and the referrals standing then.

Somerset 3.2.3 (High): "The case holder will refer the case to the next YJT MARP by contacting
the appropriate administrator and completion of section 1 of the MARP referral form"; 6.2
"Child and parent/carer views will be sought before the initial panel and be included in the
MARP referral form" (S7 refer_to_panel, S8 seek_child_and_carer_views, on a case with no panel
referral standing: ``panel_referred``). The engine read the case's panel referrals as they stand
now: a High dated after a referral was submitted, typed in before it, left S7 and S8 open, the
other order none. A referral withdrawn no longer counted at all, also for an act dated while it
stood (Somerset 7.1.9 "unless this has already been done", S10 and the MAPPA A form). Now a
panel referral counts from its submission (one made at a judgement's instant is the referral
that judgement asks for, and answers it), every referral until its withdrawal; a step that a
referral made before the act that raised it means was never owed is superseded at the instant
it arose: the case's history, queues and reports leave it out, its row stays readable by id.

Dates: MARP referral and High ROSH on Tue 24 Nov, Wed 25 Nov, Thu 26 Nov or Mon 30 Nov 2026,
10:00 (GMT); the MAPPA A form and the Very High in August 2026 (BST), as fix40c.
"""

from __future__ import annotations

from typing import Any

from tests.api.integrity_support import judge
from tests.api.order_support import visible_steps
from tests.conftest import Tenant, make_tenant
from tests.orders import typing_orders

SOMERSET = "somerset-yjt-2023"
NOVEMBER = ("2026-11-01", "2026-12-31")
AUGUST = ("2026-08-01", "2026-09-30")
TUE, WED, THU, MON = ("2026-11-24T10:00:00Z", "2026-11-25T10:00:00Z", "2026-11-26T10:00:00Z",
                      "2026-11-30T10:00:00Z")
VIEWS = {"child_views": "Wants to talk", "carer_views": "Agrees"}


async def _referral(t: Tenant, case_id: str, kind: str, at: str, *actions: str,
                    details: dict[str, Any] | None = None) -> str:
    """The case holder's ``kind`` referral made at ``at`` and moved by ``actions`` then: its
    id."""
    r = await t.client.post(f"/v1/cases/{case_id}/referrals", json={
        "kind": kind, "occurred_at": at, "details": details or {}},
        headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text
    referral = str(r.json()["data"]["id"])
    for action in actions:
        r = await t.client.post(f"/v1/referrals/{referral}/{action}",
                                json={"occurred_at": at}, headers=t.auth("case_holder"))
        assert r.status_code == 200, r.text
    return referral


async def _withdraw(t: Tenant, referral: str, at: str) -> dict[str, Any]:
    r = await t.client.post(f"/v1/referrals/{referral}/withdraw",
                            json={"occurred_at": at, "note": "No longer needed"},
                            headers=t.auth("case_holder"))
    assert r.status_code == 200, r.text
    return r.json()["data"]  # type: ignore[no-any-return]


async def _every_order(client: Any, settings: Any, acts: dict[str, Any], rules: tuple[str, ...],
                       report: tuple[str, str], opened: str,
                       allowed: Any = None) -> tuple[Any, dict[tuple[str, ...], Any]]:
    """``acts`` (name -> coroutine function (tenant, case, state)) typed in every order of
    :func:`typing_orders` (``acts`` in time order), each on a case of a tenant of its own:
    asserts every order leaves the same visible steps of ``rules`` (:func:`visible_steps`);
    that record, and each order's tenant, case and state."""
    seen: dict[tuple[str, ...], Any] = {}
    runs: dict[tuple[str, ...], Any] = {}
    for order in typing_orders(tuple(acts), allowed):
        t = await make_tenant(client, settings, SOMERSET)
        case = (await t.open_case(opened_at=opened))["data"]["id"]
        state: dict[str, Any] = {}
        for name in order:
            await acts[name](t, case, state)
        seen[order] = await visible_steps(t, case, *rules, report=report)
        runs[order] = (t, case, state)
    first = next(iter(seen.values()))
    assert {o: got for o, got in seen.items() if got != first} == {}, first
    return first, runs


def _panel(at: str) -> Any:
    async def act(t: Tenant, case: str, state: dict[str, Any]) -> None:
        state["referral"] = await _referral(t, case, "panel", at, "submit", details=VIEWS)
    return act


def _high(at: str, level: str = "high") -> Any:
    async def act(t: Tenant, case: str, state: dict[str, Any]) -> None:
        await judge(t, case, "rosh", level, at)
    return act


def _withdrawn(at: str) -> Any:
    async def act(t: Tenant, case: str, state: dict[str, Any]) -> None:
        state["withdrawn"] = await _withdraw(t, state["referral"], at)
    return act


def _mappa_a(at: str) -> Any:
    async def act(t: Tenant, case: str, state: dict[str, Any]) -> None:
        state["referral"] = await _referral(t, case, "mappa_a", at, "submit", "send")
    return act


def _after_referral(order: tuple[str, ...]) -> bool:
    """A withdrawal is typed in after the referral it withdraws."""
    return order.index("withdraw") > order.index("referral")


async def _steps(t: Tenant, case: str, *rules: str) -> list[dict[str, Any]]:
    """The case's steps of ``rules`` in every status (hidden ones included)."""
    found = []
    for status in ("open", "done", "superseded", "missed", "waived"):
        r = await t.client.get("/v1/next-steps", params={
            "case_id": case, "status": status, "limit": 200}, headers=t.auth("line_manager"))
        assert r.status_code == 200, r.text
        found += [s for s in r.json()["data"] if s["policy"]["rule"] in rules]
    return found


async def test_S7_S8_panel_referral_made_before_the_high_raises_neither(
        client: Any, settings: Any) -> None:
    """Somerset 3.2.3 "The case holder will refer the case to the next YJT MARP by contacting
    the appropriate administrator and completion of section 1 of the MARP referral form"; 6.2
    "Child and parent/carer views will be sought before the initial panel and be included in
    the MARP referral form". The MARP referral submitted (with the views) on Tue 24 Nov 2026
    10:00 stands when the High ROSH of Mon 30 Nov 10:00 is judged: no S7, no S8, whichever is
    typed first (the High typed first left both open). Typed so, the two steps it raised are
    superseded at their own instant: out of the timeline, queues and report, each still
    readable by its id, its note and a ``step.retract`` audit entry saying why."""
    record, runs = await _every_order(client, settings, {
        "referral": _panel(TUE), "judgement": _high(MON)}, ("S7", "S8"), NOVEMBER,
        "2026-11-02T09:00:00Z")
    assert record == ([], [], {"rows": [], "ageing": []})
    t, case, state = runs[("judgement", "referral")]
    hidden = await _steps(t, case, "S7", "S8")
    assert sorted((s["policy"]["rule"], s["status"], s["raised_at"]) for s in hidden) == [
        ("S7", "superseded", MON), ("S8", "superseded", MON)]
    for step in hidden:
        r = await t.client.get(f"/v1/next-steps/{step['id']}", headers=t.auth("line_manager"))
        assert r.status_code == 200, r.text
        why = (f"Never raised: the panel referral {state['referral']} was made "
               f"{TUE}, before the act that raised it ({step['policy']['rule']}, "
               f"{step['code']}) found it not yet made")
        assert (r.json()["data"]["status"], r.json()["data"]["note"].splitlines()[-1]) == (
            "superseded", why)
        r = await t.client.get(f"/v1/cases/{case}/audit", params={"limit": 200},
                               headers=t.auth("line_manager"))
        assert r.status_code == 200, r.text
        entries = [(e["action"], e["reason"]) for e in r.json()["data"]
                   if e["entity_id"] == step["id"]]
        assert [a for a, _ in entries] == ["step.create", "step.supersede", "step.retract"]
        assert entries[-1][1] == why
    r = await t.client.get(f"/v1/referrals/{state['referral']}", headers=t.auth("case_holder"))
    assert r.status_code == 200, r.text
    assert (r.json()["data"]["made_at"], r.json()["data"]["ended_at"]) == (TUE, None)


async def test_S7_S8_high_before_the_panel_referral_are_done_by_it(
        client: Any, settings: Any) -> None:
    """Somerset 3.2.3, 6.2 (as above): the High ROSH of Tue 24 Nov 2026 10:00 asks for the
    MARP referral (S7) and the views (S8); the referral submitted with the views on Mon 30 Nov
    10:00 does both then, whichever is typed first (typed first, the referral kept the
    back-dated High from asking for either)."""
    record, _ = await _every_order(client, settings, {
        "judgement": _high(TUE), "referral": _panel(MON)}, ("S7", "S8"), NOVEMBER,
        "2026-11-02T09:00:00Z")
    rows, history, report = record
    none_booked = ["Due at the next Multi-Agency Risk Panel (MARP); none scheduled."]
    assert rows == [
        ("S7", "refer_to_panel", "case_holder", "done", TUE, None, MON, "case_holder-1",
         none_booked),
        ("S8", "seek_child_and_carer_views", "case_holder", "done", TUE, None, MON,
         "case_holder-1", none_booked)]
    assert [(row["rule"], row["no_timescale"], row["open_overdue"]) for row in report["rows"]
            ] == [("S7", 1, 0), ("S8", 1, 0)]
    assert history == [(TUE, "created", "S7", "refer_to_panel"),
                       (TUE, "created", "S8", "seek_child_and_carer_views"),
                       (MON, "done", "S7", "refer_to_panel"),
                       (MON, "done", "S8", "seek_child_and_carer_views")]


async def test_S7_S8_panel_referral_made_at_the_highs_instant_does_both(
        client: Any, settings: Any) -> None:
    """Somerset 3.2.3, 6.2 (as above): the MARP referral submitted with the views at the High
    ROSH's own instant (Tue 24 Nov 2026 10:00) is the referral that High asks for: S7 and S8
    done by it then, whichever is typed first (typed first, it kept the High from asking for
    either), as the example pack's X8 (fix40c)."""
    record, _ = await _every_order(client, settings, {
        "referral": _panel(TUE), "judgement": _high(TUE)}, ("S7", "S8"), NOVEMBER,
        "2026-11-02T09:00:00Z")
    rows, history, _ = record
    assert [(row[0], row[3], row[4], row[6]) for row in rows] == [
        ("S7", "done", TUE, TUE), ("S8", "done", TUE, TUE)]
    assert history == [(TUE, "created", "S7", "refer_to_panel"),
                       (TUE, "created", "S8", "seek_child_and_carer_views"),
                       (TUE, "done", "S7", "refer_to_panel"),
                       (TUE, "done", "S8", "seek_child_and_carer_views")]


async def test_S7_S8_high_while_the_panel_referral_stood_typed_after_its_withdrawal(
        client: Any, settings: Any) -> None:
    """Somerset 3.2.3, 6.2 (as above): the MARP referral submitted on Tue 24 Nov 2026 10:00
    stood when the High ROSH of Wed 25 Nov 10:00 was judged, and was withdrawn on Thu 26 Nov
    10:00: no S7, no S8 (the withdrawal asks for neither), typed in any order (typed after the
    withdrawal, the High found no referral at all and left both open)."""
    record, runs = await _every_order(client, settings, {
        "referral": _panel(TUE), "judgement": _high(WED), "withdraw": _withdrawn(THU)},
        ("S7", "S8"), NOVEMBER, "2026-11-02T09:00:00Z", allowed=_after_referral)
    _t, _case, state = runs[next(iter(runs))]
    assert state["withdrawn"]["ended_at"] == THU
    assert record == ([], [], {"rows": [], "ageing": []})


async def test_S10_very_high_while_the_mappa_a_form_stood_typed_after_its_withdrawal(
        client: Any, settings: Any) -> None:
    """Somerset 7.1.9 "The MARP will decide if cases with Very High ROSH judgements need to be
    referred to MAPPA 2, unless this has already been done"; 8.3.3 "Referral to MAPPA 2 is
    achieved by sending a 'MAPPA A' Referral form". The form sent on Wed 5 Aug 2026 10:00 and
    withdrawn on Wed 12 Aug 10:00 had been sent when the Very High of Mon 10 Aug 10:00 was
    judged: no S10, typed in any order (typed after the withdrawal, the Very High found no
    form sent and raised S10)."""
    record, runs = await _every_order(client, settings, {
        "referral": _mappa_a("2026-08-05T10:00:00+01:00"),
        "judgement": _high("2026-08-10T10:00:00+01:00", "very_high"),
        "withdraw": _withdrawn("2026-08-12T10:00:00+01:00")},
        ("S10",), AUGUST, "2026-08-03T09:00:00+01:00", allowed=_after_referral)
    assert record == ([], [], {"rows": [], "ageing": []})
    _t, _case, state = runs[next(iter(runs))]
    assert state["withdrawn"]["ended_at"] == "2026-08-12T09:00:00Z"


async def test_S10_very_high_before_a_mappa_a_form_later_withdrawn_is_superseded_at_the_send(
        client: Any, settings: Any) -> None:
    """Somerset 7.1.9, 8.3.3 (as above): the Very High of Mon 3 Aug 2026 10:00 raises S10; the
    MAPPA A form sent on Wed 5 Aug 10:00 supersedes it then, and its withdrawal on Wed 12 Aug
    does not undo that, typed in any order (the Very High typed last kept S10 open: the
    withdrawn form's send did not count)."""
    record, _ = await _every_order(client, settings, {
        "judgement": _high("2026-08-03T10:00:00+01:00", "very_high"),
        "referral": _mappa_a("2026-08-05T10:00:00+01:00"),
        "withdraw": _withdrawn("2026-08-12T10:00:00+01:00")},
        ("S10",), AUGUST, "2026-08-03T09:00:00+01:00", allowed=_after_referral)
    rows, history, _ = record
    assert [(row[0], row[3], row[4]) for row in rows] == [
        ("S10", "superseded", "2026-08-03T09:00:00Z")]
    assert history == [("2026-08-03T09:00:00Z", "created", "S10", "identify_mappa_level"),
                       ("2026-08-05T09:00:00Z", "superseded", "S10", "identify_mappa_level")]
