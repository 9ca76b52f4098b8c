"""An event type's own fields are refused on other types (attack 20, A20-20).

Somerset 13.3: "Where a case has a ROSH judgment and/or Safety and Well-Being concerns of
**High** or **Very high** from another YJT, the case will be referred into the next available
MARP": ``incoming_ratings`` are the ratings a child transferring in arrives with (S25, S42 read
them on a ``transfer_in`` alone). Sent with another type they were stored in the event's
details and never read: now 422 naming ``body.incoming_ratings``, as ``notifiable_offence`` on
a non-charge has been since A20-1. The twin: ``transfer_date`` (13.4.3 "prior to the transfer";
a transfer in's date bounds) belongs to the transfer types alone. The preview refuses the same
(``body.data.<field>``).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.integrity_support import assert_problem
from tests.conftest import Tenant

SEED_13_3 = ("Where a case has a ROSH judgment and/or Safety and Well-Being concerns of **High** "
             "or **Very high** from another YJT, the case will be referred into the next "
             "available MARP")


async def _event(t: Tenant, case_id: str, body: dict[str, Any]) -> Any:
    return await t.client.post(f"/v1/cases/{case_id}/events", json=body,
                               headers=t.auth("case_holder"))


@pytest.mark.parametrize(("kind", "field", "value"), [
    ("change_of_circumstances", "incoming_ratings", {"rosh": "high"}),
    ("new_incident", "incoming_ratings", {"swb": "very_high"}),
    ("transfer_out", "incoming_ratings", {"rosh": "high"}),
    ("custody_release", "incoming_ratings", {}),
    ("new_incident", "transfer_date", "2026-12-20"),
    ("charged", "transfer_date", "2026-12-20"),
])
async def test_S25_a_field_of_another_event_type_is_422_naming_it(
    somerset: Tenant, kind: str, field: str, value: Any
) -> None:
    """S25 (13.3): "Where a case has ... from another YJT, the case will be referred into the
    next available MARP": ``incoming_ratings`` only on ``transfer_in``; ``transfer_date``
    only on the transfer types. On another type: 422 naming ``body.<field>``, nothing
    recorded; the preview answers the same, ``body.data.<field>``."""
    case_id = (await somerset.open_case())["data"]["id"]
    body = {"type": kind, "occurred_at": "2026-11-30T10:00:00Z", field: value}
    if kind == "transfer_out":
        body["transfer_date"] = "2026-12-20"
    problem = assert_problem(await _event(somerset, case_id, body), 422)
    assert [e["loc"] for e in problem["errors"]] == [f"body.{field}"]
    assert field in problem["detail"]
    r = await somerset.client.get(f"/v1/cases/{case_id}/timeline",
                                  headers=somerset.auth("case_holder"))
    assert r.status_code == 200, r.text
    assert kind not in r.text
    r = await somerset.client.post("/v1/workflow/preview", headers=somerset.auth("case_holder"),
                                   json={"case_id": case_id, "trigger": "case_event",
                                         "data": {k: v for k, v in body.items()
                                                  if k != "occurred_at"}})
    problem = assert_problem(r, 422)
    assert [e["loc"] for e in problem["errors"]] == [f"body.data.{field}"]


async def test_S25_the_fields_are_taken_on_their_own_types(somerset: Tenant) -> None:
    """S25 (13.3): "Where a case has ... from another YJT, the case will be referred into the
    next available MARP": a transfer in with its incoming ratings and date is recorded
    and refers the case to the next MARP; a transfer out with its date is recorded."""
    case_id = (await somerset.open_case())["data"]["id"]
    r = await _event(somerset, case_id, {"type": "transfer_in", "incoming_ratings": {
        "rosh": "high"}, "transfer_date": "2026-11-30", "occurred_at": "2026-11-30T10:00:00Z"})
    assert r.status_code == 201, r.text
    assert "refer_to_panel" in {s["code"] for s in r.json()["next_steps"]}
    r = await _event(somerset, case_id, {"type": "transfer_out",
                                         "transfer_date": "2026-12-20"})
    assert r.status_code == 201, r.text
