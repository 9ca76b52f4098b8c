"""The timeline and the subject access export read a transfer in's incoming ratings as they
stood at each instant (fix32h): the register shows the child listed from the arrival, not
before it, and off the list from the service's own judgement that answered the incoming
rating, whatever order the acts were typed in (fix32a's rule, fix32b's restatement).

Acts on Tue 24 Nov 2026 (London on GMT): the service's own ROSH medium at 09:00, a transfer in
at ROSH high at 10:00, the service's own ROSH medium at 11:00, typed in every order.
"""

from __future__ import annotations

from tests.api.order_support import DAY, Act, arrival, own, record
from tests.api.test_fix32b_derived_history import export_changes, timeline_changes
from tests.conftest import Tenant
from tests.orders import typing_orders

ACTS = [own("09:00", "rosh", "medium"), arrival("10:00", rosh="high"),
        own("11:00", "rosh", "medium")]
# Off the register until the arrival, on it from the arrival, off it from the answering
# judgement: the same in every typing order.
EXPECTED = [(f"{DAY}10:00:00Z", False, True), (f"{DAY}11:00:00Z", True, False)]


async def _register_in_every_order(t: Tenant, acts: list[Act]) -> dict[str, object]:
    """The register's changes (timeline, export) each typing order of ``acts`` leaves, for the
    orders that differ from ``EXPECTED``."""
    differ: dict[str, object] = {}
    for order in typing_orders(acts):
        case = str((await t.open_case(opened_at="2026-11-02T09:00:00Z"))["data"]["id"])
        for act in order:
            await record(t, case, act)
        got = (await timeline_changes(t, case, "on_register"),
               await export_changes(t, case, "on_register"))
        if got != (EXPECTED, EXPECTED):
            differ[" / ".join(f"{a.at} {a.kind}" for a in order)] = got
    return differ


async def test_REG_somerset_timeline_lists_the_child_from_the_arrival_until_answered(
        somerset: Tenant) -> None:
    """Somerset 13.3: "Where a case has a ROSH judgment and/or Safety and Well-Being concerns
    of High or Very high from another YJT, the case will be referred into the next available
    MARP"; 9: "A list of High / Very High ROSH / Safety and Well-Being concerns will be
    maintained by the MARP administrator". The other YJT's high counts until Somerset's own
    judgement made after the arrival (fix32a). Own medium 09:00, transfer in at high 10:00, own
    medium 11:00: the timeline and the export show the child listed at 10:00 and off the list
    at 11:00, in every typing order."""
    assert await _register_in_every_order(somerset, ACTS) == {}


async def test_REG_wokingham_timeline_registers_the_child_from_the_arrival_until_answered(
        wokingham: Tenant) -> None:
    """Wokingham: "the case worker must also notify the local Youth Justice Service of the
    child being released into their area and initiate the relevant transfer/care-taking
    process"; the register (High/Very High ROSH or SWB) counts the other YJS's high until the
    PYJS's own ROSH judgement (the pack's REG, fix32a). Own medium 09:00, transfer in at high
    10:00, own medium 11:00: the timeline and the export show the child on the register at
    10:00 and off it at 11:00, in every typing order."""
    assert await _register_in_every_order(wokingham, ACTS) == {}
