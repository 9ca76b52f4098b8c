"""The line manager's acknowledgement of a judgement's rationale when the countersignature of its
assessment is already on file (attack 37, ATTACK37-9; fix39a).

Wokingham, Matrix of impact / likelihood judgements: "the case worker must appropriately explain
in the evidence box why they are deviating from the harm matrix so that the assessment is
defensible. By signing off the assessment, the line manager will effectively endorse the
judgement." ROSH and SWB interplay: "Only in exceptional circumstances will the matrix not be
required, which will need to be explained in the evidence box by the case worker and
specifically acknowledged and signed off by the line manager when they provide oversight of the
assessment."

A judgement recorded with an Asset+ that asks for that acknowledgement (M2: a ROSH level off the
matrix; M8: an SWB judgement on an Asset+ without the matrix), dated before the Asset+'s
countersignature: typed in time order, the countersignature endorses it (the step is done at the
countersignature, by the manager who signed); typed after the countersignature, the step was
left open, owed to the line manager for good. The same history in any typing order is one
record (docs/integrating.md §7).

Dates: the start Asset+ written and submitted on Wednesday 12 August 2026; the judgement on
Thursday 13 August, 10:00 BST; the countersignature on Wednesday 19 August, 10:00 BST
(09:00Z).
"""

from __future__ import annotations

from typing import Any

from tests.api.act_order_support import MANAGER, same_as_time_order, steps_of, the_record
from tests.api.test_attack35b_marf_order import (  # noqa: F401 (on_21_september: the clock)
    Case,
    every_order,
    on_21_september,
)
from tests.conftest import Tenant

ACK = "acknowledge_rating_rationale"
WRITTEN = "2026-08-12T10:00:00+01:00"  # Wednesday 12 August 2026 (submitted 09:00 BST)
JUDGED_13 = "2026-08-13T10:00:00+01:00"  # Thursday 13 August 2026
SIGNED_19 = "2026-08-19T10:00:00+01:00"  # Wednesday 19 August 2026
DONE_19 = "2026-08-19T09:00:00Z"
WRITE, SIGN = "asset+ written 12 Aug", "countersigned 19 Aug"


async def with_acknowledgements(t: Tenant, case_id: str) -> tuple[Any, ...]:
    """The record (open steps, the case's fields), the rationale acknowledgements done among
    its steps: ("done", code, rule, actor, completed_at, completed_by, satisfied by), once
    each."""
    r = await t.client.get("/v1/next-steps", params={"case_id": case_id, "status": "done"},
                           headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    done = {("done", s["code"], s["policy"]["rule"], s["actor"], s["completed_at"],
             s["completed_by"], (s["satisfied_by"] or {}).get("type"))
            for s in r.json()["data"] if s["code"] == ACK}
    steps, fields = await the_record(t, case_id)
    return (*steps, *sorted(done)), fields


def acknowledged(record: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """The acknowledgements done in a record (:func:`with_acknowledgements`)."""
    return [s[1:] for s in record[0] if s[0] == "done"]


def swb_on_a(level: str, at: str) -> Any:
    """SWB judged at ``level`` with Asset+ "A", without the matrix (M8)."""
    return lambda c: c.judge_swb(level, at, assessment="A")


def rosh_off_the_matrix(at: str) -> Any:
    """ROSH judged medium with Asset+ "A", the matrix (major, likely) saying high (M2)."""
    async def act(c: Case) -> None:
        r = await c.t.client.post(f"/v1/cases/{c.id}/judgements", json={
            "domain": "rosh", "level": "medium", "impact": "major", "likelihood": "likely",
            "victims": ["ex-partner"], "rationale": "Professional gut: protective factors",
            "assessment_id": c.assessments["A"], "occurred_at": at},
            headers=c.t.auth("case_holder"))
        assert r.status_code == 201, r.text
    return act


def endorsed(rule: str) -> list[tuple[Any, ...]]:
    """The acknowledgement done by the countersignature of 19 August, by its line manager."""
    return [(ACK, rule, "line_manager", DONE_19, MANAGER, "assessment")]


async def test_M8_an_swb_judgement_without_the_matrix_is_endorsed_by_the_later_countersignature(
        wokingham: Tenant) -> None:
    """M8 (ROSH and SWB interplay): "Only in exceptional circumstances will the matrix not be
    required, which will need to be explained in the evidence box by the case worker and
    specifically acknowledged and signed off by the line manager when they provide oversight of
    the assessment". SWB very high judged on Thursday 13 August with the start Asset+ (no
    matrix), the Asset+ countersigned on Wednesday 19 August: the acknowledgement is done by
    the countersignature at 19 August 09:00Z, by its line manager, whether the judgement or the
    countersignature is typed first (countersignature first, it stayed open, due never)."""
    outcomes = await every_order(wokingham, [
        (WRITE, lambda c: c.write("A", WRITTEN, stage="start")),
        ("SWB very high 13 Aug", swb_on_a("very_high", JUDGED_13)),
        (SIGN, lambda c: c.sign("A", SIGNED_19)),
    ], after={SIGN: WRITE, "SWB very high 13 Aug": WRITE}, read=with_acknowledgements)
    assert len(outcomes) == 2
    record = same_as_time_order(outcomes)
    assert steps_of(record, ACK) == []
    assert acknowledged(record) == endorsed("M8")


async def test_M2_professional_gut_is_endorsed_by_the_later_countersignature_in_both_orders(
        wokingham: Tenant) -> None:
    """M2 (Matrix of impact / likelihood judgements): "the case worker must appropriately
    explain in the evidence box why they are deviating from the harm matrix ... By signing off
    the assessment, the line manager will effectively endorse the judgement". ROSH medium on
    Thursday 13 August with the start Asset+, the matrix (major, likely) saying high; the
    Asset+ countersigned on Wednesday 19 August: the acknowledgement is done by the
    countersignature at 19 August 09:00Z, by its line manager, in both typing orders."""
    outcomes = await every_order(wokingham, [
        (WRITE, lambda c: c.write("A", WRITTEN, stage="start")),
        ("ROSH medium 13 Aug", rosh_off_the_matrix(JUDGED_13)),
        (SIGN, lambda c: c.sign("A", SIGNED_19)),
    ], after={SIGN: WRITE, "ROSH medium 13 Aug": WRITE}, read=with_acknowledgements)
    assert len(outcomes) == 2
    record = same_as_time_order(outcomes)
    assert steps_of(record, ACK) == []
    assert acknowledged(record) == endorsed("M2")


async def test_M8_an_swb_judgement_at_the_countersignatures_instant_is_endorsed_by_it(
        wokingham: Tenant) -> None:
    """M8: "specifically acknowledged and signed off by the line manager when they provide
    oversight of the assessment". SWB very high judged with the Asset+ at the very instant it is
    countersigned (Wednesday 19 August, 10:00 BST): the countersignature comes after the
    judgements of its instant (docs §7, fix38b), so it endorses it in both typing orders."""
    outcomes = await every_order(wokingham, [
        (WRITE, lambda c: c.write("A", WRITTEN, stage="start")),
        ("SWB very high 19 Aug", swb_on_a("very_high", SIGNED_19)),
        (SIGN, lambda c: c.sign("A", SIGNED_19)),
    ], after={SIGN: WRITE, "SWB very high 19 Aug": WRITE}, read=with_acknowledgements)
    assert len(outcomes) == 2
    record = same_as_time_order(outcomes)
    assert steps_of(record, ACK) == []
    assert acknowledged(record) == endorsed("M8")


async def test_M8_two_judgements_before_the_countersignature_are_endorsed_in_every_order(
        wokingham: Tenant) -> None:
    """M8 (the tester's twin): SWB very high on Thursday 13 August and SWB high on Tuesday 18
    August, both with the Asset+ and without the matrix, the Asset+ countersigned on Wednesday
    19 August: no acknowledgement is left open, and the countersignature did it, in each of the
    six typing orders (the judgements typed after the countersignature left it open)."""
    outcomes = await every_order(wokingham, [
        (WRITE, lambda c: c.write("A", WRITTEN, stage="start")),
        ("SWB very high 13 Aug", swb_on_a("very_high", JUDGED_13)),
        ("SWB high 18 Aug", swb_on_a("high", "2026-08-18T10:00:00+01:00")),
        (SIGN, lambda c: c.sign("A", SIGNED_19)),
    ], after={SIGN: WRITE, "SWB very high 13 Aug": WRITE, "SWB high 18 Aug": WRITE},
        read=with_acknowledgements)
    assert len(outcomes) == 6
    record = same_as_time_order(outcomes)
    assert steps_of(record, ACK) == []
    assert acknowledged(record) == endorsed("M8")


async def test_M8_a_judgement_dated_after_the_countersignature_stays_to_acknowledge(
        wokingham: Tenant) -> None:
    """M8: the acknowledgement is given "when they provide oversight of the assessment"; an SWB
    judgement on the Asset+ dated Thursday 20 August, after its countersignature of the 19th,
    is not endorsed by it: the acknowledgement stays open for the line manager (M8, "ROSH and
    SWB interplay", no deadline) in both typing orders (the control: unchanged by fix39a)."""
    outcomes = await every_order(wokingham, [
        (WRITE, lambda c: c.write("A", WRITTEN, stage="start")),
        (SIGN, lambda c: c.sign("A", SIGNED_19)),
        ("SWB very high 20 Aug", swb_on_a("very_high", "2026-08-20T10:00:00+01:00")),
    ], after={SIGN: WRITE, "SWB very high 20 Aug": WRITE}, read=with_acknowledgements)
    assert len(outcomes) == 2
    record = same_as_time_order(outcomes)
    assert steps_of(record, ACK) == [
        (ACK, "line_manager", MANAGER, None, "M8", "ROSH and SWB interplay")]
    assert acknowledged(record) == []
