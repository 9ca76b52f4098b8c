"""Two events that cannot share an instant are not recorded at one (fix37d; docs/integrating.md
§7): a custody entry and a release, two transfers out naming different transfer dates. Of one
kind at one instant the acts went by recording order, so the record depended on which was typed
first: entry then release left the child out of custody, release then entry in custody
(Somerset 14.3/14.4, S27/S32/S33: the secure estate's handover and transfer documents "while in
custody"); of two transfers out, the one typed last stood, and S26's call "before transfer
date" (13.4.3) was due on its date. Neither order is what happened: the order is unknown. The
second is refused, 409 ``event-at-same-instant`` naming the first, whichever is typed first;
the same event reported again is still the same event, and a transfer in and a transfer out of
one instant stay one arrival and one departure (in before out).

Dates: Tuesday 24 November 2026 10:00 UTC (GMT); cases opened Monday 2 November 2026, ROSH high
on Tuesday 3 November.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.instant_support import case_rated_high, open_step_lines, send_event
from tests.conftest import Tenant

T = "2026-11-24T10:00:00Z"
ENTRY = {"type": "custody_entry", "occurred_at": T}
RELEASE = {"type": "custody_release", "occurred_at": T}
OUT_30 = {"type": "transfer_out", "occurred_at": T, "transfer_date": "2026-11-30"}
OUT_7 = {"type": "transfer_out", "occurred_at": T, "transfer_date": "2026-12-07"}


async def _refused_second(t: Tenant, first: dict[str, Any], second: dict[str, Any]
                          ) -> tuple[Any, ...]:
    """``first`` recorded, ``second`` refused 409 naming it; the case's custody and open
    steps, which are those of ``first`` alone."""
    case_id = await case_rated_high(t)
    r = await send_event(t, case_id, first)
    assert r.status_code == 201, r.text
    recorded = r.json()["data"]["id"]
    alone = await open_step_lines(t, case_id)
    r = await send_event(t, case_id, second)
    assert r.status_code == 409, r.text
    problem = r.json()
    assert problem["type"].endswith("/event-at-same-instant")
    assert problem["other_event"] == {"type": first["type"], "id": recorded,
                                      "occurred_at": T}
    assert problem["errors"][0]["loc"] == "body.occurred_at"
    case = (await t.client.get(f"/v1/cases/{case_id}", headers=t.auth("line_manager"))).json()
    steps = await open_step_lines(t, case_id)
    assert steps == alone
    return case["data"]["in_custody"], steps


@pytest.mark.parametrize(("first", "second", "in_custody"), [
    (ENTRY, RELEASE, True), (RELEASE, ENTRY, False)])
async def test_S27_custody_entry_and_release_at_one_instant_second_refused(
        somerset: Tenant, first: dict[str, Any], second: dict[str, Any],
        in_custody: bool) -> None:
    """S27 (Somerset 14.3, 14.4): "When a child enters custody ... the case manager will
    telephone the secure estate"; "On release ...". An entry and a release both at 10:00 on
    24 November: the second typed is refused (409 event-at-same-instant, naming the first),
    in either order; the case's custody and open steps are the first's alone."""
    got, _ = await _refused_second(somerset, first, second)
    assert got is in_custody


async def test_S26_two_transfers_out_at_one_instant_second_refused(somerset: Tenant) -> None:
    """S26 (Somerset 13.4.3): "the line manager will ... telephone ... before the transfer
    date". Transfers out at 10:00 on 24 November naming 30 November and 7 December: the second
    typed is refused (409 event-at-same-instant), so the call stays due before the first's
    date, 30 November."""
    _, steps = await _refused_second(somerset, OUT_30, OUT_7)
    assert ("manager_handover_call", "2026-11-30T00:00:00Z", "S26") in steps


async def test_S30_the_same_transfer_out_again_and_a_transfer_in_still_recorded(
        somerset: Tenant) -> None:
    """Not refused: the same transfer out reported again (the same event: 200, not a second
    one) and a transfer in at its instant (an arrival and a departure, in before out:
    docs/integrating.md §7)."""
    case_id = await case_rated_high(somerset)
    assert (await send_event(somerset, case_id, OUT_30)).status_code == 201
    assert (await send_event(somerset, case_id, OUT_30)).status_code == 200
    r = await send_event(somerset, case_id, {"type": "transfer_in", "occurred_at": T,
                                             "details": {"from": "Dorset YJS"}})
    assert r.status_code == 201, r.text


async def test_S27_the_cms_is_told_the_other_event_without_its_id(somerset: Tenant) -> None:
    """S27 (Somerset 14.3, 14.4), sent by the case management system (a machine client, scope
    cms): a release at the instant of the entry the case holder recorded is refused 409
    event-at-same-instant naming the entry's type and instant, not its id (a machine client is
    answered no stored record's id, A16-10)."""
    case_id = await case_rated_high(somerset)
    r = await send_event(somerset, case_id, ENTRY)
    assert r.status_code == 201, r.text
    entry = r.json()["data"]["id"]
    r = await somerset.client.post(f"/v1/cases/{case_id}/events", json=RELEASE,
                                   headers=somerset.auth("feed", "iyss", scope="cms"))
    assert r.status_code == 409, r.text
    problem = r.json()
    assert problem["type"].endswith("/event-at-same-instant")
    assert problem["other_event"] == {"type": "custody_entry", "occurred_at": T}
    assert entry not in r.text
