"""An act dated before a child's death and typed in after the death was recorded (fix41d, the
general case of fix40a's ATTACK38-3). In time order the act raised its steps and the death
ended those of the pack's ``ends_steps`` (and ``ends_earlier_steps``) at its date: missed if
already late then, superseded if not, linked to the death with the pack's reason. Typed in
after the death, the same act raised none of them (the record lost the duties owed while the
child lived, and the timeliness report a missed one); now it raises them and the death ends
each at its date exactly as in time order: the same steps, statuses, notes and links, the same
timeline (each step's creation at the act, its end at the death; the register on from the act
and off at the death), the same timeliness report. Nothing is owed after the death, and acts
dated after it are still refused (409 ``after-final-event``), as are a custody move at its
instant (409 ``event-at-same-instant``; docs/integrating.md §2 "After a recorded death", §7).

Somerset 2023, 12: on a child's death "the manager is informed and the CSPPI notification
made"; the work with the child ends. Wokingham 2024: "Management reporting of serious incidents
in line with YJB guidance".

Also a W19 test of fix40a's correction path (fix40a's note left it untested).
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import httpx
import pytest

from app.core.config import Settings
from tests.api.act_order_support import judgement_body
from tests.api.history_order_support import field_changes
from tests.api.instant_support import REF, Act, event, own, patched, record, whole_record
from tests.api.integrity_support import (
    assert_problem,
    book_panel,
    held_high_risk_panel,
    patch_case,
    steps_of,
    timeliness_row,
)
from tests.conftest import Tenant, make_tenant
from tests.orders import typing_orders

OPENED = "2026-11-02T09:00:00Z"  # Monday 2 November 2026 09:00 GMT
ACT = "2026-11-09T10:00:00Z"  # Monday 9 November 2026 10:00 GMT, three days before the death
DEATH = "2026-11-12T10:00:00Z"  # Thursday 12 November 2026 10:00 GMT
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

Record = tuple[Any, ...]


async def _countersigned(t: Tenant, case_id: str, at: str) -> None:
    """The line manager countersigns, dated ``at``, the case's one submitted assessment."""
    r = await t.client.get(f"/v1/cases/{case_id}/assessments", headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    [assessment] = r.json()["data"]
    r = await t.client.post(f"/v1/assessments/{assessment['id']}/countersign",
                            json={"feedback": "Agreed.", "occurred_at": at},
                            headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text


async def _submitted(t: Tenant, case_id: str, at: str) -> None:
    """The case holder starts an Asset+ at ``at`` and submits it a minute later."""
    r = await t.client.post(f"/v1/cases/{case_id}/assessments",
                            json={"type": "asset_plus", "stage": "start", "occurred_at": at},
                            headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text
    r = await t.client.post(f"/v1/assessments/{r.json()['data']['id']}/submit",
                            json={"occurred_at": at.replace(":00:00Z", ":01:00Z")},
                            headers=t.auth("case_holder"))
    assert r.status_code == 200, r.text


async def _record(t: Tenant, case_id: str, ref: str, act: Act) -> None:
    if act.kind == "countersign":
        await _countersigned(t, case_id, act.at)
    elif act.kind == "submitted":
        await _submitted(t, case_id, act.at)
    else:
        await record(t, case_id, ref, act)


def _act(kind: str, at: str) -> Act:
    return Act(kind, at, ())


async def _names(t: Tenant, case_id: str) -> dict[str, str]:
    """The case's events by id: their types (the death as "death")."""
    r = await t.client.get(f"/v1/cases/{case_id}/events", headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    return {e["id"]: f"event {e['type']}" for e in r.json()["data"]}


async def _visible(t: Tenant, case_id: str, rules: tuple[str, ...]) -> Record:
    """What the API shows of the case: its fields; every step of its history (any status,
    its note and what ended it with ids named); the steps' timeline entries; every change of
    its fields on the timeline and in the subject access export; the timeliness report's
    November 2026 row of each of ``rules`` (due, on time, late, missed)."""
    names = await _names(t, case_id)

    def named(value: Any) -> Any:
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
        return _UUID.sub(lambda m: names.get(m.group(0), "id"), text)

    whole = await whole_record(t, case_id)
    steps = []
    for status in ("open", "done", "superseded", "missed", "waived"):
        for s in await steps_of(t, case_id, status):
            steps.append((s["code"], s["status"], s["policy"]["rule"], s["actor"],
                          s["assignee_id"], s["due_at"], s["urgent"], s["raised_at"],
                          named(s["note"] or ""), named(s["satisfied_by"])))
    step_entries = tuple(e for e in whole.timeline if e[1] == "step")
    report = tuple([await timeliness_row(t, rule, "2026-11-01", "2026-11-30")
                    for rule in rules])
    return whole.fields, tuple(sorted(steps)), step_entries, await field_changes(t, case_id), \
        report


async def _every_order(client: httpx.AsyncClient, settings: Settings, pack: str,
                       acts: list[Act], *, rules: tuple[str, ...], before: tuple[Act, ...] = (),
                       marp: str | None = None, **opening: Any) -> Record:
    """``acts`` (in time order) typed in every order, each on a case of a service of its own
    (the timeliness report is the service's), ``before`` typed first (and a MARP booked at
    ``marp``); asserts every order shows what time order shows; that record."""
    got: dict[tuple[str, ...], Record] = {}
    for order in typing_orders(acts):
        t = await make_tenant(client, settings, pack)
        if marp is not None:
            await book_panel(t, marp)
        ref = f"FX-{uuid.uuid4().hex[:8]}"
        case_id = (await t.open_case(external_ref={"system": REF, "id": ref},
                                     opened_at=OPENED, **opening))["data"]["id"]
        for act in (*before, *order):
            await _record(t, case_id, ref, act)
        got[tuple(a.label for a in order)] = await _visible(t, case_id, rules)
        await _nothing_after_the_death(t, case_id)
    first = next(iter(got.values()))
    for order, seen in got.items():
        for part, mine, theirs in zip(("fields", "steps", "step timeline", "field changes",
                                       "report"), seen, first, strict=True):
            assert mine == theirs, (order, part, sorted(set(mine) - set(theirs)),
                                    sorted(set(theirs) - set(mine)))
    return first


async def _nothing_after_the_death(t: Tenant, case_id: str) -> None:
    """Acts about the living child dated after the death are refused, as is a custody move at
    its instant."""
    r = await t.client.post(f"/v1/cases/{case_id}/judgements",
                            json=judgement_body("rosh", "high", "2026-11-12T10:01:00Z"),
                            headers=t.auth("case_holder"))
    assert assert_problem(r, 409)["type"].endswith("/after-final-event")
    r = await t.client.post(f"/v1/cases/{case_id}/events",
                            json={"type": "custody_release", "occurred_at": DEATH},
                            headers=t.auth("case_holder"))
    assert assert_problem(r, 409)["type"].endswith("/event-at-same-instant")
    r = await patch_case(t, case_id, {"mappa_category": 1, "occurred_at": "2026-11-13T10:00:00Z"})
    assert assert_problem(r, 409)["type"].endswith("/after-final-event")


def _open(got: Record) -> list[tuple[str, str]]:
    """(rule, raised) of the open steps in the record: nothing the death ended is owed."""
    return sorted((s[2], s[7]) for s in got[1] if s[1] == "open")


def _of(got: Record, rule: str) -> list[tuple[str, str | None, str]]:
    """(status, due, what ended it) of the steps of ``rule`` in the record."""
    return [(s[1], s[5], s[9]) for s in got[1] if s[2] == rule]


BY_DEATH = json.dumps({"id": "event death", "type": "event"}, sort_keys=True)


@pytest.mark.parametrize(("marp", "panel_steps"), [
    ("2026-11-11T10:00:00Z", "missed"),  # Wednesday 11 November: before the death
    ("2026-11-18T10:00:00Z", "superseded"),  # Wednesday 18 November: after it
])
async def test_S5_S7_S11_a_high_rosh_dated_before_a_death_typed_after_it(
        client: httpx.AsyncClient, settings: Settings, marp: str, panel_steps: str) -> None:
    """Somerset 2023, 3.1: "the case holder will discuss the judgement with their line manager
    (or duty manager) within 24 hours" (S5); 3.2.3/3.2.4: "refer the case to the next YJT
    MARP" (S7), 6.2 the child's and carer's views for it (S8); 4.5: "review all cases where
    there is a High or Very High ROSH ... at least monthly" (S11); 12: the child's death.
    ROSH judged high on Monday 9 November 2026 10:00, the child's death on Thursday 12
    November 10:00, typed in either order: the discussion due Tuesday 10 November was missed
    at the death, the referral and views due at the MARP of Wednesday 11 November missed too
    (superseded when the MARP sits on 18 November, after the death), the monthly review due 9
    December and the plan, countersignature and explanation superseded, each linked to the
    death; the case on the register from the judgement until the death; S5 missed in the
    report. Typed in after the death, the judgement raised none of them."""
    got = await _every_order(client, settings, "somerset-yjt-2023",
                             [own(ACT, "rosh", "high"), event(DEATH, "death")],
                             rules=("S5", "S7") if panel_steps == "missed" else ("S5",),
                             marp=marp)
    assert _of(got, "S5") == [("missed", "2026-11-10T10:00:00Z", BY_DEATH)]
    panel_due = marp if panel_steps == "missed" else "2026-11-18T10:00:00Z"
    assert _of(got, "S7") == [(panel_steps, panel_due, BY_DEATH)]
    assert _of(got, "S8") == [(panel_steps, panel_due, BY_DEATH)]
    assert _of(got, "S11") == [("superseded", "2026-12-09T10:00:00Z", BY_DEATH)]
    for rule in ("S6", "S12", "S13"):
        assert _of(got, rule) == [("superseded", None, BY_DEATH)], rule
    assert ("2026-11-09T10:00:00Z", "on_register", "false", "true") in got[3][0]
    assert ("2026-11-12T10:00:00Z", "on_register", "true", "false") in got[3][0]
    assert got[4] == ((1, 0, 1, 1),) * len(got[4])
    assert _open(got) == [("S23", DEATH), ("S23", DEATH)]


async def test_W7_W30_a_high_rosh_dated_before_a_death_typed_after_it(
        client: httpx.AsyncClient, settings: Settings) -> None:
    """Wokingham 2024, High Risk Panel: "the case worker or their line manager to request a
    High-Risk Panel" within two working days of a high ROSH (W7); Management oversight:
    "Monthly line supervision, including case discussion, at least monthly" (W30);
    "Management of Risk of Serious Harm": the risk management plan (W12); "Risk
    Management": the child and family made aware (W23). ROSH high on Monday 9 November 2026
    10:00, the death on Thursday 12 November 10:00, typed in either order: the request due
    Wednesday 11 November missed at the death, the supervision due 9 December, the plan and
    the explanation superseded, linked to the death; contact twice weekly and the case on the
    register from the judgement, off it at the death; W7 missed in the report."""
    got = await _every_order(client, settings, "wokingham-pyjs-2024",
                             [own(ACT, "rosh", "high"), event(DEATH, "death")], rules=("W7",))
    assert _of(got, "W7") == [("missed", "2026-11-11T23:59:59Z", BY_DEATH)]
    assert _of(got, "W30") == [("superseded", "2026-12-09T10:00:00Z", BY_DEATH)]
    for rule in ("W12", "W23"):
        assert _of(got, rule) == [("superseded", None, BY_DEATH)], rule
    assert ("2026-11-09T10:00:00Z", "on_register", "false", "true") in got[3][0]
    assert ("2026-11-12T10:00:00Z", "on_register", "true", "false") in got[3][0]
    assert got[4] == ((1, 0, 1, 1),)
    assert _open(got) == [("W24", DEATH), ("W4", DEATH), ("W5", DEATH)]


async def test_S27_a_custody_entry_dated_before_a_death_typed_after_it(
        client: httpx.AsyncClient, settings: Settings) -> None:
    """Somerset 2023, 14.3: on a child's entry into custody the case holder hands over to the
    secure estate (phone call and email confirmation; S27, no timescale). The child entered
    custody on Monday 9 November 2026 10:00 and died on Thursday 12 November 10:00, typed in
    either order: the handover superseded at the death, linked to it."""
    got = await _every_order(client, settings, "somerset-yjt-2023",
                             [event(ACT, "custody_entry"), event(DEATH, "death")], rules=())
    assert _of(got, "S27") == [("superseded", None, BY_DEATH)]
    assert _open(got) == [("S23", DEATH), ("S23", DEATH)]


async def test_W4_W5_W6_a_custody_entry_dated_before_a_death_typed_after_it(
        client: httpx.AsyncClient, settings: Settings) -> None:
    """Wokingham 2024, Internal and External Controls: a change of circumstances is recorded
    "within one working day" (W4) and reported to the line manager "immediately" (W5), and
    for a statutory case the assessment reviewed within three weeks (W6, Assessment Reviews).
    Custody entry on Monday 9 November 2026 10:00, the death on Thursday 12 November 10:00,
    typed in either order: the report (late after Monday's end) missed at the death, the
    review due Monday 30 November superseded, each linked to the death; the death's own
    record and report stay open, and so does the custody entry's record (the pack's death
    does not end W4); W5 missed in the report."""
    got = await _every_order(client, settings, "wokingham-pyjs-2024",
                             [event(ACT, "custody_entry"), event(DEATH, "death")],
                             rules=("W5",))
    # The record on IYSS (W4) is not work with the child: the pack's death leaves it open,
    # and the death's own W4 and W5 are owed.
    assert sorted(_of(got, "W4")) == [("open", "2026-11-10T23:59:59Z", "null"),
                                      ("open", "2026-11-13T23:59:59Z", "null")]
    assert sorted(_of(got, "W5")) == [("missed", ACT, BY_DEATH), ("open", DEATH, "null")]
    assert _of(got, "W6") == [("superseded", "2026-11-30T10:00:00Z", BY_DEATH)]
    # W5: the entry's report missed, the death's own due at the death.
    assert got[4] == ((2, 0, 1, 1),)
    assert _open(got) == [("W24", DEATH), ("W4", ACT), ("W4", DEATH), ("W5", DEATH)]


async def test_W16_mappa_category_set_before_a_death_typed_after_it(
        client: httpx.AsyncClient, settings: Settings) -> None:
    """Wokingham 2024, Referrals into MAPPA: the MAPPA H notification for a category 1 child
    "immediately (on registration)" (W16). MAPPA category 1 recorded (PATCH) on Monday 9
    November 2026 10:00, the death on Thursday 12 November 10:00, typed in either order: the
    notification, late after Monday's end, missed at the death, linked to it."""
    got = await _every_order(client, settings, "wokingham-pyjs-2024",
                             [patched(ACT, mappa_category=1), event(DEATH, "death")],
                             rules=("W16",))
    assert _of(got, "W16") == [("missed", ACT, BY_DEATH)]
    assert got[4] == ((1, 0, 1, 1),)
    assert _open(got) == [("W24", DEATH), ("W4", DEATH), ("W5", DEATH)]


async def test_S3_an_assessment_countersigned_before_a_death_typed_after_it(
        client: httpx.AsyncClient, settings: Settings) -> None:
    """Somerset 2023, 2.1: the assessment countersigned, its review "every 12 weeks" (S3).
    An Asset+ started and submitted on Monday 9 November 2026, countersigned on Tuesday 10
    November 10:00, the death on Thursday 12 November 10:00, the countersignature and the
    death typed in either order: the review due 2 February 2027 superseded at the death,
    linked to it."""
    got = await _every_order(client, settings, "somerset-yjt-2023",
                             [_act("countersign", "2026-11-10T10:00:00Z"),
                              event(DEATH, "death")],
                             rules=(), before=(_act("submitted", ACT),))
    [(status, _due, by)] = _of(got, "S3")
    assert (status, by) == ("superseded", BY_DEATH)
    assert _open(got) == [("S23", DEATH), ("S23", DEATH)]


W19 = "high_risk_panel_review"
LAPSE = "2026-08-20T12:00:00+01:00"  # Thursday 20 August 2026 12:00 BST


async def _w19_record(t: Tenant, case_id: str) -> list[tuple[Any, ...]]:
    """The case's W19 reviews: (status, due, completed) sorted."""
    found = []
    for status in ("open", "done", "waived", "missed", "superseded"):
        found += [(s["status"], s["due_at"], s["completed_at"])
                  for s in await steps_of(t, case_id, status) if s["code"] == W19]
    return sorted(found)


@pytest.mark.parametrize("end", ["level_changed", "death"])
async def test_W19_ATTACK38_a_panel_review_before_the_need_ended_as_typed_in_order(
        wokingham: Tenant, end: str) -> None:
    """Wokingham 2024, Referrals into MAPPA: a MAPPA level 1 child is reviewed "at the
    monthly High-Risk Panel" (W19, the chair, "every 1m", while the level is 1). MAPPA level 1
    recorded on Tuesday 2 June 2026 10:00 BST: review due Thursday 2 July; the level changed to
    2 (or the child's death recorded) on Thursday 20 August 12:00 BST with it undone:
    missed (W19 no longer holds; the death ends it). The High-Risk Panel sitting on the case
    on Friday 10 July (the act that does W19: it is not ticked off by hand, waived or stood
    for by an oversight entry), typed in after the change or death, corrects it, and leaves
    what the same acts typed in time order leave: the next review, due Monday 10 August,
    missed at the change or death; nothing open, nothing owed after it (was: the missed
    review stayed missed and no next review was raised; fix40a's correction covered a
    completion, waiver or oversight entry, none of which W19 allows)."""
    t = wokingham
    records = []
    for typed_first in (True, False):
        case_id = str((await t.open_case(opened_at="2026-06-01T09:00:00+01:00"))["data"]["id"])
        r = await patch_case(t, case_id, {"mappa_category": 2, "mappa_level": 1,
                                          "occurred_at": "2026-06-02T10:00:00+01:00"})
        assert r.status_code == 200, r.text

        async def level_two(case_id: str = case_id) -> None:
            if end == "death":
                r = await t.client.post(f"/v1/cases/{case_id}/events",
                                        json={"type": "death", "occurred_at": LAPSE},
                                        headers=t.auth("case_holder"))
                assert r.status_code == 201, r.text
                return
            r = await patch_case(t, case_id, {"mappa_level": 2, "occurred_at": LAPSE})
            assert r.status_code == 200, r.text

        if not typed_first:
            await level_two()
        [step] = [s for s in await steps_of(t, case_id, "open" if typed_first else "missed")
                  if s["code"] == W19]
        assert step["due_at"] == "2026-07-02T09:00:00Z"
        await held_high_risk_panel(t, case_id, "2026-07-10T10:00:00+01:00")
        if typed_first:
            await level_two()
        records.append(await _w19_record(t, case_id))
    assert records[0] == records[1] == [
        ("done", "2026-07-02T09:00:00Z", "2026-07-10T09:00:00Z"),
        ("missed", "2026-08-10T09:00:00Z", None)], records
