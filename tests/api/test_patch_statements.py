"""Issue 15 (goal 1): the statements of a dated ``PATCH`` of the case. Its checks (a death
before it, a custody move the other way at its instant, a later change of the field on file)
and the policy's reads (open steps, panels and absences, later acts to replay) are read on
PostgreSQL by the case file's statement, under the case's lock, as a judgement's are; the
change, its history row, its audit entry and its outgoing event still commit together."""

from __future__ import annotations

from typing import Any

from tests.api.test_write_statements import _judge, _statements
from tests.conftest import BACKEND, Tenant


async def _patch(t: Tenant, case_id: str, body: dict[str, Any]) -> Any:
    tag = (await t.client.get(f"/v1/cases/{case_id}", headers=t.auth("case_holder"))
           ).headers["ETag"]
    return await t.client.patch(f"/v1/cases/{case_id}", json=body,
                                headers={**t.auth("case_holder"), "If-Match": tag})


def _selects(seen: list[str]) -> list[str]:
    return [s for s in seen if s.lstrip().upper().startswith(("SELECT", "WITH POLICY_LOCK"))]


async def test_a_dated_custody_patch_reads_its_checks_with_its_case_file(
        wokingham: Tenant) -> None:
    """A PATCH putting the child in custody on 1 September, nothing on file after it (a
    judgement on 28 August): 200, the case in custody, the change on the case's timeline at
    its date. On PostgreSQL the case file, read after the case lock, holds what the checks and
    the policy read (the final events, custody events and field changes around its date, the
    open steps, panels and absences, whether any act is on file after it): none of them is
    read again (issue 15; the steps it raises still read what they need)."""
    case = (await wokingham.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]["id"]
    await _judge(wokingham, case, "medium")
    with _statements() as seen:
        r = await _patch(wokingham, case, {"in_custody": True,
                                           "occurred_at": "2026-09-01T10:00:00Z"})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["in_custody"] is True
    r = await wokingham.client.get(f"/v1/cases/{case}", headers=wokingham.auth("case_holder"))
    assert r.json()["data"]["in_custody"] is True
    if BACKEND == "postgres":
        reads = _selects(seen)
        lock = next(i for i, s in enumerate(reads) if "FOR UPDATE" in s)
        assert "JOIN step" in reads[lock + 1]
        assert "yj_events_around" in reads[lock + 1]
        # None of what the case file read is read again: the open steps, panels, final and
        # custody events, field changes, judgements and events to replay.
        again = [s for s in reads[lock + 2:] if any(f in s for f in _FOLDED)]
        assert again == [], "\n---\n".join(s[:300] for s in again)


_FOLDED = ("FROM step", "FROM panel", "FROM record_change", "FROM judgement",
           "case_event.known_at", "SELECT case_event.type, case_event.id",
           "SELECT case_event.occurred_at")


async def test_a_patch_dated_before_a_later_judgement_still_reads_it(wokingham: Tenant) -> None:
    """A PATCH putting the child in custody on 20 August, before a judgement of 28 August on
    file: 200; the case in custody; on PostgreSQL the judgements are read (the later one is
    replayed after the change, as in time order), the case file having found one at or after
    the change's date."""
    case = (await wokingham.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]["id"]
    await _judge(wokingham, case, "medium")
    with _statements() as seen:
        r = await _patch(wokingham, case, {"in_custody": True,
                                           "occurred_at": "2026-08-20T10:00:00Z"})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["in_custody"] is True
    if BACKEND == "postgres":
        assert any("FROM judgement" in s for s in _selects(seen)), seen
