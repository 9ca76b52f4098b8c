"""Steps superseded by a back-dated act are on the case timeline at that act's time, with when
it was typed in beside (``recorded_at``), as the act's derived changes of the case's fields are
(attack 29, ATK29-1; ATTACK26B-2 for the fields). ``as_of`` stays record time.

2026 dates: the case opened Thursday 15 October; SWB high judged Tuesday 20 October (typed
then, 10:05); SWB medium judged Tuesday 27 October, typed in on Monday 2 November.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.fidelity_support import FidelityWeek, pin
from tests.api.integrity_support import closed_prevention_case, record_charge
from tests.api.management import case_at
from tests.conftest import Tenant

TYPED = "2026-11-02T10:00:00Z"
# What SWB high raised that SWB medium no longer asks for (Somerset 4.5's monthly review, 9's
# register discussion, 3.2.3's referral to the MARP with the child's and carer's views, 6.2).
LAPSED = ["discuss_register_monthly", "monthly_manager_review", "refer_to_panel",
          "seek_child_and_carer_views"]


async def _timeline(t: Tenant, case_id: str) -> list[dict[str, Any]]:
    r = await t.client.get(f"/v1/cases/{case_id}/timeline", params={"limit": 200},
                           headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    return r.json()["data"]  # type: ignore[no-any-return]


async def _judge(t: Tenant, case_id: str, level: str, at: str) -> None:
    r = await t.client.post(f"/v1/cases/{case_id}/judgements", json={
        "domain": "swb", "level": level, "occurred_at": at,
        "rationale": "Reviewed with the family."}, headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text


async def _lowered_late(t: Tenant, monkeypatch: pytest.MonkeyPatch) -> str:
    """SWB high on 20 October (typed then); SWB medium dated 27 October typed 2 November."""
    pin(monkeypatch, 2026, 10, 15, 9, 0)
    case_id = str((await t.open_case(opened_at="2026-10-15T09:00:00Z"))["data"]["id"])
    pin(monkeypatch, 2026, 10, 20, 10, 5)
    await _judge(t, case_id, "high", "2026-10-20T10:00:00Z")
    pin(monkeypatch, 2026, 11, 2, 10, 0)
    await _judge(t, case_id, "medium", "2026-10-27T10:00:00Z")
    return case_id


async def test_ATK29_1_steps_superseded_by_a_back_dated_judgement_are_at_its_date(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """Somerset 4.3: "Re-classification to lower judgement ratings may follow as a result of
    progress made": SWB medium judged on 27 October, typed in on 2 November, ends the duties
    SWB high asked for (4.5's monthly review, 9's register discussion, 3.2.3/6.2's referral
    with the views). Each supersession is on the timeline at 27 October 10:00Z, right after
    the judgement and its field changes, recorded_at 2 November (they were at 2 November)."""
    case_id = await _lowered_late(somerset, monkeypatch)
    entries = await _timeline(somerset, case_id)
    superseded = sorted((e["details"]["code"], e["at"], e["recorded_at"]) for e in entries
                        if e["kind"] == "step" and e["action"] == "superseded")
    assert superseded == [(code, "2026-10-27T10:00:00Z", TYPED) for code in LAPSED]
    after = [(e["kind"], e["action"]) for e in entries if e["at"] == "2026-10-27T10:00:00Z"]
    assert after == [("judgement", "recorded"), ("case", "fields_changed"),
                     ("case", "fields_changed"), *[("step", "superseded")] * 4], after
    assert all(e["at"] <= e["recorded_at"] for e in entries)


async def test_ATK29_1_as_of_stays_record_time(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """README: "as_of is record time: what this service held at that instant". On 30 October
    (after the lowering's date, before it was typed in) the service still held SWB high's
    monthly review open; on 2 November at 10:00 it did not."""
    case_id = await _lowered_late(somerset, monkeypatch)
    r = await case_at(somerset, case_id, "2026-10-30T12:00:00Z")
    assert r.status_code == 200, r.text
    assert set(LAPSED) <= {s["code"] for s in r.json()["data"]["open_steps"]}
    r = await case_at(somerset, case_id, TYPED)
    assert r.status_code == 200, r.text
    assert not set(LAPSED) & {s["code"] for s in r.json()["data"]["open_steps"]}


async def test_ATK29_1_a_step_a_panel_overtook_is_on_the_timeline_at_the_sitting(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """Somerset 6.2: "Child and parent/carer views will be sought before the initial panel":
    the MARP of Tuesday 1 September 2026 (decided 16:00 BST) sits with the views still
    unsought; its decision typed in on Thursday 3 September. The views, missed at the sitting
    (fix36e; they were "overtaken", superseded), are on the timeline at the decision's time with
    recorded_at 3 September (it was missing: the act's audit entry was not read)."""
    pin(monkeypatch, 2026, 8, 24, 9, 30)
    week = await FidelityWeek.start(somerset)
    pin(monkeypatch, 2026, 9, 2, 9, 0)
    await week.rosh_high()
    pin(monkeypatch, 2026, 9, 2, 10, 0)
    await week.book_panel(kind="marp")
    pin(monkeypatch, 2026, 9, 3, 9, 0)
    await week.decide(review_date="2026-10-01", rosh_level="high")
    overtaken = [(e["at"], e["recorded_at"], e["why"]) for e in await _timeline(
        somerset, week.case_id) if e["kind"] == "step" and e["action"] == "missed"
        and e["details"]["code"] == "seek_child_and_carer_views"]
    assert [(at, typed) for at, typed, _ in overtaken] == [
        ("2026-09-01T15:00:00Z", "2026-09-03T09:00:00Z")], overtaken
    assert overtaken[0][2].endswith(", not done: the Multi-Agency Risk Panel (MARP) sat on the "
                                    f"case before it was done (item {week.item_id})"), overtaken


async def test_ATK29_1_a_step_the_closure_set_aside_as_raised_is_at_the_closure(
        wokingham: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """Wokingham W7 (A24b-7): "It will be the responsibility of the case worker or their line
    manager to request a High-Risk Panel within two working days". Closed Monday 2 November
    2026 09:00 GMT (recorded 09:30); a charge that may raise ROSH to high, dated 08:40 while the
    case was open, typed at 10:00: the closure sets aside what it owed (raised at 08:40). On the
    timeline that is at the closure's 09:00, recorded_at 10:00 (it was at 10:00, after the
    closure and the steps' own raising)."""
    case_id = await closed_prevention_case(
        wokingham, monkeypatch, recorded_at=(2026, 11, 2, 9, 30),
        opened_at="2026-10-01T09:00:00+01:00", closed_at="2026-11-02T09:00:00Z")
    pin(monkeypatch, 2026, 11, 2, 10, 0)
    await record_charge(wokingham, case_id, "2026-11-02T08:40:00Z")
    entries = await _timeline(wokingham, case_id)
    aside = {e["details"]["code"]: (e["at"], e["recorded_at"]) for e in entries
             if e["kind"] == "step" and e["action"] == "superseded"}
    charged = ("record_incident", "report_to_line_manager", "request_high_risk_panel")
    assert [aside[code] for code in charged] == [
        ("2026-11-02T09:00:00Z", "2026-11-02T10:00:00Z")] * 3, aside
    assert aside["complete_assessment"] == ("2026-11-02T09:00:00Z", "2026-11-02T09:30:00Z")
