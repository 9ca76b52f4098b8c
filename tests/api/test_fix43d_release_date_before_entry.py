"""A PATCH of the expected release date typed in before the (earlier) custody entry is what it
is in time order (attack 41, ATTACK41-6; fix43d).

An expected release date in the future implies the child is in custody (docs/integrating.md
§7: a ``PATCH`` "setting ``in_custody`` (stated, or implied by a future
``expected_release_date``)"). Typed in before the custody entry of 10 Sep, the PATCH of 15 Sep
found a child at liberty on file and was recorded as the child entering custody on 15 Sep:
Wokingham W4 "record the incident" due 16 Sep; when the entry was then typed in, the PATCH was
not judged again, the child stood in custody from 15 Sep, and the release of 1 Oct typed after
it raised no W4 of its own. In time order the release date is set on a child already in custody
(no move, no W4) and the release is recorded (W4 due 2 Oct).

Dates: the case opened Tue 1 Sep 2026 09:00 BST; custody entry Thu 10 Sep 10:00 BST; category 2
(PATCH) Sat 12 Sep; the expected release date 20 May 2027 (PATCH) Tue 15 Sep; the release
(PATCH) Thu 1 Oct 2026 10:00 BST. All PATCHes by the case's line manager.
"""

from __future__ import annotations

import uuid
from pprint import pformat
from typing import Any

from tests.api.instant_support import Act, event, patched, record, whole_record
from tests.conftest import Tenant
from tests.orders import typing_orders

OPENED = "2026-09-01T08:00:00Z"
ENTRY = "2026-09-10T09:00:00Z"
CATEGORY = "2026-09-12T09:00:00Z"
RELEASE_DATE = "2026-09-15T09:00:00Z"
RELEASE = "2026-10-01T09:00:00Z"
HOLDER = "case_holder-1"


async def open_steps_in_every_order(t: Tenant, acts: list[Act]) -> list[tuple[Any, ...]]:
    """The open steps (code, actor, assignee, due, urgent, rule) ``acts`` (in time order)
    leave typed in each order on a new case; asserts each order leaves time order's and
    returns them. (Not the whole record: when a step is raised and a field change's timeline
    time still depend on the typing order in these histories; /work/notes/fix43d.md.)"""
    got: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
    for order in typing_orders(acts):
        ref = f"FX-{uuid.uuid4().hex[:8]}"
        case = (await t.open_case(external_ref={"system": "IYSS", "id": ref},
                                  opened_at=OPENED))["data"]["id"]
        for act in order:
            await record(t, case, ref, act)
        whole = await whole_record(t, case)
        got[tuple(a.label for a in order)] = sorted(
            (s[0], s[3], s[4], s[5], s[6], s[7]) for s in whole.steps if s[1] == "open")
    first = next(iter(got.values()))
    differ = {o: {"more": sorted(set(s) - set(first)), "missing": sorted(set(first) - set(s))}
              for o, s in got.items() if s != first}
    assert not differ, f"time order: {pformat(first)}\nother orders: {pformat(differ)}"
    return first


def open_of(steps: list[tuple[Any, ...]], code: str) -> list[tuple[Any, ...]]:
    """The open steps of ``code``: (actor, assignee, due, urgent, rule)."""
    return sorted(s[1:] for s in steps if s[0] == code)


async def test_W4_release_date_patched_before_the_custody_entry_is_typed_in(
        wokingham: Tenant) -> None:
    """W4 (Wokingham "Internal and External Controls"): "Where there is a change of
    circumstances, context or a new incident of concern becomes known to the PYJS worker, this
    must be recorded on the IYSS case management system within one working day". The custody
    entry (10 Sep), category 2 (12 Sep), the expected release date (15 Sep) and the release
    (1 Oct): the entry and the release are each recorded (W4 due 11 Sep and 2 Oct); the release
    date set on a child already in custody is no move, whatever the typing order (typed the
    release date before the entry, it raised a W4 due 16 Sep and the release none)."""
    got = await open_steps_in_every_order(wokingham, [
        event(ENTRY, "custody_entry"), patched(CATEGORY, mappa_category=2),
        patched(RELEASE_DATE, expected_release_date="2027-05-20"),
        patched(RELEASE, in_custody=False)])
    assert open_of(got, "record_incident") == [
        ("case_holder", HOLDER, "2026-09-11T22:59:59Z", False, "W4"),
        ("case_holder", HOLDER, "2026-10-02T22:59:59Z", False, "W4")]


async def test_W4_release_date_patched_before_the_custody_entry_minimal(
        wokingham: Tenant) -> None:
    """W4 (Wokingham "Internal and External Controls", the minimal form): "this must be
    recorded on the IYSS case management system within one working day". The custody entry
    (10 Sep), the expected release date (15 Sep) and the release (1 Oct): W4 for the entry
    and for the release only, in every typing order."""
    got = await open_steps_in_every_order(wokingham, [
        event(ENTRY, "custody_entry"),
        patched(RELEASE_DATE, expected_release_date="2027-05-20"),
        patched(RELEASE, in_custody=False)])
    assert open_of(got, "record_incident") == [
        ("case_holder", HOLDER, "2026-09-11T22:59:59Z", False, "W4"),
        ("case_holder", HOLDER, "2026-10-02T22:59:59Z", False, "W4")]
