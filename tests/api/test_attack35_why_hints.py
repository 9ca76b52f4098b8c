"""Attack 35a, ATTACK35A-11: the did-you-mean for a "why" word sent where the object's own "why"
field has another name.

docs/integrating.md 6: "A misspelt body field close to one of the contract's own names says
which it may be ... also for a few known synonyms of a field (``reason``, ``comment`` for
``note``)". The tester found the synonyms worked only towards ``note``: closing a case with
``reason`` was offered ``reopen_reason`` (following it sends a close carrying a reopening's
reason), a waiver's ``note``/``comment`` (its field is ``reason``), a judgement's ``reason``/
``comment`` (``rationale``) and an absence's ``note`` (``reason``) got no hint. Each "why" word
now offers the object's "why" field; of a case's two (``closure_reason``, ``reopen_reason``),
the one the other keys name (``closed_at`` with a date: the closure's; ``closed_at: null``:
the reopening's), both when none does. Only the contract's words are written back."""

from __future__ import annotations

from typing import Any

from tests.conftest import Tenant


def _hint(r: Any, key: str) -> str:
    assert r.status_code == 422, r.text
    found = [e["msg"] for e in r.json()["errors"] if e["loc"] in (f"body.{key}", "body")]
    assert len(found) == 1, r.json()
    return str(found[0])


async def _patch_case(t: Tenant, case_id: str, body: dict[str, Any]) -> Any:
    headers = t.auth("line_manager")
    etag = (await t.client.get(f"/v1/cases/{case_id}", headers=headers)).headers["ETag"]
    return await t.client.patch(f"/v1/cases/{case_id}", json=body,
                                headers={**headers, "If-Match": etag})


async def test_attack35a_11_a_closure_s_reason_is_offered_closure_reason(
        somerset: Tenant) -> None:
    """``{closed_at: <date>, reason}`` → ``closure_reason``; ``{closed_at: null, reason}`` (a
    reopening) → ``reopen_reason``; ``reason`` alone, both: never the other act's field
    alone."""
    case = (await somerset.open_case())["data"]
    for body, meant in (
            ({"closed_at": "2026-04-01T10:00:00Z", "reason": "x"}, "'closure_reason'"),
            ({"closed_at": "2026-04-01T10:00:00Z", "comment": "x"}, "'closure_reason'"),
            ({"closed_at": None, "reason": "x"}, "'reopen_reason'"),
            ({"closed_at": None, "note": "x"}, "'reopen_reason'"),
            ({"reason": "x"}, "'closure_reason' or 'reopen_reason'")):
        key = next(k for k in body if k != "closed_at")
        r = await _patch_case(somerset, case["id"], body)
        assert _hint(r, key).endswith(f"did you mean {meant}?)"), (body, r.json())
    assert (await somerset.client.get(f"/v1/cases/{case['id']}", headers=somerset.auth(
        "line_manager"))).json()["data"]["closed_at"] is None  # nothing was written


async def test_attack35a_11_a_waiver_a_judgement_and_an_absence_name_their_why_field(
        somerset: Tenant) -> None:
    """The twins: a waiver's ``note``/``comment`` → ``reason``; a judgement's ``reason``/
    ``comment``/``note`` → ``rationale``; an absence's ``note``/``comment`` → ``reason``; a
    step's completion's ``reason`` → ``note`` (held before: still so)."""
    written = await somerset.open_case()
    case = written["data"]
    steps = [s for s in written.get("next_steps", []) if s.get("status") == "open"]
    assert steps, written
    step = steps[0]
    for key in ("note", "comment"):
        etag = (await somerset.client.get(f"/v1/next-steps/{step['id']}",
                                          headers=somerset.auth("line_manager"))
                ).headers["ETag"]
        r = await somerset.client.post(
            f"/v1/next-steps/{step['id']}/waive", json={key: "x"},
            headers={**somerset.auth("line_manager"), "If-Match": etag})
        assert _hint(r, key).endswith("did you mean 'reason'?)"), r.json()
    for key in ("reason", "comment", "note"):
        r = await somerset.client.post(
            f"/v1/cases/{case['id']}/judgements", headers=somerset.auth("case_holder"),
            json={"domain": "rosh", "level": "medium", key: "x"})
        assert _hint(r, key).endswith("did you mean 'rationale'?)"), r.json()
    for key in ("note", "comment"):
        r = await somerset.client.post(
            "/v1/staff/case_holder-1/absences", headers=somerset.auth("duty_manager"),
            json={"starts_on": "2026-04-06", "ends_on": "2026-04-07", key: "x"})
        assert _hint(r, key).endswith("did you mean 'reason'?)"), r.json()
    r = await somerset.client.post(f"/v1/next-steps/{step['id']}/complete",
                                   json={"reason": "x"}, headers=somerset.auth("case_holder"))
    assert _hint(r, "reason").endswith("did you mean 'note'?)"), r.json()


async def test_attack35b_8_a_decision_s_minutes_and_a_countersignature_s_feedback(
        somerset: Tenant) -> None:
    """ATTACK35B-8, the twins: a panel decision's ``note``/``comment``/``reason`` →
    ``minutes``; an assessment's countersignature or return ``note``/``comment`` →
    ``feedback`` (the ids need not exist: the body is checked first, after the role)."""
    ident = "00000000-0000-4000-8000-000000000001"
    for key in ("note", "comment", "reason"):
        r = await somerset.client.post(
            f"/v1/panels/{ident}/items/{ident}/decision", headers=somerset.auth("chair"),
            json={"rosh_level": "high", key: "x"})
        assert _hint(r, key).endswith("did you mean 'minutes'?)"), r.json()
    for action in ("countersign", "return"):
        for key in ("note", "comment"):
            r = await somerset.client.post(
                f"/v1/assessments/{ident}/{action}", headers=somerset.auth("line_manager"),
                json={key: "x"})
            assert _hint(r, key).endswith("did you mean 'feedback'?)"), (action, r.json())
