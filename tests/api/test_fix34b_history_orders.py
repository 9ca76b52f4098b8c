"""A case's field history (the timeline's field changes and the subject access export's) is a
function of the set of dated acts, not of the order they were typed in (fix34b; attack 33,
ATTACK33-1, a twin of ATTACK32A-1 that fix32b's and fix32h's restatement did not reach).

2026 dates (London on BST): Friday 21, Monday 24 and Wednesday 26 August, 10:00 UTC.
"""

from __future__ import annotations

import uuid
from typing import Any

from tests.api.history_order_support import (
    OPENED,
    REF,
    field_changes,
    history_in_every_order,
    judged,
    record,
    transfer_in,
)
from tests.conftest import Tenant

FRI, MON, WED = "2026-08-21T10:00:00Z", "2026-08-24T10:00:00Z", "2026-08-26T10:00:00Z"


async def test_REG_somerset_own_high_before_a_transfer_typed_after_it_lists_the_child_at_its_date(
        somerset: Tenant) -> None:
    """Somerset 9: "A list of High / Very High ROSH / Safety and Well-Being concerns will be
    maintained by the MARP administrator"; 13.3: "Where a case has a ROSH judgment and/or
    Safety and Well-Being concerns of High or Very high from another YJT, the case will be
    referred into the next available MARP". Own ROSH high Friday 21 August, a transfer in at
    ROSH high Monday 24 August, own ROSH medium Wednesday 26 August (ATTACK33-1): the child is
    listed from the 21st and off the list from the 26th, the incoming ratings change on the
    24th, in every typing order (typed transfer first, then the 21st's high, the timeline
    listed the child from the 24th only and dated the incoming ratings when typed)."""
    timeline, _ = await history_in_every_order(somerset, [
        judged(FRI, "rosh", "high"), transfer_in(MON, rosh="high"),
        judged(WED, "rosh", "medium")])
    assert [c for c in timeline if c[1] == "on_register"] == [
        (FRI, "on_register", "false", "true"), (WED, "on_register", "true", "false")]
    assert [c[0] for c in timeline if c[1] == "incoming_ratings"] == [MON]


async def _reported_again(t: Tenant, incoming_later: bool, medium_first: bool
                          ) -> tuple[Any, Any]:
    """A transfer in on Monday 24 August (its incoming ROSH high sent with it, or only in a
    second report of it typed after the rest), own ROSH medium Wednesday 26 August."""
    ref = f"FX-{uuid.uuid4().hex[:8]}"
    case = (await t.open_case(external_ref={"system": REF, "id": ref},
                              opened_at=OPENED))["data"]["id"]
    first = transfer_in(MON) if incoming_later else transfer_in(MON, rosh="high")
    medium = judged(WED, "rosh", "medium")
    for act in (medium, first) if medium_first else (first, medium):
        await record(t, case, ref, act)
    if incoming_later:
        await record(t, case, ref, transfer_in(MON, rosh="high"))
    return await field_changes(t, case)


REGISTER = [(MON, "on_register", "false", "true"), (WED, "on_register", "true", "false")]


async def _registered_from_the_arrival(t: Tenant) -> None:
    for medium_first in (False, True):
        later = await _reported_again(t, True, medium_first)
        at_once = await _reported_again(t, False, medium_first)
        assert [c for c in at_once[0] if c[1] == "on_register"] == REGISTER
        assert [c for c in later[0] if c[1] == "on_register"] == REGISTER
        assert [c for c in later[1] if c[1] == "on_register"] == REGISTER


async def test_REG_somerset_incoming_ratings_reported_later_list_the_child_from_the_arrival(
        somerset: Tenant) -> None:
    """Somerset 13.3 (above). A transfer in Monday 24 August recorded without the ratings the
    child arrived with, own ROSH medium Wednesday 26 August, then the transfer reported again
    with its incoming ROSH high: the timeline and the export show the child listed from the
    24th until the 26th, as when the ratings came with the transfer (fix32h's leftover: they
    were not restated)."""
    await _registered_from_the_arrival(somerset)


async def test_REG_wokingham_incoming_ratings_reported_later_register_the_child_from_the_arrival(
        wokingham: Tenant) -> None:
    """Wokingham's register (High/Very High ROSH or SWB; the other YJS's until the PYJS's own
    judgement, fix32a). A transfer in Monday 24 August recorded without the ratings the child
    arrived with, own ROSH medium Wednesday 26 August, then the transfer reported again with
    its incoming ROSH high: on the register from the 24th until the 26th on the timeline and
    in the export, as when the ratings came with the transfer (fix32h's leftover)."""
    await _registered_from_the_arrival(wokingham)
