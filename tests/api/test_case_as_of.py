"""The case as it stood at an instant, and its timeline (issue 14, part 3).

``as_of`` is record time: what this service held at that instant. Somerset 9: a child rated
high ROSH is placed on the risk register; the rating is shown with the judgement it came from.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.api.management import (
    PROBLEM,
    case_at,
    complete,
    judgement,
    open_steps,
    patch_case,
    post_event,
    waive,
)
from tests.api.support import restrict
from tests.conftest import Tenant


def now() -> str:
    """The current instant, RFC 3339."""
    return datetime.now(UTC).isoformat()


async def test_case_as_it_stood_at_each_instant(somerset: Tenant) -> None:
    """Before the judgement: no rating, off the register; after it: high ROSH with its
    judgement id and on the register; after the PATCH: MAPPA fields and CSC status changed;
    steps open at each instant with their due dates."""
    case = (await somerset.open_case(opened_at="2026-03-02T09:00:00Z"))["data"]
    t0 = now()
    first_steps = {s["code"] for s in case["open_steps"]}
    rosh = await judgement(somerset, case["id"], domain="rosh", level="high",
                           rationale="Serious violence toward a peer.")
    t1 = now()
    await patch_case(somerset, case["id"], {"csc_status": "cp", "mappa_category": 2,
                                            "mappa_level": 1})
    t2 = now()

    r = await case_at(somerset, case["id"], t0)
    assert r.status_code == 200, r.text
    then = r.json()["data"]
    assert then["as_of"] == t0.replace("+00:00", "Z")
    assert then["ratings"] == {"rosh": None, "swb": None, "lor": None}
    assert then["on_register"] is False
    assert (then["csc_status"], then["mappa_category"], then["mappa_level"]) == ("none", None,
                                                                                  None)
    assert {s["code"] for s in then["open_steps"]} == first_steps

    then = (await case_at(somerset, case["id"], t1)).json()["data"]
    assert then["ratings"]["rosh"]["level"] == "high"
    assert then["ratings"]["rosh"]["judgement_id"] == rosh["id"]
    assert then["on_register"] is True
    assert then["csc_status"] == "none"
    now_case = (await case_at(somerset, case["id"], None)).json()["data"]
    # S10 (3.2.4): the PATCH's MAPPA category on the high case opened identify_mappa_level.
    opened_by_judgement = {s["code"] for s in now_case["open_steps"]} - first_steps \
        - {"identify_mappa_level"}
    assert opened_by_judgement
    assert opened_by_judgement <= {s["code"] for s in then["open_steps"]}

    then = (await case_at(somerset, case["id"], t2)).json()["data"]
    assert (then["csc_status"], then["mappa_category"], then["mappa_level"]) == ("cp", 2, 1)
    assert now_case["as_of"] is None


async def test_as_of_shows_steps_open_then_with_their_due_dates(wokingham: Tenant) -> None:
    """A step completed (even back-dated) after the instant was open then; one waived before
    it was not."""
    case = (await wokingham.open_case())["data"]
    await post_event(wokingham, case["id"], type="new_incident", occurred_at="2026-08-28T14:00:00Z")
    steps = await open_steps(wokingham, case["id"])
    await waive(wokingham, steps["report_to_line_manager"], "line_manager-1",
                "2026-08-28T15:00:00Z")
    t0 = now()
    await complete(wokingham, steps["record_incident"], "2026-08-28T16:00:00Z")
    then = (await case_at(wokingham, case["id"], t0)).json()["data"]
    shown = {s["code"]: s for s in then["open_steps"]}
    assert "report_to_line_manager" not in shown
    assert shown["record_incident"]["status"] == "open"
    assert shown["record_incident"]["due_at"] == "2026-08-28T22:59:59Z"
    assert shown["record_incident"]["completed_at"] is None
    assert shown["review_assessment"]["due_at"] == "2026-09-18T14:00:00Z"


async def test_back_dated_act_recorded_later_is_not_in_the_past(somerset: Tenant) -> None:
    """A judgement recorded after the instant is not shown then, even when back-dated before
    it: the answer is what the service knew."""
    case = (await somerset.open_case(opened_at="2026-03-02T09:00:00Z"))["data"]
    t0 = now()
    await judgement(somerset, case["id"], domain="swb", level="high",
                    occurred_at="2026-03-03T10:00:00Z")
    then = (await case_at(somerset, case["id"], t0)).json()["data"]
    assert then["ratings"]["swb"] is None
    assert (await case_at(somerset, case["id"], now())).json()["data"]["ratings"]["swb"][
        "level"] == "high"


async def test_as_of_before_the_case_was_recorded_is_404(somerset: Tenant) -> None:
    """The service held no such case then."""
    case = (await somerset.open_case())["data"]
    r = await case_at(somerset, case["id"], "2020-01-01T00:00:00Z")
    assert r.status_code == 404, r.text


@pytest.mark.parametrize("params", [
    {"as_of": "yesterday"},
    {"as_of": "2026-03-01T10:00:00"},  # no offset
    {"as_of": (datetime.now(UTC) + timedelta(days=1)).isoformat()},
    {"asof": "2026-03-01T10:00:00Z"},
    {"as_of": "2026-11-01T10:00:00Z", "include": "all"},
])
async def test_unknown_or_malformed_query_is_422(somerset: Tenant, params: dict[str, Any]) -> None:
    """Any unknown, malformed, offset-less or future query value on GET /v1/cases/{id}: 422."""
    case = (await somerset.open_case())["data"]
    r = await somerset.client.get(f"/v1/cases/{case['id']}", params=params,
                                  headers=somerset.auth("line_manager"))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith(PROBLEM)


async def test_as_of_keeps_access_rules(somerset: Tenant) -> None:
    """Another team's line manager and another case holder get 404 for the past as for now."""
    case = (await somerset.open_case())["data"]
    r = await case_at(somerset, case["id"], now(), "line_manager", "line_manager-2")
    assert r.status_code == 404
    r = await case_at(somerset, case["id"], now(), "case_holder", "case_holder-2")
    assert r.status_code == 404
    r = await somerset.client.get(f"/v1/cases/{case['id']}/timeline", params={"limit": 200},
                                  headers=somerset.auth("case_holder", "case_holder-2"))
    assert r.status_code == 404


async def test_timeline_in_time_order_with_who_and_why(wokingham: Tenant) -> None:
    """Opening, the event, steps created, a waiver with its reason, a judgement with its
    rationale and a field change with who made it, in the order they happened."""
    case = (await wokingham.open_case(opened_at="2026-03-02T09:00:00Z"))["data"]
    await post_event(wokingham, case["id"], type="new_incident", occurred_at="2026-03-10T11:00:00Z")
    steps = await open_steps(wokingham, case["id"])
    await waive(wokingham, steps["report_to_line_manager"], "line_manager-1",
                "2026-03-10T12:00:00Z")
    await judgement(wokingham, case["id"], domain="swb", level="medium",
                    occurred_at="2026-03-11T09:00:00Z", rationale="Missing from home twice.")
    await patch_case(wokingham, case["id"], {"csc_status": "cin"})
    r = await wokingham.client.get(f"/v1/cases/{case['id']}/timeline", params={"limit": 200},
                                   headers=wokingham.auth("case_holder"))
    assert r.status_code == 200, r.text
    entries = r.json()["data"]
    assert [e["at"] for e in entries] == sorted(e["at"] for e in entries)
    assert (entries[0]["kind"], entries[0]["action"]) == ("case", "opened")
    event = next(e for e in entries if e["kind"] == "event")
    assert (event["action"], event["by"], event["at"]) == (
        "new_incident", "case_holder-1", "2026-03-10T11:00:00Z")
    waived = next(e for e in entries if e["kind"] == "step" and e["action"] == "waived")
    assert waived["details"]["code"] == "report_to_line_manager"
    assert (waived["by"], waived["role"]) == ("line_manager-1", "line_manager")
    assert waived["why"] == "Waived: Covered at the panel."
    assert waived["at"] == "2026-03-10T12:00:00Z"
    created = [e for e in entries if e["kind"] == "step" and e["action"] == "created"]
    assert {e["details"]["code"] for e in created} >= {"record_incident", "review_assessment"}
    judged = next(e for e in entries if e["kind"] == "judgement")
    assert (judged["why"], judged["details"]["level"]) == ("Missing from home twice.", "medium")
    change = next(e for e in entries if e["action"] == "fields_changed"
                  and "csc_status" in e["details"]["changes"])
    assert change["details"]["changes"]["csc_status"] == ["none", "cin"]
    assert change["by"] == "line_manager-1"
    assert entries.index(event) < entries.index(waived) < entries.index(judged)


async def test_restricted_case_past_and_timeline_are_404(client: Any, somerset: Tenant) -> None:
    """Staff shut out of a case get 404 for its past and its timeline, as for the case now."""
    case = (await somerset.open_case())["data"]
    t0 = now()
    r = await restrict(client, somerset, case["id"], {"excluded_staff": ["chair-1"]})
    assert r.status_code == 200, r.text
    assert (await case_at(somerset, case["id"], t0, "chair")).status_code == 404
    r = await somerset.client.get(f"/v1/cases/{case['id']}/timeline", params={"limit": 200},
                                  headers=somerset.auth("chair"))
    assert r.status_code == 404
    assert (await case_at(somerset, case["id"], t0, "line_manager")).status_code == 200


async def test_as_of_before_a_reassignment_shows_the_old_holder(wokingham: Tenant) -> None:
    """After the case moves to another case holder (and its open steps with it), the case as
    it stood before shows the old holder on the case and on the steps."""
    case = (await wokingham.open_case())["data"]
    await post_event(wokingham, case["id"], type="new_incident", occurred_at="2026-08-28T14:00:00Z")
    t0 = now()
    await patch_case(wokingham, case["id"], {"case_holder_id": "case_holder-2"})
    current = (await case_at(wokingham, case["id"], None)).json()["data"]
    assert current["case_holder_id"] == "case_holder-2"
    assert current["open_steps"][0]["assignee_id"] == "case_holder-2"
    then = (await case_at(wokingham, case["id"], t0)).json()["data"]
    assert then["case_holder_id"] == "case_holder-1"
    holders = {s["code"]: s["assignee_id"] for s in then["open_steps"]
               if s["actor"] == "case_holder"}
    assert holders["record_incident"] == "case_holder-1"
    assert set(holders.values()) == {"case_holder-1"}


async def test_timeline_puts_each_record_before_the_steps_it_raised(wokingham: Tenant) -> None:
    """Wokingham 3.1 / W1: a new incident that may raise risk to high asks for the incident to be
    recorded and the assessment reviewed. Both the event and a judgement raise steps at their
    own instant: in the timeline each record comes first, then the steps it raised (as in the
    audit trail), never the steps before the record that caused them."""
    case = (await wokingham.open_case(opened_at="2026-03-02T09:00:00Z"))["data"]
    await post_event(wokingham, case["id"], type="new_incident",
                     occurred_at="2026-03-10T11:00:00Z", may_raise_to_high=True)
    await judgement(wokingham, case["id"], domain="rosh", level="high", impact="major",
                    likelihood="likely", victims=["known adult"],
                    occurred_at="2026-03-11T09:00:00Z", rationale="Weapon found.")
    r = await wokingham.client.get(f"/v1/cases/{case['id']}/timeline", params={"limit": 200},
                                   headers=wokingham.auth("case_holder"))
    assert r.status_code == 200, r.text
    entries = r.json()["data"]
    for kind, at in (("event", "2026-03-10T11:00:00Z"), ("judgement", "2026-03-11T09:00:00Z")):
        record = next(i for i, e in enumerate(entries) if e["kind"] == kind)
        raised = [i for i, e in enumerate(entries)
                  if e["kind"] == "step" and e["action"] == "created" and e["at"] == at]
        assert raised, (kind, entries)
        assert record < min(raised), [(e["kind"], e["action"], e["at"]) for e in entries]
