"""A stand-in who is away too is not available: the step goes on along the chain the pack
declares (the line manager, then the duty managers), never to someone on recorded leave; and an
absent case holder's immediate child protection referral stands in like their immediate CSPPI
report (attack 30b, ATTACK30B-14).

2026 dates: Monday 31 August is the late-summer bank holiday; BST until Sunday 25 October.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.fidelity_support import away, cancel_leave, pin, steps_of
from tests.api.integrity_support import recorded
from tests.api.test_assessments import case_steps
from tests.conftest import Tenant


def _holder(step: dict[str, Any]) -> tuple[str, str | None]:
    return step["actor"], step["assignee_id"]


async def _duty_queue(t: Tenant, code: str) -> list[str]:
    """The ids of the ``code`` steps a duty manager's role queue lists."""
    r = await t.client.get("/v1/next-steps", params={"actor": "duty_manager", "limit": 200},
                           headers=t.auth("duty_manager", "duty_manager-3"))
    assert r.status_code == 200, r.text
    return [s["id"] for s in r.json()["data"] if s["code"] == code]


async def _opened_with_away(t: Tenant, monkeypatch: pytest.MonkeyPatch,
                            *staff: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """On Thursday 27 August 2026 each of ``staff`` is put on leave to Tuesday 1 September,
    then a case opened on 3 August is recorded; the clock then at Friday 28 August 14:30 UTC.
    The case and the absences, in ``staff``'s order."""
    pin(monkeypatch, 2026, 8, 27, 9, 0)
    absences = [(await away(t, name, "2026-08-27", "2026-09-01"))["data"] for name in staff]
    case = (await t.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]
    pin(monkeypatch, 2026, 8, 28, 14, 30)
    return case, absences


async def test_S23_case_holder_and_line_manager_both_away_the_duty_managers_inform(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S23 (12): "Case holders / team leaders will immediately inform operational/ YJT Manager
    of the charge/death"; 3.1: "If the line manager is unavailable, the duty manager will
    undertake these functions". The case holder and the line manager are both on leave from
    Thursday 27 August to Tuesday 1 September 2026; a charge on Friday 28 August: the inform is
    the duty managers' (unassigned, in their queue), not the absent team leader's. The line
    manager's leave cancelled, it is theirs; the case holder's cancelled, the case holder's."""
    case, (ch, lm) = await _opened_with_away(somerset, monkeypatch, "case_holder-1",
                                             "line_manager-1")
    [inform] = steps_of(await recorded(somerset, case["id"], "events", {
        "type": "charged", "occurred_at": "2026-08-28T15:00:00+01:00"}, "line_manager"),
        "inform_service_manager")
    assert _holder(inform) == ("duty_manager", None)
    assert "(line_manager-1) is on recorded leave too" in inform["note"]
    assert inform["id"] in await _duty_queue(somerset, "inform_service_manager")
    await cancel_leave(somerset, lm)
    [back] = steps_of(await case_steps(somerset, case["id"]), "inform_service_manager")
    assert (back["id"], *_holder(back)) == (inform["id"], "line_manager", "line_manager-1")
    await cancel_leave(somerset, ch)
    [home] = steps_of(await case_steps(somerset, case["id"]), "inform_service_manager")
    assert (home["id"], *_holder(home)) == (inform["id"], "case_holder", "case_holder-1")


async def test_S23_the_standing_in_line_managers_leave_recorded_later_goes_on(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S23 (12, 3.1): the case holder away, the charge's inform stands in to the line manager;
    the line manager's own leave recorded afterwards (from that day): the step goes on to the
    duty managers in that write, audited, and back to the line manager when it is cancelled."""
    case, _ = await _opened_with_away(somerset, monkeypatch, "case_holder-1")
    [inform] = steps_of(await recorded(somerset, case["id"], "events", {
        "type": "charged", "occurred_at": "2026-08-28T15:00:00+01:00"}, "line_manager"),
        "inform_service_manager")
    assert _holder(inform) == ("line_manager", "line_manager-1")
    lm = (await away(somerset, "line_manager-1", "2026-08-28", "2026-08-28"))["data"]
    [on] = steps_of(await case_steps(somerset, case["id"]), "inform_service_manager")
    assert (on["id"], *_holder(on)) == (inform["id"], "duty_manager", None)
    await cancel_leave(somerset, lm)
    [back] = steps_of(await case_steps(somerset, case["id"]), "inform_service_manager")
    assert _holder(back) == ("line_manager", "line_manager-1")


async def test_S9_the_absent_case_holders_child_protection_referral_stands_in(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S9 (3.2.4): very high SWB, "the child is unsafe ... immediate multi agency action is
    likely to be required ... this will include (or has already included) a referral to
    statutory child protection services"; 3.1: the rating "will be discussed ... with the
    relevant line manager or duty manager ... If the line manager is unavailable, the duty
    manager will undertake these functions". The case holder on leave (Thursday 27 August to
    Tuesday 1 September 2026): the referral is the line manager's; both away, the duty
    managers'."""
    case, _ = await _opened_with_away(somerset, monkeypatch, "case_holder-1")
    body = {"domain": "swb", "level": "very_high", "occurred_at": "2026-08-28T15:00:00+01:00"}
    [referral] = steps_of(await recorded(somerset, case["id"], "judgements", body,
                                         "line_manager"), "child_protection_referral")
    assert _holder(referral) == ("line_manager", "line_manager-1")
    assert referral["urgent"] is True
    await away(somerset, "line_manager-1", "2026-08-28", "2026-08-28")
    [on] = steps_of(await case_steps(somerset, case["id"]), "child_protection_referral")
    assert (on["id"], *_holder(on)) == (referral["id"], "duty_manager", None)
    assert on["id"] in await _duty_queue(somerset, "child_protection_referral")


async def test_W26_the_absent_case_workers_child_protection_referral_stands_in(
        wokingham: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """W26 (Assessment of Safety and Well-being concerns): "VERY HIGH: ... the young person is
    unsafe. Immediate actions are needed to protect the young person, which will include (or
    have already included) a referral to statutory child protection services"; "Oversight of
    the SWB plan will be provided by the line manager". The case worker on leave (Thursday 27
    August to Tuesday 1 September 2026): the referral is their line manager's, not left with
    the absent case worker."""
    case, _ = await _opened_with_away(wokingham, monkeypatch, "case_holder-1")
    body = {"domain": "swb", "level": "very_high", "occurred_at": "2026-08-28T15:00:00+01:00"}
    [referral] = steps_of(await recorded(wokingham, case["id"], "judgements", body,
                                         "line_manager"), "child_protection_referral")
    assert _holder(referral) == ("line_manager", "line_manager-1")
    assert "case_holder-1) is on recorded leave" in referral["note"]


async def test_S46_the_absent_case_holders_urgent_mappa_referral_goes_along_the_chain(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S46 (8.3): "In the event that the matters are so urgent as to preclude the possibility
    of these processes, the case will be referred to the Operational/YJT manager with a view to
    making an immediate referral"; 3.1: "If the line manager is unavailable, the duty manager
    will undertake these functions". The case holder and the line manager both on leave
    (Thursday 27 August to Tuesday 1 September 2026): an urgent MAPPA referral event on Friday
    28 August: the referral to the YJT manager is the duty managers'; the line manager's leave
    cancelled, theirs."""
    case, (_, lm) = await _opened_with_away(somerset, monkeypatch, "case_holder-1",
                                            "line_manager-1")
    [refer] = steps_of(await recorded(somerset, case["id"], "events", {
        "type": "urgent_mappa_referral", "occurred_at": "2026-08-28T15:00:00+01:00"},
        "line_manager"), "refer_to_service_manager_for_mappa")
    assert _holder(refer) == ("duty_manager", None)
    assert refer["id"] in await _duty_queue(somerset, "refer_to_service_manager_for_mappa")
    await cancel_leave(somerset, lm)
    [back] = steps_of(await case_steps(somerset, case["id"]),
                      "refer_to_service_manager_for_mappa")
    assert (back["id"], *_holder(back)) == (refer["id"], "line_manager", "line_manager-1")
