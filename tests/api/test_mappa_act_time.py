"""Whether a MAPPA level was set later is decided by the act's time, by the MAPPA feed as by a
panel decision (left12c, after attack 22): the feed compared the panel decision's recording
time with its message's ``received_at``, while the panel decision's 409 compares the act's
time (when the level was set at the sitting). A panel that sat before a MAPPA message was
received, typed up after it arrived, set an older level: the message's newer level applies.

Wokingham, Referrals into MAPPA: "For MAPPA Level 1 children, risk management will be led by
the PYJS, and senior management oversight provided through the High-Risk Panel. For MAPPA Level
1 children, High Risk Panels should be held monthly."
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.api.fidelity_support import ok, pin
from tests.api.integrity_support import assert_problem, steps_of
from tests.api.test_mappa_conditions import _decide, _judge, _panel
from tests.conftest import Tenant

REF = {"system": "IYSS", "id": "MO-7"}


async def _deliver(t: Tenant, received_at: str, **details: Any) -> dict[str, Any]:
    r = await t.client.post("/v1/feeds/mappa/referrals", json={
        "case_external_ref": REF, "kind": "mappa_h", "received_at": received_at,
        "details": details}, headers={**t.auth("feed", "mappa-feed", scope="feed:mappa"),
                                      "Idempotency-Key": str(uuid.uuid4())})
    return await ok(r, 201)  # type: ignore[no-any-return]


async def _level(t: Tenant, case_id: str) -> int | None:
    r = await t.client.get(f"/v1/cases/{case_id}", headers=t.auth("line_manager"))
    return (await ok(r))["data"]["mappa_level"]  # type: ignore[no-any-return]


async def _case(t: Tenant) -> str:
    case_id: str = (await t.open_case(opened_at="2027-06-01T09:00:00Z", mappa_category=3,
                                      external_ref=REF))["data"]["id"]
    await _judge(t, case_id, "high", "2027-06-04T16:00:00+01:00")
    return case_id


def _decision(level: int, at: str, review: str) -> dict[str, Any]:
    return {"rosh_level": "high", "review_date": review, "mappa_level": level,
            "actions": [{"description": "MAPPA actions", "owner_id": "case_holder-1",
                         "due_date": review}],
            "minutes": f"MAPPA {level}", "occurred_at": at}


async def test_W19_a_mappa_message_received_after_a_panel_sat_typed_up_later_applies(
        wokingham: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """The High-Risk Panel of Wednesday 9 June 2027 decided MAPPA level 2, typed up on 1 July;
    the MAPPA unit's message received Friday 18 June (10:00 BST) says level 1. The panel's level
    is the older act: the message applies, the case is level 1, and the monthly High-Risk Panel
    review of a level 1 child is owed (the chair, a month after the sitting that heard it)."""
    t = wokingham
    pin(monkeypatch, 2027, 7, 1, 8, 0)
    case_id = await _case(t)
    panel = await _panel(t, "high_risk_panel", "2027-06-09T14:00:00+01:00")
    await ok(await _decide(t, panel, case_id,
                           _decision(2, "2027-06-09T15:00:00+01:00", "2027-07-09")))
    assert await _level(t, case_id) == 2
    await _deliver(t, "2027-06-18T10:00:00+01:00", mappa_level=1)
    assert await _level(t, case_id) == 1
    [review] = [s for s in await steps_of(t, case_id) if s["code"] == "high_risk_panel_review"]
    assert (review["actor"], review["policy"]["rule"], review["policy"]["ref"]) == (
        "chair", "W19", "Referrals into MAPPA")
    assert review["due_at"] is not None


async def test_W19_a_mappa_message_received_before_a_panel_sat_does_not_undo_its_level(
        wokingham: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """The reverse: the panel of Wednesday 30 June decided level 2 (typed up 1 July); a message
    received Friday 18 June saying level 1, delivered after, is older: the case stays level 2.
    And a panel that sat on 9 June deciding level 2, typed up after a message received 18 June
    set level 1, is 409 ``rating-changed-since-panel`` (both by the act's time)."""
    t = wokingham
    pin(monkeypatch, 2027, 7, 1, 8, 0)
    case_id = await _case(t)
    panel = await _panel(t, "high_risk_panel", "2027-06-30T14:00:00+01:00")
    await ok(await _decide(t, panel, case_id,
                           _decision(2, "2027-06-30T15:00:00+01:00", "2027-07-30")))
    await _deliver(t, "2027-06-18T10:00:00+01:00", mappa_level=1)
    assert await _level(t, case_id) == 2
    other = await t.open_case(opened_at="2027-06-01T09:00:00Z", mappa_category=3,
                              external_ref={**REF, "id": "MO-8"})
    other_id = other["data"]["id"]
    await _judge(t, other_id, "high", "2027-06-04T16:00:00+01:00")
    r = await t.client.post("/v1/feeds/mappa/referrals", json={
        "case_external_ref": {**REF, "id": "MO-8"}, "kind": "mappa_h",
        "received_at": "2027-06-18T10:00:00+01:00", "details": {"mappa_level": 1}},
        headers={**t.auth("feed", "mappa-feed", scope="feed:mappa"),
                 "Idempotency-Key": str(uuid.uuid4())})
    await ok(r, 201)
    early = await _panel(t, "high_risk_panel", "2027-06-09T14:00:00+01:00")
    refused = await _decide(t, early, other_id,
                            _decision(2, "2027-06-09T15:00:00+01:00", "2027-07-09"))
    assert assert_problem(refused, 409)["type"].endswith("/rating-changed-since-panel")
