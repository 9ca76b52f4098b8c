"""The versions of its policy pack each service has been served with (attack 27, ATTACK27-1).

A pack's versions are the policy's history: an act is judged by the version in force at its
``occurred_at``, and its steps cite that version. The service keeps no copy of a pack, so a
version file removed (or a pack file rewritten under the same id with only a later version)
would silently hand the acts of that version's period to another version. Each write records,
once, the version that judges it (:func:`note_served`, from the write's context); every start
(the API's lifespan, ``yjrisk serve``, ``tick``, ``worker``, ``dev``) refuses to run while a
recorded version is no longer loaded, and a process that could not look at start-up (the
database not there yet, A21a-3) looks before the first write it is asked for
(:func:`check_served_once`): the acts of such a service are then 503, never judged by another
version.

Its twin (ATK29-4): a version's ``effective_from`` moved past acts it judged (re-dated), or a
new version dated before acts an older one judged (back-dated insertion), would as silently
leave steps citing a version that, by the files' dates, did not judge their acts. So each row
also keeps the Europe/London dates of the earliest and latest act (``occurred_at``, never
typing time) the version judged for the service (``first_act_on``, ``last_act_on``), and every
start refuses while the loaded versions give a day of that range to another version
(:func:`served_refusal`). Versions are in force by London day, so the two ends decide: a
version holds one run of days. One day is shared: the day a version comes into force may also
hold acts of the version before it (the day a correction is made is its ``effective_from``,
and that day's acts recorded before its file was deployed were judged by the version then in
force; their steps rightly cite it). The cost is that a version moved exactly one day earlier,
onto the last day the version before it judged acts, is not caught.

The row is written in the write's own transaction, after its audit entries are sealed
(:func:`app.domain.audit.run_after_seal`, ``INSERT ... ON CONFLICT DO UPDATE`` widening the
range, idempotent), only by a write whose act's day the process does not know to be within the
version's recorded range: the process remembers the ranges it has seen recorded (read at
start-up, widened after each commit), so a write on a day already covered (every write but the
first of a version and of each new day, normally) adds no statement.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import Session as SyncSession
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.domain.audit import run_after_seal
from app.domain.common import utcnow
from app.domain.services import Service
from app.workflows.packs import version_on

if TYPE_CHECKING:
    from app.domain.write_context import PolicyContext

# (service id, pack id, version): one version of a pack a service has been served with.
Served = tuple[uuid.UUID, str, str]
# (earliest, latest): the London days of the acts a version judged for a service.
ActDays = tuple[date, date]


class ServicePackVersion(SQLModel, table=True):
    """A version of a policy pack that has judged an act of a service (first recorded when)."""

    __tablename__ = "service_pack_version"

    service_id: uuid.UUID = Field(foreign_key="service.id", primary_key=True)
    pack_id: str = Field(max_length=64, primary_key=True)
    version: str = Field(max_length=64, primary_key=True)
    recorded_at: datetime = Field(default_factory=utcnow)
    # The Europe/London days of the earliest and latest act it judged (occurred_at; migration
    # 0032; null: a version recorded before, none of whose acts raised a step).
    first_act_on: date | None = None
    last_act_on: date | None = None


class Recorded(NamedTuple):
    """A recorded version (:func:`recorded`), with its service's slug."""

    service_id: uuid.UUID
    slug: str
    pack_id: str
    version: str
    first_act_on: date | None = None
    last_act_on: date | None = None


_TABLE: Any = ServicePackVersion.__table__  # type: ignore[attr-defined]
# session.info: {Served: (the process's ranges to widen once committed, the days noted)}
_PENDING = "pack_versions_served"


def note_served(
    session: AsyncSession, known: MutableMapping[Served, ActDays], served: Served, day: date
) -> None:
    """Have ``served`` recorded by this write's transaction as having judged an act of ``day``
    (its London date), unless ``known`` (the ranges this process has seen recorded) covers that
    day already; ``known`` learns it once the write commits."""
    held = known.get(served)
    if held is not None and held[0] <= day <= held[1]:
        return
    sync = session.sync_session
    pending = sync.info.get(_PENDING)
    if pending is None:
        pending = sync.info[_PENDING] = {}
        run_after_seal(session, _insert_pending)
    noted = pending.get(served)
    pending[served] = (known, _widened(noted[1] if noted else None, (day, day)))


def _widened(days: ActDays | None, more: ActDays) -> ActDays:
    """The range covering both."""
    return more if days is None else (min(days[0], more[0]), max(days[1], more[1]))


def _insert_pending(sync: SyncSession) -> None:
    """The noted versions, inserted, or their recorded range widened to the days noted (another
    process, a concurrent write may have recorded them), in one statement, in key order (every
    writer waits for another's rows in one order); a row whose range holds them already is left
    as it is."""
    pending: dict[Served, tuple[Any, ActDays]] = sync.info.get(_PENDING) or {}
    if not pending:
        return
    conn = sync.connection()
    postgres = conn.dialect.name == "postgresql"
    insert = (postgresql.insert if postgres else sqlite.insert)(_TABLE)
    # PostgreSQL's LEAST/GREATEST, SQLite's scalar min/max of two values.
    least, greatest = (sa.func.least, sa.func.greatest) if postgres else (sa.func.min,
                                                                           sa.func.max)
    first, last = _TABLE.c.first_act_on, _TABLE.c.last_act_on
    new_first, new_last = insert.excluded.first_act_on, insert.excluded.last_act_on
    upsert = insert.on_conflict_do_update(
        index_elements=[_TABLE.c.service_id, _TABLE.c.pack_id, _TABLE.c.version],
        set_={"first_act_on": least(sa.func.coalesce(first, new_first), new_first),
              "last_act_on": greatest(sa.func.coalesce(last, new_last), new_last)},
        where=sa.or_(first.is_(None), last.is_(None), new_first < first, new_last > last))
    now = utcnow()
    conn.execute(upsert, [
        {"service_id": service_id, "pack_id": pack_id, "version": version, "recorded_at": now,
         "first_act_on": days[0], "last_act_on": days[1]}
        for (service_id, pack_id, version), (_, days) in sorted(pending.items(),
                                                                key=lambda kv: kv[0])])


@event.listens_for(SyncSession, "after_commit")
def _learn(sync: SyncSession) -> None:
    """Committed: the process knows these days are within the versions' recorded ranges."""
    for served, (known, days) in (sync.info.pop(_PENDING, None) or {}).items():
        known[served] = _widened(known.get(served), days)


@event.listens_for(SyncSession, "after_soft_rollback")
def _forget(sync: SyncSession, _previous: Any) -> None:
    """Rolled back: nothing was recorded."""
    sync.info.pop(_PENDING, None)


async def recorded(session: AsyncSession) -> list[Recorded]:
    """Every recorded version, with its range of act days, by slug."""
    rows = await session.exec(
        select(ServicePackVersion, Service.slug)
        .join(Service, col(Service.id) == col(ServicePackVersion.service_id))
        .order_by(col(Service.slug), col(ServicePackVersion.pack_id),
                  col(ServicePackVersion.version)))
    return [Recorded(v.service_id, slug, v.pack_id, v.version, v.first_act_on, v.last_act_on)
            for v, slug in rows.all()]


def not_loaded(rows: Iterable[Recorded], loaded: Mapping[str, Sequence[Any]]) -> list[Recorded]:
    """Those of the recorded versions (:func:`recorded`) that no loaded pack holds (``loaded``:
    the versions of each pack id, oldest first, objects with a ``version``)."""
    have = {(pack_id, p.version) for pack_id, found in loaded.items() for p in found}
    return [row for row in rows if (row.pack_id, row.version) not in have]


class Misjudged(NamedTuple):
    """A day of a recorded version's acts that the loaded versions give to another."""

    row: Recorded
    day: date
    now: Any  # the loaded version in force on ``day`` (a Pack)


def misjudged(rows: Iterable[Recorded], loaded: Mapping[str, Sequence[Any]]) -> list[Misjudged]:
    """Those of the recorded versions (loaded ones) whose earliest or latest act day the loaded
    versions (``loaded``: oldest first, with ``version`` and ``effective_from``) give to another
    version: a version re-dated past acts it judged, or one added dated before them (ATK29-4).
    A version holds one run of days, so the two ends decide. The day a version comes into force
    may hold acts of the version just before it (the day of a correction: see the module)."""
    found: list[Misjudged] = []
    for row in rows:
        versions = list(loaded.get(row.pack_id, ()))
        mine = next((i for i, p in enumerate(versions) if p.version == row.version), None)
        if mine is None or row.first_act_on is None or row.last_act_on is None:
            continue  # not loaded (said by not_loaded), or no act day recorded
        after = versions[mine + 1] if mine + 1 < len(versions) else None
        for day in (row.first_act_on, row.last_act_on):
            now = version_on(versions, day)
            shared = (day == row.last_act_on and now is after and after is not None
                      and after.effective_from == day)
            if now is not versions[mine] and not shared:
                found.append(Misjudged(row, day, now))
                break
    return found


def served_refusal(
    rows: Sequence[Recorded], loaded: Mapping[str, Sequence[Any]]
) -> tuple[str | None, dict[uuid.UUID, str]]:
    """Why no process may start with these recorded versions and these loaded ones (one line;
    None: it may), and each refused service's 503 detail (for a process that could not look at
    start-up): a version no longer loaded (ATTACK27-1), else one whose acts' days the loaded
    versions give to another (ATK29-4)."""
    removed, wrong = not_loaded(rows, loaded), misjudged(rows, loaded)
    unservable: dict[uuid.UUID, str] = {}
    for row in removed:
        unservable.setdefault(row.service_id, unservable_message(row.pack_id, row.version))
    for m in wrong:
        unservable.setdefault(m.row.service_id, misjudged_detail(m))
    refusal = (removed_versions_message(removed, loaded) if removed
               else misjudged_message(wrong, loaded) if wrong else None)
    return refusal, unservable


def removed_versions_message(removed: Sequence[Recorded],
                             loaded: Mapping[str, Sequence[Any]]) -> str:
    """One line naming each service served with a version no longer loaded, and what to do."""
    named = "; ".join(
        f"service {r.slug!r} has been served with version {r.version!r} of policy pack "
        f"{r.pack_id!r} ({_loaded_versions(loaded, r.pack_id)})" for r in removed)
    return (f"refusing to start: {named}; its acts of that version's period would be judged by "
            "another version, and its steps cite that one: put that version's file back "
            "(bundled packs and YJ_PACKS_DIR) before starting (a version that has been in force "
            "is never removed: correct it with a new version)")


def misjudged_message(wrong: Sequence[Misjudged], loaded: Mapping[str, Sequence[Any]]) -> str:
    """One line naming each service whose acts of a day a recorded version judged the loaded
    versions give to another, and what to do."""
    named = "; ".join(
        f"service {m.row.slug!r} has acts of {m.day.isoformat()} judged by version "
        f"{m.row.version!r} of policy pack {m.row.pack_id!r}, which the loaded files give to "
        f"version {m.now.version!r} ({_in_force(loaded, m.row.pack_id)})" for m in wrong)
    return (f"refusing to start: {named}; those acts' steps cite the version that judged them, "
            "which by the files' dates did not: a version's effective_from has been moved past "
            "acts it judged, or a version added dated before them; put back the effective_from "
            "that was in force when they were judged (bundled packs and YJ_PACKS_DIR) before "
            "starting (a correction is a new version in force from the day it is made, never "
            "re-dated or back-dated; acts of that day judged by the version before it are "
            "accepted)")


def misjudged_detail(m: Misjudged) -> str:
    """The 503's detail for an act of a service whose recorded acts the loaded versions give
    to another version."""
    return (f"This service's acts of {m.day.isoformat()} were judged by version "
            f"{m.row.version!r} of its policy pack {m.row.pack_id!r}, which the pack files "
            f"this process has loaded give to version {m.now.version!r}; an operator must put "
            "back the effective_from that was in force then (YJ_PACKS_DIR) and restart.")


def _in_force(loaded: Mapping[str, Sequence[Any]], pack: str) -> str:
    return "loaded: " + ", ".join(
        f"{p.version!r} from {p.effective_from.isoformat() if p.effective_from else 'always'}"
        for p in loaded.get(pack, ()))


def _loaded_versions(loaded: Mapping[str, Sequence[Any]], pack: str) -> str:
    found = [p.version for p in loaded.get(pack, ())]
    return f"loaded: {', '.join(repr(v) for v in found)}" if found else "not loaded at all"


def unservable_message(pack: str, version: str) -> str:
    """The 503's detail for an act of a service served with a version no longer loaded."""
    return (f"This service has been served with version {version!r} of its policy pack "
            f"{pack!r}, which this process has not loaded; an operator must restore that "
            "version's file (YJ_PACKS_DIR) and restart.")


def loaded_of(policy: PolicyContext) -> dict[str, Sequence[Any]]:
    """The versions of each pack ``policy`` has loaded, by pack id."""
    return {pack_id: policy.versions_of(pack_id) for pack_id in {*policy.versions, *policy.packs}}


async def check_served(session: AsyncSession, policy: PolicyContext) -> str | None:
    """Read the recorded versions into ``policy`` (a :class:`PolicyContext`): their ranges of
    act days become known (no write records them again), a service :func:`served_refusal`
    refuses is refused (``policy.unservable``: its acts are 503); answer the start's refusal
    (None: none)."""
    rows = await recorded(session)
    refusal, unservable = served_refusal(rows, loaded_of(policy))
    for service_id, detail in unservable.items():
        policy.unservable.setdefault(service_id, detail)
    policy.served.update(
        ((row.service_id, row.pack_id, row.version), (row.first_act_on, row.last_act_on))
        for row in rows if row.service_id not in unservable
        and row.first_act_on is not None and row.last_act_on is not None)
    policy.served_checked = True
    return refusal


async def check_served_once(
    factory: async_sessionmaker[AsyncSession], policy: PolicyContext
) -> None:
    """:func:`check_served`, unless this process has done it (at start-up, normally); for a
    process that started while the database was not there (A21a-3), before its first write."""
    if policy.served_checked:
        return
    async with factory() as session:
        await check_served(session, policy)
