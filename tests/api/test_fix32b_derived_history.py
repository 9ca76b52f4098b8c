"""The case's history stays true through back-dating (fix32b): every change of a field an act
derives (ratings, register, contact level, priority, custody) is on the timeline, and in the
subject access export, at the act's own date, from the value it replaced in the order the acts
happened, whatever order they were typed in.

2026 dates: judgements at Thursday 27 August 10:00 BST (09:00Z) and Friday 28 August 14:00 BST
(13:00Z), typed in on 28 August at 15:00 BST in either order.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.fidelity_support import pin
from tests.api.integrity_support import judge, patch_case, steps_of
from tests.conftest import Tenant, make_tenant

EARLIER, LATER = "2026-08-27T09:00:00Z", "2026-08-28T13:00:00Z"


def _shown(name: str, value: Any) -> Any:
    """A field's value as the tests compare it: a rating map by each domain's level."""
    if name == "ratings":
        return {d: r["level"] for d, r in sorted((value or {}).items()) if r}
    return value


def _over_time(entries: list[dict[str, Any]], name: str) -> list[tuple[str, Any, Any]]:
    """(when, from, to) of each change of ``name`` in field-change entries, in time order."""
    return sorted((e["at"], _shown(name, e["changes"][name][0]),
                   _shown(name, e["changes"][name][1]))
                  for e in entries if name in e["changes"])


async def timeline_changes(t: Tenant, case_id: str, name: str) -> list[tuple[str, Any, Any]]:
    """The changes of ``name`` the case's timeline lists."""
    r = await t.client.get(f"/v1/cases/{case_id}/timeline", params={"limit": 200},
                           headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    return _over_time([{"at": e["at"], "changes": e["details"]["changes"]}
                       for e in r.json()["data"] if e["action"] == "fields_changed"], name)


async def export_changes(t: Tenant, case_id: str, name: str) -> list[tuple[str, Any, Any]]:
    """The changes of ``name`` the child's subject access export lists for the case."""
    r = await t.client.get(f"/v1/cases/{case_id}/subject-access-export",
                           headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    (case_file,) = [c for c in r.json()["data"]["cases"] if c["case"]["id"] == case_id]
    return _over_time(case_file["field_changes"], name)


async def typed(t: Tenant, monkeypatch: pytest.MonkeyPatch,
                acts: list[tuple[str, str, str]]) -> str:
    """A case opened on 3 August with the judgements ``acts`` (domain, level, at) typed in on
    28 August in the order given; its id."""
    pin(monkeypatch, 2026, 8, 3, 9, 0)
    case_id = str((await t.open_case(opened_at="2026-08-03T09:00:00Z"))["data"]["id"])
    pin(monkeypatch, 2026, 8, 28, 14, 0)
    for domain, level, at in acts:
        await judge(t, case_id, domain, level, at)
    return case_id


async def test_the_subject_access_export_has_a_back_dated_judgements_rating_at_its_date(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """Somerset 6.4: "the child has the right to access their case file in line with GDPR
    legislation". ROSH high at 28 August typed in first, low at 27 August second: the export
    holds what the timeline does, the rating none -> low on the 27th and low -> high on the
    28th, not only the rows recorded as the case's own."""
    case_id = await typed(somerset, monkeypatch,
                          [("rosh", "high", LATER), ("rosh", "low", EARLIER)])
    expected = [(EARLIER, {}, {"rosh": "low"}), (LATER, {"rosh": "low"}, {"rosh": "high"})]
    assert await timeline_changes(somerset, case_id, "ratings") == expected
    assert await export_changes(somerset, case_id, "ratings") == expected


ORDERS = ["act order", "typed the other way"]


async def in_order(t: Tenant, monkeypatch: pytest.MonkeyPatch, order: str,
                   acts: list[tuple[str, str, str]]) -> str:
    """:func:`typed` with ``acts`` (in act order) typed in ``order``."""
    return await typed(t, monkeypatch, acts if order == "act order" else acts[::-1])


@pytest.mark.parametrize("order", ORDERS)
async def test_PRI_a_very_high_dated_before_another_domains_makes_the_case_a_priority_then(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch, order: str) -> None:
    """Somerset 3.2.4: ""Very High" judgements will trigger the case being dealt with as a
    priority at all stages." SWB very high on 27 August, ROSH very high on 28 August: the case
    was a priority from the 27th, on the register from the 27th, in either typing order (typed
    the other way, the SWB judgement is the latest of its domain but older than ROSH's)."""
    case_id = await in_order(somerset, monkeypatch, order,
                             [("swb", "very_high", EARLIER), ("rosh", "very_high", LATER)])
    for read in (timeline_changes, export_changes):
        assert await read(somerset, case_id, "priority") == [(EARLIER, False, True)]
        assert await read(somerset, case_id, "on_register") == [(EARLIER, False, True)]
        assert await read(somerset, case_id, "ratings") == [
            (EARLIER, {}, {"swb": "very_high"}),
            (LATER, {"swb": "very_high"}, {"rosh": "very_high", "swb": "very_high"})]


@pytest.mark.parametrize("order", ORDERS)
async def test_PRI_a_back_dated_very_high_before_a_later_high_was_a_priority_until_then(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch, order: str) -> None:
    """Somerset 3.2.4: ""Very High" judgements will trigger the case being dealt with as a
    priority at all stages." ROSH very high on 27 August, high on 28 August: a priority from
    the 27th until the 28th, in either typing order (typed the other way, the very high is a
    back-filled judgement of the domain)."""
    case_id = await in_order(somerset, monkeypatch, order,
                             [("rosh", "very_high", EARLIER), ("rosh", "high", LATER)])
    for read in (timeline_changes, export_changes):
        assert await read(somerset, case_id, "priority") == [
            (EARLIER, False, True), (LATER, True, False)]
        assert await read(somerset, case_id, "ratings") == [
            (EARLIER, {}, {"rosh": "very_high"}),
            (LATER, {"rosh": "very_high"}, {"rosh": "high"})]


@pytest.mark.parametrize("order", ORDERS)
async def test_W11_contact_level_follows_the_ratings_by_their_dates(
        wokingham: Tenant, monkeypatch: pytest.MonkeyPatch, order: str) -> None:
    """Wokingham, Frequency of contact: "Medium risk of either LoR or ROSH: weekly contact";
    "High risk in any of the risk domains: twice weekly contact". LoR medium on 27 August,
    SWB high on 28 August: weekly from the 27th, twice weekly from the 28th, in either typing
    order."""
    case_id = await in_order(wokingham, monkeypatch, order,
                             [("lor", "medium", EARLIER), ("swb", "high", LATER)])
    for read in (timeline_changes, export_changes):
        assert await read(wokingham, case_id, "contact_level") == [
            (EARLIER, None, "weekly"), (LATER, "weekly", "twice_weekly")]


@pytest.mark.parametrize("order", ORDERS)
async def test_W11_a_back_dated_high_before_a_later_medium_set_twice_weekly_contact_then(
        wokingham: Tenant, monkeypatch: pytest.MonkeyPatch, order: str) -> None:
    """Wokingham, Frequency of contact: "High risk in any of the risk domains: twice weekly
    contact"; "Medium risk of either LoR or ROSH: weekly contact". LoR high on 27 August,
    medium on 28 August: twice weekly from the 27th, weekly from the 28th, in either typing
    order (typed the other way, the high is back-filled)."""
    case_id = await in_order(wokingham, monkeypatch, order,
                             [("lor", "high", EARLIER), ("lor", "medium", LATER)])
    for read in (timeline_changes, export_changes):
        assert await read(wokingham, case_id, "contact_level") == [
            (EARLIER, None, "twice_weekly"), (LATER, "twice_weekly", "weekly")]


@pytest.mark.parametrize("order", ORDERS)
async def test_S27_a_custody_entry_typed_in_after_a_later_patch_is_on_the_timeline_at_its_date(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch, order: str) -> None:
    """Somerset 14.3 (S27, the secure estate handover: the child's move into custody). The
    custody entry event at 09:00 on 29 December and the staff's ``PATCH in_custody: true`` of
    10:00 that day, typed in either order: ``in_custody`` false -> true at 09:00, the entry's
    time, not at 10:00 (typed the other way, the event found the case already in custody and
    the move was on the timeline at the PATCH's time only)."""
    pin(monkeypatch, 2026, 11, 2, 9, 0)
    case_id = (await somerset.open_case(opened_at="2026-11-02T09:00:00Z"))["data"]["id"]
    pin(monkeypatch, 2026, 12, 30, 10, 0)
    entry = {"type": "custody_entry", "occurred_at": "2026-12-29T09:00:00Z",
             "details": {"establishment": "YOI"}}
    for act in ("event", "patch") if order == "act order" else ("patch", "event"):
        if act == "event":
            r = await somerset.client.post(f"/v1/cases/{case_id}/events", json=entry,
                                           headers=somerset.auth("case_holder"))
            assert r.status_code == 201, r.text
        else:
            r = await patch_case(somerset, case_id, {
                "in_custody": True, "occurred_at": "2026-12-29T10:00:00Z"})
            assert r.status_code == 200, r.text
    for read in (timeline_changes, export_changes):
        assert await read(somerset, case_id, "in_custody") == [
            ("2026-12-29T09:00:00Z", False, True)]


NONE_BOOKED = ("Due at the next Risk Panel (weekly on Thursday): Thursday 5 November 2026; none "
               "booked yet, so the first panel booked sets the date.")


async def test_X9_a_kept_meeting_day_no_longer_says_no_panel_is_booked_once_one_is(
        client: Any, settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Example Borough 5.2 (X9, the child's and carer's views "Before the panel"): judged high
    on Monday 2 November with no panel booked, the views are due by the Risk Panel's meeting
    day, Thursday 5 November, and the step's note says none is booked yet. That day passes; on
    Monday 9 November the panel of 19 November is booked: the passed date is kept, and the note
    says what is true now (none was booked before the day passed), not "none booked yet";
    ``as_of`` the 6th still shows the note of then."""
    example = await make_tenant(client, settings, "example-yjs")
    pin(monkeypatch, 2026, 11, 2, 10, 30)
    case_id = str((await example.open_case())["data"]["id"])
    r = await example.client.post(f"/v1/cases/{case_id}/judgements",
                                  json={"domain": "rosh", "level": "high",
                                        "occurred_at": "2026-11-02T09:30:00Z"},
                                  headers=example.auth("case_holder"))
    assert r.status_code == 201, r.text
    pin(monkeypatch, 2026, 11, 9, 9, 0)
    r = await example.client.post("/v1/panels", json={
        "kind": "risk_panel", "scheduled_for": "2026-11-19T14:00:00Z", "chair_id": "chair-1"},
        headers=example.auth("panel_admin"))
    assert r.status_code == 201, r.text
    [step] = [s for s in await steps_of(example, case_id)
              if s["code"] == "seek_child_and_carer_views"]
    assert step["note"].split("\n")[0] == (
        "Due at the next Risk Panel (weekly on Thursday): Thursday 5 November 2026; none was "
        "booked before that day passed."), step["note"]
    r = await example.client.get(f"/v1/cases/{case_id}", params={"as_of": "2026-11-06T12:00:00Z"},
                                 headers=example.auth("line_manager"))
    assert r.status_code == 200, r.text
    [then] = [s for s in r.json()["data"]["open_steps"]
              if s["code"] == "seek_child_and_carer_views"]
    assert then["note"].split("\n")[0] == NONE_BOOKED, then["note"]
