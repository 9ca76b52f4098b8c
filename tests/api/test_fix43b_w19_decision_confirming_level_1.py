"""Wokingham W19 (the monthly MAPPA level 1 review, done only by the High-Risk Panel's
decision) corrected after the death by decisions dated before it that confirm MAPPA level 1
(fix43b, ATTACK41-12). fix41d let such a decision correct the review recorded missed at the
death (fix40a's path: the next review raised, ended at the death); a decision stating
``"mappa_level": 1`` also raised W19 anew from its own trigger (``decision_mappa_level_in
[1]``), without the dedupe time order applies, so each correction owed the next monthly review
twice (then three times). Now every typing order leaves the time-order record: one review per
month, done / missed / superseded as in time order (docs/integrating.md §3, §7).

Wokingham 2024, Referrals into MAPPA: a MAPPA level 1 child is reviewed "at the monthly
High-Risk Panel".
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.core.config import Settings
from tests.api.integrity_support import patch_case, steps_of
from tests.api.order_support import visible_steps
from tests.conftest import make_tenant
from tests.orders import typing_orders

W19 = "high_risk_panel_review"
SITTINGS = (("2026-09-29T09:30:00Z", "2026-09-29T10:00:00Z", "2026-10-06"),
            ("2026-10-27T10:30:00Z", "2026-10-27T11:00:00Z", "2026-11-03"))
DEATH = "2026-11-16T12:00:00Z"


async def _w19_record(t: Any, case_id: str) -> list[tuple[Any, ...]]:
    """The case's W19 reviews in any status: (status, due, completed) sorted."""
    found = []
    for status in ("open", "done", "waived", "missed", "superseded"):
        found += [(s["status"], s["due_at"], s["completed_at"])
                  for s in await steps_of(t, case_id, status) if s["code"] == W19]
    return sorted(found)


@pytest.mark.parametrize("mappa_level", [1, None])
async def test_W19_ATTACK41_12_decisions_confirming_level_1_typed_after_the_death(
        client: httpx.AsyncClient, settings: Settings, mappa_level: int | None) -> None:
    """Wokingham 2024, Referrals into MAPPA: a MAPPA level 1 child is reviewed "at the
    monthly High-Risk Panel" (W19, every 1m while the level is 1). Level 1 set on Thursday
    3 September 2026 11:00 BST: review due 3 October. The High-Risk Panel sits on the case on
    Tuesday 29 September and Tuesday 27 October, each decision confirming MAPPA level 1 (or
    stating no level); the child dies on Monday 16 November. Typed in any order, the record is
    time order's: the review due 3 Oct done 29 Sep, the one due 29 Oct done 27 Oct, and one
    review due 27 Nov superseded at the death (was, typed after the death with level 1
    stated: two reviews due 29 Oct, then both done and three due 27 Nov, the timeliness
    report counting two done for one sitting). Each order on a service of its own: the same
    rows in every status and the same timeliness report."""
    records: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
    shown: dict[tuple[str, ...], Any] = {}
    for order in typing_orders(("d1", "d2", "death")):
        t = await make_tenant(client, settings, "wokingham-pyjs-2024")
        case_id = str((await t.open_case(opened_at="2026-09-01T09:00:00+01:00"))["data"]["id"])
        for change in ({"mappa_category": 1, "occurred_at": "2026-09-02T10:00:00Z"},
                       {"mappa_level": 1, "occurred_at": "2026-09-03T10:00:00Z"}):
            r = await patch_case(t, case_id, change)
            assert r.status_code == 200, r.text
        items = {}
        for name, (scheduled, _, _) in zip(("d1", "d2"), SITTINGS, strict=True):
            r = await t.client.post("/v1/panels", json={
                "kind": "high_risk_panel", "chair_id": "chair-1", "scheduled_for": scheduled},
                headers=t.auth("chair"))
            assert r.status_code == 201, r.text
            panel = r.json()["data"]["id"]
            r = await t.client.post(f"/v1/panels/{panel}/items",
                                    json={"case_id": case_id, "presenter_id": "case_holder-1"},
                                    headers=t.auth("chair"))
            assert r.status_code == 201, r.text
            items[name] = (panel, r.json()["data"]["id"])
        for act in order:
            if act == "death":
                r = await t.client.post(f"/v1/cases/{case_id}/events",
                                        json={"type": "death", "occurred_at": DEATH},
                                        headers=t.auth("case_holder"))
                assert r.status_code == 201, r.text
                continue
            _, decided, due = SITTINGS[("d1", "d2").index(act)]
            panel, item = items[act]
            body: dict[str, Any] = {
                "rosh_level": "medium", "minutes": "reviewed", "occurred_at": decided,
                "actions": [{"description": "plan", "owner_id": "case_holder-1",
                             "due_date": due}]}
            if mappa_level is not None:
                body["mappa_level"] = mappa_level
            r = await t.client.post(f"/v1/panels/{panel}/items/{item}/decision", json=body,
                                    headers=t.auth("chair", "chair-1"))
            assert r.status_code == 200, (order, r.text)
        records[order] = await _w19_record(t, case_id)
        shown[order] = await visible_steps(t, case_id, "W19",
                                           report=("2026-09-01", "2026-12-01"))
    time_order = records[("d1", "d2", "death")]
    assert time_order == [
        ("done", "2026-10-03T10:00:00Z", "2026-09-29T10:00:00Z"),
        ("done", "2026-10-29T11:00:00Z", "2026-10-27T11:00:00Z"),
        ("superseded", "2026-11-27T11:00:00Z", None)], time_order
    assert {order: got for order, got in records.items() if got != time_order} == {}
    # The timeliness report (W19's rows and ageing) is time order's in every order: one
    # review done per sitting (was: two done for one sitting). The steps' raised_at and the
    # timeline differ where the October sitting is typed before the September one (the
    # re-planned chain, not the death's correction): left, fix43b's note.
    reports = {order: got[2] for order, got in shown.items()}
    assert {order: got for order, got in reports.items()
            if got != reports[("d1", "d2", "death")]} == {}
