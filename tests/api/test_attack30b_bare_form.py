"""A bare duty (a role-addressed step shown to a role-holder a restricted case's allow-list
leaves out) against the full form of the same step, field by field: nothing that identifies
the child's records (attack 30b, ATTACK30B-8), and the deadline exactly as the escalation pass
counts it (ATTACK30B-12).

2026 dates: BST until Sunday 25 October.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.fidelity_support import away, pin
from tests.api.integrity_support import judge
from tests.api.support import restricted_case
from tests.conftest import Tenant

LM = "lm-pat"
OUTSIDE_DM, OUTSIDE_CHAIR = ("duty_manager", "duty_manager-5"), ("chair", "chair-5")
# Shown differently in the bare form, each for a reason of its own (the rest must be equal):
# the note and reasons (the policy's words only), raised_at/created_at (the record's time),
# priority (the case's rating), subject_id (the child's record).
BLANKED = {"note", "reasons", "raised_at", "created_at", "priority", "subject_id"}


async def _views(t: Tenant, step_id: str, outside: tuple[str, str]
                 ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The full form (the case's line manager's read) and the bare forms (list and read) of
    the step."""
    full = await t.client.get(f"/v1/next-steps/{step_id}", headers=t.auth("line_manager", LM))
    assert full.status_code == 200, full.text
    listed = await t.client.get("/v1/next-steps", params={"actor": outside[0], "limit": 200},
                                headers=t.auth(*outside))
    read = await t.client.get(f"/v1/next-steps/{step_id}", headers=t.auth(*outside))
    assert read.status_code == 200, read.text
    [row] = [s for s in listed.json()["data"] if s["id"] == step_id]
    return full.json()["data"], [row, read.json()["data"]]


def _same_but_blanked(full: dict[str, Any], bare: dict[str, Any], record_ids: set[str]) -> None:
    """Every field of the bare form equals the full form's or is one of :data:`BLANKED`; no
    id of the child's records anywhere in it; the step itself is its subject and record."""
    assert set(bare) == set(full)
    assert {k for k in full if full[k] != bare[k]} <= BLANKED
    assert bare["subject_id"] == bare["id"]
    assert all(r["record"] == {"type": "step", "id": bare["id"]} and r["at"] is None
               for r in bare["reasons"])
    for record_id in record_ids:
        assert record_id not in repr(bare), record_id


async def test_S23_a_chairs_bare_notification_carries_no_id_of_the_charge(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S23 (12): "The operational or YJT manager will be responsible for completing and
    submitting the notification to the YJB". The case is restricted to its holder and line
    manager; a charge on Tuesday 20 April 2027: a chair off the list sees the notification as
    a bare duty whose fields are the full form's except those that would identify the charge
    record: not its id as ``subject_id``, nor in the reasons (ATTACK30B-8)."""
    pin(monkeypatch, 2027, 4, 20, 9, 0)
    case_id = await restricted_case(somerset, LM)
    r = await somerset.client.post(f"/v1/cases/{case_id}/events", headers=somerset.auth(
        "case_holder"), json={"type": "charged", "occurred_at": "2027-04-20T10:00:00+01:00"})
    assert r.status_code == 201, r.text
    event_id = r.json()["data"]["id"]
    [notify] = [s for s in r.json()["next_steps"] if s["code"] == "notify_serious_incident"]
    assert notify["subject_id"] == event_id
    full, bares = await _views(somerset, notify["id"], OUTSIDE_CHAIR)
    assert any(x["record"]["id"] == event_id for x in full["reasons"])
    for bare in bares:
        _same_but_blanked(full, bare, {event_id})


async def test_S5_a_duty_managers_bare_stand_in_shows_the_deadline_escalation_uses(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """S5 (3.1): "Any 'high' or 'very high' judgement rating will be discussed as soon as
    practicable with the relevant line manager or duty manager (within 24 hours) ... If the line
    manager is unavailable, the duty manager will undertake these functions." The line manager
    on leave Tuesday 20 to Friday 23 April 2027; a high ROSH at 10:22 BST on the 20th: the
    discussion stands in to the duty managers, due 10:22 BST on Wednesday 21 April. A duty
    manager off the case's list is shown that deadline, its ``overdue_at`` and ``overdue`` as
    the case's line manager is (and as the escalation pass counts them), before and after it
    passes: not the end of the London day (ATTACK30B-12); nor the judgement's id (ATTACK30B-8)."""
    pin(monkeypatch, 2027, 4, 20, 9, 0)
    case_id = await restricted_case(somerset, LM)
    await away(somerset, LM, "2027-04-20", "2027-04-23")
    pin(monkeypatch, 2027, 4, 20, 9, 23)
    judged = await judge(somerset, case_id, "rosh", "high", "2027-04-20T10:22:37+01:00")
    judgement_id = judged["data"]["id"]
    [discuss] = [s for s in judged["next_steps"] if s["code"] == "discuss_with_manager"]
    assert (discuss["actor"], discuss["assignee_id"], discuss["due_at"]) == (
        "duty_manager", None, "2027-04-21T09:22:37Z")
    for now, overdue in (((2027, 4, 21, 9, 0), False), ((2027, 4, 21, 12, 0), True)):
        pin(monkeypatch, *now)
        full, bares = await _views(somerset, discuss["id"], OUTSIDE_DM)
        assert (full["due_at"], full["overdue_at"], full["overdue"]) == (
            "2027-04-21T09:22:37Z", "2027-04-21T09:22:37Z", overdue)
        for bare in bares:
            assert (bare["due_at"], bare["overdue_at"], bare["overdue"]) == (
                full["due_at"], full["overdue_at"], full["overdue"])
            _same_but_blanked(full, bare, {judgement_id})
