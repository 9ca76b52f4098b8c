"""A step's stand-in owner is decided from the state, not from the order acts were typed in
(attack 30a, A30a-2 and A30a-3): whatever changes a stand-in step's due day (a MARP moved, a
back-dated judgement), its holder (a reassignment) or an absence (recorded, cancelled) decides
again who it is with, both ways (stands in, given back).

Dates: the New Year 2026/27. Friday 25 December and Monday 28 December 2026 (Boxing Day's
substitute) and Friday 1 January 2027 are bank holidays; the service's clock is pinned.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col

from app.domain.steps import Step
from tests.api.fidelity_support import away, cancel_leave, pin, steps_of, with_matrix
from tests.api.integrity_support import audit_of, move_panel, on_marp_agenda, patch_case, recorded
from tests.api.integrity_support import steps_of as case_steps
from tests.api.support import Factory, db  # noqa: F401 - fixture
from tests.conftest import Tenant


def _owner(steps: list[dict[str, Any]], code: str) -> tuple[str, str | None, str | None]:
    """(actor, assignee, due) of the one open ``code`` step."""
    [step] = steps_of(steps, code)
    return step["actor"], step["assignee_id"], step["due_at"]


def _last_move(steps: list[dict[str, Any]], code: str) -> str:
    """The step note's last stand-in line ("Stood in: ..." / "Given back: ...")."""
    [step] = steps_of(steps, code)
    lines = [line for line in (step["note"] or "").split("\n")
             if line.startswith(("Stood in:", "Given back:"))]
    return lines[-1] if lines else ""


async def _moves(t: Tenant, case_id: str, step_id: str) -> list[str]:
    """The step's audited moves (``step.reassign``): their reasons, oldest first."""
    return [e["reason"] for e in await audit_of(t, case_id)
            if e["action"] == "step.reassign" and e["entity_id"] == step_id]


# --- A30a-2: Wokingham W7 ---------------------------------------------------------------------

W7_HIGH = {"domain": "rosh", "level": "high", "victims": ["peer"],
           "occurred_at": "2026-12-29T10:00:00Z"}


async def _w7_case_holder_away_lm_records(
        t: Tenant, monkeypatch: pytest.MonkeyPatch) -> tuple[str, dict[str, Any]]:
    """case_holder-1 on leave Tuesday 29 December 2026 to Tuesday 5 January 2027; their line
    manager records ROSH high on Tuesday 29 December 10:00: the case and the absence."""
    pin(monkeypatch, 2026, 12, 29, 9, 0)
    case = (await t.open_case(opened_at="2026-11-02T09:00:00Z"))["data"]
    absence = (await away(t, "case_holder-1", "2026-12-29", "2027-01-05"))["data"]
    pin(monkeypatch, 2026, 12, 29, 10, 30)
    await recorded(t, case["id"], "judgements", dict(W7_HIGH), "line_manager")
    return case["id"], absence


async def test_W7_stood_in_to_the_line_manager_who_judged_the_rating_stays_with_them(
        wokingham: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """W7 (High Risk Panel): "It will be the responsibility of the case worker or their line
    manager to request a High-Risk Panel within two working days of 1. Assessing a child as high
    or very high ROSH". The case worker is on leave over the New Year (29 December 2026 to 5
    January 2027); their line manager assesses ROSH high on Tuesday 29 December: the request is
    the line manager's (the sentence names them), due by the end of Thursday 31 December, in
    their queue: requesting a panel is not a check on their own
    judgement (the disqualification "recorded what this step checks" is for a line manager's
    own check, a countersignature, not for the case worker's step they stand in for)."""
    case_id, _ = await _w7_case_holder_away_lm_records(wokingham, monkeypatch)
    steps = await case_steps(wokingham, case_id)
    assert _owner(steps, "request_high_risk_panel") == (
        "line_manager", "line_manager-1", "2026-12-31T23:59:59Z")
    assert _last_move(steps, "request_high_risk_panel").startswith(
        "Stood in: the case holder (case_holder-1) is on recorded leave")
    assert "recorded what this step checks" not in steps_of(
        steps, "request_high_risk_panel")[0]["note"]
    [step] = steps_of(steps, "request_high_risk_panel")
    r = await wokingham.client.get("/v1/next-steps", params={"assignee": "me", "limit": 200},
                                   headers=wokingham.auth("line_manager", "line_manager-1"))
    assert r.status_code == 200, r.text
    assert step["id"] in [s["id"] for s in r.json()["data"]]


async def test_W7_comes_back_to_the_case_worker_when_their_leave_is_cancelled(
        wokingham: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """W7: "It will be the responsibility of the case worker or their line manager to request a
    High-Risk Panel within two working days". Stood in to the line manager (the case worker on
    leave over the New Year, the line manager's judgement), the leave cancelled on 29 December:
    the request is the case worker's again, as if the leave had never been recorded (the same
    owner as the judgement recorded with no leave)."""
    case_id, absence = await _w7_case_holder_away_lm_records(wokingham, monkeypatch)
    await cancel_leave(wokingham, absence)
    steps = await case_steps(wokingham, case_id)
    assert _owner(steps, "request_high_risk_panel") == (
        "case_holder", "case_holder-1", "2026-12-31T23:59:59Z")
    assert _last_move(steps, "request_high_risk_panel").startswith(
        "Given back: the case holder (case_holder-1) is not on recorded leave")
    [step] = steps_of(steps, "request_high_risk_panel")
    assert await _moves(wokingham, case_id, step["id"]) == [
        f"given back to the case holder (case_holder-1): absence {absence['id']} cancelled"]
    # The same end state typed in another order: no leave at all.
    pin(monkeypatch, 2026, 12, 29, 9, 0)
    other = (await wokingham.open_case(opened_at="2026-11-02T09:00:00Z"))["data"]["id"]
    pin(monkeypatch, 2026, 12, 29, 10, 30)
    await recorded(wokingham, other, "judgements", dict(W7_HIGH), "line_manager")
    assert _owner(await case_steps(wokingham, other), "request_high_risk_panel") == (
        "case_holder", "case_holder-1", "2026-12-31T23:59:59Z")


async def test_W7_goes_to_a_present_case_worker_the_case_is_reassigned_to(
        wokingham: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """W7: "It will be the responsibility of the case worker or their line manager to request a
    High-Risk Panel within two working days". Stood in to the line manager (case_holder-1 on
    leave, the line manager's judgement), the case given to case_holder-2, who is at work: the
    request is case_holder-2's; given back to case_holder-1 with their leave still recorded, it
    is the line manager's again."""
    case_id, _ = await _w7_case_holder_away_lm_records(wokingham, monkeypatch)
    r = await patch_case(wokingham, case_id, {"case_holder_id": "case_holder-2"})
    assert r.status_code == 200, r.text
    steps = await case_steps(wokingham, case_id)
    assert _owner(steps, "request_high_risk_panel") == (
        "case_holder", "case_holder-2", "2026-12-31T23:59:59Z")
    r = await patch_case(wokingham, case_id, {"case_holder_id": "case_holder-1"})
    assert r.status_code == 200, r.text
    steps = await case_steps(wokingham, case_id)
    assert _owner(steps, "request_high_risk_panel") == (
        "line_manager", "line_manager-1", "2026-12-31T23:59:59Z")
    assert _last_move(steps, "request_high_risk_panel").startswith(
        "Stood in: the case holder (case_holder-1) is on recorded leave")


# --- A30a-3: Somerset S48 (a MARP moved) and S5 (a back-dated judgement) ------------------------


async def _s48_case(t: Tenant, monkeypatch: pytest.MonkeyPatch,
                    holder: str = "case_holder-1") -> tuple[str, str]:
    """A very high ROSH case (Wednesday 30 December 2026) held by ``holder``, on the agenda of
    a MARP on Wednesday 6 January 2027, presented by them: the case and the panel."""
    pin(monkeypatch, 2026, 12, 30, 9, 30)
    case_id = (await t.open_case(opened_at="2026-11-02T09:00:00Z",
                                 case_holder_id=holder))["data"]["id"]
    r = await t.client.post(f"/v1/cases/{case_id}/judgements", json={
        "domain": "rosh", "level": "very_high", "occurred_at": "2026-12-30T09:00:00Z"},
        headers=t.auth("case_holder", holder))
    assert r.status_code == 201, r.text
    panel, _ = await on_marp_agenda(t, case_id, "2027-01-06T10:00:00Z", presenter=holder)
    return case_id, panel


async def test_S48_moved_into_the_case_holders_leave_the_line_manager_presents(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S48 (7.1.1): "The case holder will attend MARP to discuss the case. If not available,
    the line manager will present the case." The case holder is on leave Monday 11 to Friday 15
    January 2027, after the MARP of Wednesday 6 January (theirs to attend); the MARP moved to
    Wednesday 13 January: the line manager presents, told at the move, as when the MARP was
    moved before the leave was recorded (the same end state)."""
    case_id, panel = await _s48_case(somerset, monkeypatch)
    assert _owner(await case_steps(somerset, case_id), "attend_initial_marp") == (
        "case_holder", "case_holder-1", "2027-01-06T10:00:00Z")
    await away(somerset, "case_holder-1", "2027-01-11", "2027-01-15")
    await move_panel(somerset, panel, "2027-01-13T10:00:00Z")
    steps = await case_steps(somerset, case_id)
    assert _owner(steps, "attend_initial_marp") == (
        "line_manager", "line_manager-1", "2027-01-13T10:00:00Z")
    assert _last_move(steps, "attend_initial_marp").startswith(
        "Stood in: the case holder (case_holder-1) is on recorded leave")
    # The other typing order (another case holder, case_holder-2): the MARP moved first, then
    # the same leave recorded.
    other, other_panel = await _s48_case(somerset, monkeypatch, "case_holder-2")
    await move_panel(somerset, other_panel, "2027-01-13T10:00:00Z")
    await away(somerset, "case_holder-2", "2027-01-11", "2027-01-15")
    assert _owner(await case_steps(somerset, other), "attend_initial_marp") == (
        "line_manager", "line_manager-1", "2027-01-13T10:00:00Z")


async def test_S48_moved_back_before_the_leave_the_case_holder_attends(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S48 (7.1.1): "The case holder will attend MARP to discuss the case. If not available,
    the line manager will present the case." The MARP on Wednesday 13 January 2027 falls in the
    case holder's leave (11 to 15 January): the line manager presents; moved back to Wednesday
    6 January, when the case holder is at work, it is the case holder's again (given back)."""
    case_id, panel = await _s48_case(somerset, monkeypatch)
    await move_panel(somerset, panel, "2027-01-13T10:00:00Z")
    leave = (await away(somerset, "case_holder-1", "2027-01-11", "2027-01-15"))["data"]
    steps = await case_steps(somerset, case_id)
    assert _owner(steps, "attend_initial_marp") == (
        "line_manager", "line_manager-1", "2027-01-13T10:00:00Z")
    await move_panel(somerset, panel, "2027-01-06T10:00:00Z")
    steps = await case_steps(somerset, case_id)
    assert _owner(steps, "attend_initial_marp") == (
        "case_holder", "case_holder-1", "2027-01-06T10:00:00Z")
    assert _last_move(steps, "attend_initial_marp").startswith(
        "Given back: the case holder (case_holder-1) is not on recorded leave")
    [step] = steps_of(steps, "attend_initial_marp")
    assert await _moves(somerset, case_id, step["id"]) == [
        f"case_holder-1 is on recorded leave (absence {leave['id']} recorded)",
        "given back to the case holder (case_holder-1): re-dated by the panel scheduled"]


async def test_S5_re_dated_out_of_the_line_managers_leave_is_theirs_again(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S5 (3.1): "discussed ... with the relevant line manager or duty manager ... If the line
    manager is unavailable, the duty manager will undertake these functions". The line manager
    is on leave Thursday 31 December 2026 to Monday 4 January 2027. ROSH high on Wednesday 30
    December 09:30: the discussion is due on Thursday 31 December 09:30, in the leave: the duty
    managers'. A very high dated back to Tuesday 29 December 09:00 re-dates it to Wednesday 30
    December 09:00, before the leave: the line manager's, as when the two judgements are typed
    in their own order."""
    pin(monkeypatch, 2026, 12, 30, 10, 0)
    await away(somerset, "line_manager-1", "2026-12-31", "2027-01-04")

    async def typed(levels: list[tuple[str, str]]) -> list[dict[str, Any]]:
        case_id = (await somerset.open_case(opened_at="2026-11-02T09:00:00Z"))["data"]["id"]
        for level, at in levels:
            await recorded(somerset, case_id, "judgements",
                           {"domain": "rosh", "level": level, "occurred_at": at})
        return await case_steps(somerset, case_id)

    late = await typed([("high", "2026-12-30T09:30:00Z"), ("very_high", "2026-12-29T09:00:00Z")])
    in_order = await typed([("very_high", "2026-12-29T09:00:00Z"),
                            ("high", "2026-12-30T09:30:00Z")])
    assert _owner(late, "discuss_with_manager") == _owner(in_order, "discuss_with_manager") == (
        "line_manager", "line_manager-1", "2026-12-30T09:00:00Z")
    assert _last_move(late, "discuss_with_manager").startswith(
        "Given back: the line manager (line_manager-1) is not on recorded leave")


async def test_W7_moved_on_to_the_duty_managers_before_the_fix_is_put_where_the_state_puts_it(
        wokingham: Tenant, db: Factory,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    """W7: "It will be the responsibility of the case worker or their line manager to request a
    High-Risk Panel within two working days". A request stored before attack 30a's fix as the
    duty managers' (unassigned; "the line manager recorded what this step checks") is put where
    the state puts it at the next settling: the line manager's while the case worker is on
    leave, the case worker's once the leave is cancelled."""
    case_id, absence = await _w7_case_holder_away_lm_records(wokingham, monkeypatch)
    [step] = steps_of(await case_steps(wokingham, case_id), "request_high_risk_panel")
    async with db() as session, session.begin():
        await session.exec(sa.update(Step).where(  # type: ignore[call-overload]
            col(Step.id) == uuid.UUID(step["id"])).values(actor="duty_manager",
                                                          assignee_id=None))
    r = await patch_case(wokingham, case_id, {"line_manager_id": "line_manager-2"})
    assert r.status_code == 200, r.text
    assert _owner(await case_steps(wokingham, case_id), "request_high_risk_panel") == (
        "line_manager", "line_manager-2", "2026-12-31T23:59:59Z")
    async with db() as session, session.begin():
        await session.exec(sa.update(Step).where(  # type: ignore[call-overload]
            col(Step.id) == uuid.UUID(step["id"])).values(actor="duty_manager",
                                                          assignee_id=None))
    await cancel_leave(wokingham, absence)
    steps = await case_steps(wokingham, case_id)
    assert _owner(steps, "request_high_risk_panel") == (
        "case_holder", "case_holder-1", "2026-12-31T23:59:59Z")
    assert _last_move(steps, "request_high_risk_panel").startswith(
        "Given back: the case holder (case_holder-1) is not on recorded leave")


async def test_W7_stood_in_to_a_line_manager_who_held_the_case_stays_with_them(
        wokingham: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """W7: "It will be the responsibility of the case worker or their line manager to request a
    High-Risk Panel within two working days". case_holder-2 assesses ROSH high on Tuesday 29
    December 2026; the same day a duty manager makes case_holder-1 (on leave over the New Year)
    the case worker and case_holder-2 their line manager: the request stands in to the line
    manager, case_holder-2, and stays theirs although they held the case since it arose:
    requesting the panel is not a review of their own work (the bar on the month one held is
    for a manager's check, Somerset 4.5), and the sentence names the line manager."""
    pin(monkeypatch, 2026, 12, 29, 9, 0)
    case_id = (await wokingham.open_case(opened_at="2026-11-02T09:00:00Z",
                                         case_holder_id="case_holder-2"))["data"]["id"]
    await away(wokingham, "case_holder-1", "2026-12-29", "2027-01-05")
    pin(monkeypatch, 2026, 12, 29, 10, 30)
    r = await wokingham.client.post(f"/v1/cases/{case_id}/judgements", json=with_matrix(
        wokingham.pack, dict(W7_HIGH)), headers=wokingham.auth("case_holder", "case_holder-2"))
    assert r.status_code == 201, r.text
    r = await patch_case(wokingham, case_id, {"case_holder_id": "case_holder-1",
                                              "line_manager_id": "case_holder-2"},
                         role="duty_manager")
    assert r.status_code == 200, r.text
    # Settled again (case_holder-2's own leave recorded, in March: it does not cover the step).
    await away(wokingham, "case_holder-2", "2027-03-01", "2027-03-05")
    steps = await case_steps(wokingham, case_id)
    assert _owner(steps, "request_high_risk_panel") == (
        "line_manager", "case_holder-2", "2026-12-31T23:59:59Z")
    assert _last_move(steps, "request_high_risk_panel").startswith(
        "Stood in: the case holder (case_holder-1) is on recorded leave")
