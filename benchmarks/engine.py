"""Policy engine throughput on one core: evaluations per second for two realistic events.

Run: ``python benchmarks/engine.py [seconds-per-scenario] [--json] [--cpu]``. Pure CPU, no
database: loads the
bundled packs, then evaluates (1) a Somerset high ROSH judgement on a case that already has a few
open steps and (2) a Wokingham new-incident event flagged ``may_raise_to_high``.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.workflows.calendar import WorkingCalendar  # noqa: E402
from app.workflows.engine import evaluate, prepare  # noqa: E402
from app.workflows.packs import load_packs  # noqa: E402
from app.workflows.types import (  # noqa: E402
    CaseSnapshot,
    Evaluation,
    OpenStep,
    ScheduledPanel,
    WorkflowEvent,
)

LONDON = ZoneInfo("Europe/London")
CASE_ID = UUID("00000000-0000-4000-8000-00000000ca5e")


def somerset_scenario() -> tuple[WorkflowEvent, CaseSnapshot, list[ScheduledPanel]]:
    """A high ROSH judgement on a medium case with four open steps, two MARPs scheduled."""
    open_steps = tuple(
        OpenStep(id=UUID(int=n), code=code, rule_id=rule, subject_id=CASE_ID, due_at=None,
                 awaiting_panel_date=False, deadline_form="none", actor=actor)
        for n, (code, rule, actor) in enumerate([
            ("update_intervention_plan", "S13", "case_holder"),
            ("inform_child_and_carer", "S12", "case_holder"),
            ("countersign_assessment", "S4", "line_manager"),
            ("review_assessment", "S3", "case_holder"),
        ], start=1)
    )
    case = CaseSnapshot(
        case_id=CASE_ID, intervention="court_order", statutory=True, csc_status="cin",
        mappa_category=2, ratings={"rosh": "medium", "swb": "medium", "lor": "high"},
        open_steps=open_steps,
    )
    event = WorkflowEvent(
        trigger="judgement_recorded", occurred_at=datetime(2026, 8, 28, 15, 30, tzinfo=LONDON),
        subject_id=CASE_ID, actor_role="case_holder",
        data={"domain": "rosh", "level": "high", "impact": "major", "likelihood": "likely",
              "setting": "community", "rationale": None, "victims": ["ex-partner"],
              "via_panel_decision": False},
    )
    panels = [ScheduledPanel(UUID(int=100 + i), "marp",
                             datetime(2026, 9, 3 + 14 * i, 9, tzinfo=UTC)) for i in range(2)]
    return event, case, panels


def wokingham_scenario() -> tuple[WorkflowEvent, CaseSnapshot, list[ScheduledPanel]]:
    """A new incident that may raise risk to high, on a statutory case with ratings known."""
    case = CaseSnapshot(
        case_id=CASE_ID, intervention="court_order", statutory=True, csc_status="none",
        ratings={"rosh": "medium", "swb": "low", "lor": "medium"},
    )
    event = WorkflowEvent(
        trigger="case_event", occurred_at=datetime(2026, 4, 2, 11, 0, tzinfo=LONDON),
        subject_id=UUID(int=555), actor_role="case_holder",
        data={"type": "new_incident", "may_raise_to_high": True, "details": {}},
    )
    return event, case, []


def measure(label: str, call: Callable[[], Evaluation], seconds: float, quiet: bool = False,
            clock: Callable[[], float] = time.perf_counter) -> float:
    """Run ``call`` repeatedly for about ``seconds`` of ``clock``; print and return evaluations
    per second of it."""
    for _ in range(200):  # warm caches (holiday years, form parsing)
        call()
    count, start = 0, clock()
    deadline = start + seconds
    while True:
        for _ in range(500):
            call()
        count += 500
        now = clock()
        if now >= deadline:
            break
    rate = count / (now - start)
    if not quiet:
        print(f"{label:<52} {rate:>10,.0f} evaluations/s  ({1e6 / rate:6.1f} µs each)")
    return rate


def main() -> None:
    """Load the packs and print the engine's throughput for both scenarios.

    ``--json`` prints ``{"scenario": evaluations_per_second, ...}`` only; ``--cpu`` counts this
    process's CPU time (``time.process_time``) instead of wall time: evaluations per CPU second,
    what one core does even when other work shares the machine; a bare number argument is the
    seconds each scenario runs (default 3).
    """
    as_json = "--json" in sys.argv[1:]
    clock = time.process_time if "--cpu" in sys.argv[1:] else time.perf_counter
    numbers = [a for a in sys.argv[1:] if a not in ("--json", "--cpu")]
    seconds = float(numbers[0]) if numbers else 3.0
    started = time.perf_counter()
    packs = load_packs()
    for pack in packs.values():
        prepare(pack)  # as the app's start-up does
    load_ms = (time.perf_counter() - started) * 1000
    if not as_json:
        print(f"loaded {len(packs)} packs in {load_ms:.1f} ms")
    calendar = WorkingCalendar()
    s_event, s_case, s_panels = somerset_scenario()
    w_event, w_case, w_panels = wokingham_scenario()
    somerset, wokingham = packs["somerset-yjt-2023"], packs["wokingham-pyjs-2024"]
    s_eval = evaluate(s_event, s_case, somerset, calendar, s_panels)
    w_eval = evaluate(w_event, w_case, wokingham, calendar, w_panels)
    if not as_json:
        print(f"somerset intents: {len(s_eval.intents)}, "
              f"wokingham intents: {len(w_eval.intents)}")
    rates = {
        "somerset_high_rosh_judgement": measure(
            "somerset-yjt-2023 high ROSH judgement (4 open steps)",
            lambda: evaluate(s_event, s_case, somerset, calendar, s_panels), seconds, as_json,
            clock),
        "wokingham_new_incident": measure(
            "wokingham-pyjs-2024 new incident (may_raise_to_high)",
            lambda: evaluate(w_event, w_case, wokingham, calendar, w_panels), seconds, as_json,
            clock),
    }
    if as_json:
        print(json.dumps({k: round(v) for k, v in rates.items()}))


if __name__ == "__main__":
    main()
