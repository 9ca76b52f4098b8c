"""The engine's golden inputs and outputs: a tagged JSON codec for events, case snapshots and
panels, the date variants each input is also run at, and a canonical text of an evaluation.

The fixture (``golden/engine.jsonl.gz``) holds inputs the suite fed the engine (tests/workflows,
tests/api: every trigger of every bundled pack) and, per date variant, a digest of what the
engine returned for them. ``test_engine_golden.py`` re-runs them; after an intended change of
the engine's output, rewrite the digests with ``python -m tests.workflows.golden_codec``.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from app.workflows.calendar import WorkingCalendar
from app.workflows.engine import evaluate
from app.workflows.packs import Pack, load_all_packs
from app.workflows.types import CaseSnapshot, OpenStep, ScheduledPanel, WorkflowEvent

FIXTURE = Path(__file__).parent / "golden" / "engine.jsonl.gz"
LONDON = ZoneInfo("Europe/London")
_CLASSES = {c.__name__: c for c in (CaseSnapshot, OpenStep, ScheduledPanel, WorkflowEvent)}

# Each input also runs with its event at these instants: a Friday before a bank holiday, a
# Saturday, Christmas Eve, a month's last second, 29 February, both clock changes (the missing
# and the repeated hour), the day before Good Friday, just after midnight, a year's end.
VARIANTS: tuple[datetime | None, ...] = (
    None,
    datetime(2026, 8, 28, 15, 30, tzinfo=LONDON), datetime(2026, 8, 29, 10, 0, tzinfo=LONDON),
    datetime(2026, 12, 24, 9, 15, tzinfo=LONDON),
    datetime(2026, 1, 31, 23, 59, 59, tzinfo=LONDON), datetime(2028, 2, 29, 12, 0, tzinfo=UTC),
    datetime(2026, 3, 29, 0, 30, tzinfo=UTC), datetime(2026, 10, 25, 1, 30, tzinfo=UTC),
    datetime(2026, 10, 25, 0, 30, tzinfo=UTC), datetime(2026, 4, 2, 11, 0, tzinfo=LONDON),
    datetime(2026, 5, 31, 0, 0, 1, tzinfo=LONDON), datetime(2027, 12, 31, 23, 0, tzinfo=UTC),
)


def encode(value: Any) -> Any:
    """A JSON value that :func:`decode` turns back into ``value`` (types and zones kept)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, UUID):
        return {"u": str(value)}
    if isinstance(value, datetime):
        zone = value.tzinfo
        key = None if zone is None else getattr(zone, "key", None) or (
            "UTC" if zone is UTC else "fixed")
        return {"dt": value.isoformat(), "z": key, "f": value.fold}
    if isinstance(value, date):
        return {"da": value.isoformat()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {"c": type(value).__name__,
                "v": {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}}
    if isinstance(value, tuple):
        return {"t": [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {"d": [[encode(k), encode(v)] for k, v in value.items()]}
    if isinstance(value, frozenset | set):
        return {"s": sorted((encode(v) for v in value), key=json.dumps)}
    raise TypeError(f"cannot encode {type(value).__name__}")


def decode(value: Any) -> Any:
    """The value :func:`encode` was given."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "u" in value:
        return UUID(value["u"])
    if "dt" in value:
        moment = datetime.fromisoformat(value["dt"])
        zone = value["z"]
        if zone == "UTC":
            moment = moment.replace(tzinfo=UTC)
        elif zone not in (None, "fixed"):
            moment = moment.replace(tzinfo=ZoneInfo(zone), fold=value["f"])
        return moment
    if "da" in value:
        return date.fromisoformat(value["da"])
    if "c" in value:
        return _CLASSES[value["c"]](**{k: decode(v) for k, v in value["v"].items()})
    if "t" in value:
        return tuple(decode(v) for v in value["t"])
    if "s" in value:
        return {decode(v) for v in value["s"]}
    return {decode(k): decode(v) for k, v in value["d"]}


def canonical(result: Any) -> str:
    """Everything an evaluation returned, as text: every field (``repr``, so types and zones
    show), the field order of each intent and the key order of its reasons."""
    if isinstance(result, BaseException):
        return f"raised {type(result).__name__}: {result}"
    parts = [repr(result)]
    for intent in result.intents:
        parts.append(repr(list(vars(intent))))
        parts.append(repr([(type(r).__name__, list(r)) for r in intent.reasons]))
    return "\n".join(parts)


def digest(result: Any) -> str:
    """A short digest of :func:`canonical`."""
    return hashlib.sha256(canonical(result).encode()).hexdigest()[:20]


def bundled() -> dict[tuple[str, str], Pack]:
    """Every version of every bundled pack, by (id, version)."""
    found: dict[tuple[str, str], Pack] = {}
    for versions in load_all_packs().values():
        for pack in versions if isinstance(versions, tuple) else (versions,):
            found[(pack.id, pack.version)] = pack
    return found


def run(record: dict[str, Any], packs: dict[tuple[str, str], Pack],
        calendars: dict[tuple[date, ...], WorkingCalendar]) -> Iterator[tuple[int, Any]]:
    """Evaluate one fixture record at each date variant: (variant index, result or exception)."""
    event, case, panels = decode(record["event"]), decode(record["case"]), decode(record["panels"])
    extra = tuple(decode(record["extra"]))
    calendar = calendars.get(extra)
    if calendar is None:
        calendar = calendars[extra] = WorkingCalendar(extra)
    pack = packs[(record["pack"], record["version"])]
    for index, moment in enumerate(VARIANTS):
        moved = event if moment is None else dataclasses.replace(event, occurred_at=moment)
        try:
            result: Any = evaluate(moved, case, pack, calendar, panels)
        except (ValueError, TypeError, KeyError) as exc:
            result = exc
        yield index, result


def read() -> list[dict[str, Any]]:
    """The fixture's records."""
    with gzip.open(FIXTURE, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def write(records: list[dict[str, Any]]) -> None:
    """Rewrite every record's digests from the engine as it is now, and save the fixture."""
    packs, calendars = bundled(), {}
    for record in records:
        record["digests"] = [digest(r) for _, r in run(record, packs, calendars)]
    with gzip.GzipFile(FIXTURE, "wb", mtime=0) as raw:
        for record in records:
            raw.write((json.dumps(record, separators=(",", ":")) + "\n").encode())


if __name__ == "__main__":
    write(read())
    print(f"rewrote {FIXTURE}", file=sys.stderr)
