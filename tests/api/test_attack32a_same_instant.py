"""Acts at one instant (attack pass 32a, ATTACK32A-2): a case event and a judgement with the
same act time leave the same record whichever is typed first. At one instant the case's
events come first and its judgements after them, each judged on the case as the instant's
events left it: Somerset 4.2.1, "Case holders must remain alert to the potential for
unforeseen changes in circumstances requiring a re-classification of ROSH/Safety and
Well-being judgement ratings": the judgement is made in the light of the event, not the
event in the light of the judgement (app.domain.replay; docs/integrating.md, Times).

Dates (real calendar, London, GMT): Tue 24 Nov 2026 10:00, Wed 25 Nov the next working day.
"""

from __future__ import annotations

import pytest

from tests.api.act_order_support import (
    HOLDER,
    MANAGER,
    event,
    every_order,
    rate,
    same_as_time_order,
    steps_of,
)
from tests.conftest import Tenant

AT = "2026-11-24T10:00:00Z"
# The events that ask an assessment review on the rating of their date (Somerset S14 4.2/2.1,
# Wokingham W6); a custody release needs the child in custody before it.
REVIEWING = ["change_of_circumstances", "new_incident", "charged", "custody_entry",
             "custody_release"]
# A release and a judgement at one instant, the judgement typed first: the release's
# secure-estate handover (S27 14.4) replaces the entry's (14.3) as in time order (fix32g's
# leftover, fixed by fix35i: ATTACK35A-8).
SOMERSET_KINDS = REVIEWING
ENTRY = event("custody_entry", "2026-11-23T10:00:00Z")


def before(kind: str) -> tuple[tuple[object, ...], ...]:
    """What ``kind`` needs on record first (a release: a custody entry the day before)."""
    return (ENTRY,) if kind == "custody_release" else ()


@pytest.mark.parametrize("kind", SOMERSET_KINDS)
async def test_S14_event_and_medium_at_one_instant(somerset: Tenant, kind: str) -> None:
    """S14 (Somerset 2.1, 4.2): "AssetPlus assessment will be reviewed maximum 12 weekly (or
    sooner upon any significant change becoming known)"; where ratings are medium or above
    "Case holders will review AssetPlus as soon as possible (within 24 hrs/next working
    day) to evidence when changes of circumstance have occurred". The event and a ROSH
    medium judgement on Tue 24 Nov 2026 10:00: the event comes first, on a case not yet
    rated medium, so its review has no deadline (2.1), in either typing order."""
    record_ = same_as_time_order(await every_order(
        somerset, [event(kind, AT), rate("medium", AT)], before=before(kind)))
    assert [s[1:] for s in steps_of(record_, "review_assessment")] == [
        ("case_holder", HOLDER, None, "S14", "2.1")]


async def test_S14_custody_entry_and_swb_very_high_at_one_instant(somerset: Tenant) -> None:
    """S14 (Somerset 2.1, 4.2), as above: a custody entry and the line manager's SWB very
    high on Tue 24 Nov 2026 10:00 (the attack's twin): one review without a deadline (2.1),
    in either typing order."""
    record_ = same_as_time_order(await every_order(
        somerset, [event("custody_entry", AT),
                   rate("very_high", AT, by="line_manager", domain="swb")]))
    assert [s[1:] for s in steps_of(record_, "review_assessment")] == [
        ("case_holder", HOLDER, None, "S14", "2.1")]


@pytest.mark.parametrize("kind", REVIEWING)
async def test_W7_event_that_may_raise_to_high_and_very_high_at_one_instant(
        wokingham: Tenant, kind: str) -> None:
    """W7 (Wokingham High Risk Panel): "request a High-Risk Panel within two working days of
    ... 2. Becoming aware of a change of circumstances or new incident which is serious enough
    to warrant consideration for an increase of assessed risk levels to high/very high". The
    event (flagged as such) and a ROSH very high on Tue 24 Nov 2026 10:00: one request, due
    by the end of Thu 26 Nov, and W6's Asset+ review within three weeks, in either typing
    order."""
    record_ = same_as_time_order(await every_order(
        wokingham, [event(kind, AT, may_raise_to_high=True), rate("very_high", AT)],
        before=before(kind)))
    assert [s[1:4] for s in steps_of(record_, "request_high_risk_panel")] == [
        ("case_holder", HOLDER, "2026-11-26T23:59:59Z")]
    # W6's review within three weeks of the event (of the entry the day before, for a
    # release: one review a case).
    due = "2026-12-14T10:00:00Z" if kind == "custody_release" else "2026-12-15T10:00:00Z"
    assert [s[1:4] for s in steps_of(record_, "review_assessment")] == [
        ("case_holder", HOLDER, due)]


async def test_S26_transfer_out_and_high_at_one_instant(somerset: Tenant) -> None:
    """S26 (Somerset 13.4.3): "Where the case is assessed as high or very high ROSH or Safety
    and Well-Being concern, the line manager will have a telephone conversation with the
    receiving team manager before transfer". A transfer out and a ROSH high on Tue 24 Nov
    2026 10:00: the transfer comes first, on a case not yet rated high, and the high made in
    its light finds the transfer pending: the call is owed, in either typing order."""
    record_ = same_as_time_order(await every_order(somerset, [
        event("transfer_out", AT, transfer_date="2026-12-07"), rate("high", AT)]))
    assert [s[1:3] for s in steps_of(record_, "manager_handover_call")] == [
        ("line_manager", MANAGER)]
