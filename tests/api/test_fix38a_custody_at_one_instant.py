"""Custody moves that cannot share an instant, whatever records them (fix38a, ATTACK37-3 and
-4; docs/integrating.md §7). fix37d refused a custody entry and a release at one instant, but
a ``PATCH`` of ``in_custody`` is the same kind of act and was accepted at a custody event's
instant: entry then ``in_custody: false`` left the child out of custody, ``in_custody: true``
then release likewise, and whoever typed last decided (Somerset 14.3/14.4, S27: "When a child
enters custody ... the case manager will telephone the secure estate"). And a custody entry or
a transfer out at a death's instant went by typing order: death then entry left a dead child in
custody, entry then death the entry's steps superseded. Now the second is 409
``event-at-same-instant`` in either order, nothing stored; the same state at one instant
(an entry, then ``in_custody: true``) is still accepted.

Dates: Tuesday 24 November 2026 10:00 UTC (GMT); cases opened Monday 2 November 2026, ROSH high
on Tuesday 3 November.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.instant_support import case_rated_high, open_step_lines, send_event
from tests.api.integrity_support import patch_case
from tests.conftest import Tenant

T = "2026-11-24T10:00:00Z"
ENTRY = {"type": "custody_entry", "occurred_at": T}
RELEASE = {"type": "custody_release", "occurred_at": T}
OUT_30 = {"type": "transfer_out", "occurred_at": T, "transfer_date": "2026-11-30"}
DEATH = {"type": "death", "occurred_at": T}
IN = {"in_custody": True, "occurred_at": T}
OUT = {"in_custody": False, "occurred_at": T}
# A future release date implies in_custody true (docs/integrating.md §2).
RELEASE_DATE = {"expected_release_date": "2027-01-11", "occurred_at": T}


async def _act(t: Tenant, case_id: str, body: dict[str, Any]) -> Any:
    """An event (a body with ``type``) or a dated PATCH of the case."""
    if "type" in body:
        return await send_event(t, case_id, body)
    return await patch_case(t, case_id, body)


async def _second_refused(t: Tenant, first: dict[str, Any], second: dict[str, Any]
                          ) -> dict[str, Any]:
    """``first`` recorded, ``second`` refused 409 event-at-same-instant (body.occurred_at),
    nothing changed: the case's custody and open steps are ``first``'s alone. The problem."""
    case_id = await case_rated_high(t)
    r = await _act(t, case_id, first)
    assert r.status_code in (200, 201), r.text
    url = f"/v1/cases/{case_id}"
    before = (await t.client.get(url, headers=t.auth("line_manager"))).json()["data"]
    alone = await open_step_lines(t, case_id)
    r = await _act(t, case_id, second)
    assert r.status_code == 409, r.text
    problem: dict[str, Any] = r.json()
    assert problem["type"].endswith("/event-at-same-instant")
    assert problem["errors"][0]["loc"] == "body.occurred_at"
    after = (await t.client.get(url, headers=t.auth("line_manager"))).json()["data"]
    assert (after["in_custody"], after["version"]) == (before["in_custody"], before["version"])
    assert await open_step_lines(t, case_id) == alone
    return problem


@pytest.mark.parametrize(("first", "second", "named"), [
    (ENTRY, OUT, "custody_entry"), (RELEASE, RELEASE_DATE, "custody_release"),
    (IN, RELEASE, None), (IN, OUT, None)],
    ids=["entry,patch-out", "release,patch-release-date", "patch-in,release", "patch-in,out"])
async def test_S27_a_custody_patch_at_the_instant_of_the_other_move_refused(
        somerset: Tenant, first: dict[str, Any], second: dict[str, Any],
        named: str | None) -> None:
    """S27 (Somerset 14.3, 14.4): "When a child enters custody ... the case manager will
    telephone the secure estate"; "On release ...". At 10:00 on 24 November a custody event and
    a PATCH of in_custody (stated, or implied by a future expected release date) the other way,
    or two such PATCHes: the second is refused, in either order, naming the first (the event,
    or the change of in_custody)."""
    problem = await _second_refused(somerset, first, second)
    if named is not None:
        assert problem["other_event"]["type"] == named
    else:
        assert problem["other_change"] == {"field": "in_custody", "value": True,
                                           "occurred_at": T}


async def test_S27_the_same_custody_state_at_one_instant_still_accepted(
        somerset: Tenant) -> None:
    """Not refused: an entry at 10:00 on 24 November and a PATCH stating in_custody true at
    that instant (the same state, 200), then the entry reported again (200, the same event);
    a PATCH stating in_custody false of a child not in custody (no move), then a death at its
    instant (201)."""
    case_id = await case_rated_high(somerset)
    assert (await send_event(somerset, case_id, ENTRY)).status_code == 201
    r = await patch_case(somerset, case_id, IN)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["in_custody"] is True
    assert (await send_event(somerset, case_id, ENTRY)).status_code == 200
    case_id = await case_rated_high(somerset)
    assert (await patch_case(somerset, case_id, OUT)).status_code == 200
    r = await send_event(somerset, case_id, DEATH)
    assert r.status_code == 201, r.text


@pytest.mark.parametrize(("first", "second"), [
    (DEATH, ENTRY), (ENTRY, DEATH), (DEATH, OUT_30), (DEATH, IN), (IN, DEATH)],
    ids=["death,entry", "entry,death", "death,transfer-out", "death,patch-in", "patch-in,death"])
async def test_S27_S26_a_custody_move_or_transfer_at_a_death_s_instant_refused(
        somerset: Tenant, first: dict[str, Any], second: dict[str, Any]) -> None:
    """S27 (Somerset 14.3: "When a child enters custody ...") and S26 (13.4.3: "telephone ...
    before the transfer date") beside a death at the same instant, 10:00 on 24 November: which
    came first decides the record (a dead child in custody, or the entry's steps superseded by
    the death), so the second typed is refused, naming the first; a PATCH putting the child in
    custody is such a move too."""
    problem = await _second_refused(somerset, first, second)
    if "type" in first:
        assert problem["other_event"]["type"] == first["type"]
    else:
        assert problem["other_change"] == {"field": "in_custody", "value": True,
                                           "occurred_at": T}
