"""Webhook payloads carry ids and codes only (attack pass 9, A9-23), from the attacker's side.

Every subscriber of ``["*"]`` receives every event of the service, restricted cases included, so
an event's payload may not carry free text a member of staff typed (a closure's reason may name
anyone) nor a named person's leave dates. The audit keeps the reasons; the API keeps the rest.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from sqlmodel import col, select

from app.core.db import build_engine, session_factory
from app.domain.outbox import OutboxEvent
from tests.api.integrity_support import audit_of, judge, patch_case, refer_to_marp
from tests.api.support import restrict
from tests.conftest import Tenant

MARKER = "Zebedee Quint"
CODE = re.compile(r"^[a-z0-9_.:-]+$")
INSTANT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
# Payload keys whose value is a staff id (an id, like the case ids).
STAFF_KEYS = {"staff_id", "from", "to"}


async def _payloads(settings: Any, *entity_ids: str) -> list[tuple[str, dict[str, Any]]]:
    """(type, payload) of the outgoing events about the case or these records, oldest first."""
    engine = build_engine(settings)
    try:
        async with session_factory(engine)() as session:
            rows = await session.exec(select(OutboxEvent).order_by(col(OutboxEvent.created_at)))
            return [(e.type, e.payload or {}) for e in rows.all()
                    if str(e.entity_id) in entity_ids
                    or (e.payload or {}).get("case_id") in entity_ids]
    finally:
        await engine.dispose()


def _is_id_or_code(key: str, value: Any) -> bool:
    if value is None or isinstance(value, bool | int):
        return True
    if isinstance(value, list):
        return all(_is_id_or_code(key, v) for v in value)
    if not isinstance(value, str):
        return False
    if key in STAFF_KEYS:
        return True
    try:
        uuid.UUID(value)
        return True
    except ValueError:
        return bool(CODE.fullmatch(value) or INSTANT.fullmatch(value))


async def test_close_reopen_and_absence_events_carry_no_free_text_or_leave_dates(
    settings: Any, somerset: Tenant
) -> None:
    """A case closed and reopened with reasons naming a third party (then restricted), and a
    line manager's leave recorded with a reason, changed and cancelled: no outgoing event
    carries the reasons, and ``staff.absence_recorded`` (``_changed``, ``_cancelled``) names
    the person but not the dates; every payload value of these writes is an id, a code or an
    instant. The audit still holds the reasons."""
    case = (await somerset.open_case(opened_at="2026-09-01T09:00:00+01:00"))["data"]
    await judge(somerset, case["id"], "rosh", "high", "2026-09-01T11:00:00+01:00")
    # The MARP referral with the views (3.2.3, 6.2: not waivable) before the closure (A9-9).
    await refer_to_marp(somerset, case["id"], "2026-09-01T12:00:00+01:00")
    r = await patch_case(somerset, case["id"], {
        "closed_at": "2026-09-10T16:00:00+01:00",
        "closure_reason": f"Moved near {MARKER}"})
    assert r.status_code == 200, r.text
    r = await patch_case(somerset, case["id"], {
        "closed_at": None, "reopen_reason": f"{MARKER} returned",
        "occurred_at": "2026-09-15T10:00:00+01:00"})
    assert r.status_code == 200, r.text
    r = await somerset.client.post(
        "/v1/staff/line_manager-1/absences", headers=somerset.auth("duty_manager"),
        json={"starts_on": "2026-09-21", "ends_on": "2026-09-25", "reason": f"{MARKER} leave"})
    assert r.status_code == 201, r.text
    absence_id = r.json()["data"]["id"]
    url = f"/v1/staff/line_manager-1/absences/{absence_id}"
    r = await somerset.client.patch(url, headers={**somerset.auth("duty_manager"),
                                                  "If-Match": r.headers["ETag"]},
                                    json={"ends_on": "2026-09-24"})
    assert r.status_code == 200, r.text
    r = await somerset.client.delete(url, headers={**somerset.auth("duty_manager"),
                                                   "If-Match": r.headers["ETag"]})
    assert r.status_code == 204, r.text
    r = await restrict(somerset.client, somerset, case["id"], {"excluded_staff": ["cw-other"]})
    assert r.status_code == 200, r.text

    mine = await _payloads(settings, case["id"], absence_id)
    assert MARKER not in repr(mine)
    assert {t for t, _ in mine} >= {"case.closed", "case.reopened", "staff.absence_recorded"}
    for event_type, payload in mine:
        bad = {k: v for k, v in payload.items() if not _is_id_or_code(k, v)}
        assert bad == {}, event_type
    absences = [(t, p) for t, p in mine if t.startswith("staff.absence_")]
    assert absences == [(f"staff.absence_{what}", {"staff_id": "line_manager-1"})
                        for what in ("recorded", "changed", "cancelled")]
    assert "2026-09-2" not in repr(absences)
    audit = {e["action"]: e for e in await audit_of(somerset, case["id"])}
    assert audit["case.close"]["reason"] == f"Moved near {MARKER}"
