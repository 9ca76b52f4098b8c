"""A back-dated act's derived changes are on the case timeline at the act's date (attack 26b,
ATTACK26B-2), with when they were typed in beside (``recorded_at``).

2026 dates: the case opened Thursday 15 October (typed then); a ROSH high judged Tuesday 20
October and a child protection plan dated Wednesday 21 October, both typed in on Monday 2
November.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.fidelity_support import pin
from tests.api.integrity_support import patch_case
from tests.api.management import case_at
from tests.conftest import Tenant

TYPED = "2026-11-02T10:00:00Z"


async def _timeline(t: Tenant, case_id: str) -> list[dict[str, Any]]:
    r = await t.client.get(f"/v1/cases/{case_id}/timeline", params={"limit": 200},
                           headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    return r.json()["data"]  # type: ignore[no-any-return]


async def _back_dated_high(t: Tenant, monkeypatch: pytest.MonkeyPatch) -> str:
    """A case opened 15 October; a ROSH high dated 20 October typed in on 2 November."""
    pin(monkeypatch, 2026, 10, 15, 9, 0)
    case_id = (await t.open_case(opened_at="2026-10-15T09:00:00Z"))["data"]["id"]
    pin(monkeypatch, 2026, 11, 2, 10, 0)
    r = await t.client.post(f"/v1/cases/{case_id}/judgements", json={
        "domain": "rosh", "level": "high", "occurred_at": "2026-10-20T10:00:00Z",
        "rationale": "Serious violence toward a peer."}, headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text
    return str(case_id)


async def test_ATTACK26B_2_back_dated_judgements_rating_and_register_at_its_date(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """Somerset 9: "A list of High / Very High ROSH / Safety and Well-Being concerns will be
    maintained"; README: the timeline "lists everything in the order it happened". The case
    went on the register and was rated high by the judgement of 20 October: the changes of its
    ``ratings`` and ``on_register`` are at 20 October 10:00 (recorded 2 November), after the
    judgement and before the steps it raised, not on 2 November after them."""
    case_id = await _back_dated_high(somerset, monkeypatch)
    entries = await _timeline(somerset, case_id)
    changed = [e for e in entries if e["action"] == "fields_changed"]
    fields = sorted(f for e in changed for f in e["details"]["changes"])
    assert fields == ["on_register", "ratings"], changed
    assert {(e["at"], e["recorded_at"]) for e in changed} == {("2026-10-20T10:00:00Z", TYPED)}
    order = [(e["kind"], e["action"]) for e in entries]
    judged = order.index(("judgement", "recorded"))
    assert order[judged + 1:judged + 3] == [("case", "fields_changed")] * 2, order
    assert order[judged + 3:] == [("step", "created")] * (len(order) - judged - 3), order


async def test_ATTACK26B_2_back_dated_change_of_the_case_at_its_date(
        wokingham: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """A change of the case's fields sent with its ``occurred_at`` (a child protection plan
    from 21 October, typed in on 2 November) is on the timeline at 21 October, before the
    judgement typed in before it but dated 22 October."""
    pin(monkeypatch, 2026, 10, 15, 9, 0)
    case_id = (await wokingham.open_case(opened_at="2026-10-15T09:00:00Z"))["data"]["id"]
    pin(monkeypatch, 2026, 11, 2, 9, 0)
    r = await wokingham.client.post(f"/v1/cases/{case_id}/judgements", json={
        "domain": "swb", "level": "medium", "occurred_at": "2026-10-22T10:00:00Z"},
        headers=wokingham.auth("case_holder"))
    assert r.status_code == 201, r.text
    pin(monkeypatch, 2026, 11, 2, 10, 0)
    r = await patch_case(wokingham, case_id, {"csc_status": "cp",
                                              "occurred_at": "2026-10-21T10:00:00Z"})
    assert r.status_code == 200, r.text
    entries = await _timeline(wokingham, case_id)
    plan = [e for e in entries if e["action"] == "fields_changed"
            and "csc_status" in e["details"]["changes"]]
    assert [(e["at"], e["recorded_at"]) for e in plan] == [("2026-10-21T10:00:00Z", TYPED)]
    order = [(e["kind"], e["action"], e["at"]) for e in entries if e["kind"] != "step"]
    assert order.index(("case", "fields_changed", "2026-10-21T10:00:00Z")) \
        < order.index(("judgement", "recorded", "2026-10-22T10:00:00Z")), order


async def test_as_of_stays_record_time_for_a_back_dated_judgement(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """README: "``as_of`` is record time: an act counts once it had both happened and been
    recorded (a judgement back-dated later is not shown as known earlier)". On 25 October the
    service held no rating and the case was off the register (what it answered then, it
    answers still); from 2 November, high and on the register, the rating dated 20 October."""
    case_id = await _back_dated_high(somerset, monkeypatch)
    then = (await case_at(somerset, case_id, "2026-10-25T10:00:00Z")).json()["data"]
    assert (then["ratings"]["rosh"], then["on_register"]) == (None, False)
    then = (await case_at(somerset, case_id, TYPED)).json()["data"]
    assert (then["ratings"]["rosh"]["level"], then["ratings"]["rosh"]["recorded_at"],
            then["on_register"]) == ("high", "2026-10-20T10:00:00Z", True)
