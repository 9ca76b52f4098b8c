"""The engine's output is unchanged for every input the suite ever gave it (issue 15: the fast
path must return exactly what the engine returned before it, field for field)."""

from __future__ import annotations

from datetime import date

from app.workflows.calendar import WorkingCalendar
from tests.workflows.golden_codec import bundled, canonical, digest, read, run


def test_golden_outputs_unchanged() -> None:
    """Every fixture input (bundled packs, every trigger, twelve dates each) gives the
    evaluation it gave when the fixture was written: intents, deadlines, notes, reasons."""
    packs = bundled()
    calendars: dict[tuple[date, ...], WorkingCalendar] = {}
    records = read()
    assert len(records) > 3000
    changed: list[str] = []
    for number, record in enumerate(records):
        for index, result in run(record, packs, calendars):
            if digest(result) != record["digests"][index]:
                changed.append(f"record {number}, variant {index}:\n{canonical(result)}")
    assert not changed, f"{len(changed)} evaluations changed; the first:\n{changed[0]}"
