"""Every act recorded in the name of the case's holder or line manager is dated when its actor
held that role, judged on the case's holder history (attack 27, ATTACK27-2 and ATTACK27-7).

Somerset YJT 2023, 3.1: "High and Very High ROSH ... will be discussed with the relevant line
manager"; 4.5 the line manager's oversight of the case holder's work. Contract: the timeline
lists every step done "with who"; the record must say who did what when.

ATTACK27-2: the bound (ATTACK26B-1) held on step completion only; dated before the handover
the new case holder could still record a judgement, an event, make, submit and send a
referral, submit an assessment, and the new line manager countersign it or record oversight,
each closing steps in the newcomer's name. Now each is 422 ``occurred-before-bound`` naming
when they took the role and who held it at the act's date; the same act undated stands.
ATTACK27-7: a line manager given the case back records their act of their first period (201),
and an act dated in the other manager's period names that manager.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from app.core.config import Settings
from tests.api.fidelity_support import with_matrix
from tests.api.integrity_support import assert_problem, patch_case
from tests.conftest import Tenant, make_tenant

PACK = "somerset-yjt-2023"
CH1, CH2, LM2 = ("case_holder", "case_holder-1"), ("case_holder", "case_holder-2"), \
    ("line_manager", "line_manager-2")

Act = Callable[[Tenant, str, dict[str, str], dict[str, Any]], Awaitable[httpx.Response]]


async def _post(t: Tenant, url: str, body: dict[str, Any], who: tuple[str, str]
                ) -> httpx.Response:
    return await t.client.post(url, json=body, headers=t.auth(*who))


async def _ok(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code in (200, 201), r.text
    return r.json()["data"]  # type: ignore[no-any-return]


async def _draft_referral(t: Tenant, case_id: str, ids: dict[str, str]) -> None:
    ids["referral"] = (await _ok(await _post(t, f"/v1/cases/{case_id}/referrals", {
        "kind": "panel", "details": {"child_views": "v", "carer_views": "v"},
        "occurred_at": "2026-11-02T11:00:00Z"}, CH1)))["id"]


async def _submitted_referral(t: Tenant, case_id: str, ids: dict[str, str]) -> None:
    await _draft_referral(t, case_id, ids)
    await _ok(await _post(t, f"/v1/referrals/{ids['referral']}/submit",
                          {"occurred_at": "2026-11-02T12:00:00Z"}, CH1))


async def _assessment(t: Tenant, case_id: str, ids: dict[str, str]) -> None:
    ids["assessment"] = (await _ok(await _post(t, f"/v1/cases/{case_id}/assessments", {
        "type": "asset_plus", "stage": "start", "occurred_at": "2026-11-01T10:00:00Z"},
        CH1)))["id"]


async def _submitted_assessment(t: Tenant, case_id: str, ids: dict[str, str]) -> None:
    await _assessment(t, case_id, ids)
    await _ok(await _post(t, f"/v1/assessments/{ids['assessment']}/submit",
                          {"occurred_at": "2026-11-02T12:00:00Z"}, CH1))


async def _nothing(t: Tenant, case_id: str, ids: dict[str, str]) -> None:
    return None


# kind: (what case_holder-1 did before the handover, the newcomer, their act's URL and body)
ACTS: dict[str, tuple[Callable[..., Awaitable[None]], tuple[str, str], str, dict[str, Any]]] = {
    "judgement": (_nothing, CH2, "/v1/cases/{case}/judgements",
                  {"domain": "swb", "level": "high", "rationale": "x"}),
    "event": (_nothing, CH2, "/v1/cases/{case}/events", {"type": "change_of_circumstances"}),
    "oversight": (_nothing, LM2, "/v1/cases/{case}/oversight", {"note": "reviewed"}),
    "referral-create": (_nothing, CH2, "/v1/cases/{case}/referrals",
                        {"kind": "panel", "details": {"child_views": "v", "carer_views": "v"}}),
    "referral-submit": (_draft_referral, CH2, "/v1/referrals/{referral}/submit", {}),
    "referral-send": (_submitted_referral, CH2, "/v1/referrals/{referral}/send", {}),
    "assessment-submit": (_assessment, CH2, "/v1/assessments/{assessment}/submit", {}),
    "assessment-countersign": (_submitted_assessment, LM2,
                               "/v1/assessments/{assessment}/countersign", {"feedback": "ok"}),
}


@pytest.mark.parametrize("kind", list(ACTS))
async def test_an_act_in_a_role_dated_before_its_actor_held_it_is_refused(
    kind: str, client: httpx.AsyncClient, settings: Settings
) -> None:
    """ROSH high on 2 November 2026 by case_holder-1 (and, per kind, their referral or
    assessment); the case then (now) goes to case_holder-2 and line_manager-2. The newcomer's
    act dated 3 November 2026 is 422 naming the handover and the role's holder-1; undated
    (now) the same act is done (2xx)."""
    t = await make_tenant(client, settings, PACK)
    case_id = (await t.open_case(opened_at="2026-09-01T10:00:00+01:00"))["data"]["id"]
    await _ok(await _post(t, f"/v1/cases/{case_id}/judgements", with_matrix(PACK, {
        "domain": "rosh", "level": "high", "victims": ["public"],
        "occurred_at": "2026-11-02T10:00:00Z"}), CH1))
    before, who, url, body = ACTS[kind]
    ids = {"case": case_id}
    await before(t, case_id, ids)
    r = await patch_case(t, case_id, {"case_holder_id": "case_holder-2",
                                      "line_manager_id": "line_manager-2"})
    assert r.status_code == 200, r.text
    r = await _post(t, url.format(**ids), {**body, "occurred_at": "2026-11-03T10:00:00Z"}, who)
    problem = assert_problem(r, 422)
    assert problem["type"].endswith("/occurred-before-bound"), problem
    role = who[0].replace("_", " ")
    assert problem["bound"]["name"] == \
        f"when you became the case's {role}; {who[0]}-1 held it then"
    await _ok(await _post(t, url.format(**ids), body, who))


async def test_a_manager_given_the_case_back_records_their_first_period(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    """line_manager-1 (from the opening, 1 September), line_manager-2 from 5 September, back
    to line_manager-1 on 6 September: line_manager-1's oversight dated 2 September (their
    first period) is recorded (201); dated 5 September 12:00 it is 422 naming line_manager-2,
    who held the role then, and 6 September as when line_manager-1 took it again."""
    t = await make_tenant(client, settings, PACK)
    case_id = (await t.open_case(opened_at="2026-09-01T10:00:00+01:00"))["data"]["id"]
    for was, who, at in (("line_manager-1", "line_manager-2", "2026-09-05T10:00:00Z"),
                         ("line_manager-2", "line_manager-1", "2026-09-06T10:00:00Z")):
        r = await patch_case(t, case_id, {"line_manager_id": who, "occurred_at": at},
                             sub=was)
        assert r.status_code == 200, r.text
    lm1 = ("line_manager", "line_manager-1")
    entry = await _ok(await _post(t, f"/v1/cases/{case_id}/oversight", {
        "note": "reviewed", "occurred_at": "2026-09-02T10:00:00Z"}, lm1))
    assert entry["author_id"] == "line_manager-1"
    r = await _post(t, f"/v1/cases/{case_id}/oversight",
                    {"note": "reviewed", "occurred_at": "2026-09-05T12:00:00Z"}, lm1)
    problem = assert_problem(r, 422)
    assert problem["bound"] == {
        "field": "occurred_at", "value": "2026-09-06T10:00:00Z",
        "name": "when you became the case's line manager; line_manager-2 held it then"}
