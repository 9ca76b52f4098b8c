"""A bare duty names no one and no date from the case (attack pass 9, A9-18), from the side of a
role holder the case's allow-list leaves out.

On a case restricted by ``allowed_staff``, a step addressed to a role (the duty managers, the
chairs) reaches the holders the list leaves out as a bare duty: the step alone. Its stored note
names the case's line manager and their leave dates when it stood in for them ("Stood in: the
line manager (lm-pat) is on recorded leave ...") or escalates their overdue step
("discuss_with_manager (line_manager, assignee lm-pat) was due ..."). Shut-out readers get a note
from the policy pack instead, saying only that the line manager is on recorded leave, in the
list, the single read and the completion's answer.

Somerset 2023, 3.1: "Any 'high' or 'very high' judgement rating will be discussed as soon as
practicable with the relevant line manager or duty manager (within 24 hours) ... If the line
manager is unavailable, the duty manager will undertake these functions."
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.fidelity_support import away, pin
from tests.api.integrity_support import complete, judge
from tests.api.support import Factory, restricted_case, tick
from tests.conftest import Tenant

LM = "lm-pat"
LEAVE = ("2026-08-24", "2026-08-28")
OUTSIDE_DM = ("duty_manager", "duty_manager-5")
S5 = {"pack": "somerset-yjt-2023", "version": "1", "ref": "3.1", "rule": "S5"}


def _names_nothing(step: dict[str, Any], dates: tuple[str, ...] = LEAVE) -> None:
    """No staff id of the case in the step's own fields, nor (by default) the leave's dates."""
    text = repr({k: v for k, v in step.items() if k != "completed_by"})
    for word in (LM, "case_holder-1", *dates):
        assert word not in text, word


async def _judged_in_leave(
    t: Tenant, monkeypatch: pytest.MonkeyPatch, recorded_at: tuple[int, ...], domain: str,
    level: str, at: str, reason: str | None = "annual leave",
) -> tuple[str, dict[str, Any]]:
    """On Monday 24 August 2026 a case of lm-pat's restricted to its holder and lm-pat, and
    lm-pat's leave (:data:`LEAVE`, ``reason``); then the holder's ``domain`` ``level``
    judgement at ``at``, recorded at ``recorded_at`` (UTC, for ``pin``): the case's id and the
    judgement's answer."""
    pin(monkeypatch, 2026, 8, 24, 9, 0)
    case_id = await restricted_case(t, LM)
    await away(t, LM, *LEAVE, reason=reason)
    pin(monkeypatch, *recorded_at)
    return case_id, await judge(t, case_id, domain, level, at)


async def _outside_list(t: Tenant, case_id: str) -> list[dict[str, Any]]:
    r = await t.client.get("/v1/next-steps", params={"case_id": case_id, "limit": 200},
                           headers=t.auth(*OUTSIDE_DM))
    assert r.status_code == 200, r.text
    return r.json()["data"]  # type: ignore[no-any-return]


async def _read_and_complete(t: Tenant, step: dict[str, Any],
                             dates: tuple[str, ...] = LEAVE) -> None:
    """The single read and the completion's answer show the same bare note."""
    read = await t.client.get(f"/v1/next-steps/{step['id']}", headers=t.auth(*OUTSIDE_DM))
    assert read.status_code == 200, read.text
    assert read.json()["data"]["note"] == step["note"]
    done = await complete(t, step["id"], *OUTSIDE_DM, note="Discussed with the worker.")
    assert done.status_code == 200, done.text
    _names_nothing(done.json()["data"], dates)
    assert done.json()["data"]["note"] == step["note"]
    assert done.json()["next_steps"] == []


async def test_S5_stood_in_discussion_on_a_restricted_case_names_no_line_manager_or_leave(
    somerset: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """S5 (3.1): "If the line manager is unavailable, the duty manager will undertake these
    functions." lm-pat is on leave 24-28 August 2026; ROSH high on Wednesday 26 August 10:00 BST
    on their case restricted to its holder and them: the discussion (due 27 August 09:00 UTC,
    S5 / 3.1) stands in to the duty managers. A duty manager off the list lists, reads and
    completes it: its note is the pack's and "The line manager is on recorded leave.", without
    lm-pat or the leave's dates; the case's own line manager still sees the full note."""
    case_id, judged = await _judged_in_leave(somerset, monkeypatch, (2026, 8, 26, 9, 5),
                                             "rosh", "high", "2026-08-26T10:00:00+01:00")
    [full] = [s for s in judged["next_steps"] if s["code"] == "discuss_with_manager"]
    assert f"({LM}) is on recorded leave" in full["note"]
    assert LEAVE[0] not in full["note"]  # a manager's leave is theirs (A11-17)
    listed = [s for s in await _outside_list(somerset, case_id)
              if s["code"] == "discuss_with_manager"]
    assert len(listed) == 1
    step = listed[0]
    assert (step["id"], step["actor"], step["assignee_id"]) == (full["id"], "duty_manager", None)
    # The deadline the escalation pass counts, not its London day's end (ATTACK30B-12; A20-12
    # showed the later one).
    assert (step["due_at"], step["policy"]) == ("2026-08-27T09:00:00Z", S5)
    _names_nothing(step)
    assert step["note"].endswith("The line manager is on recorded leave.")
    await _read_and_complete(somerset, step)


async def test_S5_escalation_of_the_line_managers_overdue_discussion_names_no_one(
    somerset: Tenant, factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """S5 (3.1): the line manager's discussion of ROSH high (27 August 2026 10:00 BST, due
    28 August 09:00 UTC) is overdue; its escalation goes to the duty managers (actor
    duty_manager, unassigned, S5 / 3.1). A duty manager off the allow-list reads it with a note
    saying a step is overdue, not that lm-pat's was."""
    pin(monkeypatch, 2026, 8, 27, 9, 0)
    case_id = await restricted_case(somerset, LM)
    r = await somerset.client.post(
        f"/v1/cases/{case_id}/judgements", headers=somerset.auth("case_holder"),
        json={"domain": "rosh", "level": "high", "occurred_at": "2026-08-27T10:00:00+01:00"})
    assert r.status_code == 201, r.text
    [discuss] = [s for s in r.json()["next_steps"] if s["code"] == "discuss_with_manager"]
    assert (discuss["assignee_id"], discuss["due_at"]) == (LM, "2026-08-28T09:00:00Z")
    pin(monkeypatch, 2026, 8, 28, 15, 0)
    assert await tick(factory, somerset) >= 1
    listed = [s for s in await _outside_list(somerset, case_id)
              if s["code"] == "escalate_overdue_step"]
    assert len(listed) == 1
    step = listed[0]
    assert (step["actor"], step["assignee_id"], step["policy"]) == ("duty_manager", None, S5)
    _names_nothing(step, dates=())
    assert step["note"] == ("A step of this case is overdue and still open; your role is asked "
                            "to act.")
    await _read_and_complete(somerset, step, dates=())



async def test_A16_17_a_stood_in_bare_duty_carries_no_record_or_instant_in_its_reasons(
    somerset: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """S5 (3.1) standing in to the duty managers, as above: the duty manager off the list is
    shown the step's reasons as an escalation's are: the rule and paragraph (S5, 3.1), the step
    itself as the record, no instant; not that a judgement triggered it, nor the judgement's id
    or when it was recorded (attack pass 16, A16-17). The case's line manager sees them all."""
    case_id, judged = await _judged_in_leave(somerset, monkeypatch, (2026, 8, 26, 9, 5),
                                             "rosh", "high", "2026-08-26T10:00:00+01:00")
    judgement_id = judged["data"]["id"]
    [full] = [s for s in judged["next_steps"] if s["code"] == "discuss_with_manager"]
    assert any((x["record"] or {}).get("id") == judgement_id for x in full["reasons"])
    [step] = [s for s in await _outside_list(somerset, case_id)
              if s["code"] == "discuss_with_manager"]
    bare = [{"rule": "S5", "pack": "somerset-yjt-2023", "ref": "3.1", "trigger": None,
             "record": {"type": "step", "id": step["id"]}, "at": None}]
    assert step["reasons"] == bare
    read = await somerset.client.get(f"/v1/next-steps/{step['id']}", headers=somerset.auth(
        *OUTSIDE_DM))
    assert read.status_code == 200, read.text
    assert read.json()["data"]["reasons"] == bare
    done = await complete(somerset, step["id"], *OUTSIDE_DM, note="Discussed with the worker.")
    assert done.status_code == 200, done.text
    assert done.json()["data"]["reasons"] == bare
    for shown in (step, read.json()["data"], done.json()["data"]):
        assert "judgement" not in repr(shown["reasons"])
        assert "2026-08-26T09:00:00" not in repr(shown["reasons"])


async def test_S5_a_bare_duty_gives_not_the_time_of_the_record_that_asked_for_it(
    somerset: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """S5 (3.1). Attack pass 18, A18-11: the bare duty's reasons give no instant, but its own
    ``raised_at`` was the judgement's time to the microsecond (and its ``created_at`` the
    write's). Shut out, a duty manager sees no ``raised_at`` and ``created_at`` as the London
    day only (00:00 BST, 25 August 23:00Z), in the list and the single read; a completion dated
    before the step arose is 422 without that time; the case's line manager sees both. (Its
    ``due_at``, 24 hours on, is the duty itself and stays, exactly: attack 30b, ATTACK30B-12.)"""
    case_id, judged = await _judged_in_leave(somerset, monkeypatch, (2026, 8, 26, 9, 17),
                                             "rosh", "high", "2026-08-26T09:16:42Z", reason=None)
    [full] = [s for s in judged["next_steps"] if s["code"] == "discuss_with_manager"]
    assert full["raised_at"] == "2026-08-26T09:16:42Z"
    [listed] = [s for s in await _outside_list(somerset, case_id)
                if s["code"] == "discuss_with_manager"]
    read = await somerset.client.get(f"/v1/next-steps/{full['id']}",
                                     headers=somerset.auth(*OUTSIDE_DM))
    for step in (listed, read.json()["data"]):
        assert (step["raised_at"], step["created_at"]) == (None, "2026-08-25T23:00:00Z")
        # The duty stays dated exactly as the escalation pass counts it (ATTACK30B-12: the end
        # of its London day, A20-12, showed the duty manager a later deadline than the real one).
        assert not [k for k, v in step.items()
                    if "09:16" in repr(v) and k not in ("due_at", "overdue_at")], step
        assert (step["due_at"], step["overdue_at"]) == ("2026-08-27T09:16:42Z",) * 2
    r = await complete(somerset, full["id"], *OUTSIDE_DM, occurred_at="2026-08-26T09:00:00Z")
    assert r.status_code == 422, r.text
    assert "09:16" not in r.text
    own = [s for s in (await somerset.client.get(
        "/v1/next-steps", params={"case_id": case_id}, headers=somerset.auth("line_manager", LM)
    )).json()["data"] if s["id"] == full["id"]]
    assert own[0]["raised_at"] == "2026-08-26T09:16:42Z"


async def test_S5_a_bare_duty_of_a_very_high_case_withholds_its_priority(
    somerset: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Attack 20, A20-6: a bare duty of a very high (priority) case carried ``priority: true``
    and ``?priority=true`` picked it out: a reader the restriction shuts out learnt the child's
    rating was very high. Shut out, the duty manager sees ``priority: false`` and the filter
    leaves it out; the case's line manager still sees it a priority."""
    case_id, judged = await _judged_in_leave(somerset, monkeypatch, (2026, 8, 26, 9, 17),
                                             "swb", "very_high", "2026-08-26T09:16:42Z",
                                             reason=None)
    [full] = [s for s in judged["next_steps"] if s["code"] == "discuss_with_manager"]
    assert full["priority"] is True
    [listed] = [s for s in await _outside_list(somerset, case_id)
                if s["code"] == "discuss_with_manager"]
    read = await somerset.client.get(f"/v1/next-steps/{full['id']}",
                                     headers=somerset.auth(*OUTSIDE_DM))
    assert listed["priority"] is False
    assert read.json()["data"]["priority"] is False
    r = await somerset.client.get("/v1/next-steps", params={"priority": "true", "limit": 200},
                                  headers=somerset.auth(*OUTSIDE_DM))
    assert r.status_code == 200, r.text
    assert full["id"] not in {s["id"] for s in r.json()["data"]}
    own = (await somerset.client.get(
        "/v1/next-steps", params={"case_id": case_id, "priority": "true"},
        headers=somerset.auth("line_manager", LM))).json()["data"]
    assert full["id"] in {s["id"] for s in own}
