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
import uuid
from typing import Any

import httpx

from app.core.config import Settings
from tests.api.instant_support import REF, Act, event, own
from tests.api.test_fix41d_acts_before_a_death_typed_after import (
    BY_DEATH,
    OPENED,
    _nothing_after_the_death,
    _of,
    _record,
    _visible,
)
from tests.conftest import make_tenant
from tests.orders import typing_orders

NEVER_RAISED = "Never raised: an earlier act"

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
