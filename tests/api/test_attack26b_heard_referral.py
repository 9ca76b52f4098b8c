"""A panel referral the panel has decided on is answered: it is no longer withdrawn or declined
(attack 26b, ATTACK26B-6).

Somerset YJT 2023, 3.2.3: "The case holder will refer the case to the next YJT MARP by
contacting the appropriate administrator and completion of section 1 of the MARP referral
form"; 7.1.6: the MARP agrees the plan and "a date for review". Wokingham PYJS 2024, High Risk
Panel: "At the end of the Panel, a specific action plan and risk classification should be
agreed". Contract: referral states ``accepted``, ``declined``, ``withdrawn``; illegal
transitions 409; "409 …/conflicting-transition (a racing act lost)".

The referral stayed ``sent`` after the panel's decision on the item that carried it, so the
case holder could still withdraw it (200): that re-opened S7 "refer to the next MARP" and S8
"seek views", due at the MARP that had already sat (overdue at once); raced with the decision,
both won. Now the decision accepts the referral it heard (in its history, audited), and a
withdrawal, decline or acceptance after it is 409 conflicting-transition; no step changes.
The same for Wokingham's High-Risk Panel, and for an item that names no referral (the case's
standing panel referral made before the sitting is the one heard).
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from app.core.config import Settings
from tests.api.integrity_support import assert_problem, audit_of, steps_of
from tests.api.test_panels import schedule
from tests.conftest import Tenant, make_tenant

PACKS = ["somerset-yjt-2023", "wokingham-pyjs-2024"]


def _kind(t: Tenant) -> str:
    return "high_risk_panel" if t.pack.startswith("wokingham") else "marp"


async def _sent_referral(t: Tenant, case_id: str) -> str:
    """A panel referral with the child's and carer's views, made, submitted and sent on
    Tuesday 1 September 2026."""
    r = await t.client.post(f"/v1/cases/{case_id}/referrals", json={
        "kind": "panel", "occurred_at": "2026-09-01T10:00:00+01:00",
        "details": {"child_views": "Wants to be heard", "carer_views": "Supportive"}},
        headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text
    referral_id = str(r.json()["data"]["id"])
    for action in ("submit", "send"):
        r = await t.client.post(f"/v1/referrals/{referral_id}/{action}",
                                json={"occurred_at": "2026-09-01T11:00:00+01:00"},
                                headers=t.auth("case_holder"))
        assert r.status_code == 200, r.text
    return referral_id


async def _listed(t: Tenant, case_id: str, referral_id: str | None, day: int) -> tuple[str, str]:
    """A panel on ``day`` September 2026 at 10:00 with the case on its agenda (through the
    referral when named): (panel id, item id)."""
    panel = await schedule(t.client, t, f"2026-09-{day:02d}T10:00:00+01:00", _kind(t))
    body: dict[str, Any] = {"case_id": case_id, "presenter_id": "case_holder-1"}
    if referral_id is not None:
        body["referral_id"] = referral_id
    r = await t.client.post(f"/v1/panels/{panel['id']}/items", json=body,
                            headers=t.auth("panel_admin"))
    assert r.status_code == 201, r.text
    return str(panel["id"]), str(r.json()["data"]["id"])


def _decision(t: Tenant, panel_id: str, item_id: str, day: int) -> Any:
    body = {"actions": [{"description": "Joint visit with the school", "owner_id": "case_holder-1",
                         "due_date": "2026-09-30"}],
            "rosh_level": "high", "review_date": "2026-10-15", "minutes": "Plan agreed",
            "occurred_at": f"2026-09-{day:02d}T12:00:00+01:00"}
    return t.client.post(f"/v1/panels/{panel_id}/items/{item_id}/decision", json=body,
                         headers=t.auth("chair", "chair-1"))


def _undo(t: Tenant, referral_id: str, action: str) -> Any:
    role = "case_holder" if action == "withdraw" else "panel_admin"
    return t.client.post(f"/v1/referrals/{referral_id}/{action}",
                         json={"note": f"{action} after the sitting",
                               "occurred_at": "2026-09-11T10:00:00+01:00"},
                         headers=t.auth(role))


async def _referral(t: Tenant, referral_id: str) -> dict[str, Any]:
    r = await t.client.get(f"/v1/referrals/{referral_id}", headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    return dict(r.json()["data"])


def _open(steps: list[dict[str, Any]]) -> list[tuple[str, str | None, str | None]]:
    return sorted((s["code"], s["due_at"], s["assignee_id"]) for s in steps)


@pytest.mark.parametrize("named", [True, False], ids=["item-names-it", "item-names-none"])
@pytest.mark.parametrize("pack", PACKS)
async def test_a_referral_the_panel_decided_on_is_not_withdrawn_or_declined(
    pack: str, named: bool, client: httpx.AsyncClient, settings: Settings
) -> None:
    """Referral sent 1 Sep; panel Thu 10 Sep with the case on its agenda; decision 200. The
    referral is ``accepted`` by the decision (history and audit say so, allowed_actions
    empty); then withdraw and decline are each 409 referral-heard naming the item, accept 409
    conflicting-transition (current_status accepted), and the case's open steps are
    unchanged (no S7/S8 back)."""
    t = await make_tenant(client, settings, pack)
    case_id = (await t.open_case())["data"]["id"]
    referral_id = await _sent_referral(t, case_id)
    panel_id, item_id = await _listed(t, case_id, referral_id if named else None, 10)
    r = await _decision(t, panel_id, item_id, 10)
    assert r.status_code == 200, r.text
    referral = await _referral(t, referral_id)
    assert referral["status"] == "accepted"
    assert referral["allowed_actions"] == []
    last = referral["history"][-1]
    assert (last["action"], last["from"], last["by"], last["role"]) == (
        "accept", "sent", "chair-1", "chair")
    assert last["at"] == "2026-09-10T11:00:00Z"
    audit = await audit_of(t, case_id)
    assert [e["action"] for e in audit if e["entity_id"] == referral_id][-1] == "referral.accept"
    before = _open(await steps_of(t, case_id))
    for action in ("withdraw", "decline"):
        body = assert_problem(await _undo(t, referral_id, action), 409)
        assert body["type"].endswith("/referral-heard"), body
        assert body["panel_item_id"] == item_id
    body = assert_problem(await _undo(t, referral_id, "accept"), 409)
    assert body["type"].endswith("/conflicting-transition"), body
    assert body["current_status"] == "accepted"
    assert _open(await steps_of(t, case_id)) == before
    assert (await _referral(t, referral_id))["status"] == "accepted"


@pytest.mark.parametrize("pack", PACKS)
async def test_a_referral_withdrawn_before_the_panel_sat_stays_withdrawn(
    pack: str, client: httpx.AsyncClient, settings: Settings
) -> None:
    """The decision accepts only a referral still standing: one withdrawn before the sitting
    (the case stays on the agenda by another route: a second referral) stays withdrawn, and
    the second, which the item names, is the one accepted."""
    t = await make_tenant(client, settings, pack)
    case_id = (await t.open_case())["data"]["id"]
    first = await _sent_referral(t, case_id)
    second = await _sent_referral(t, case_id)
    panel_id, item_id = await _listed(t, case_id, second, 10)
    r = await t.client.post(f"/v1/referrals/{first}/withdraw",
                            json={"note": "duplicate", "occurred_at": "2026-09-02T10:00:00+01:00"},
                            headers=t.auth("case_holder"))
    assert r.status_code == 200, r.text
    r = await _decision(t, panel_id, item_id, 10)
    assert r.status_code == 200, r.text
    assert (await _referral(t, first))["status"] == "withdrawn"
    assert (await _referral(t, second))["status"] == "accepted"


@pytest.mark.parametrize("named", [True, False], ids=["item-names-it", "item-names-none"])
@pytest.mark.parametrize("pack", PACKS)
async def test_withdrawal_after_the_sitting_before_the_decision_is_typed_is_refused(
    pack: str, named: bool, client: httpx.AsyncClient, settings: Settings
) -> None:
    """The panel sat on Thu 10 Sep; its decision is not typed yet. Withdrawing (or declining)
    the referral dated 11 Sep is 409 referral-heard naming the item and the sitting, nothing
    written; the decision is then recorded (200) and accepts it. Dated 9 Sep (before the
    sitting) the withdrawal stands and takes the case off that agenda."""
    t = await make_tenant(client, settings, pack)
    case_id = (await t.open_case())["data"]["id"]
    referral_id = await _sent_referral(t, case_id)
    panel_id, item_id = await _listed(t, case_id, referral_id if named else None, 10)
    before = _open(await steps_of(t, case_id))
    for action in ("withdraw", "decline"):
        body = assert_problem(await _undo(t, referral_id, action), 409)
        assert body["type"].endswith("/referral-heard"), body
        assert (body["panel_item_id"], body["sat_at"]) == (item_id, "2026-09-10T09:00:00Z")
    assert _open(await steps_of(t, case_id)) == before
    assert (await _referral(t, referral_id))["status"] == "sent"
    r = await _decision(t, panel_id, item_id, 10)
    assert r.status_code == 200, r.text
    assert (await _referral(t, referral_id))["status"] == "accepted"

    other = (await t.open_case())["data"]["id"]
    referral_id = await _sent_referral(t, other)
    panel_id, item_id = await _listed(t, other, referral_id if named else None, 17)
    r = await t.client.post(f"/v1/referrals/{referral_id}/withdraw",
                            json={"note": "no longer needed",
                                  "occurred_at": "2026-09-09T10:00:00+01:00"},
                            headers=t.auth("case_holder"))
    assert r.status_code == 200, r.text
    r = await t.client.get(f"/v1/panels/{panel_id}", headers=t.auth("chair"))
    (item,) = [i for i in r.json()["data"]["items"] if i["id"] == item_id]
    assert item["withdrawn_at"] is not None


ROUNDS = 5
# Working days of September 2026 between the withdrawals' dates (2 and 11 September): a panel
# sits on a working day.
SITTING_DAYS = (3, 4, 7, 8, 9)


async def _race(t: Tenant, undo_at: str) -> list[str]:
    outcomes = []
    for n in range(ROUNDS):
        day = SITTING_DAYS[n]
        case_id = (await t.open_case())["data"]["id"]
        referral_id = await _sent_referral(t, case_id)
        panel_id, item_id = await _listed(t, case_id, referral_id, day)
        withdraw = t.client.post(f"/v1/referrals/{referral_id}/withdraw",
                                 json={"note": "raced", "occurred_at": undo_at},
                                 headers=t.auth("case_holder"))
        decision, withdrawal = await asyncio.gather(
            _decision(t, panel_id, item_id, day), withdraw)
        statuses = sorted([decision.status_code, withdrawal.status_code])
        assert statuses == [200, 409], (decision.text, withdrawal.text)
        referral = await _referral(t, referral_id)
        r = await t.client.get(f"/v1/panels/{panel_id}", headers=t.auth("chair"))
        (item,) = [i for i in r.json()["data"]["items"] if i["id"] == item_id]
        audit = [e["action"] for e in await audit_of(t, case_id)
                 if e["entity_id"] in (referral_id, item_id)]
        reopened = [s for s in await steps_of(t, case_id)
                    if "that satisfied it was withdrawn" in (s.get("note") or "")]
        if decision.status_code == 200:
            outcomes.append("decision")
            assert assert_problem(withdrawal, 409)["type"].endswith("/referral-heard")
            assert referral["status"] == "accepted"
            assert item["decided_by"] == "chair-1"
            assert "referral.withdraw" not in audit
            assert audit.count("panel.decision") == 1
            assert reopened == []
        else:
            outcomes.append("withdrawal")
            body = assert_problem(decision, 409)
            assert body["type"].endswith("/conflicting-transition")
            assert body["current_status"] == "withdrawn"
            assert referral["status"] == "withdrawn"
            assert item["decided_by"] is None
            assert item["withdrawn_at"] is not None
            assert "panel.decision" not in audit
            assert audit.count("referral.withdraw") == 1
    return outcomes


@pytest.mark.parametrize("pack", PACKS)
async def test_race_decision_against_a_withdrawal_dated_after_the_sitting(
    pack: str, client: httpx.AsyncClient, settings: Settings
) -> None:
    """Raced (each request its own session): the chair records the decision while the case
    holder withdraws, dated the day after the sitting, the referral the item carries. The
    panel heard it whichever is first: the decision stands every time, the withdrawal is 409
    referral-heard; the referral accepted, nothing re-opened, the decision audited once."""
    t = await make_tenant(client, settings, pack)
    assert await _race(t, "2026-09-11T10:00:00+01:00") == ["decision"] * ROUNDS


@pytest.mark.parametrize("pack", PACKS)
async def test_race_decision_against_a_withdrawal_dated_before_the_sitting(
    pack: str, client: httpx.AsyncClient, settings: Settings
) -> None:
    """The withdrawal is dated 2 Sep, before every sitting: whichever is first under the case's
    lock wins; the decision first -> withdrawal 409 referral-heard; the withdrawal first ->
    the item is off the agenda (no other route) and the decision 409 conflicting-transition
    (withdrawn). Each round's records tell the winner's story alone."""
    t = await make_tenant(client, settings, pack)
    outcomes = await _race(t, "2026-09-02T10:00:00+01:00")
    assert len(outcomes) == ROUNDS
