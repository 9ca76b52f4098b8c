"""A step about one assessment is closed only by an act on that assessment (attack A, M4).

Somerset 2023, 5 (S4): the AssetPlus "will be countersigned by line manager"; an assessment sent
back for changes is revised and resubmitted before it can be countersigned. Wokingham 2024
(W2): an assessment "is not considered complete until it has been counter signed by a line
manager".

Returning assessment A supersedes A's countersign step (nobody could complete it: A can no
longer be countersigned) and raises A's resubmit step; countersigning another assessment B
closes B's steps, never A's.
"""

from __future__ import annotations

from typing import Any

from tests.api.test_assessments import countersign, draft, submit
from tests.conftest import Tenant


async def _steps(t: Tenant, case_id: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for status in ("open", "done", "superseded"):
        r = await t.client.get("/v1/next-steps",
                               params={"case_id": case_id, "status": status, "limit": 200},
                               headers=t.auth("line_manager"))
        assert r.status_code == 200, r.text
        out += r.json()["data"]
    return out


def _of(steps: list[dict[str, Any]], code: str, subject: str) -> list[tuple[str, Any]]:
    return [(s["status"], s["satisfied_by"]) for s in steps
            if s["code"] == code and s["subject_id"] == subject]


async def _return(t: Tenant, assessment_id: str, at: str) -> dict[str, Any]:
    r = await t.client.post(f"/v1/assessments/{assessment_id}/return",
                            json={"feedback": "Please evidence the victim work.",
                                  "occurred_at": at}, headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_S4_return_supersedes_the_countersign_step_of_that_assessment(
        somerset: Tenant) -> None:
    """Submitted 13 March, returned 16 March: A's countersign step is superseded (not open,
    not done), A's resubmit step is the one open duty about A."""
    case = (await somerset.open_case())["data"]
    a = (await draft(somerset, case["id"]))["id"]
    assert (await submit(somerset, a)).status_code == 200
    body = await _return(somerset, a, "2026-03-16T09:00:00Z")
    assert [s["code"] for s in body["next_steps"] if s["subject_id"] == a] == [
        "resubmit_assessment"]
    steps = await _steps(somerset, case["id"])
    assert _of(steps, "countersign_assessment", a) == [
        ("superseded", {"type": "assessment", "id": a})]
    assert _of(steps, "resubmit_assessment", a) == [("open", None)]


async def test_S4_countersigning_another_assessment_leaves_the_returned_ones_steps(
        somerset: Tenant) -> None:
    """A returned; B submitted and countersigned: B's countersign step is done by B, A's
    resubmit step stays open (A was never resubmitted) and A stays returned."""
    case = (await somerset.open_case())["data"]
    a = (await draft(somerset, case["id"]))["id"]
    assert (await submit(somerset, a)).status_code == 200
    await _return(somerset, a, "2026-03-16T09:00:00Z")
    b = (await draft(somerset, case["id"], stage="review",
                     occurred_at="2026-03-17T10:00:00Z"))["id"]
    assert (await submit(somerset, b, "2026-03-17T16:00:00Z")).status_code == 200
    signed = await countersign(somerset, b, "2026-03-18T14:30:00Z")
    assert signed.status_code == 200, signed.text
    steps = await _steps(somerset, case["id"])
    assert _of(steps, "countersign_assessment", b) == [
        ("done", {"type": "assessment", "id": b})]
    assert _of(steps, "resubmit_assessment", a) == [("open", None)]
    assert _of(steps, "countersign_assessment", a) == [
        ("superseded", {"type": "assessment", "id": a})]
    r = await somerset.client.get(f"/v1/cases/{case['id']}/assessments",
                                  headers=somerset.auth("line_manager"))
    assert {x["id"]: x["status"] for x in r.json()["data"]}[a] == "returned"


async def test_W2_returned_assessment_is_not_complete_until_countersigned(
        wokingham: Tenant) -> None:
    """Wokingham: submitted, returned, resubmitted: complete_assessment stays open all along
    (never done by a submission) and is done by the countersignature of 18 March."""
    case = (await wokingham.open_case())["data"]
    a = (await draft(wokingham, case["id"]))["id"]
    assert (await submit(wokingham, a)).status_code == 200
    await _return(wokingham, a, "2026-03-16T09:00:00Z")
    steps = await _steps(wokingham, case["id"])
    assert [s["status"] for s in steps if s["code"] == "complete_assessment"] == ["open"]
    assert _of(steps, "countersign_assessment", a) == [
        ("superseded", {"type": "assessment", "id": a})]
    assert (await submit(wokingham, a, "2026-03-17T09:00:00Z")).status_code == 200
    steps = await _steps(wokingham, case["id"])
    assert [s["status"] for s in steps if s["code"] == "complete_assessment"] == ["open"]
    assert _of(steps, "resubmit_assessment", a) == [("done", {"type": "assessment", "id": a})]
    signed = await countersign(wokingham, a, "2026-03-18T14:30:00Z")
    assert signed.status_code == 200, signed.text
    steps = await _steps(wokingham, case["id"])
    done = [s for s in steps if s["code"] == "complete_assessment"]
    assert [(s["status"], s["completed_at"]) for s in done] == [
        ("done", "2026-03-18T14:30:00Z")]
