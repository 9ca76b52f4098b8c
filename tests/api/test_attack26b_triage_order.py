"""W14: the exploitation tool, then its triage (attack 26b, ATTACK26B-8).

Wokingham, Contextual Safeguarding: "After the tool has been completed, it must be emailed to
triage@wokingham.gov.uk so that a screening be completed and decisions be made regarding
thresholds and referrals to the next EMRAC". The EMRAC triage referral carries the completed
tool: sent while the tool is not done (or dated before it was done) it is 409 ``steps-first``,
naming the step; once the tool is recorded done, the send stands and closes
``submit_to_triage``.

Dates: the concern on Thursday 1 April 2027 10:00 (BST); the tool done on Friday 2 April."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from app.core import clock
from tests.api.integrity_support import assert_problem
from tests.api.management import open_steps, post_event
from tests.conftest import Tenant


@pytest.fixture(autouse=True)
def on_20_april(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "now", lambda: datetime(2027, 4, 20, 9, 0, tzinfo=UTC))


async def _triage_referral(t: Tenant, case_id: str, kind: str = "emrac") -> str:
    """A referral of ``kind`` (the EMRAC triage's by default) made (drafted and submitted) on
    1 April at 11:00."""
    r = await t.client.post(f"/v1/cases/{case_id}/referrals",
                            json={"kind": kind, "occurred_at": "2027-04-01T11:00:00+01:00"},
                            headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text
    referral = r.json()["data"]["id"]
    r = await t.client.post(f"/v1/referrals/{referral}/submit",
                            json={"occurred_at": "2027-04-01T11:00:00+01:00"},
                            headers=t.auth("case_holder"))
    assert r.status_code == 200, r.text
    return str(referral)


async def _send(t: Tenant, referral: str, at: str) -> Any:
    return await t.client.post(f"/v1/referrals/{referral}/send", json={"occurred_at": at},
                               headers=t.auth("case_holder"))


async def test_W14_triage_is_sent_only_after_the_tool_is_completed(wokingham: Tenant) -> None:
    """ATTACK26B-8 (repro w2_chain.py): the triage referral sent at 11:30 on 1 April, the tool
    still open, was 200 and closed ``submit_to_triage`` a day before the tool existed. Now 409
    ``steps-first`` naming ``complete_exploitation_tool``, nothing changed; a send dated before
    the tool's completion is refused alike; one after it stands and closes the step."""
    t = wokingham
    case_id = (await t.open_case(csc_status="none"))["data"]["id"]
    await post_event(t, case_id, type="exploitation_concern",
                     occurred_at="2027-04-01T10:00:00+01:00")
    referral = await _triage_referral(t, case_id)
    refused = await _send(t, referral, "2027-04-01T11:30:00+01:00")
    problem = assert_problem(refused, 409)
    assert problem["type"].endswith("/steps-first")
    assert [s["code"] for s in problem["steps"]] == ["complete_exploitation_tool"]
    steps = await open_steps(t, case_id)
    assert {"complete_exploitation_tool", "submit_to_triage"} <= set(steps)
    tool = steps["complete_exploitation_tool"]["id"]
    r = await t.client.post(f"/v1/next-steps/{tool}/complete",
                            json={"note": "Tool completed with the child",
                                  "occurred_at": "2027-04-02T10:00:00+01:00"},
                            headers=t.auth("case_holder"))
    assert r.status_code == 200, r.text
    early = await _send(t, referral, "2027-04-01T11:30:00+01:00")
    assert assert_problem(early, 409)["type"].endswith("/steps-first")
    sent = await _send(t, referral, "2027-04-02T11:00:00+01:00")
    assert sent.status_code == 200, sent.text
    done = await open_steps(t, case_id, "done")
    assert done["submit_to_triage"]["completed_at"] == "2027-04-02T10:00:00Z"
    assert "submit_to_triage" not in await open_steps(t, case_id)


async def test_W15_nrm_is_sent_only_once_the_tool_has_found_reasonable_grounds(
        wokingham: Tenant) -> None:
    """W15 (Contextual Safeguarding): "Where there are concerns that a child might be a potential
    victim of human trafficking and modern slavery and the tool has identified reasonable
    grounds in this respect, then a referral should be made to the National Referral
    Mechanism (NRM)." Attack pass 30, ATTACK30B-11: for a child not open to social care, with
    the exploitation tool (W14) still open, the NRM referral was sent (200) and closed
    ``nrm_referral`` before the tool existed. Now 409 ``steps-first`` naming the tool until it
    is recorded done; then the send stands. A child open to social care owes no tool: its NRM
    referral is sent at once."""
    t = wokingham
    case_id = (await t.open_case(csc_status="none"))["data"]["id"]
    await post_event(t, case_id, type="exploitation_concern",
                     occurred_at="2027-04-01T10:00:00+01:00")
    await post_event(t, case_id, type="trafficking_concern",
                     occurred_at="2027-04-01T10:05:00+01:00")
    steps = await open_steps(t, case_id)
    assert steps["nrm_referral"]["policy"]["rule"] == "W15"
    referral = await _triage_referral(t, case_id, "nrm")
    problem = assert_problem(await _send(t, referral, "2027-04-01T11:30:00+01:00"), 409)
    assert problem["type"].endswith("/steps-first")
    assert [s["code"] for s in problem["steps"]] == ["complete_exploitation_tool"]
    assert "nrm_referral" in await open_steps(t, case_id)
    r = await t.client.post(f"/v1/next-steps/{steps['complete_exploitation_tool']['id']}/complete",
                            json={"note": "Tool found reasonable grounds of trafficking",
                                  "occurred_at": "2027-04-02T10:00:00+01:00"},
                            headers=t.auth("case_holder"))
    assert r.status_code == 200, r.text
    sent = await _send(t, referral, "2027-04-02T11:00:00+01:00")
    assert sent.status_code == 200, sent.text
    assert "nrm_referral" not in await open_steps(t, case_id)

    open_to_csc = (await t.open_case(csc_status="cin"))["data"]["id"]
    await post_event(t, open_to_csc, type="exploitation_concern",
                     occurred_at="2027-04-01T10:00:00+01:00")
    await post_event(t, open_to_csc, type="trafficking_concern",
                     occurred_at="2027-04-01T10:05:00+01:00")
    referral = await _triage_referral(t, open_to_csc, "nrm")
    sent = await _send(t, referral, "2027-04-01T11:30:00+01:00")
    assert sent.status_code == 200, sent.text
    assert "nrm_referral" not in await open_steps(t, open_to_csc)
