"""fix42d (ATTACK41-1): a High ROSH dated before a later Very High and the child's death,
typed in after both. In time order the High raised its steps at its own date (the Very High
found them open and kept them) and the death ended them: missed if already late then. Typed
in last, the High took the Very High's steps (raised on 11 November, superseded by the death)
as its own, so a duty already late at the death was shown superseded, due on the Very High's
terms, and the timeline differed from time order. Now every typing order of the three acts
leaves time order's record (fix41d's comparison: fields, every step, the step timeline, field
changes, the timeliness report).
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import httpx
import pytest

from app.core.config import Settings
from tests.api.instant_support import REF, Act, event, own
from tests.api.order_support import visible_steps
from tests.api.test_fix41c_referral_times import NOVEMBER, SOMERSET, TUE, VIEWS, WED, _high
from tests.api.test_fix41d_acts_before_a_death_typed_after import (
    BY_DEATH,
    OPENED,
    _nothing_after_the_death,
    _of,
    _record,
    _visible,
)
from tests.api.test_fix42a_referral_ended_typed_late import _after_referral, _ended, _made
from tests.conftest import make_tenant
from tests.orders import typing_orders

NEVER_RAISED = "Never raised: an earlier act"
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

Record = tuple[Any, ...]

HIGH = "2026-11-02T10:00:00Z"  # Monday 2 November 2026 10:00 GMT
VERY_HIGH = "2026-11-11T10:00:00Z"  # Wednesday 11 November 2026 10:00 GMT
DEATH = "2026-11-12T10:00:00Z"  # Thursday 12 November 2026 10:00 GMT


def _without_arose(note: str) -> str:
    return "\n".join(line for line in note.splitlines() if not line.startswith("Arose "))


def _entries(timeline: tuple[Any, ...]) -> tuple[Any, ...]:
    """The step timeline's entries but re-dates, each without the due date it shows: the High
    typed in after the Very High while the child lived re-dates the Very High's steps to it
    (a correction the timeline shows, as raised then re-dated); the due dates themselves are
    compared on the steps."""
    out = []
    for entry in timeline:
        if entry[2] == "redated":
            continue
        details = json.loads(entry[6]) if isinstance(entry[6], str) else entry[6]
        if isinstance(details, dict):
            details = json.dumps({k: v for k, v in details.items() if k != "due_at"},
                                 sort_keys=True)
        out.append((*entry[:6], details, *entry[7:]))
    return tuple(out)


async def _every_order(client: httpx.AsyncClient, settings: Settings, pack: str,
                       acts: list[Act], *, rules: tuple[str, ...]) -> Record:
    """``acts`` (in time order) typed in every order, each on a case of a service of its own;
    asserts every order shows what time order shows (fix41d's record: fields, every step but
    a row kept readable as never raised, which no queue, timeline or report shows; the step
    timeline; field changes; the timeliness report); that record."""
    got: dict[tuple[str, ...], Record] = {}
    for order in typing_orders(acts):
        t = await make_tenant(client, settings, pack)
        ref = f"FX-{uuid.uuid4().hex[:8]}"
        case_id = (await t.open_case(external_ref={"system": REF, "id": ref},
                                     opened_at=OPENED))["data"]["id"]
        for act in order:
            await _record(t, case_id, ref, act)
        fields, steps, timeline, changes, report = await _visible(t, case_id, rules)
        hidden = [s for s in steps if NEVER_RAISED in s[8]]
        assert all(s[1] == "superseded" for s in hidden), hidden
        # The note's "Arose ...: an earlier act recorded later asks for it." line (the High
        # typed in after the Very High while the child lived: the step re-dated to it) is the
        # record of that typing, not of the duty; the rest of the note is compared.
        steps = tuple(sorted((*s[:8], _without_arose(s[8]), *s[9:]) for s in steps
                             if NEVER_RAISED not in s[8]))
        got[tuple(a.label for a in order)] = fields, steps, _entries(timeline), changes, report
        await _nothing_after_the_death(t, case_id)
    first = next(iter(got.values()))
    for order, seen in got.items():
        for part, mine, theirs in zip(("fields", "steps", "step timeline", "field changes",
                                       "report"), seen, first, strict=True):
            assert mine == theirs, (order, part, sorted(set(mine) - set(theirs)),
                                    sorted(set(theirs) - set(mine)))
    return first


async def test_S5_S11_a_high_before_a_very_high_and_a_death_typed_in_any_order(
        client: httpx.AsyncClient, settings: Settings) -> None:
    """Somerset 2023, 3.1: "the case holder will discuss the judgement with their line manager
    (or duty manager) within 24 hours" (S5); 4.5: "review all cases where there is a High or
    Very High ROSH ... at least monthly" (S11). ROSH high on Monday 2 November 2026 10:00, very
    high on Wednesday 11 November, the child's death on Thursday 12 November, typed in any
    order: the discussion due Tuesday 3 November was missed at the death, the monthly review
    due 2 December superseded by it; S5 missed in the report. Typed with the High after the
    death, S5 was superseded, due 12 November, and S11 due 11 December."""
    got = await _every_order(client, settings, "somerset-yjt-2023",
                             [own(HIGH, "rosh", "high"), own(VERY_HIGH, "rosh", "very_high"),
                              event(DEATH, "death")], rules=("S5",))
    assert _of(got, "S5") == [("missed", "2026-11-03T10:00:00Z", BY_DEATH)]
    assert _of(got, "S11") == [("superseded", "2026-12-02T10:00:00Z", BY_DEATH)]
    assert got[4] == ((1, 0, 1, 1),)


async def test_W7_W30_a_high_before_a_very_high_and_a_death_typed_in_any_order(
        client: httpx.AsyncClient, settings: Settings) -> None:
    """Wokingham 2024, High Risk Panel: "the case worker or their line manager to request a
    High-Risk Panel" within two working days of a high ROSH (W7); Management oversight:
    "Monthly line supervision, including case discussion, at least monthly" (W30). ROSH high
    on Monday 2 November 2026 10:00, very high on Wednesday 11 November, the death on Thursday
    12 November, typed in any order: the request due Wednesday 4 November missed at the
    death, the supervision due 2 December superseded; W7 missed in the report. Typed with the
    High after the death, W7 was superseded, due 13 November."""
    got = await _every_order(client, settings, "wokingham-pyjs-2024",
                             [own(HIGH, "rosh", "high"), own(VERY_HIGH, "rosh", "very_high"),
                              event(DEATH, "death")], rules=("W7",))
    assert _of(got, "W7") == [("missed", "2026-11-04T23:59:59Z", BY_DEATH)]
    assert _of(got, "W30") == [("superseded", "2026-12-02T10:00:00Z", BY_DEATH)]
    assert got[4] == ((1, 0, 1, 1),)


async def _referral_orders(client: httpx.AsyncClient, settings: Settings,
                           acts: dict[str, Any], rules: tuple[str, ...],
                           report: tuple[str, str], opened: str, allowed: Any = None
                           ) -> tuple[Any, dict[tuple[str, ...], Any]]:
    """fix41c's typing-order comparison of :func:`visible_steps`, each order on a tenant of its
    own, the ids in the steps' notes (the referral's, of each tenant) named "id"; that record,
    and each order's tenant, case and state."""
    seen: dict[tuple[str, ...], Any] = {}
    runs: dict[tuple[str, ...], Any] = {}
    for order in typing_orders(tuple(acts), allowed):
        t = await make_tenant(client, settings, SOMERSET)
        case = (await t.open_case(opened_at=opened))["data"]["id"]
        state: dict[str, Any] = {}
        for name in order:
            await acts[name](t, case, state)
        rows, history, got = await visible_steps(t, case, *rules, report=report)
        rows = [(*r[:8], [_UUID.sub("id", n) for n in r[8]], *r[9:]) for r in rows]
        seen[order] = rows, history, got
        runs[order] = (t, case, state)
    first = next(iter(seen.values()))
    assert {o: got for o, got in seen.items() if got != first} == {}, first
    return first, runs


@pytest.mark.parametrize("high", ["2026-11-20T10:00:00Z", "2026-11-24T10:00:00Z"])
async def test_S7_S8_high_before_the_panel_referral_typed_after_its_withdrawal(
        client: httpx.AsyncClient, settings: Settings, high: str) -> None:
    """Somerset 3.2.3 "The case holder will refer the case to the next YJT MARP by contacting
    the appropriate administrator and completion of section 1 of the MARP referral form"; 6.2
    "Child and parent/carer views will be sought before the initial panel and be included in
    the MARP referral form". A High ROSH of Fri 20 Nov 2026 10:00 (or of Tue 24 Nov 10:00, the
    submission's instant), the MARP referral with the views submitted on Tue 24 Nov 10:00 and
    withdrawn on Wed 25 Nov 10:00 (fix42d, ATTACK41-2): S7 and S8 are owed from the High, done
    by the referral at its submission, and owed again (open) at its withdrawal, whatever order
    the three are typed in. Before, typed with the High last, one S7 and one S8 stayed open
    from the High, never done."""
    record, runs = await _referral_orders(client, settings, {
        "judgement": _high(high),
        "referral": _made("panel", TUE, "submit", details=VIEWS),
        "end": _ended("withdraw", WED)}, ("S7", "S8"), NOVEMBER, "2026-11-02T09:00:00Z",
        allowed=_after_referral)
    rows, history, report = record
    assert sorted((r[0], r[3]) for r in rows) == [
        ("S7", "done"), ("S7", "open"), ("S8", "done"), ("S8", "open")]
    assert sorted(h for h in history if h[1] == "done") == [
        (TUE, "done", "S7", "refer_to_panel"), (TUE, "done", "S8", "seek_child_and_carer_views")]
    assert sorted(h for h in history if h[1] == "created") == [
        (high, "created", "S7", "refer_to_panel"), (high, "created", "S7", "refer_to_panel"),
        (high, "created", "S8", "seek_child_and_carer_views"),
        (high, "created", "S8", "seek_child_and_carer_views")]
    for _t, _case, state in runs.values():
        assert state["ended"]["ended_at"] == WED
