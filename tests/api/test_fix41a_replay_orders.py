"""Acts typed in any order give the duties of time order when a back-dated act is typed late
and the later acts are replayed after it (attack 40, ATTACK40-2, ATTACK40-4; fix41a).

The replay of the later acts (app.domain.replay.replay_later_acts) had three faults:
- a change of the case's fields replayed after an act dated before it was judged under the role
  of the write replaying it, not of whoever recorded it: the release the line manager PATCHed,
  replayed after the custody entry the case holder typed in after it, owed Wokingham W5's
  report to the line manager, which a line manager recording the release does not owe (the
  pack's W5: "Recorded by the line manager themselves ... the report's purpose is met");
- a release PATCHed before the custody entry was typed in (recorded as no change, the child not
  yet in custody on file) was evaluated before the acts between the two, out of time order, and
  was skipped by a later replay altogether: the category 2 message of the days between left
  W16's MAPPA H notification undated;
- a change of the case's fields (or the release that became one) was replayed after the
  judgements of its instant, and an event of an instant on the ratings of that instant,
  judgement included, though docs/integrating.md §7 puts the events and changes of the case's
  fields before the judgements of their instant: Somerset S14's review got a next-working-day
  deadline when the earlier act was typed last.

Each test types the acts in the orders tests.orders.typing_orders gives (every order of three
acts; of four, the covering sample, every order with YJ_ALL_ORDERS=1), each on a new case, and
checks that every order leaves the record of time order, then what that record is.

Dates: the case opened Tue 1 Sep 2026 09:00 BST; custody entry Thu 10 Sep 10:00 BST; MAPPA's
category 2 message Sat 12 Sep; the expected release date (20 May 2027) Tue 15 Sep; the release
(and a judgement at its instant) Thu 1 Oct 2026 10:00 BST.
"""

from __future__ import annotations

import uuid
from pprint import pformat
from typing import Any

from tests.api.instant_support import (
    Act,
    event,
    mappa,
    own,
    patched,
    patched_as,
    record,
    steps_of,
    whole_in_every_order,
    whole_record,
)
from tests.conftest import Tenant
from tests.orders import typing_orders

OPENED = "2026-09-01T08:00:00Z"
ENTRY = "2026-09-10T09:00:00Z"
CATEGORY = "2026-09-12T09:00:00Z"
RELEASE_DATE = "2026-09-15T09:00:00Z"
RELEASE = "2026-10-01T09:00:00Z"
HOLDER = "case_holder-1"
CONTROLS = "Internal and External Controls"
MAPPA_REF = "Referrals into MAPPA"


async def open_steps_in_every_order(t: Tenant, acts: list[Act]) -> list[tuple[Any, ...]]:
    """The open steps (code, actor, assignee, due, urgent, rule) ``acts`` (in time order)
    leave typed in each order on a new case; asserts each order leaves time order's and
    returns them. (Not the whole record: when a step is raised and when a re-date is on the
    timeline still depend on the typing order in these histories; /work/notes/fix41a.md.)"""
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


async def test_W5_release_patched_by_the_line_manager_and_an_earlier_custody_entry(
        wokingham: Tenant) -> None:
    """W4, W5 (Wokingham "Internal and External Controls"): "Where there is a change of
    circumstances, context or a new incident of concern becomes known to the PYJS worker, this
    must be recorded on the IYSS case management system within one working day and immediately
    be reported to the line manager." The custody entry (10 Sep, by the case holder) and the
    release PATCHed by the case's line manager (1 Oct): each is recorded (W4); the entry is
    reported to the line manager (W5), the release, recorded by the line manager, is known to
    them and owes no report, typed in either order (typed release first, the entry's write
    replayed the release under the case holder's role and raised a report for it)."""
    got = await whole_in_every_order(wokingham, [
        event(ENTRY, "custody_entry"), patched(RELEASE, in_custody=False)], opened_at=OPENED)
    assert steps_of(got, "record_incident") == [
        ("case_holder", HOLDER, "2026-09-11T22:59:59Z", False, "W4", CONTROLS),
        ("case_holder", HOLDER, "2026-10-02T22:59:59Z", False, "W4", CONTROLS)]
    assert steps_of(got, "report_to_line_manager") == [
        ("case_holder", HOLDER, ENTRY, True, "W5", CONTROLS)]


async def test_W5_release_patched_by_the_case_holder_and_an_earlier_custody_entry(
        wokingham: Tenant) -> None:
    """W4, W5 (Wokingham "Internal and External Controls"): "this must be recorded on the
    IYSS case management system within one working day and immediately be reported to the
    line manager." The custody entry (10 Sep) and the release PATCHed by the case holder
    (1 Oct): each is recorded (W4) and reported to the line manager at once (W5), as the
    equivalent custody events are, typed in either order."""
    got = await whole_in_every_order(wokingham, [
        event(ENTRY, "custody_entry"), patched_as("case_holder", RELEASE, in_custody=False)],
        opened_at=OPENED)
    assert steps_of(got, "record_incident") == [
        ("case_holder", HOLDER, "2026-09-11T22:59:59Z", False, "W4", CONTROLS),
        ("case_holder", HOLDER, "2026-10-02T22:59:59Z", False, "W4", CONTROLS)]
    assert steps_of(got, "report_to_line_manager") == [
        ("case_holder", HOLDER, ENTRY, True, "W5", CONTROLS),
        ("case_holder", HOLDER, RELEASE, True, "W5", CONTROLS)]


async def test_W16_category_2_child_in_custody_released_early_any_typing_order(
        wokingham: Tenant) -> None:
    """W16 (Wokingham "Referrals into MAPPA", ATTACK40-2): "Category 2 referrals (i.e. for
    children in custody), the referral into MAPPA must be completed six months prior to their
    release into the community." The custody entry (10 Sep), MAPPA's category 2 message
    (12 Sep), the expected release date 20 May 2027 (15 Sep) and the release PATCHed by the
    line manager (1 Oct): the child released early owes the H form at once (due at the
    release, urgent); the release is recorded (W4), not reported to the line manager who
    recorded it (W5: the entry's report only), whatever the typing order (typed release
    before entry, the notification was left undated)."""
    got = await open_steps_in_every_order(wokingham, [
        event(ENTRY, "custody_entry"), mappa(CATEGORY, mappa_category=2),
        mappa(RELEASE_DATE, expected_release_date="2027-05-20"),
        patched(RELEASE, in_custody=False)])
    assert open_of(got, "mappa_h_notification") == [
        ("case_holder", HOLDER, RELEASE, True, "W16")]
    assert open_of(got, "record_incident") == [
        ("case_holder", HOLDER, "2026-09-11T22:59:59Z", False, "W4"),
        ("case_holder", HOLDER, "2026-10-02T22:59:59Z", False, "W4")]
    assert open_of(got, "report_to_line_manager") == [
        ("case_holder", HOLDER, ENTRY, True, "W5")]


async def test_W16_category_2_message_between_entry_and_release_any_typing_order(
        wokingham: Tenant) -> None:
    """W16 (Wokingham "Referrals into MAPPA", ATTACK40-2, the minimal form): "Category 2
    referrals (i.e. for children in custody), the referral into MAPPA must be completed six
    months prior to their release into the community." The custody entry (10 Sep), the
    category 2 message (12 Sep) and the release (1 Oct), no release date on file: the H form
    is due at the release, in every typing order (typed the release or the message before
    the entry, it was undated)."""
    got = await open_steps_in_every_order(wokingham, [
        event(ENTRY, "custody_entry"), mappa(CATEGORY, mappa_category=2),
        patched(RELEASE, in_custody=False)])
    assert open_of(got, "mappa_h_notification") == [
        ("case_holder", HOLDER, RELEASE, True, "W16")]


async def test_S14_release_patch_and_high_at_one_instant_entry_typed_last(
        somerset: Tenant) -> None:
    """S14 (Somerset 4.2, 2.1, ATTACK40-4): "Case holders will review AssetPlus as soon as
    possible (within 24 hrs/next working day) to evidence when changes of circumstance have
    occurred"; AssetPlus "will be reviewed maximum 12 weekly (or sooner upon any significant
    change becoming known)". The custody entry (10 Sep), and the release (PATCH, line manager)
    and a ROSH High both at 1 Oct 10:00: the release comes before the High of its instant
    (docs/integrating.md §7), so it finds a case not yet rated medium: the review has no
    deadline, and the release's handover replaces the entry's (S27), whatever the typing order
    (typed the entry last, the release was judged on the High: next working day)."""
    got = await whole_in_every_order(somerset, [
        event(ENTRY, "custody_entry"), patched(RELEASE, in_custody=False),
        own(RELEASE, "rosh", "high")], opened_at=OPENED)
    assert [s[2] for s in steps_of(got, "review_assessment")] == [None]
    assert [s[4] for s in steps_of(got, "secure_estate_handover", "superseded")] == ["S27"]


async def test_S14_release_event_and_high_at_one_instant_entry_typed_last(
        somerset: Tenant) -> None:
    """S14 (Somerset 4.2, 2.1, ATTACK40-4, the custody events' twin): "Case holders will
    review AssetPlus as soon as possible (within 24 hrs/next working day) to evidence when
    changes of circumstance have occurred". The custody entry (10 Sep), the custody_release
    event and a ROSH High both at 1 Oct 10:00: the release comes before the High, the review
    has no deadline, whatever the typing order."""
    got = await open_steps_in_every_order(somerset, [
        event(ENTRY, "custody_entry"), event(RELEASE, "custody_release"),
        own(RELEASE, "rosh", "high")])
    assert [s[2] for s in open_of(got, "review_assessment")] == [None]


async def test_S14_change_of_circumstances_and_medium_at_one_instant_earlier_change_last(
        somerset: Tenant) -> None:
    """S14 (Somerset 4.2, 2.1, ATTACK40-4: the documented example plus an earlier change typed
    last): "Case holders will review AssetPlus as soon as possible (within 24 hrs/next working
    day) to evidence when changes of circumstance have occurred". Changes of circumstances on
    10 Sep and 1 Oct 10:00, a ROSH medium at 1 Oct 10:00: "a change of circumstances and a
    medium ROSH given the same time leave the review of a case not yet rated medium (Somerset
    2.1, no deadline), typed in either order" (docs/integrating.md §7), the 10 Sep change typed
    last too (it re-judged the 1 Oct change on the medium: next working day)."""
    got = await open_steps_in_every_order(somerset, [
        event(ENTRY, "change_of_circumstances"),
        event(RELEASE, "change_of_circumstances", details={"what": "moved"}),
        own(RELEASE, "rosh", "medium")])
    assert [s[2] for s in open_of(got, "review_assessment")] == [None]


async def test_W5_release_patch_and_high_at_one_instant_entry_typed_last(
        wokingham: Tenant) -> None:
    """W4, W5, W7 (Wokingham "Internal and External Controls", "High Risk Panel"; the Somerset
    shape of ATTACK40-4 on Wokingham): "Where there is a change of circumstances ... this must
    be recorded on the IYSS case management system within one working day and immediately be
    reported to the line manager"; "request a High-Risk Panel within two working days of
    1. Assessing a child as high or very high ROSH". The custody entry (10 Sep), the release
    PATCHed by the line manager and a ROSH High both at 1 Oct 10:00: one record whatever the
    typing order: the release recorded (W4), reported by nobody (its recorder is the line
    manager), the panel requested within two working days of the High."""
    got = await whole_in_every_order(wokingham, [
        event(ENTRY, "custody_entry"), patched(RELEASE, in_custody=False),
        own(RELEASE, "rosh", "high")], opened_at=OPENED)
    assert [s[2] for s in steps_of(got, "report_to_line_manager")] == [ENTRY]
    assert [s[2] for s in steps_of(got, "record_incident")] == [
        "2026-09-11T22:59:59Z", "2026-10-02T22:59:59Z"]
    assert [s[2] for s in steps_of(got, "request_high_risk_panel")] == [
        "2026-10-05T22:59:59Z"]


async def test_S16_release_patched_by_a_duty_manager_and_an_earlier_custody_entry(
        somerset: Tenant) -> None:
    """S16, S27 (Somerset 2.2, 3.1, 14.3/14.4; the Wokingham shape of ATTACK40-2 on
    Somerset): "Where the duty manager has been consulted, they will advise the relevant line
    manager of the outcome". The custody entry (10 Sep, by the case holder) and the release
    PATCHed by a duty manager (1 Oct): the duty manager advises the line manager of the
    release, the release's handover replaces the entry's, whatever the typing order (the
    release is judged under the role it was recorded under, not the entry's writer's)."""
    got = await whole_in_every_order(somerset, [
        event(ENTRY, "custody_entry"), patched_as("duty_manager", RELEASE, in_custody=False)],
        opened_at=OPENED)
    assert [(s[0], s[2]) for s in steps_of(got, "advise_line_manager")] == [
        ("duty_manager", None)]
    assert [s[4] for s in steps_of(got, "secure_estate_handover", "superseded")] == ["S27"]
    assert [s[4] for s in steps_of(got, "secure_estate_handover")] == ["S27"]
