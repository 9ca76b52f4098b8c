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

from tests.conftest import Tenant


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
