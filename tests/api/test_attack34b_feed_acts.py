"""A feed message that records an act answers the steps that act does (attack 34b, ATTACK34B-2).

Wokingham, Contextual Safeguarding (W14): "the Youth Justice Worker must complete the Pan
Berkshire ... (CE) and Serious Youth Violence (SYV) Indicator and Analysis Tool"; "After the tool
has been completed, it must be emailed to triage@wokingham.gov.uk so that a screening be completed
and decisions be made regarding thresholds and referrals to the next EMRAC". The EMRAC feed's
triage message shows both were done, tool first: it does ``complete_exploitation_tool`` and then
``submit_to_triage``, at its ``received_at``, as the case worker's send of the triage referral
does (once the tool is done). A MAPPA H from MAPPA stays MAPPA's message, not the service's
notification (test_practice_fidelity's W16 test).

Dates: the concern on Thursday 1 April 2027 10:00 BST (after the clocks changed on Sunday 28
March; Good Friday 26 March and Easter Monday 29 March before it); the triage's message
received on Tuesday 6 April 2027 09:30 BST (08:30Z)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from app.core import clock
from tests.api.management import open_steps, post_event
from tests.conftest import Tenant

RECEIVED = "2027-04-06T09:30:00+01:00"
RECEIVED_UTC = "2027-04-06T08:30:00Z"


@pytest.fixture(autouse=True)
def on_20_april(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "now", lambda: datetime(2027, 4, 20, 9, 0, tzinfo=UTC))


async def _case_with_concern(t: Tenant, ref: str, *events: str) -> str:
    case_id = (await t.open_case(csc_status="none", opened_at="2027-03-01T09:00:00Z",
                                 external_ref={"system": "IYSS", "id": ref}))["data"]["id"]
    for minute, kind in enumerate(events):
        await post_event(t, case_id, type=kind, occurred_at=f"2027-04-01T10:0{minute}:00+01:00")
    return str(case_id)


async def _deliver(t: Tenant, ref: str, kind: str, key: str) -> dict[str, Any]:
    r = await t.client.post(
        "/v1/feeds/emrac/referrals",
        json={"case_external_ref": {"system": "IYSS", "id": ref}, "kind": kind,
              "received_at": RECEIVED, "details": {"outcome": "screened"}},
        headers={**t.auth("feed", "feed-emrac", scope="feed:emrac"), "Idempotency-Key": key})
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def _done_by(step: dict[str, Any], referral_id: str) -> tuple[Any, ...]:
    return (step["status"], step["actor"], step["completed_at"], step["satisfied_by"],
            step["policy"]["rule"], step["policy"]["ref"])


async def _step_audit_order(t: Tenant, case_id: str) -> list[str]:
    """The step ids the case's audit (oldest first) shows done, in the order recorded."""
    r = await t.client.get(f"/v1/cases/{case_id}/audit", headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    return [str(e["entity_id"]) for e in r.json()["data"] if e["action"] == "step.done"]


async def test_W14_emrac_triage_from_the_feed_does_the_tool_then_the_triage(
        wokingham: Tenant) -> None:
    """W14: "After the tool has been completed, it must be emailed to triage@wokingham.gov.uk
    so that a screening be completed". The triage's message through the EMRAC feed (201) left
    ``complete_exploitation_tool`` and ``submit_to_triage`` open. Now both are done by it
    (case_holder's steps, W14, "Contextual Safeguarding"), at its received_at, linked to the
    referral, the tool's recorded first; neither is in the answer's next steps."""
    t = wokingham
    case_id = await _case_with_concern(t, "W14-feed", "exploitation_concern")
    assert {"complete_exploitation_tool", "submit_to_triage"} <= set(
        await open_steps(t, case_id))
    body = await _deliver(t, "W14-feed", "emrac", "w14-feed-1")
    referral_id = body["data"]["id"]
    assert {s["code"] for s in body["next_steps"]} & {
        "complete_exploitation_tool", "submit_to_triage"} == set()
    done = await open_steps(t, case_id, "done")
    expected = ("done", "case_holder", RECEIVED_UTC, {"type": "referral", "id": referral_id},
                "W14", "Contextual Safeguarding")
    assert _done_by(done["complete_exploitation_tool"], referral_id) == expected
    assert _done_by(done["submit_to_triage"], referral_id) == expected
    assert await _step_audit_order(t, case_id) == [
        done["complete_exploitation_tool"]["id"], done["submit_to_triage"]["id"]]


async def test_W15_nrm_referral_from_the_emrac_feed_does_the_tool_then_the_nrm(
        wokingham: Tenant) -> None:
    """W15: "Where there are concerns that a child might be a potential victim of human
    trafficking and modern slavery and the tool has identified reasonable grounds in this
    respect, then a referral should be made to the National Referral Mechanism (NRM)". An NRM
    referral delivered by the EMRAC feed is that referral: ``nrm_referral`` (W15) done by it,
    the tool (W14) first; the triage email (W14), which an NRM referral is not, stays open."""
    t = wokingham
    case_id = await _case_with_concern(t, "W15-feed", "exploitation_concern",
                                       "trafficking_concern")
    body = await _deliver(t, "W15-feed", "nrm", "w15-feed-1")
    referral_id = body["data"]["id"]
    done = await open_steps(t, case_id, "done")
    assert _done_by(done["nrm_referral"], referral_id) == (
        "done", "case_holder", RECEIVED_UTC, {"type": "referral", "id": referral_id},
        "W15", "Contextual Safeguarding")
    assert _done_by(done["complete_exploitation_tool"], referral_id) == (
        "done", "case_holder", RECEIVED_UTC, {"type": "referral", "id": referral_id},
        "W14", "Contextual Safeguarding")
    assert await _step_audit_order(t, case_id) == [
        done["complete_exploitation_tool"]["id"], done["nrm_referral"]["id"]]
    still = await open_steps(t, case_id)
    assert (still["submit_to_triage"]["status"], still["submit_to_triage"]["policy"]["rule"]) \
        == ("open", "W14")


async def test_W14_feed_triage_withdrawn_gives_both_steps_back(wokingham: Tenant) -> None:
    """W14: a triage message withdrawn (recorded in error) no longer answers the steps it did:
    ``complete_exploitation_tool`` and ``submit_to_triage`` are open again, as for a referral a
    person made and withdrew."""
    t = wokingham
    case_id = await _case_with_concern(t, "W14-back", "exploitation_concern")
    referral_id = (await _deliver(t, "W14-back", "emrac", "w14-back-1"))["data"]["id"]
    done = await open_steps(t, case_id, "done")
    assert [done[c]["satisfied_by"] for c in ("complete_exploitation_tool", "submit_to_triage")] \
        == [{"type": "referral", "id": referral_id}] * 2
    r = await t.client.post(f"/v1/referrals/{referral_id}/withdraw",
                            json={"note": "Sent for the wrong child",
                                  "occurred_at": "2027-04-06T11:00:00+01:00"},
                            headers=t.auth("case_holder"))
    assert r.status_code == 200, r.text
    again = await open_steps(t, case_id)
    assert [(again[c]["status"], again[c]["policy"]["rule"])
            for c in ("complete_exploitation_tool", "submit_to_triage")] == [
        ("open", "W14"), ("open", "W14")]
