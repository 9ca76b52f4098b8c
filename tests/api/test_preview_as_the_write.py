"""The workflow preview answers what the write would (attack 20, A20-1 and A20-10).

README: ``POST /v1/workflow/preview`` "shows the same answer without writing anything".
A20-1: a case event's body is read by the write's own model, as strictly as the contract reads
the write (``notifiable_offence: "no"`` is refused, not read as false; a ``new_incident``
carrying it is refused). A20-10: after a recorded death the preview refuses what the write
refuses (409 ``after-final-event``) and a second report of the death raises nothing again.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.integrity_support import patch_case
from tests.conftest import Tenant

DIED = "2026-08-29T10:00:00+01:00"


async def _preview(t: Tenant, case_id: str, trigger: str, data: dict[str, Any],
                   status: int) -> Any:
    r = await t.client.post("/v1/workflow/preview", headers=t.auth("case_holder"), json={
        "case_id": case_id, "trigger": trigger, "data": data})
    assert r.status_code == status, r.text
    return r.json()


async def _event(t: Tenant, case_id: str, body: dict[str, Any], status: int) -> Any:
    r = await t.client.post(f"/v1/cases/{case_id}/events", json=body,
                            headers=t.auth("case_holder"))
    assert r.status_code == status, r.text
    return r.json()


@pytest.mark.parametrize("sent", ["no", "false", 0])
async def test_S23_a_charge_flag_the_write_refuses_is_refused_by_the_preview(
    somerset: Tenant, sent: Any
) -> None:
    """A20-1: ``notifiable_offence`` that is not a JSON boolean is 422 on both, named
    ``body.data.notifiable_offence`` in the preview."""
    case_id = (await somerset.open_case())["data"]["id"]
    await _event(somerset, case_id, {"type": "charged", "notifiable_offence": sent}, 422)
    problem = await _preview(somerset, case_id, "case_event",
                             {"type": "charged", "notifiable_offence": sent}, 422)
    assert "body.data.notifiable_offence" in {e["loc"] for e in problem["errors"]}, problem


async def test_S23_the_flag_on_another_event_and_inside_details_is_refused(
    somerset: Tenant,
) -> None:
    """A20-1: a new incident carrying the flag is 422 on both; the flag inside ``details``
    (where the write stores the top-level one) is refused too, so a system sending it there
    is not told it was read."""
    case_id = (await somerset.open_case())["data"]["id"]
    body = {"type": "new_incident", "notifiable_offence": False}
    await _event(somerset, case_id, body, 422)
    problem = await _preview(somerset, case_id, "case_event", body, 422)
    assert "body.data.notifiable_offence" in {e["loc"] for e in problem["errors"]}, problem
    inside = {"type": "charged", "details": {"notifiable_offence": False}}
    problem = await _event(somerset, case_id, inside, 422)
    assert "body.details.notifiable_offence" in {e["loc"] for e in problem["errors"]}, problem
    problem = await _preview(somerset, case_id, "case_event", inside, 422)
    assert "body.data.details.notifiable_offence" in {e["loc"] for e in problem["errors"]}
    answer = await _preview(somerset, case_id, "case_event",
                            {"type": "charged", "notifiable_offence": False}, 200)
    answer = answer["data"]
    assert answer["valid"] is True
    assert "notify_serious_incident" not in {s["code"] for s in answer["steps"]}


async def test_S23_after_a_death_the_preview_refuses_what_the_write_refuses(
    somerset: Tenant,
) -> None:
    """A20-10: after the death a new incident and a change of social care status are 409
    ``after-final-event`` in the preview as in the write; the death reported again previews
    no new step (the write answers the first)."""
    case_id = (await somerset.open_case())["data"]["id"]
    await _event(somerset, case_id, {"type": "death", "occurred_at": DIED}, 201)
    await _event(somerset, case_id, {"type": "new_incident"}, 409)
    problem = await _preview(somerset, case_id, "case_event", {"type": "new_incident"}, 409)
    assert problem["type"].endswith("/after-final-event"), problem
    problem = await _preview(somerset, case_id, "case_changed",
                             {"changes": {"csc_status": ["none", "cp"]}}, 409)
    assert problem["type"].endswith("/after-final-event"), problem
    again = await _event(somerset, case_id, {"type": "death"}, 200)
    answer = (await _preview(somerset, case_id, "case_event", {"type": "death"}, 200))["data"]
    assert answer["valid"] is True
    assert [s for s in answer["steps"] if s["action"] == "create"] == [], answer["steps"]
    assert again["data"]["type"] == "death"


async def test_S23_on_a_closed_case_the_preview_refuses_an_event_the_write_refuses(
    somerset: Tenant,
) -> None:
    """A20-10's twin: a new incident on a closed case is 409 ``case-closed`` in the write and
    the preview (it said valid)."""
    case_id = (await somerset.open_case())["data"]["id"]
    r = await patch_case(somerset, case_id, {"closed_at": "2026-08-20T10:00:00+01:00",
                                             "closure_reason": "Moved away"})
    assert r.status_code == 200, r.text
    problem = await _event(somerset, case_id, {"type": "new_incident"}, 409)
    assert problem["type"].endswith("/case-closed"), problem
    problem = await _preview(somerset, case_id, "case_event", {"type": "new_incident"}, 409)
    assert problem["type"].endswith("/case-closed"), problem
