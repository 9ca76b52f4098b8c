"""Attack 22/23, A22-11 / A23a-2: on an unrestricted case, the case management system (a ``cms``
machine client) re-posting an event a worker already recorded (the "reported again" answer, 200)
was answered the event's ids and type with only what it sent (A21a-5), but its ``next_steps``
were the case's open steps: those about the worker's event carry the due times counted from the
worker's first report (a death's time, whatever time the CMS sent) and the assignee. A restricted
case already answered ``next_steps: []`` (A9-19).

Now a machine client answered the event as it sent it is answered no steps either (the steps are
the first report's), on any case and any event type; its own earlier report is answered whole,
with the case's steps, as before.
"""

from __future__ import annotations

import pytest

from tests.api.support import restrict
from tests.api.test_events import post_event
from tests.conftest import Tenant


def _cms(t: Tenant) -> dict[str, str]:
    return t.auth("feed", "iyss-connector", scope="cms")


@pytest.mark.parametrize("restricted", [False, True])
@pytest.mark.parametrize(("kind", "worker_at", "cms_at"), [
    # A death is recorded once whatever the time of a later report (A18-4).
    ("death", "2026-08-27T10:00:00Z", "2026-08-26T09:00:00Z"),
    # Any other type is the same event at the same time (A15-10).
    ("charged", "2026-08-27T10:00:00Z", "2026-08-27T10:00:00Z"),
])
async def test_A22_11_cms_reporting_a_workers_event_again_reads_no_steps_of_it(
    somerset: Tenant, kind: str, worker_at: str, cms_at: str, restricted: bool
) -> None:
    case = (await somerset.open_case())["data"]
    first = await post_event(somerset, case["id"], type=kind, occurred_at=worker_at,
                             known_at="2026-08-27T15:30:00Z", details={"summary": "x"})
    mine = [s for s in first["next_steps"] if s["subject_id"] == first["data"]["id"]]
    assert mine, first["next_steps"]  # the worker's report raised steps about it
    if restricted:
        r = await restrict(somerset.client, somerset, case["id"],
                           {"allowed_staff": ["case_holder-1", "line_manager-1"]})
        assert r.status_code == 200, r.text
    r = await somerset.client.post(f"/v1/cases/{case['id']}/events", headers=_cms(somerset),
                                   json={"type": kind, "occurred_at": cms_at})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["id"] == first["data"]["id"]
    assert r.json()["next_steps"] == []
    assert "15:30" not in r.text  # the worker's known_at
    if cms_at != worker_at:
        assert worker_at.removesuffix("Z") not in r.text  # the worker's time of the death
    assert "case_holder-1" not in r.text


async def test_A22_11_cms_reporting_its_own_event_again_still_reads_its_steps(
    somerset: Tenant,
) -> None:
    """Its own report's steps are counted from what it sent: answered as before."""
    case = (await somerset.open_case())["data"]
    url = f"/v1/cases/{case['id']}/events"
    body = {"type": "charged", "occurred_at": "2026-08-27T10:00:00Z"}
    first = await somerset.client.post(url, headers=_cms(somerset), json=body)
    assert first.status_code == 201, first.text
    again = await somerset.client.post(url, headers=_cms(somerset), json=body)
    assert again.status_code == 200, again.text
    assert again.json()["next_steps"] == first.json()["next_steps"] != []
