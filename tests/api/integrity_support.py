"""Helpers for the API tests of the record's integrity (reassignment, closure, races, dates)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from app.core.db import build_engine, session_factory
from app.domain.outbox import OutboxEvent
from app.workflows.calendar import WorkingCalendar
from tests.api.fidelity_support import pin, with_matrix
from tests.api.management import report
from tests.conftest import Tenant

SOMERSET = "somerset-yjt-2023"
WOKINGHAM = "wokingham-pyjs-2024"
# The problem type of a MAPPA level with no category (a PATCH, or a feed's message: fix37b).
LEVEL_WITHOUT_CATEGORY = "mappa-level-without-category"


def assert_problem(r: httpx.Response, status: int) -> dict[str, Any]:
    """The response is an RFC 9457 problem with exactly this status (its members there, no
    trace of the server's internals); its body."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    body: dict[str, Any] = r.json()
    assert {"type", "title", "status", "detail"} <= body.keys()
    assert body["status"] == status
    assert "Traceback" not in r.text
    assert "sqlalchemy" not in r.text.lower()
    return body


def the_step(steps: list[dict[str, Any]], code: str) -> dict[str, Any]:
    """The one step with this code (fails on none or several)."""
    found = [s for s in steps if s["code"] == code]
    assert len(found) == 1, (code, [s["code"] for s in steps])
    return found[0]


def codes(steps: list[dict[str, Any]]) -> list[str]:
    """The step codes, sorted (duplicates kept, so a duplicate shows)."""
    return sorted(s["code"] for s in steps)


async def judge(t: Tenant, case_id: str, domain: str, level: str, at: str,
                role: str = "case_holder", sub: str | None = None) -> dict[str, Any]:
    """Record a judgement (with victims, which Wokingham's M5 needs at medium and above)."""
    body: dict[str, Any] = {"domain": domain, "level": level, "occurred_at": at}
    if t.pack == WOKINGHAM:
        body["victims"] = ["public"]
    r = await t.client.post(f"/v1/cases/{case_id}/judgements", json=body,
                            headers=t.auth(role, sub))
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def judge_rosh(t: Tenant, case_id: str, level: str, at: str) -> None:
    """The case holder records ROSH ``level`` at ``at``, the public at risk (the matrix where
    the pack asks for it: ``with_matrix``); 201."""
    r = await t.client.post(f"/v1/cases/{case_id}/judgements", headers=t.auth("case_holder"),
                            json=with_matrix(t.pack, {"domain": "rosh", "level": level,
                                                      "victims": ["public"],
                                                      "occurred_at": at}))
    assert r.status_code == 201, r.text


async def recorded(t: Tenant, case_id: str, kind: str, body: dict[str, Any],
                   role: str = "case_holder") -> list[dict[str, Any]]:
    """Record a judgement or event (``kind``: ``judgements``, ``events``) on the case as
    ``role``, expecting 201 (a Wokingham ROSH judgement with its matrix: ``with_matrix``);
    the answer's next steps."""
    if kind == "judgements":
        body = with_matrix(t.pack, body)
    r = await t.client.post(f"/v1/cases/{case_id}/{kind}", json=body, headers=t.auth(role))
    assert r.status_code == 201, r.text
    return r.json()["next_steps"]  # type: ignore[no-any-return]


async def judge_high(t: Tenant, case_id: str, at: str) -> dict[str, Any]:
    """The case holder records ROSH high at ``at``; the response body."""
    return await judge(t, case_id, "rosh", "high", at)


async def etag(t: Tenant, case_id: str) -> str:
    """The case's current ETag (read as a duty manager, who sees every case)."""
    r = await t.client.get(f"/v1/cases/{case_id}", headers=t.auth("duty_manager"))
    assert r.status_code == 200, r.text
    return r.headers["etag"]


async def patch_case(t: Tenant, case_id: str, body: dict[str, Any], role: str = "line_manager",
                     sub: str | None = None) -> httpx.Response:
    """PATCH the case with its current ETag."""
    tag = await etag(t, case_id)
    return await t.client.patch(f"/v1/cases/{case_id}", json=body,
                                headers={**t.auth(role, sub), "If-Match": tag})


async def mappa_message(t: Tenant, ref: str, received_at: str, details: dict[str, Any],
                        key: str | None = None) -> httpx.Response:
    """One MAPPA feed message (kind ``mappa_h``) for the case with IYSS reference ``ref``
    (``key``: its Idempotency-Key; default a fresh one)."""
    return await t.client.post(
        "/v1/feeds/mappa/referrals",
        json={"case_external_ref": {"system": "IYSS", "id": ref}, "kind": "mappa_h",
              "received_at": received_at, "details": details},
        headers={**t.auth("feed", "mappa-feed", scope="feed:mappa"),
                 "Idempotency-Key": key or str(uuid.uuid4())})


async def opened_with_iyss_ref(t: Tenant, **opening: Any) -> tuple[str, str]:
    """A case opened Monday 10 August 2026 with a fresh IYSS reference (the MAPPA feed's
    messages name it): (reference, id)."""
    ref = f"F37-{uuid.uuid4().hex[:8]}"
    case = (await t.open_case(external_ref={"system": "IYSS", "id": ref},
                              opened_at="2026-08-10T08:00:00Z", **opening))["data"]
    return ref, case["id"]


def assert_refused_quoting_nothing(r: httpx.Response, slug: str, locs: list[str]) -> None:
    """A 422 problem of type ``slug`` naming ``locs``, quoting no value or time sent (dates of
    2026, times of the 10 o'clock hour)."""
    body = assert_problem(r, 422)
    assert body["type"].endswith("/" + slug), body
    assert [e["loc"] for e in body["errors"]] == locs, body
    assert "2026" not in body["detail"], body
    assert "10:" not in body["detail"], body


async def steps_of(t: Tenant, case_id: str, status: str = "open") -> list[dict[str, Any]]:
    """The case's steps in a status (read as a duty manager)."""
    r = await t.client.get("/v1/next-steps",
                           params={"case_id": case_id, "status": status, "limit": 200},
                           headers=t.auth("duty_manager"))
    assert r.status_code == 200, r.text
    return r.json()["data"]  # type: ignore[no-any-return]


async def typed_in_order(t: Tenant, acts: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """A prevention case opened 1 March 2027 with a medium ROSH of Thursday 1 April 2027, given
    ``acts`` in that order (case events, and a closure or reopening as their PATCH bodies); its
    open steps then as (code, assignee, due), sorted: what typing order must not change."""
    case_id = (await t.open_case(intervention="prevention",
                                 opened_at="2027-03-01T09:00:00Z"))["data"]["id"]
    r = await t.client.post(f"/v1/cases/{case_id}/judgements", json=with_matrix(t.pack, {
        "domain": "rosh", "level": "medium", "occurred_at": "2027-04-01T10:00:00+01:00",
        "victims": ["public"]}), headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text
    for act in acts:
        if "type" in act:
            r = await t.client.post(f"/v1/cases/{case_id}/events", json=act,
                                    headers=t.auth("case_holder"))
            assert r.status_code == 201, r.text
        else:
            r = await patch_case(t, case_id, act)
            assert r.status_code == 200, r.text
    return sorted((s["code"], s["assignee_id"] or "", s["due_at"] or "")
                  for s in await steps_of(t, case_id))


async def audit_of(t: Tenant, case_id: str) -> list[dict[str, Any]]:
    """The case's write audit, oldest first (read as a duty manager), every page."""
    entries: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 200}
    while True:
        r = await t.client.get(f"/v1/cases/{case_id}/audit", params=params,
                               headers=t.auth("duty_manager"))
        assert r.status_code == 200, r.text
        entries += r.json()["data"]
        if not r.json().get("next_cursor"):
            return entries
        params = {"limit": 200, "cursor": r.json()["next_cursor"]}


async def complete(t: Tenant, step_id: str, role: str, sub: str | None = None,
                   **body: Any) -> httpx.Response:
    """Complete a step."""
    return await t.client.post(f"/v1/next-steps/{step_id}/complete", json=body,
                               headers=t.auth(role, sub))


async def complete_typed_late(t: Tenant, step_id: str, at: str, role: str) -> httpx.Response:
    """``role`` completes a step dated ``at`` (noted: typed in late); the answer."""
    return await complete(t, step_id, role, occurred_at=at, note="Done, typed in late")


async def timeliness_row(t: Tenant, rule: str, start: str, end: str) -> tuple[Any, ...]:
    """The timeliness report's (due, on_time, late, missed) for ``rule`` in the period."""
    r = await report(t, **{"from": start, "to": end, "group_by": "rule"})
    assert r.status_code == 200, r.text
    [row] = [x for x in r.json()["data"]["rows"] if x["rule"] == rule]
    return row["due"], row["on_time"], row["late"], row["missed"]


async def corrected_to_done(t: Tenant, case_id: str, step_id: str) -> dict[str, Any]:
    """The step recorded missed, done now: its audit entry says what it was, the completion is
    announced. The step."""
    [step] = [s for s in await steps_of(t, case_id, "done") if s["id"] == step_id]
    assert step_id not in {s["id"] for s in await steps_of(t, case_id, "missed")}
    [entry] = [e for e in await audit_of(t, case_id)
               if e["action"] == "step.done" and e["entity_id"] == step_id]
    assert "was" in entry["fields"], entry
    assert "step.completed" in await outbox_types(t.settings, case_id)
    return step


async def outbox_types(settings: Any, case_id: str) -> list[str]:
    """The outgoing event types written for a case (payload ``case_id``), oldest first."""
    engine = build_engine(settings)
    try:
        async with session_factory(engine)() as session:
            rows = await session.exec(select(OutboxEvent).order_by(col(OutboxEvent.created_at)))
            return [e.type for e in rows.all() if (e.payload or {}).get("case_id") == case_id]
    finally:
        await engine.dispose()


async def closing_asset_plus(t: Tenant, case_id: str, at: str, stage: str = "closure",
                             countersign: bool = True) -> dict[str, Any]:
    """A closure (or transfer) Asset+ started, submitted and (by default) countersigned, each a
    minute apart from ``at`` (Wokingham: a statutory case closes only with a countersigned
    one); the assessment as last answered."""
    start = datetime.fromisoformat(at)
    r = await t.client.post(f"/v1/cases/{case_id}/assessments",
                            json={"type": "asset_plus", "stage": stage, "occurred_at": at},
                            headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text
    ident = r.json()["data"]["id"]
    r = await t.client.post(f"/v1/assessments/{ident}/submit",
                            json={"occurred_at": (start + timedelta(minutes=1)).isoformat()},
                            headers=t.auth("case_holder"))
    assert r.status_code == 200, r.text
    if countersign:
        r = await t.client.post(
            f"/v1/assessments/{ident}/countersign",
            json={"feedback": "Agreed.",
                  "occurred_at": (start + timedelta(minutes=2)).isoformat()},
            headers=t.auth("line_manager"))
        assert r.status_code == 200, r.text
    return r.json()["data"]  # type: ignore[no-any-return]


async def held_high_risk_panel(t: Tenant, case_id: str, at: str,
                               rosh_level: str = "medium") -> dict[str, Any]:
    """Wokingham's High-Risk Panel sits on the case (scheduled an hour before ``at``, decided
    at ``at`` by chair-1): the act that does W8's hold and W19's monthly review (they are not
    ticked off by hand: A9-13). It agrees "a specific action plan and risk classification"
    (A23b-2): ROSH at ``rosh_level`` and one action for the case holder, due on the first
    working day a week on. The decision's answer."""
    decided = datetime.fromisoformat(at.replace("Z", "+00:00"))
    # A case goes onto a panel with a panel referral (or on the register): made and submitted
    # two hours before.
    r = await t.client.post(f"/v1/cases/{case_id}/referrals", json={
        "kind": "panel", "occurred_at": (decided - timedelta(hours=2)).isoformat()},
        headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text
    r = await t.client.post(f"/v1/referrals/{r.json()['data']['id']}/submit", json={
        "occurred_at": (decided - timedelta(hours=2)).isoformat()},
        headers=t.auth("case_holder"))
    assert r.status_code == 200, r.text
    r = await t.client.post("/v1/panels", json={
        "kind": "high_risk_panel", "chair_id": "chair-1",
        "scheduled_for": (decided - timedelta(hours=1)).isoformat()}, headers=t.auth("chair"))
    assert r.status_code == 201, r.text
    panel = r.json()["data"]["id"]
    r = await t.client.post(f"/v1/panels/{panel}/items",
                            json={"case_id": case_id, "presenter_id": "case_holder-1"},
                            headers=t.auth("chair"))
    assert r.status_code == 201, r.text
    r = await t.client.post(f"/v1/panels/{panel}/items/{r.json()['data']['id']}/decision",
                            json={"actions": [{
                                      "description": "Review the plan",
                                      "owner_id": "case_holder-1",
                                      "due_date": WorkingCalendar().next_working_day_on_or_after(
                                          decided.date() + timedelta(days=7)).isoformat()}],
                                  "rosh_level": rosh_level, "minutes": "Panel held",
                                  "occurred_at": decided.isoformat()},
                            headers=t.auth("chair", "chair-1"))
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def book_panel(t: Tenant, when: str, *, kind: str = "marp") -> str:
    """The panel administrator books a ``kind`` panel at ``when``, chaired by chair-1; its id."""
    r = await t.client.post("/v1/panels", json={"kind": kind, "scheduled_for": when,
                                                "chair_id": "chair-1"},
                            headers=t.auth("panel_admin"))
    assert r.status_code == 201, r.text
    return str(r.json()["data"]["id"])


async def move_panel(t: Tenant, panel_id: str, when: str) -> None:
    """The panel administrator moves the panel to ``when`` (200)."""
    r = await t.client.post(f"/v1/panels/{panel_id}/reschedule", json={"scheduled_for": when},
                            headers=t.auth("panel_admin"))
    assert r.status_code == 200, r.text


async def on_marp_agenda(t: Tenant, case_id: str, sits: str,
                         presenter: str = "case_holder-1") -> tuple[str, str]:
    """A MARP scheduled at ``sits`` (chaired by chair-1) with the case on its agenda, presented
    by ``presenter``, both by the panel administrator: the panel's and the item's ids."""
    panel = await book_panel(t, sits)
    r = await t.client.post(f"/v1/panels/{panel}/items",
                            json={"case_id": case_id, "presenter_id": presenter},
                            headers=t.auth("panel_admin"))
    assert r.status_code == 201, r.text
    return panel, r.json()["data"]["id"]


async def heard_by_marp(t: Tenant, case_id: str, *, sits: str, review_date: str,
                        **levels: str) -> dict[str, Any]:
    """The MARP sits on the case (scheduled at ``sits``, decided an hour later) and confirms the
    ``levels`` (``rosh_level="high"``), booking its review (S20): the panel has taken the case
    (M6 from then on). The decision's answer."""
    panel, item = await on_marp_agenda(t, case_id, sits)
    decided = datetime.fromisoformat(sits) + timedelta(hours=1)
    r = await t.client.post(f"/v1/panels/{panel}/items/{item}/decision",
                            json={**levels, "actions": [], "minutes": "Remains high",
                                  "review_date": review_date,
                                  "occurred_at": decided.isoformat()},
                            headers=t.auth("chair", "chair-1"))
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def refer_to_marp(t: Tenant, case_id: str, at: str) -> dict[str, Any]:
    """The case holder refers the case to the MARP with the child's and carer's views (Somerset
    3.2.3, 6.2), made (submitted) at ``at``: the duties no manager may waive that a high rating
    raises are done, so the case may close (A9-9). The referral as last answered."""
    r = await t.client.post(f"/v1/cases/{case_id}/referrals",
                            json={"kind": "panel", "occurred_at": at,
                                  "details": {"child_views": "heard", "carer_views": "heard"}},
                            headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text
    r = await t.client.post(f"/v1/referrals/{r.json()['data']['id']}/submit",
                            json={"occurred_at": at}, headers=t.auth("case_holder"))
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def high_case_referred(t: Tenant, monkeypatch: pytest.MonkeyPatch) -> str:
    """A Somerset case opened Tuesday 1 September 2026 10:00 BST, ROSH high at 11:00 (S5's
    discussion due Wednesday 2 September 11:00 BST, the AssetPlus Tuesday 29 September) and
    referred to the MARP at 11:30 (so that it may close, A9-9); the clock at 12:30 BST. Its id."""
    pin(monkeypatch, 2026, 9, 1, 11, 30)
    case_id = str((await t.open_case(opened_at="2026-09-01T10:00:00+01:00"))["data"]["id"])
    await judge(t, case_id, "rosh", "high", "2026-09-01T11:00:00+01:00")
    await refer_to_marp(t, case_id, "2026-09-01T11:30:00+01:00")
    return case_id


async def closed_prevention_case(t: Tenant, monkeypatch: pytest.MonkeyPatch, *,
                                 recorded_at: tuple[int, ...], opened_at: str,
                                 closed_at: str) -> str:
    """A prevention case opened at ``opened_at`` and closed dated ``closed_at`` ("Intervention
    completed"), both recorded at ``recorded_at`` (UTC, for ``pin``); its id."""
    pin(monkeypatch, *recorded_at)
    case_id = str((await t.open_case(opened_at=opened_at, intervention="prevention"))
                  ["data"]["id"])
    r = await patch_case(t, case_id, {"closed_at": closed_at,
                                      "closure_reason": "Intervention completed"})
    assert r.status_code == 200, r.text
    return case_id


async def record_charge(t: Tenant, case_id: str, at: str) -> dict[str, Any]:
    """The case holder records a charge at ``at`` that may raise ROSH to high (201); the
    answer."""
    r = await t.client.post(f"/v1/cases/{case_id}/events",
                            json={"type": "charged", "occurred_at": at,
                                  "may_raise_to_high": True},
                            headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def closed_then_reopened(t: Tenant, monkeypatch: pytest.MonkeyPatch, case_id: str, *,
                               closed_at: str, recorded_at: tuple[int, ...]) -> None:
    """The case closed dated ``closed_at``, the closure recorded at ``recorded_at`` (UTC, for
    ``pin``); reopened Thursday 15 October 2026 10:00 BST, recorded at 10:00 BST."""
    pin(monkeypatch, *recorded_at)
    r = await patch_case(t, case_id, {"closed_at": closed_at,
                                      "closure_reason": "order revoked on appeal"})
    assert r.status_code == 200, r.text
    pin(monkeypatch, 2026, 10, 15, 9, 0)
    r = await patch_case(t, case_id, {"closed_at": None, "reopen_reason": "new court order made",
                                      "occurred_at": "2026-10-15T10:00:00+01:00"})
    assert r.status_code == 200, r.text


async def former_holder_made_line_manager(
        t: Tenant, monkeypatch: pytest.MonkeyPatch
) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """Somerset: a case opened Monday 3 August 2026; case_holder-1 records SWB high on 20 August
    (S11's monthly review to line_manager-1); on 28 August a duty manager swaps the two (holder
    line_manager-1, line manager case_holder-1). The case's id and the review as first raised."""
    pin(monkeypatch, 2026, 8, 3, 9, 0)
    case = str((await t.open_case(opened_at="2026-08-03T08:00:00Z"))["data"]["id"])
    pin(monkeypatch, 2026, 8, 28, 14, 0)
    body = await judge(t, case, "swb", "high", "2026-08-20T09:00:00Z")
    review = the_step(body["next_steps"], "monthly_manager_review")
    r = await patch_case(t, case, {"case_holder_id": "line_manager-1",
                                   "line_manager_id": "case_holder-1"}, role="duty_manager")
    assert r.status_code == 200, r.text
    return case, review, r.json()
