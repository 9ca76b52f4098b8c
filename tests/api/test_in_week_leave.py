"""Wokingham W4's in-week deadline follows the case holder's leave both ways, whichever was
recorded first (attack pass 11, A11-6).

"If the incident becomes known to the worker on a Friday or the last day before a prolonged
absence (for example, the last working day before annual leave), it must be recorded and reported
to their line manager before the end of the working week." An incident known while leave is
recorded is due on the day before it; when the leave is shortened, moved or cancelled the step is
counted again from its own act against the absences as they now stand, as one known before the
leave was recorded already was. A deadline that had passed before the change is kept (the
project's re-date rule, ``app.domain.policy.redate``).

Christmas 2026: Thursday 24 December is the last working day of its week (Friday 25 and Monday 28
are bank holidays), so an incident known on Wednesday 23 December is due at the end of Thursday
24 December, or of Wednesday 23 December when the case holder's prolonged leave starts on the 24th.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from tests.api.fidelity_support import holder_acts, open_steps, pin
from tests.api.integrity_support import audit_of
from tests.conftest import Tenant

WED_23 = "2026-12-23T23:59:59Z"
THU_24 = "2026-12-24T23:59:59Z"
LEAVE = {"starts_on": "2026-12-24", "ends_on": "2026-12-31", "reason": "annual leave"}


class Holder:
    """A Wokingham court-order case held by its own case holder (managed by line_manager-1)."""

    def __init__(self, t: Tenant, name: str) -> None:
        self.t, self.name = t, name
        self.case_id = ""
        self.absence: dict[str, Any] | None = None
        self.etag: str | None = None

    async def open(self) -> Holder:
        case = await self.t.open_case(case_holder_id=self.name,
                                      opened_at="2026-12-01T09:00:00Z")
        self.case_id = case["data"]["id"]
        # The holder's first act on the case (a draft AssetPlus): the evidence that they work
        # under its line manager, who then records their leave (A13-4).
        await holder_acts(self.t, self.case_id, self.name)
        return self

    async def incident(self, at: str) -> str:
        """Record a new incident known at ``at``; its W4 step's id."""
        r = await self.t.client.post(f"/v1/cases/{self.case_id}/events",
                                     json={"type": "new_incident", "occurred_at": at},
                                     headers=self.t.auth("case_holder", self.name))
        assert r.status_code == 201, r.text
        [step] = [s for s in r.json()["next_steps"] if s["code"] == "record_incident"
                  and s["reasons"][0]["record"]["id"] == r.json()["data"]["id"]]
        return str(step["id"])

    async def leave(self, body: dict[str, Any]) -> None:
        r = await self.t.client.post(f"/v1/staff/{self.name}/absences", json=body,
                                     headers=self.t.auth("line_manager"))
        assert r.status_code == 201, r.text
        self.absence, self.etag = r.json()["data"], r.headers.get("etag")

    def _manager(self) -> dict[str, str]:
        # If-Match where the absence carries a version (absence PATCH, A10-22).
        headers = self.t.auth("line_manager")
        return {**headers, "If-Match": self.etag} if self.etag else headers

    async def change(self, **dates: str) -> None:
        assert self.absence is not None
        r = await self.t.client.patch(
            f"/v1/staff/{self.name}/absences/{self.absence['id']}", json=dates,
            headers=self._manager())
        assert r.status_code == 200, r.text
        self.absence, self.etag = r.json()["data"], r.headers.get("etag")

    async def cancel(self) -> None:
        assert self.absence is not None
        r = await self.t.client.delete(f"/v1/staff/{self.name}/absences/{self.absence['id']}",
                                       headers=self._manager())
        assert r.status_code == 204, r.text
        self.absence = None

    async def record_steps(self) -> dict[str, dict[str, Any]]:
        """The case's open W4 steps by id."""
        return {s["id"]: s for s in await open_steps(self.t, self.case_id)
                if s["code"] == "record_incident"}

    async def dues(self, *ids: str) -> list[str]:
        steps = await self.record_steps()
        for i in ids:
            s = steps[i]
            assert (s["actor"], s["assignee_id"], s["policy"]["rule"], s["policy"]["ref"]) == (
                "case_holder", self.name, "W4", "Internal and External Controls"), s
        return [steps[i]["due_at"] for i in ids]


async def test_W4_an_incident_known_during_leave_goes_back_when_the_leave_is_shortened_or_cancelled(
        wokingham: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """W4 (Internal and External Controls): "If the incident becomes known to the worker on a
    Friday or the last day before a prolonged absence (for example, the last working day before
    annual leave), it must be recorded and reported to their line manager before the end of the
    working week."

    Wednesday 23 December 2026, 16:00: incident A (known 09:00) is due Thursday 24 December;
    leave from the 24th to the 31st brings it forward to Wednesday 23; incident B (known 11:00,
    during the leave's record) is due Wednesday 23 too. The leave moved to Tuesday 29 December
    alone (one day: not prolonged) puts both back to Thursday 24, not only A (attack pass 11,
    A11-6); moved back and cancelled, the same for both."""
    pin(monkeypatch, 2026, 12, 23, 16, 0)
    h = await Holder(wokingham, "case_holder-a116").open()
    a = await h.incident("2026-12-23T09:00:00Z")
    assert await h.dues(a) == [THU_24]
    await h.leave(LEAVE)
    assert await h.dues(a) == [WED_23]
    b = await h.incident("2026-12-23T11:00:00Z")
    assert await h.dues(a, b) == [WED_23, WED_23]
    await h.change(starts_on="2026-12-29", ends_on="2026-12-29")
    assert await h.dues(a, b) == [THU_24, THU_24]
    await h.change(starts_on="2026-12-24", ends_on="2026-12-31")
    assert await h.dues(a, b) == [WED_23, WED_23]
    await h.cancel()
    assert await h.dues(a, b) == [THU_24, THU_24]
    # Each move of B is audited as a re-date naming the absence, in the write's transaction.
    redates = [e for e in await audit_of(wokingham, h.case_id)
               if e["action"] == "step.redate" and e["entity_id"] == b]
    assert [(e["actor"], e["role"]) for e in redates] == [("line_manager-1", "line_manager")] * 3


async def test_W4_leave_shortened_to_one_working_day_over_christmas_is_still_prolonged(
        wokingham: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """W4: "the last day before a prolonged absence (for example, the last working day before
    annual leave)"; the pack reads prolonged as two weekdays away or more, the bank holidays the
    leave joins counted (attack 32c, ATTACK32C-12; before, working days only). Leave from
    Thursday 24 December shortened to end on Monday 28 December is one working day but three
    weekdays away (the 25th and the 28th are bank holidays, the 26th and 27th a weekend; back
    Tuesday 29): both incidents known on Wednesday 23 December, before and after the leave was
    recorded, stay due that Wednesday. Shortened to nothing but Tuesday 29 (after the
    holidays), they go back to Thursday 24, the week's last working day."""
    pin(monkeypatch, 2026, 12, 23, 16, 0)
    h = await Holder(wokingham, "case_holder-xmas").open()
    a = await h.incident("2026-12-23T09:00:00Z")
    await h.leave(LEAVE)
    b = await h.incident("2026-12-23T11:00:00Z")
    assert await h.dues(a, b) == [WED_23, WED_23]
    await h.change(ends_on="2026-12-28")
    assert await h.dues(a, b) == [WED_23, WED_23]
    await h.change(starts_on="2026-12-29", ends_on="2026-12-29")
    assert await h.dues(a, b) == [THU_24, THU_24]


FINAL = [  # the leave as it ends up, and what both incidents are then due
    (None, THU_24),
    ({"starts_on": "2026-12-24", "ends_on": "2026-12-31"}, WED_23),
    ({"starts_on": "2026-12-29", "ends_on": "2026-12-29"}, THU_24),
    ({"starts_on": "2026-12-24", "ends_on": "2026-12-28"}, WED_23),  # ATTACK32C-12
    ({"starts_on": "2026-12-29", "ends_on": "2027-01-08"}, THU_24),
]


@pytest.mark.parametrize("order", list(itertools.permutations(("a", "b", "leave"))))
async def test_W4_the_same_records_in_another_order_give_the_same_deadlines(
        wokingham: Tenant, monkeypatch: pytest.MonkeyPatch, order: tuple[str, ...]) -> None:
    """W4: "If the incident becomes known to the worker on a Friday or the last day before a
    prolonged absence (for example, the last working day before annual leave), it must be
    recorded and reported to their line manager before the end of the working week." Two
    incidents known on Wednesday 23 December 2026 and leave from Thursday 24 December recorded
    in any order, the leave then left, changed or cancelled: each incident is due as if the
    leave had been recorded with its final dates (or never) before either (that is
    :func:`test_W4_the_leave_recorded_first_with_its_final_dates_gives_the_same_deadlines`)."""
    pin(monkeypatch, 2026, 12, 23, 16, 0)
    for n, (final, due) in enumerate(FINAL):
        h = await Holder(wokingham, f"case_holder-o{''.join(order)}{n}").open()
        ids: dict[str, str] = {}
        for what in order:
            if what == "leave":
                await h.leave(LEAVE)
            else:
                ids[what] = await h.incident(f"2026-12-23T{'09' if what == 'a' else '11'}:00:00Z")
        if final is None:
            await h.cancel()
        elif final != {k: LEAVE[k] for k in final}:
            await h.change(**final)
        assert await h.dues(ids["a"], ids["b"]) == [due, due], (order, final)


async def test_W4_the_leave_recorded_first_with_its_final_dates_gives_the_same_deadlines(
        wokingham: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """W4: "If the incident becomes known to the worker on a Friday or the last day before a
    prolonged absence (for example, the last working day before annual leave), it must be
    recorded and reported to their line manager before the end of the working week." The
    records of :func:`test_W4_the_same_records_in_another_order_give_the_same_deadlines` with
    the leave as it ends up (or none) recorded before both incidents give the deadlines that
    test expects in every order. (Once for every final leave: it was repeated for each of the
    six orders, which it does not depend on.)"""
    pin(monkeypatch, 2026, 12, 23, 16, 0)
    for n, (final, due) in enumerate(FINAL):
        fresh = await Holder(wokingham, f"case_holder-f{n}").open()
        if final is not None:
            await fresh.leave(final)
        ids = {w: await fresh.incident(f"2026-12-23T{h_}:00:00Z")
               for w, h_ in (("a", "09"), ("b", "11"))}
        assert await fresh.dues(ids["a"], ids["b"]) == [due, due], final


async def test_W4_a_deadline_passed_before_the_leave_is_cancelled_is_kept(
        wokingham: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """W4: "If the incident becomes known to the worker on a Friday or the last day before a
    prolonged absence (for example, the last working day before annual leave), it must be
    recorded and reported to their line manager before the end of the working week." The
    incident known on Wednesday 23 December during the recorded leave was due that evening;
    the leave cancelled on Thursday 24 December at 10:00 does not erase the lateness already
    incurred (the re-date rule: a deadline passed before the act stays, with a note), for the
    step raised during the leave as for the one brought forward by it."""
    pin(monkeypatch, 2026, 12, 23, 16, 0)
    h = await Holder(wokingham, "case_holder-late").open()
    a = await h.incident("2026-12-23T09:00:00Z")
    await h.leave(LEAVE)
    b = await h.incident("2026-12-23T11:00:00Z")
    pin(monkeypatch, 2026, 12, 24, 10, 0)
    await h.cancel()
    assert await h.dues(a, b) == [WED_23, WED_23]
    steps = await h.record_steps()
    for i in (a, b):
        assert ("Deadline kept: Wednesday 23 December 2026 23:59 (London) had passed"
                in steps[i]["note"]), steps[i]


async def _reassign(t: Tenant, case_id: str, holder: str) -> None:
    """PATCH the case to a new case holder (its line manager, with the case's ETag)."""
    url = f"/v1/cases/{case_id}"
    tag = (await t.client.get(url, headers=t.auth("line_manager"))).headers["etag"]
    r = await t.client.patch(url, json={"case_holder_id": holder},
                             headers={**t.auth("line_manager"), "If-Match": tag})
    assert r.status_code == 200, r.text


async def test_W4_the_deadline_follows_the_case_to_its_new_holder(
        wokingham: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """W4 (Internal and External Controls): "If the incident becomes known to the worker on a
    Friday or the last day before a prolonged absence (for example, the last working day before
    annual leave), it must be recorded and reported to their line manager before the end of the
    working week." The deadline is the worker's: when the case moves to another case holder,
    the open step is counted again against theirs (attack pass 11, A11-18).

    Wednesday 23 December 2026, 16:00. Case A's holder is on leave from Thursday 24 December:
    an incident known that morning is due at the end of Wednesday 23. Case A moves to a holder
    who is not away: due at the end of Thursday 24 (the week's last working day before the
    Christmas bank holidays). Case B's incident, known the same morning, is due Thursday 24; B
    moves to the absent holder: due Wednesday 23. Each re-date is audited in the move's
    write."""
    pin(monkeypatch, 2026, 12, 23, 16, 0)
    away = await Holder(wokingham, "case_holder-x118").open()
    await away.leave(LEAVE)
    a = await away.incident("2026-12-23T09:00:00Z")
    assert await away.dues(a) == [WED_23]
    present = await Holder(wokingham, "case_holder-y118").open()
    b = await present.incident("2026-12-23T09:30:00Z")
    assert await present.dues(b) == [THU_24]
    await _reassign(wokingham, away.case_id, present.name)
    moved_a = Holder(wokingham, present.name)
    moved_a.case_id = away.case_id
    assert await moved_a.dues(a) == [THU_24]
    await _reassign(wokingham, present.case_id, away.name)
    moved_b = Holder(wokingham, away.name)
    moved_b.case_id = present.case_id
    assert await moved_b.dues(b) == [WED_23]
    for case_id, step in ((away.case_id, a), (present.case_id, b)):
        redates = [e for e in await audit_of(wokingham, case_id)
                   if e["action"] == "step.redate" and e["entity_id"] == step]
        assert redates
        assert "case_holder changed from" in redates[-1]["reason"]


async def test_W4_leave_recorded_in_two_records_that_follow_on_is_one_prolonged_absence(
        wokingham: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """W4 (Internal and External Controls): "If the incident becomes known to the worker on a
    Friday or the last day before a prolonged absence (for example, the last working day before
    annual leave), it must be recorded and reported to their line manager before the end of the
    working week." Leave recorded as two records that follow on is one absence (attack pass 12,
    A12-9). Holder A: Wednesday 9 and Thursday 10 December 2026 as two records; an incident
    known on Tuesday 8 December is due at the end of that day, as with one record of both (not
    of Wednesday 9). Holder B: Friday 11 and Monday 14 December (the weekend between) as two
    records: an incident known on Thursday 10 December is due at its end (not of Friday 11)."""
    pin(monkeypatch, 2026, 12, 8, 12, 0)
    a = await Holder(wokingham, "case_holder-a129").open()
    await a.leave({"starts_on": "2026-12-09", "ends_on": "2026-12-09"})
    await a.leave({"starts_on": "2026-12-10", "ends_on": "2026-12-10"})
    step = await a.incident("2026-12-08T10:00:00Z")
    assert await a.dues(step) == ["2026-12-08T23:59:59Z"]
    pin(monkeypatch, 2026, 12, 10, 12, 0)
    b = await Holder(wokingham, "case_holder-b129").open()
    await b.leave({"starts_on": "2026-12-11", "ends_on": "2026-12-11"})
    await b.leave({"starts_on": "2026-12-14", "ends_on": "2026-12-14"})
    step = await b.incident("2026-12-10T10:00:00Z")
    assert await b.dues(step) == ["2026-12-10T23:59:59Z"]


async def test_W4_a_back_filled_reassignment_before_the_deadline_counts_against_the_new_holder(
        wokingham: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """W4 (Internal and External Controls): "If the incident becomes known to the worker on a
    Friday or the last day before a prolonged absence (for example, the last working day before
    annual leave), it must be recorded and reported to their line manager before the end of the
    working week." The holder's leave (Friday 5 and Monday 8 February 2027) recorded on
    Thursday 4 February; on Monday 15 February, back-filled: an incident known that Thursday at
    11:00 is due at the end of that Thursday; the case moved at 12:00 that Thursday
    (``occurred_at``), before that deadline, to a holder not away: due at the end of Friday
    5 February, as the same move recorded that day is. "Already passed" is judged at the
    move's own time, not on the day it is typed (attack 32c, ATTACK32C-11)."""
    pin(monkeypatch, 2027, 2, 4, 10, 0)  # the case and the leave, known then
    away = Holder(wokingham, "case_holder-x32c")
    case = await wokingham.open_case(case_holder_id=away.name,
                                     opened_at="2027-02-01T09:00:00Z")
    away.case_id = case["data"]["id"]
    await holder_acts(wokingham, away.case_id, away.name)
    await away.leave({"starts_on": "2027-02-05", "ends_on": "2027-02-08",
                      "reason": "annual leave"})
    present = await Holder(wokingham, "case_holder-y32c").open()
    pin(monkeypatch, 2027, 2, 15, 10, 0)  # the incident and the move, back-filled
    step = await away.incident("2027-02-04T11:00:00Z")
    assert await away.dues(step) == ["2027-02-04T23:59:59Z"]
    url = f"/v1/cases/{away.case_id}"
    tag = (await wokingham.client.get(url, headers=wokingham.auth("line_manager"))
           ).headers["etag"]
    r = await wokingham.client.patch(url, json={
        "case_holder_id": present.name, "occurred_at": "2027-02-04T12:00:00Z"},
        headers={**wokingham.auth("line_manager"), "If-Match": tag})
    assert r.status_code == 200, r.text
    moved = Holder(wokingham, present.name)
    moved.case_id = away.case_id
    assert await moved.dues(step) == ["2027-02-05T23:59:59Z"]
    assert "Deadline kept" not in (await moved.record_steps())[step]["note"] or ""


async def test_W4_one_day_of_leave_joined_to_a_bank_holiday_weekend_is_a_prolonged_absence(
        wokingham: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """W4 (Internal and External Controls): "If the incident becomes known to the worker on a
    Friday or the last day before a prolonged absence (for example, the last working day before
    annual leave), it must be recorded and reported to their line manager before the end of the
    working week." Annual leave on Friday 28 May 2027 only, before the late May bank holiday
    (Monday 31 May): the worker is away Friday to Monday, back Tuesday 1 June, two weekdays
    away: prolonged, so an incident known on Thursday 27 May is due at the end of that Thursday
    (BST: 22:59:59Z), "the last working day before annual leave", not on her leave day. Control:
    one day of leave on Friday 4 June joined only to the weekend is not prolonged: an incident
    known on Thursday 3 June is due at the end of Friday 4 June (attack 32c, ATTACK32C-12)."""
    pin(monkeypatch, 2027, 5, 27, 12, 0)
    may = await Holder(wokingham, "case_holder-m32c").open()
    await may.leave({"starts_on": "2027-05-28", "ends_on": "2027-05-28",
                     "reason": "annual leave"})
    step = await may.incident("2027-05-27T10:00:00Z")
    assert await may.dues(step) == ["2027-05-27T22:59:59Z"]
    pin(monkeypatch, 2027, 6, 3, 12, 0)
    june = await Holder(wokingham, "case_holder-j32c").open()
    await june.leave({"starts_on": "2027-06-04", "ends_on": "2027-06-04",
                      "reason": "annual leave"})
    step = await june.incident("2027-06-03T10:00:00Z")
    assert await june.dues(step) == ["2027-06-04T22:59:59Z"]


async def test_W4_one_day_of_leave_on_christmas_eve_is_a_prolonged_absence(
        wokingham: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """W4 (Internal and External Controls): "the last day before a prolonged absence (for
    example, the last working day before annual leave)". Annual leave on Thursday 24 December
    2026 only: with Christmas Day (Friday 25) and the Boxing Day holiday (Monday 28) the worker
    is away until Tuesday 29 December, three weekdays: an incident known on Wednesday 23
    December is due at the end of that Wednesday, not of her leave day (attack 32c,
    ATTACK32C-12)."""
    pin(monkeypatch, 2026, 12, 23, 16, 0)
    xmas = await Holder(wokingham, "case_holder-c32c").open()
    await xmas.leave({"starts_on": "2026-12-24", "ends_on": "2026-12-24",
                      "reason": "annual leave"})
    step = await xmas.incident("2026-12-23T09:00:00Z")
    assert await xmas.dues(step) == [WED_23]
