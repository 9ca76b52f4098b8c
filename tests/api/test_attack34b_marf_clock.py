"""W9's MARF runs from the assessment being completed, not from a panel's decision (attack 34b,
ATTACK34B-4).

Wokingham, Management of Safety and Well-being concerns: "If a child with high or very high SWB
concerns is **not** already open to Children Social Care, within two working days of the
assessment being completed the PYJS case worker must complete a MARF referral"; Assessment
Reviews: an assessment "is not considered complete until it has been counter signed by a line
manager"; High Risk Panel: "the intervention plan and Asset+ risk management plan are updated
with any actions resulting from the High Risk Panel meeting".

Dates: the High-Risk Panel sits on Thursday 25 March 2027 14:00 GMT, before Good Friday (26
March), the clocks going forward (Sunday 28 March) and Easter Monday (29 March); the Asset+
carrying its classification is countersigned on Thursday 1 April 2027 10:00 BST."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.core import clock
from tests.api.act_order_support import decide_at_sitting
from tests.api.management import open_steps
from tests.api.test_assessments import countersign, draft, submit
from tests.conftest import Tenant

MARF_NOTE = ("Within two working days of the assessment being completed: the SWB judgement was "
             "recorded without its assessment")


@pytest.fixture(autouse=True)
def on_20_april(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "now", lambda: datetime(2027, 4, 20, 9, 0, tzinfo=UTC))


async def test_W9_panel_classification_waits_for_the_assessment_to_start_the_marf_clock(
        wokingham: Tenant) -> None:
    """W9: "within two working days of the assessment being completed". The panel's SWB high
    on Thursday 25 March started the MARF's two working days at the decision (due Wednesday 31
    March 22:59:59Z, after Good Friday and Easter Monday). Now the MARF (case_holder, W9,
    "Management of Safety and Well-being concerns") is owed undated, saying why, and the Asset+
    countersigned on Thursday 1 April 10:00 BST dates it: the end of Monday 5 April (BST),
    22:59:59Z."""
    t = wokingham
    case_id = (await t.open_case(csc_status="none",
                                 opened_at="2027-03-01T09:00:00Z"))["data"]["id"]
    r = await t.client.post(f"/v1/cases/{case_id}/referrals",
                            json={"kind": "panel", "occurred_at": "2027-03-22T10:00:00Z"},
                            headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text
    r = await t.client.post(f"/v1/referrals/{r.json()['data']['id']}/submit",
                            json={"occurred_at": "2027-03-22T10:00:00Z"},
                            headers=t.auth("case_holder"))
    assert r.status_code == 200, r.text
    r = await decide_at_sitting(t, case_id, "high_risk_panel", "2027-03-25T14:00:00Z", {
        "swb_level": "high", "review_date": "2027-04-22", "minutes": "SWB agreed high.",
        "actions": [{"description": "Asset+ updated with the panel's plan",
                     "owner_id": "case_holder-1", "due_date": "2027-04-01"}]})
    assert r.status_code == 200, r.text
    marf = (await open_steps(t, case_id))["marf_referral"]
    assert (marf["actor"], marf["due_at"], marf["policy"]["rule"], marf["policy"]["ref"]) == (
        "case_holder", None, "W9", "Management of Safety and Well-being concerns")
    assert MARF_NOTE in marf["note"]
    assessment = await draft(t, case_id, stage="review", occurred_at="2027-03-29T10:00:00+01:00")
    assert (await submit(t, assessment["id"], "2027-03-31T16:00:00+01:00")).status_code == 200
    r = await countersign(t, assessment["id"], "2027-04-01T10:00:00+01:00")
    assert r.status_code == 200, r.text
    dated = (await open_steps(t, case_id))["marf_referral"]
    assert (dated["id"], dated["actor"], dated["due_at"], dated["policy"]["rule"]) == (
        marf["id"], "case_holder", "2027-04-05T22:59:59Z", "W9")
