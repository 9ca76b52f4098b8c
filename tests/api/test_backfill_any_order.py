"""Order independence of a case's history (attack pass 11, A11-4, A11-5; redate6's leftover):
the same acts (judgements of ROSH and SWB, a change of circumstances, a transfer out) recorded
in every order of arrival leave the same open steps (code, actor, deadline, policy paragraph)
as recorded in time order.

A back-filled judgement (dated before the case's later acts) is evaluated on the case as it
stood at its date, and what the later acts already recorded would have asked of the history
as it now stands is asked again (raised if missing, re-dated only sooner); what lapsed with it
in time order (a step raised before it whose condition fails once it is the rating) lapses; an
act recorded after later judgements is judged on the ratings of its own date.

Dates (real calendar, London):
- Fri 28 Aug 2026 (late-summer bank holiday Mon 31 Aug): ``next-wd`` from a Friday is the end
  of Tuesday 1 September (22:59:59Z, BST).
- Fri 23 / Mon 26 Oct 2026, either side of the clock change (BST ends Sun 25 Oct); Sat 31
  Oct, a month end.
- Easter 2026 (Good Friday 3 Apr, Easter Monday 6 Apr), the spring bank holiday (Mon 25 May),
  Christmas 2025 (Thu 25 and Fri 26 Dec).
"""

from __future__ import annotations

from typing import Any

from tests.api.act_order_support import judgement_body
from tests.conftest import Tenant
from tests.orders import typing_orders

Act = tuple[Any, ...]


def rate(domain: str, level: str, at: str) -> Act:
    """A judgement of ``domain`` at ``level`` occurring at ``at``."""
    return ("judgement", at, domain, level)


def event(kind: str, at: str, **extra: Any) -> Act:
    """A case event of ``kind`` occurring at ``at`` (``extra``: more of its body)."""
    return ("event", at, kind, tuple(sorted(extra.items())))


def refer(kind: str, at: str, *actions: str, **details: Any) -> Act:
    """A referral of ``kind`` made at ``at`` and moved by ``actions`` at the same moment
    (``submit``, ``send``); ``details``: its body's details."""
    return ("referral", at, kind, actions, tuple(sorted(details.items())))


async def _refer(t: Tenant, case_id: str, act: Act) -> None:
    _, at, kind, actions, details = act
    holder = t.auth("case_holder")
    r = await t.client.post(f"/v1/cases/{case_id}/referrals",
                            json={"kind": kind, "occurred_at": at, "details": dict(details)},
                            headers=holder)
    assert r.status_code == 201, r.text
    referral = r.json()["data"]["id"]
    for action in actions:
        r = await t.client.post(f"/v1/referrals/{referral}/{action}",
                                json={"occurred_at": at}, headers=holder)
        assert r.status_code == 200, r.text


def change(at: str, **fields: Any) -> Act:
    """A change of the case's ``fields`` (PATCH) occurring at ``at``."""
    return ("change", at, tuple(sorted(fields.items())))


async def _change(t: Tenant, case_id: str, act: Act) -> None:
    _, at, fields = act
    url = f"/v1/cases/{case_id}"
    manager = t.auth("line_manager")
    etag = (await t.client.get(url, headers=manager)).headers["etag"]
    r = await t.client.patch(url, json={"occurred_at": at, **dict(fields)},
                             headers={**manager, "If-Match": etag})
    assert r.status_code == 200, r.text


def assess(at: str, kind: str = "asset_plus", stage: str = "start") -> Act:
    """An assessment of ``kind`` at ``stage`` started, submitted and countersigned at ``at``."""
    return ("assessment", at, kind, stage)


async def _assess(t: Tenant, case_id: str, act: Act) -> None:
    _, at, kind, stage = act
    r = await t.client.post(f"/v1/cases/{case_id}/assessments",
                            json={"type": kind, "stage": stage, "occurred_at": at},
                            headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text
    assessment = r.json()["data"]["id"]
    r = await t.client.post(f"/v1/assessments/{assessment}/submit", json={"occurred_at": at},
                            headers=t.auth("case_holder"))
    assert r.status_code == 200, r.text
    r = await t.client.post(f"/v1/assessments/{assessment}/countersign",
                            json={"feedback": "Agreed.", "occurred_at": at},
                            headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text


async def _record(t: Tenant, case_id: str, act: Act) -> None:
    if act[0] == "assessment":
        await _assess(t, case_id, act)
        return
    if act[0] == "change":
        await _change(t, case_id, act)
        return
    if act[0] == "referral":
        await _refer(t, case_id, act)
        return
    if act[0] == "judgement":
        _, at, domain, level = act
        r = await t.client.post(f"/v1/cases/{case_id}/judgements",
                                json=judgement_body(domain, level, at),
                                headers=t.auth("case_holder"))
    else:
        _, at, kind, extra = act
        r = await t.client.post(f"/v1/cases/{case_id}/events",
                                json={"type": kind, "occurred_at": at, **dict(extra)},
                                headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text


async def _open_steps(t: Tenant, case_id: str) -> list[tuple[Any, ...]]:
    r = await t.client.get("/v1/next-steps", params={"case_id": case_id, "status": "open"},
                           headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    return sorted((s["code"], s["actor"], s["due_at"], s["policy"]["rule"], s["policy"]["ref"])
                  for s in r.json()["data"])


async def every_order(t: Tenant, acts: list[Act], opened_at: str = "2026-03-02T09:00:00Z",
                      orders: list[tuple[Act, ...]] | None = None
                      ) -> dict[tuple[str, ...], Any]:
    """The open steps after ``acts`` (in time order) recorded in each order of arrival (or in
    each of ``orders``), by the order (the acts' dates); the first is time order."""
    outcomes = {}
    for order in orders or typing_orders(acts):
        case = (await t.open_case(opened_at=opened_at))["data"]["id"]
        for act in order:
            await _record(t, case, act)
        outcomes[tuple(a[1][:16] for a in order)] = await _open_steps(t, case)
    return outcomes


def same_as_time_order(outcomes: dict[tuple[str, ...], Any]) -> list[tuple[Any, ...]]:
    """Every order's open steps are time order's; time order's."""
    first = next(iter(outcomes.values()))
    assert {o: got for o, got in outcomes.items() if got != first} == {}, first
    return first  # type: ignore[no-any-return]


def _one(steps: list[tuple[Any, ...]], code: str) -> tuple[Any, ...]:
    [step] = [s for s in steps if s[0] == code]
    return step


async def test_S14_medium_back_filled_before_a_change_of_circumstances(
        somerset: Tenant) -> None:
    """S14 (Somerset 4.2): "Case holders will review AssetPlus as soon as possible (within 24
    hrs/next working day) to evidence when changes of circumstance have occurred" where the
    ROSH or Safety and Well-Being rating is medium or above. ROSH medium on Thursday 27 August
    2026, a change of circumstances on Friday 28 August 15:00 BST (late-summer bank holiday
    Monday 31 August): the review is due by the end of Tuesday 1 September (22:59:59Z) under
    4.2, in either order. Before the fix the change recorded first raised 2.1's undated review
    (no medium yet) and the medium typed in afterwards left it so (A11-5)."""
    steps = same_as_time_order(await every_order(somerset, [
        rate("rosh", "medium", "2026-08-27T10:00:00+01:00"),
        event("change_of_circumstances", "2026-08-28T15:00:00+01:00")]))
    assert _one(steps, "review_assessment") == (
        "review_assessment", "case_holder", "2026-09-01T22:59:59Z", "S14", "4.2")


async def test_S26_high_back_filled_before_a_transfer_out(somerset: Tenant) -> None:
    """S26 (Somerset 13.4.3): "Where the ROSH judgement and/or Safety and Well-Being concerns
    is High or Very high, the line manager, operational manager or YJT manager will speak to
    the appropriate manager or senior probation officer of the receiving Service prior to the
    transfer of the child". SWB high on Friday 23 October 2026 16:00 BST, a transfer out
    recorded on Monday 26 October (after the clock change) for Monday 2 November: the call is
    the line manager's, due before 2 November (00:00 GMT), in either order. Before the fix the
    high typed in after the transfer asked for no call (A11-5)."""
    steps = same_as_time_order(await every_order(somerset, [
        rate("swb", "high", "2026-10-23T16:00:00+01:00"),
        event("transfer_out", "2026-10-26T10:00:00Z", transfer_date="2026-11-02")]))
    assert _one(steps, "manager_handover_call") == (
        "manager_handover_call", "line_manager", "2026-11-02T00:00:00Z", "S26", "13.4.3")


async def test_S14_S26_S5_every_order_of_a_medium_a_change_a_high_and_a_transfer(
        somerset: Tenant) -> None:
    """S14 (4.2, "within 24 hrs/next working day" after a change of circumstances at medium or
    above), S26 (13.4.3, "prior to the transfer of the child"), S5 (3.1, "within 24 hours"):
    SWB medium on Friday 28 August 2026 15:30 BST, a change of circumstances on Saturday 29
    August (late-summer bank holiday Monday 31 August), ROSH high on Tuesday 1 September, a
    transfer out on Thursday 3 September for Monday 14 September, in each of the 24 orders."""
    steps = same_as_time_order(await every_order(somerset, [
        rate("swb", "medium", "2026-08-28T15:30:00+01:00"),
        event("change_of_circumstances", "2026-08-29T11:00:00+01:00"),
        rate("rosh", "high", "2026-09-01T10:00:00+01:00"),
        event("transfer_out", "2026-09-03T10:00:00+01:00", transfer_date="2026-09-14")]))
    assert _one(steps, "review_assessment") == (
        "review_assessment", "case_holder", "2026-09-01T22:59:59Z", "S14", "4.2")
    assert _one(steps, "manager_handover_call") == (
        "manager_handover_call", "line_manager", "2026-09-13T23:00:00Z", "S26", "13.4.3")
    assert _one(steps, "discuss_with_manager") == (
        "discuss_with_manager", "line_manager", "2026-09-02T09:00:00Z", "S5", "3.1")


async def test_S14_S5_S11_every_order_across_the_clock_change_and_a_month_end(
        somerset: Tenant) -> None:
    """S14 (4.2), S5 (3.1), S11 (4.5, "at least monthly"): ROSH medium on Saturday 24 October
    2026 11:00 BST (the clock goes back on Sunday 25), a change of circumstances on Monday 26
    October, SWB high on Friday 30 October, ROSH low on Saturday 31 October (a month end), in
    each of the 24 orders."""
    steps = same_as_time_order(await every_order(somerset, [
        rate("rosh", "medium", "2026-10-24T11:00:00+01:00"),
        event("change_of_circumstances", "2026-10-26T10:00:00Z"),
        rate("swb", "high", "2026-10-30T10:00:00Z"),
        rate("rosh", "low", "2026-10-31T10:00:00Z")]))
    assert _one(steps, "review_assessment") == (
        "review_assessment", "case_holder", "2026-10-27T23:59:59Z", "S14", "4.2")
    assert _one(steps, "discuss_with_manager") == (
        "discuss_with_manager", "line_manager", "2026-10-31T10:00:00Z", "S5", "3.1")
    assert _one(steps, "monthly_manager_review") == (
        "monthly_manager_review", "line_manager", "2026-11-30T10:00:00Z", "S11", "4.5")


async def test_S26_S14_every_order_over_christmas(somerset: Tenant) -> None:
    """S26 (13.4.3, "prior to the transfer of the child"), S14 (2.1: below medium the review is
    asked for with no timescale; 4.2 from medium): a change of circumstances on Tuesday 23
    December 2025, ROSH high on Wednesday 24 December (Christmas Day and Boxing Day closed), a
    transfer out on Monday 29 December for Friday 9 January 2026, ROSH very high on Wednesday
    31 December, in each of the 24 orders: one handover call, whichever act raised it."""
    steps = same_as_time_order(await every_order(somerset, [
        event("change_of_circumstances", "2025-12-23T10:00:00Z"),
        rate("rosh", "high", "2025-12-24T15:00:00Z"),
        event("transfer_out", "2025-12-29T10:00:00Z", transfer_date="2026-01-09"),
        rate("rosh", "very_high", "2025-12-31T10:00:00Z")], opened_at="2025-11-03T09:00:00Z"))
    assert _one(steps, "manager_handover_call") == (
        "manager_handover_call", "line_manager", "2026-01-09T00:00:00Z", "S26", "13.4.3")
    assert _one(steps, "review_assessment") == (
        "review_assessment", "case_holder", None, "S14", "2.1")
    assert _one(steps, "discuss_with_manager") == (
        "discuss_with_manager", "line_manager", "2025-12-25T15:00:00Z", "S5", "3.1")


async def test_W7_a_low_back_filled_between_two_highs_lapses_the_first_request(
        wokingham: Tenant) -> None:
    """W7 (Wokingham, High Risk Panel): "request a High-Risk Panel within two working days of
    1. Assessing a child as high or very high ROSH". ROSH high on Friday 22 May 2026 16:00 BST
    (spring bank holiday Monday 25 May), low on Wednesday 27 May, high on Monday 1 June: in
    time order the first request lapsed with the low and the second high asked for one by the
    end of Wednesday 3 June; in every order the same. Before the fix, with the low typed in
    last, the request stayed due at the first high's date (27 May) (A11-4)."""
    steps = same_as_time_order(await every_order(wokingham, [
        rate("rosh", "high", "2026-05-22T16:00:00+01:00"),
        rate("rosh", "low", "2026-05-27T10:00:00+01:00"),
        rate("rosh", "high", "2026-06-01T10:00:00+01:00")]))
    assert _one(steps, "request_high_risk_panel") == (
        "request_high_risk_panel", "case_holder", "2026-06-03T22:59:59Z", "W7",
        "High Risk Panel")


async def test_W7_W12_every_order_of_an_easter_history(wokingham: Tenant) -> None:
    """W7 ("within two working days of ... 2. Becoming aware of a change of circumstances or
    new incident which is serious enough to warrant consideration for an increase of assessed
    risk levels to high/very high"), W12 (the plan at medium or above): SWB medium on Thursday
    2 April 2026, a change of circumstances that may raise the risk to high on Good Friday 3
    April, ROSH very high on Tuesday 7 April (after Easter Monday), a transfer out on Thursday
    9 April for Monday 20 April, in each of the 24 orders."""
    steps = same_as_time_order(await every_order(wokingham, [
        rate("swb", "medium", "2026-04-02T10:00:00+01:00"),
        event("change_of_circumstances", "2026-04-03T10:00:00+01:00", may_raise_to_high=True),
        rate("rosh", "very_high", "2026-04-07T10:00:00+01:00"),
        event("transfer_out", "2026-04-09T10:00:00+01:00", transfer_date="2026-04-20")]))
    assert _one(steps, "request_high_risk_panel") == (
        "request_high_risk_panel", "case_holder", "2026-04-08T22:59:59Z", "W7",
        "High Risk Panel")
    assert _one(steps, "update_risk_management_plan") == (
        "update_risk_management_plan", "case_holder", None, "W12",
        "Management of Safety and Well-being concerns")


async def test_W7_W6_every_order_of_five_acts(wokingham: Tenant) -> None:
    """W7 (the panel request "within two working days of 1. Assessing a child as high or very
    high ROSH"), W6 (the assessment reviewed after a change of circumstances), W12: ROSH high on
    Friday 23 October 2026 (the clock goes back on Sunday 25), a change of circumstances on
    Monday 26 October, ROSH low on Wednesday 28 October, ROSH very high on Saturday 31 October
    (a month end), SWB high on Monday 2 November, in each of the 120 orders."""
    steps = same_as_time_order(await every_order(wokingham, [
        rate("rosh", "high", "2026-10-23T16:00:00+01:00"),
        event("change_of_circumstances", "2026-10-26T10:00:00Z"),
        rate("rosh", "low", "2026-10-28T10:00:00Z"),
        rate("rosh", "very_high", "2026-10-31T10:00:00Z"),
        rate("swb", "high", "2026-11-02T10:00:00Z")]))
    assert _one(steps, "request_high_risk_panel") == (
        "request_high_risk_panel", "case_holder", "2026-11-03T23:59:59Z", "W7",
        "High Risk Panel")
    assert _one(steps, "review_assessment") == (
        "review_assessment", "case_holder", "2026-11-16T10:00:00Z", "W6", "Assessment Reviews")


def _codes(steps: list[tuple[Any, ...]]) -> set[str]:
    return {s[0] for s in steps}


async def test_W26_W9_a_very_high_swb_back_filled_after_the_marf_was_sent(
        wokingham: Tenant) -> None:
    """W26 (Assessment of Safety and Well-being (SWB) concerns): "VERY HIGH: ... Immediate
    actions are needed to protect the young person, which will include (or have already
    included) a referral to statutory child protection services"; W9 (Management of Safety and
    Well-being concerns): "the PYJS case worker must complete a MARF referral highlighting the
    identified concerns". SWB very high on Friday 28 August 2026 15:00 BST (late-summer bank
    holiday Monday 31 August), the MARF submitted and sent on Tuesday 1 September: in time
    order the MARF closed both; typed in after the MARF, the very high left both open, W26
    overdue at birth (A15-4)."""
    steps = same_as_time_order(await every_order(wokingham, [
        rate("swb", "very_high", "2026-08-28T15:00:00+01:00"),
        refer("marf", "2026-09-01T10:00:00+01:00", "submit", "send")]))
    assert not _codes(steps) & {"child_protection_referral", "marf_referral"}
    assert _one(steps, "update_risk_management_plan")[3] == "W12"


async def test_S9_S7_S8_very_high_back_filled_before_the_referrals_over_christmas(
        somerset: Tenant) -> None:
    """S9 (Somerset 3.2.4): very high SWB "will include (or has already included) a referral to
    statutory child protection services"; S7 (3.2.3, "The case holder will refer the case to the
    next YJT MARP"), S8 (6.2, "Child and parent/carer views will be sought before the initial
    panel"). SWB very high on Wednesday 24 December 2025 15:00Z (Christmas Day and Boxing Day
    closed), the child protection referral sent on Monday 29 December, the MARP referral with
    the child's and carer's views submitted on Wednesday 31 December, in each of the 6 orders:
    in time order the referrals answered S9, S7 and S8, whichever was typed in first (A15-4)."""
    steps = same_as_time_order(await every_order(somerset, [
        rate("swb", "very_high", "2025-12-24T15:00:00Z"),
        refer("child_protection", "2025-12-29T10:00:00Z", "submit", "send"),
        refer("panel", "2025-12-31T10:00:00Z", "submit", child_views="Wants help",
              carer_views="Worried")], opened_at="2025-11-03T09:00:00Z"))
    assert not _codes(steps) & {"child_protection_referral", "refer_to_panel",
                                "seek_child_and_carer_views"}
    assert _one(steps, "discuss_with_manager") == (
        "discuss_with_manager", "line_manager", "2025-12-25T15:00:00Z", "S5", "3.1")


async def test_S28_S35_a_judgement_back_filled_before_a_volunteer_was_attached(
        somerset: Tenant) -> None:
    """S28 (Somerset 16.2): "Any change in assessed levels of risk/concern should be communicated
    to the volunteer"; S35 (16.3): "Where ongoing contact is agreed, the volunteer must be fully
    informed of the nature of the risk and the relevant details of the plan to manage that
    risk"; S34 (16.2): the health and safety risk assessment shared "prior to any contact
    commencing". ROSH medium on Friday 23 October 2026 16:00 BST, a volunteer attached on Monday
    26 October (after the clock goes back): in time order no volunteer heard of the medium (no
    S28) and the attachment found a risk to manage (S35); with the medium typed in after the
    attachment, S28 was raised (the volunteer attached today) and S35 never (A15-9)."""
    steps = same_as_time_order(await every_order(somerset, [
        rate("rosh", "medium", "2026-10-23T16:00:00+01:00"),
        change("2026-10-26T10:00:00Z", volunteer_attached=True)]))
    volunteer = {s[0]: s[3] for s in steps
                 if s[0] in {"update_volunteer", "brief_volunteer", "update_plan_for_volunteer"}}
    assert volunteer == {"brief_volunteer": "S34", "update_plan_for_volunteer": "S35"}


async def test_S28_superseded_when_the_volunteer_is_detached(somerset: Tenant) -> None:
    """S28 (Somerset 16.2): "Any change in assessed levels of risk/concern should be communicated
    to the volunteer and the volunteer should be invited to contribute to an agreed safe working
    plan if possible": a duty to a volunteer working with the child. A volunteer attached on
    Thursday 24 December 2025, SWB medium on Tuesday 29 December (after Christmas and Boxing
    Day), the volunteer detached on Friday 2 January 2026: once no volunteer is attached there
    is nobody to tell, and S28 goes as S34's briefing does; with the medium typed in after the
    detachment, the same (A15-9)."""
    attach = change("2025-12-24T10:00:00Z", volunteer_attached=True)
    medium = rate("swb", "medium", "2025-12-29T10:00:00Z")
    detach = change("2026-01-02T10:00:00Z", volunteer_attached=False)
    steps = same_as_time_order(await every_order(
        somerset, [attach, medium, detach], opened_at="2025-11-03T09:00:00Z",
        orders=[(attach, medium, detach), (attach, detach, medium)]))
    assert not _codes(steps) & {"update_volunteer", "brief_volunteer",
                                "update_plan_for_volunteer"}
    assert _one(steps, "update_intervention_plan")[3] == "S13"


async def test_S28_S34_S35_a_volunteer_attached_back_dated_before_a_judgement(
        somerset: Tenant) -> None:
    """S28 (Somerset 16.2, "Any change in assessed levels of risk/concern should be
    communicated to the volunteer"), S34 (16.2, the health and safety risk assessment shared
    "prior to any contact commencing"), S35 (16.3, the volunteer "fully informed of the nature
    of the risk" where ongoing contact is agreed). A volunteer attached on Friday 27 March 2026
    (before the clock goes forward on Sunday 29), SWB high on Tuesday 31 March: in time order
    the attachment found no risk yet (no S35) and the high was told to the volunteer (S28);
    with the attachment typed in after the high, dated before it, the attachment was judged on
    today's high (S35) and the high never told the volunteer (A15-9)."""
    steps = same_as_time_order(await every_order(somerset, [
        change("2026-03-27T10:00:00Z", volunteer_attached=True),
        rate("swb", "high", "2026-03-31T10:00:00+01:00")]))
    volunteer = {s[0]: s[3] for s in steps
                 if s[0] in {"update_volunteer", "brief_volunteer", "update_plan_for_volunteer"}}
    assert volunteer == {"brief_volunteer": "S34", "update_volunteer": "S28"}
    assert _one(steps, "discuss_with_manager") == (
        "discuss_with_manager", "line_manager", "2026-04-01T09:00:00Z", "S5", "3.1")


async def test_W9_W3_an_swb_high_back_filled_before_the_countersigned_assessment(
        wokingham: Tenant) -> None:
    """W9 (Management of Safety and Well-being concerns): "within two working days of the
    assessment being completed the PYJS case worker must complete a MARF referral"; "An
    assessment (Asset+ or mini-asset) is not considered complete until it has been counter
    signed by a line manager". W3 (Assessment Reviews): the Asset+ reviewed every three months
    where any domain is high. SWB high on Friday 28 August 2026 15:00 BST, recorded without its
    assessment, the Asset+ countersigned on Tuesday 1 September (after the late-summer bank
    holiday): in time order the countersignature started the MARF's two working days (end of
    Thursday 3 September) and asked for the review in three months; in either order the
    same (A15-4)."""
    steps = same_as_time_order(await every_order(wokingham, [
        rate("swb", "high", "2026-08-28T15:00:00+01:00"),
        assess("2026-09-01T10:00:00+01:00")]))
    assert _one(steps, "marf_referral") == (
        "marf_referral", "case_holder", "2026-09-03T22:59:59Z", "W9",
        "Management of Safety and Well-being concerns")
    assert _one(steps, "review_assessment")[2:4] == ("2026-12-01T10:00:00Z", "W3")


async def test_S11_a_superseded_review_revived_by_a_high_typed_in_late(
        somerset: Tenant) -> None:
    """S11 (Somerset 4.5): "It is the responsibility of line managers to review all cases where
    there is a High or Very High ROSH and/or Safety and Well-Being rating with case holders at
    least monthly". ROSH high on Monday 2 March 2026, SWB high on Wednesday 11 March, ROSH low
    on Monday 16 March: in time order the SWB high kept the monthly review of 2 March alive
    (due Thursday 2 April); typed in after the low had superseded it, the SWB high raised
    another, due a month after itself (redate7's leftover: the superseded review is revived).
    The orders in which the ROSH high is typed in after the low (it never raised the review:
    not owed then) are not covered: see notes/replay9.md."""
    high, swb = rate("rosh", "high", "2026-03-02T10:00:00Z"), rate("swb", "high",
                                                                   "2026-03-11T10:00:00Z")
    low = rate("rosh", "low", "2026-03-16T10:00:00Z")
    steps = same_as_time_order(await every_order(
        somerset, [high, swb, low], orders=[(high, swb, low), (high, low, swb),
                                            (swb, high, low)]))
    assert _one(steps, "monthly_manager_review") == (
        "monthly_manager_review", "line_manager", "2026-04-02T09:00:00Z", "S11", "4.5")
