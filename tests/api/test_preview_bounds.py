"""``POST /v1/workflow/preview`` "shows the same answer without writing anything": what the
write refuses before its policy runs, the preview refuses the same way (attack pass 11, A11-15:
it said ``valid: true``, with steps due in 1990, for judgements the write refuses).

policy-rules.md, "Deadline forms": "every deadline is computed from the triggering event's
occurred_at, never from the wall clock, so that a CMS can back-fill events", within the case:
an act before the child's birth or the case's opening is refused (422
``occurred-before-bound``), as is a judgement on a closed case (409 ``case-closed``).

Dates: the case opens on Monday 10 August 2026 09:00 London (BST); the child was born on
1 January 2010.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.integrity_support import assert_problem, patch_case
from tests.conftest import Tenant

HIGH = {"domain": "rosh", "level": "high"}


async def _both(t: Tenant, case_id: str, judgement: dict[str, Any]
                ) -> tuple[httpx.Response, httpx.Response]:
    """The preview's and the write's answers to one judgement (the preview first)."""
    headers = t.auth("case_holder")
    preview = await t.client.post("/v1/workflow/preview", headers=headers,
                                  json={"case_id": case_id, "judgement": judgement})
    write = await t.client.post(f"/v1/cases/{case_id}/judgements", headers=headers,
                                json=judgement)
    return preview, write


async def test_S5_preview_refuses_a_judgement_before_the_case_opened_as_the_write_does(
        somerset: Tenant) -> None:
    """S5 (Somerset 3.1: "Any 'high' or 'very high' judgement rating will be discussed ...
    within 24 hours"): a high ROSH dated Sunday 9 August 2026, the day before the case opened,
    and one dated 1990, before the child was born: the preview and the write are both 422
    ``occurred-before-bound`` naming ``occurred_at`` (no steps offered); the same judgement on
    Tuesday 11 August previews the discussion due 24 clock hours later and is then written."""
    case = (await somerset.open_case(
        opened_at="2026-08-10T09:00:00+01:00",
        child={"given_name": "Ari", "family_name": "Vale", "date_of_birth": "2010-01-01"}))["data"]
    for at in ("2026-08-09T10:00:00+01:00", "1990-01-01T00:00:00Z"):
        preview, write = await _both(somerset, case["id"], {**HIGH, "occurred_at": at})
        p, w = assert_problem(preview, 422), assert_problem(write, 422)
        assert p["type"] == w["type"]
        assert p["type"].endswith("/occurred-before-bound")
        assert any("occurred_at" in e["loc"] for e in p["errors"])
    preview, write = await _both(somerset, case["id"],
                                 {**HIGH, "occurred_at": "2026-08-11T10:00:00+01:00"})
    assert preview.status_code == 200, preview.text
    assert preview.json()["data"]["valid"] is True
    step = next(s for s in preview.json()["data"]["steps"] if s["code"] == "discuss_with_manager")
    assert (step["actor"], step["due_at"], step["rule"]) == (
        "line_manager", "2026-08-12T09:00:00Z", "S5")
    assert write.status_code == 201, write.text


async def test_preview_refuses_a_judgement_on_a_closed_case_and_an_event_before_opening(
        somerset: Tenant) -> None:
    """A closed case takes no judgement (Somerset 9: closed cases are no longer managed here):
    preview and write are both 409 ``case-closed``. A trigger's preview dated before the case
    opened is 422 ``occurred-before-bound`` as the event's write is."""
    case = (await somerset.open_case(opened_at="2026-08-10T09:00:00+01:00"))["data"]
    r = await somerset.client.post("/v1/workflow/preview", headers=somerset.auth("case_holder"),
                                   json={"case_id": case["id"], "trigger": "case_event",
                                         "occurred_at": "2026-08-09T10:00:00+01:00",
                                         "data": {"type": "new_incident"}})
    assert assert_problem(r, 422)["type"].endswith("/occurred-before-bound")
    r = await patch_case(somerset, case["id"], {"closure_reason": "Order completed.",
                                                "closed_at": "2026-08-20T10:00:00+01:00"})
    assert r.status_code == 200, r.text
    preview, write = await _both(somerset, case["id"],
                                 {**HIGH, "occurred_at": "2026-08-19T10:00:00+01:00"})
    p, w = assert_problem(preview, 409), assert_problem(write, 409)
    assert p["type"] == w["type"]
