"""Steps that come back take the panels as they stand (attack pass 10, A10-26).

Catalogue (policy-rules.md): ``next-panel`` = "the next scheduled panel of the pack's kind
(MARP / High-Risk Panel) at or after the event". Example Borough 5.1 "A child is referred to
the next Risk Panel", 5.2 views "Before the panel"; Somerset 3.2.3 "The case holder will refer
the case to the next YJT MARP", 6.2 views "sought before the initial panel".

A panel booked, moved or cancelled re-dates the service's *open* ``next-panel`` steps. A step
that was not open then (set aside by the case's closure, or done by a referral) came back with
its old date: reopening the case reinstated "refer to the next panel" due at a panel that had
been moved or cancelled (or a meeting day's date though a panel had been booked meanwhile), and a
withdrawn MARP referral gave its step back due at the MARP as it was when the referral was made.
Both paths now re-date the step against the panels as they stand, with ``redate()``'s rule judged
at the panel act: a panel cannot be moved or cancelled once its time has come (409
``panel-has-sat``), so a date whose panel was moved or cancelled had not passed and moves; a date
whose panel stands and sat, or a meeting day passed before the first panel was booked, is kept
(the step stays overdue). Each case is compared with a twin that stayed open through the same
panel changes: the same deadline.

Dates (2026, GMT): Monday 2 November the ROSH is judged high (09:30Z) and the case closed
(10:00Z); Risk Panels / MARPs on Thursdays 5, 12, 19 and 26 November.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.fidelity_support import pin
from tests.api.integrity_support import (
    audit_of,
    book_panel,
    move_panel,
    patch_case,
    refer_to_marp,
    steps_of,
)
from tests.conftest import Tenant, make_tenant

MARP = "Multi-Agency Risk Panel (MARP)"  # the pack's name for the kind, in notes (A26a-14)

EXAMPLE = "example-yjs"
X = {"pack": EXAMPLE, "version": "1.0"}
S = {"pack": "somerset-yjt-2023", "version": "1"}
EXAMPLE_STEPS = {"refer_to_risk_panel": ("X8", "5.1"), "seek_child_and_carer_views": ("X9", "5.2")}
JUDGED = "2026-11-02T09:30:00Z"
CLOSE = {"closed_at": "2026-11-02T10:00:00Z", "closure_reason": "Order ended"}
REOPEN = {"closed_at": None, "reopen_reason": "New order"}


@pytest.fixture
async def example(client: httpx.AsyncClient, settings: Any) -> Tenant:
    """A fresh service under the example pack (a weekly Risk Panel, nothing it may not close)."""
    return await make_tenant(client, settings, EXAMPLE)


async def judge_high(t: Tenant, case_id: str) -> None:
    r = await t.client.post(f"/v1/cases/{case_id}/judgements",
                            json={"domain": "rosh", "level": "high", "occurred_at": JUDGED},
                            headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text


async def cancel(t: Tenant, panel_id: str) -> None:
    r = await t.client.delete(f"/v1/panels/{panel_id}", headers=t.auth("chair"))
    assert r.status_code == 204, r.text


async def high_case(t: Tenant) -> str:
    case_id = str((await t.open_case())["data"]["id"])
    await judge_high(t, case_id)
    return case_id


def dated(steps: list[dict[str, Any]], codes: dict[str, tuple[str, str]]
          ) -> dict[str, tuple[Any, ...]]:
    """The steps of these codes: (rule, ref, actor, assignee, due_at, awaiting, overdue)."""
    return {s["code"]: (s["policy"]["rule"], s["policy"]["ref"], s["actor"], s["assignee_id"],
                        s["due_at"], s["awaiting_panel_date"], s["overdue"])
            for s in steps if s["code"] in codes}


def expected(codes: dict[str, tuple[str, str]], due_at: str, awaiting: bool = False,
             overdue: bool = False) -> dict[str, tuple[Any, ...]]:
    return {code: (rule, ref, "case_holder", "case_holder-1", due_at, awaiting, overdue)
            for code, (rule, ref) in codes.items()}


async def reopen(t: Tenant, case_id: str) -> list[dict[str, Any]]:
    r = await patch_case(t, case_id, REOPEN)
    assert r.status_code == 200, r.text
    return await steps_of(t, case_id)


@pytest.mark.parametrize("reopened_on", [4, 6], ids=["before-old-date", "after-old-date"])
async def test_X8_X9_panel_moved_while_closed_reopening_takes_its_new_date(
        example: Tenant, monkeypatch: pytest.MonkeyPatch, reopened_on: int) -> None:
    """X8 (5.1) "A child is referred to the next Risk Panel when: ROSH or SWB is judged high";
    X9 (5.2) views "Before the panel". ROSH high Monday 2 November 09:30Z; the Risk Panel of
    Thursday 5 November 14:00Z is booked (both steps due then); the case closes at 10:00Z. On
    Tuesday 3 November the panel moves to Thursday 19 November. Reopened on Wednesday 4 or
    Friday 6 November (after the old date: the panel was moved before it, so no lateness was
    incurred), both steps are due 19 November 14:00Z, as the twin's that stayed open; the
    re-date is audited in the reopening."""
    pin(monkeypatch, 2026, 11, 2, 10, 30)
    case_id, twin = await high_case(example), await high_case(example)
    panel = await book_panel(example, "2026-11-05T14:00:00Z", kind="risk_panel")
    assert dated(await steps_of(example, case_id), EXAMPLE_STEPS) == expected(
        EXAMPLE_STEPS, "2026-11-05T14:00:00Z")
    assert (await patch_case(example, case_id, CLOSE)).status_code == 200
    pin(monkeypatch, 2026, 11, 3, 9, 0)
    await move_panel(example, panel, "2026-11-19T14:00:00Z")
    pin(monkeypatch, 2026, 11, reopened_on, 9, 0)
    steps = await reopen(example, case_id)
    assert dated(steps, EXAMPLE_STEPS) == expected(EXAMPLE_STEPS, "2026-11-19T14:00:00Z")
    assert dated(steps, EXAMPLE_STEPS) == dated(await steps_of(example, twin), EXAMPLE_STEPS)
    audit = await audit_of(example, case_id)
    for step in steps:
        if step["code"] in EXAMPLE_STEPS:
            assert step["policy"] == {**X, "rule": EXAMPLE_STEPS[step["code"]][0],
                                      "ref": EXAMPLE_STEPS[step["code"]][1]}
            assert [e["reason"] for e in audit if e["action"] == "step.redate"
                    and e["entity_id"] == step["id"]][-1] == (
                "the case was reopened: Next Risk Panel scheduled for "
                "Thursday 19 November 2026 14:00 (London)")


async def test_X8_X9_panel_cancelled_while_closed_reopening_takes_the_next(
        example: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """X8, X9 (5.1, 5.2): Risk Panels booked for Thursdays 5 and 26 November; the case closes;
    5 November is cancelled on Tuesday 3 November. Reopened on Friday 6 November, both steps
    are due at the next panel as it stands, 26 November 14:00Z (the twin's too)."""
    pin(monkeypatch, 2026, 11, 2, 10, 30)
    case_id, twin = await high_case(example), await high_case(example)
    first = await book_panel(example, "2026-11-05T14:00:00Z", kind="risk_panel")
    await book_panel(example, "2026-11-26T14:00:00Z", kind="risk_panel")
    assert (await patch_case(example, case_id, CLOSE)).status_code == 200
    pin(monkeypatch, 2026, 11, 3, 9, 0)
    await cancel(example, first)
    pin(monkeypatch, 2026, 11, 6, 9, 0)
    steps = await reopen(example, case_id)
    assert dated(steps, EXAMPLE_STEPS) == expected(EXAMPLE_STEPS, "2026-11-26T14:00:00Z")
    assert dated(steps, EXAMPLE_STEPS) == dated(await steps_of(example, twin), EXAMPLE_STEPS)


async def test_X8_X9_panel_booked_while_closed_replaces_the_meeting_day(
        example: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """X8, X9 (5.1 "The Risk Panel meets weekly on Thursday"): with no panel booked, ROSH high
    on Monday 2 November makes both steps due by the end of Thursday 5 November (23:59:59Z),
    waiting for a panel. The case closes; on Tuesday 3 November the panel of Thursday
    12 November is booked (the first booked sets the date). Reopened on Friday 6 November, both
    are due at it, 12 November 14:00Z, no longer waiting and not overdue (the twin's too)."""
    pin(monkeypatch, 2026, 11, 2, 10, 30)
    case_id, twin = await high_case(example), await high_case(example)
    assert dated(await steps_of(example, case_id), EXAMPLE_STEPS) == expected(
        EXAMPLE_STEPS, "2026-11-05T23:59:59Z", awaiting=True)
    assert (await patch_case(example, case_id, CLOSE)).status_code == 200
    pin(monkeypatch, 2026, 11, 3, 9, 0)
    await book_panel(example, "2026-11-12T14:00:00Z", kind="risk_panel")
    pin(monkeypatch, 2026, 11, 6, 9, 0)
    steps = await reopen(example, case_id)
    assert dated(steps, EXAMPLE_STEPS) == expected(EXAMPLE_STEPS, "2026-11-12T14:00:00Z")
    assert dated(steps, EXAMPLE_STEPS) == dated(await steps_of(example, twin), EXAMPLE_STEPS)


async def test_X8_X9_a_meeting_day_passed_while_closed_gives_way_to_the_next_panel(
        example: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """X8, X9 (5.1, 5.2). No panel booked: both steps due by the end of Thursday 5 November
    (the panel's meeting day). The case closes on Monday 2 November, before that day; the first
    panel (Thursday 19 November) is booked on Monday 9 November; reopened on Tuesday 10
    November, both are due at it: the meeting day of 5 November passed while the case was
    closed, when no panel could hear it (ATTACK32C-4; before, they stayed due 5 November and
    overdue, as the twin, open throughout, does: its lateness was incurred while open)."""
    pin(monkeypatch, 2026, 11, 2, 10, 30)
    case_id, twin = await high_case(example), await high_case(example)
    assert (await patch_case(example, case_id, CLOSE)).status_code == 200
    pin(monkeypatch, 2026, 11, 9, 9, 0)
    await book_panel(example, "2026-11-19T14:00:00Z", kind="risk_panel")
    pin(monkeypatch, 2026, 11, 10, 9, 0)
    steps = await reopen(example, case_id)
    assert dated(steps, EXAMPLE_STEPS) == expected(EXAMPLE_STEPS, "2026-11-19T14:00:00Z")
    assert dated(await steps_of(example, twin), EXAMPLE_STEPS) == expected(
        EXAMPLE_STEPS, "2026-11-05T23:59:59Z", awaiting=True, overdue=True)


async def test_S7_withdrawn_referral_gives_its_step_back_at_the_moved_marp(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S7 (3.2.3, 3.2.4) "The case holder will refer the case to the next YJT MARP". ROSH high
    Monday 2 November; the MARP of Thursday 5 November 10:00Z is booked (the referral due then)
    and the referral made at 10:15Z, which does the step. On Tuesday 3 November that MARP moves
    to Thursday 12 November; on Friday 6 November the referral is withdrawn: the step is owed
    again, due at the MARP as it stands, 12 November 10:00Z (as the twin's, never referred), not
    overdue at the old date; audited."""
    pin(monkeypatch, 2026, 11, 2, 10, 30)
    case_id, twin = await high_case(somerset), await high_case(somerset)
    marp = await book_panel(somerset, "2026-11-05T10:00:00Z", kind="marp")
    referral = (await refer_to_marp(somerset, case_id, "2026-11-02T10:15:00Z"))["data"]
    pin(monkeypatch, 2026, 11, 3, 9, 0)
    await move_panel(somerset, marp, "2026-11-12T10:00:00Z")
    pin(monkeypatch, 2026, 11, 6, 9, 0)
    r = await somerset.client.post(f"/v1/referrals/{referral['id']}/withdraw",
                                   json={"note": "Sent in error"},
                                   headers=somerset.auth("case_holder"))
    assert r.status_code == 200, r.text
    refer = {"refer_to_panel": ("S7", "3.2.3, 3.2.4")}
    steps = await steps_of(somerset, case_id)
    assert dated(steps, refer) == expected(refer, "2026-11-12T10:00:00Z")
    assert dated(steps, refer) == dated(await steps_of(somerset, twin), refer)
    [step] = [s for s in steps if s["code"] == "refer_to_panel"]
    assert step["policy"] == {**S, "rule": "S7", "ref": "3.2.3, 3.2.4"}
    assert "withdrawn" in step["note"]
    audit = await audit_of(somerset, case_id)
    assert [e["reason"] for e in audit if e["action"] == "step.redate"
            and e["entity_id"] == step["id"]] == [
        f"the referral that answered it was withdrawn: Next {MARP} scheduled for "
        "Thursday 12 November 2026 10:00 (London)"]


async def test_X9_a_kept_deadline_is_said_once_when_two_acts_would_re_date_it_alike(
        example: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """X9 (5.2, the child's and carer's views "Before the panel"): no panel booked, the views
    are due by the end of Thursday 5 November. On Monday 9 November, the day having passed, the
    panel of Thursday 19 November is booked and the case put on its agenda at the same instant:
    each act would re-date the step the same way and each keeps the passed deadline. Attack
    pass 30, ATTACK30B-4: the note said the identical "Deadline kept" sentence once per act;
    it says it once."""
    pin(monkeypatch, 2026, 11, 2, 10, 30)
    case_id = await high_case(example)
    pin(monkeypatch, 2026, 11, 9, 9, 0)
    panel = await book_panel(example, "2026-11-19T14:00:00Z", kind="risk_panel")
    r = await example.client.post(f"/v1/panels/{panel}/items",
                                  json={"case_id": case_id, "presenter_id": "case_holder-1"},
                                  headers=example.auth("panel_admin"))
    assert r.status_code == 201, r.text
    # A day later a second panel is booked for the same Thursday afternoon: the step would be
    # re-dated to the same panel again; the note does not say it again at the new act's time
    # (attack 31a, ATTACK31A-5).
    pin(monkeypatch, 2026, 11, 10, 9, 0)
    await book_panel(example, "2026-11-19T16:00:00Z", kind="risk_panel")
    [step] = [s for s in await steps_of(example, case_id)
              if s["code"] == "seek_child_and_carer_views"]
    assert step["policy"] == {**X, "rule": "X9", "ref": "5.2"}
    assert (step["due_at"], step["overdue"]) == ("2026-11-05T23:59:59Z", True)
    kept = [line for line in step["note"].split("\n") if line.startswith("Deadline kept")]
    assert kept == ["Deadline kept: Thursday 5 November 2026 23:59 (London) had passed before "
                    "the act at Monday 9 November 2026 09:00 (London) that would re-date it "
                    "(Thursday 19 November 2026 14:00 (London)); lateness already incurred stays "
                    "until the step is done."], step["note"]
