"""Attack 21, A21a-5: a machine client (the CMS's ``cms`` token) has no route that reads a case's
events, yet by "reporting again" an event someone else recorded (the same type and time, no
details: docs/integrating.md "An event already recorded and sent again ... is answered 200 with
the first event") it was answered the worker's event whole: its free text about the child and
third parties, its author. On a restricted case too, where the README says "A restricted case is
never returned to a machine client". A death, recorded once whatever the time of a later report,
gave the worker's death record for any guessed time.

Now the machine client is answered the event's ids and type with what it sent itself; its own
earlier report, and staff, get the event whole, as before. Still one event, nothing raised
again, the report audited."""

from __future__ import annotations

import pytest

from tests.api.support import restrict
from tests.api.test_events import post_event
from tests.conftest import Tenant

SECRET = {"summary": "Disclosed abuse by uncle Bob Smith at 12 Elm St",
          "named_others": ["Bob Smith"]}


def _cms(t: Tenant) -> dict[str, str]:
    return t.auth("feed", "iyss-connector", scope="cms")


def _assert_nothing_of_the_first(data: dict[str, object], sent_details: dict[str, object]) -> None:
    assert data["details"] == sent_details
    assert data["recorded_by"] is None
    assert data["recorded_role"] is None
    assert data["created_at"] is None
    assert data["known_at"] is None
    assert "Bob Smith" not in str(data)


@pytest.mark.parametrize("restricted", [True, False])
async def test_cms_reporting_a_workers_event_again_reads_none_of_it(
    somerset: Tenant, restricted: bool
) -> None:
    case = (await somerset.open_case())["data"]
    first = await post_event(somerset, case["id"], type="exploitation_concern",
                             occurred_at="2026-08-27T10:00:00Z", details=SECRET)
    if restricted:
        r = await restrict(somerset.client, somerset, case["id"],
                           {"allowed_staff": ["case_holder-1", "line_manager-1"]})
        assert r.status_code == 200, r.text
    url = f"/v1/cases/{case['id']}/events"
    r = await somerset.client.post(url, headers=_cms(somerset), json={
        "type": "exploitation_concern", "occurred_at": "2026-08-27T11:00:00+01:00"})
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["id"] == first["data"]["id"]
    assert data["type"] == "exploitation_concern"
    assert data["occurred_at"] in ("2026-08-27T10:00:00Z", "2026-08-27T10:00:00+00:00")
    _assert_nothing_of_the_first(data, {})
    if restricted:
        assert r.json()["next_steps"] == []
    # Staff who record events on the case still get the first event whole.
    again = await somerset.client.post(url, headers=somerset.auth("case_holder"), json={
        "type": "exploitation_concern", "occurred_at": "2026-08-27T10:00:00Z"})
    assert again.status_code == 200, again.text
    assert again.json()["data"]["details"] == SECRET
    assert again.json()["data"]["recorded_by"] == first["data"]["recorded_by"]
    events = await somerset.client.get(url, headers=somerset.auth("line_manager"))
    assert [e["id"] for e in events.json()["data"]] == [first["data"]["id"]]


async def test_cms_reporting_a_death_again_reads_neither_the_time_nor_the_words(
    somerset: Tenant,
) -> None:
    """A death is recorded once whatever the time of a later report (A18-4): the CMS's report
    at another time is answered with its own time and words, not the worker's."""
    case = (await somerset.open_case())["data"]
    first = await post_event(somerset, case["id"], type="death",
                             occurred_at="2026-08-27T10:00:00Z",
                             details={"summary": "Found at home by his mother Jane"})
    await restrict(somerset.client, somerset, case["id"],
                   {"allowed_staff": ["case_holder-1", "line_manager-1"]})
    r = await somerset.client.post(f"/v1/cases/{case['id']}/events", headers=_cms(somerset),
                                   json={"type": "death", "occurred_at": "2026-08-26T10:00:00Z",
                                         "details": {"source": "IYSS"}})
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["id"] == first["data"]["id"]
    assert data["occurred_at"].startswith("2026-08-26T10:00:00")
    _assert_nothing_of_the_first(data, {"source": "IYSS"})
    assert "Jane" not in r.text
    assert r.json()["next_steps"] == []


async def test_cms_reporting_its_own_event_again_gets_it_whole(wokingham: Tenant) -> None:
    """The client's own earlier report is its own: answered whole, as before."""
    case = (await wokingham.open_case())["data"]
    url = f"/v1/cases/{case['id']}/events"
    body = {"type": "charged", "occurred_at": "2026-10-21T13:00:00Z",
            "notifiable_offence": True, "details": {"offence": "robbery"}}
    first = await wokingham.client.post(url, headers=_cms(wokingham), json=body)
    assert first.status_code == 201, first.text
    again = await wokingham.client.post(url, headers=_cms(wokingham), json=body)
    assert again.status_code == 200, again.text
    assert again.json()["data"] == first.json()["data"]
