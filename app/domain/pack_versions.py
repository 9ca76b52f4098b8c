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

The row is written in the write's own transaction, after its audit entries are sealed
(:func:`app.domain.audit.run_after_seal`, ``INSERT ... ON CONFLICT DO NOTHING``), only by the
first write of a version in a process: the process remembers the versions it has seen recorded
(read at start-up, added after each commit), so later writes add no statement.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, MutableSet, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import Session as SyncSession
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.domain.audit import run_after_seal
from app.domain.common import utcnow
from app.domain.services import Service

if TYPE_CHECKING:
    from app.domain.write_context import PolicyContext

# (service id, pack id, version): one version of a pack a service has been served with.
Served = tuple[uuid.UUID, str, str]


class ServicePackVersion(SQLModel, table=True):
    """A version of a policy pack that has judged an act of a service (first recorded when)."""

    __tablename__ = "service_pack_version"

    service_id: uuid.UUID = Field(foreign_key="service.id", primary_key=True)
    pack_id: str = Field(max_length=64, primary_key=True)
    version: str = Field(max_length=64, primary_key=True)
    recorded_at: datetime = Field(default_factory=utcnow)


_TABLE: Any = ServicePackVersion.__table__  # type: ignore[attr-defined]
_PENDING = "pack_versions_served"  # session.info: {Served: the process's set to add it to}


def note_served(session: AsyncSession, known: MutableSet[Served], served: Served) -> None:
    """Have ``served`` recorded by this write's transaction unless ``known`` (the versions this
    process has seen recorded) holds it already; ``known`` learns it once the write commits."""
    if served in known:
        return
    sync = session.sync_session
    pending = sync.info.get(_PENDING)
    if pending is None:
        pending = sync.info[_PENDING] = {}
        run_after_seal(session, _insert_pending)
    pending[served] = known


def _insert_pending(sync: SyncSession) -> None:
    """The noted versions, inserted unless recorded already (another process, a concurrent
    write), in one statement, in key order (every writer waits for another's rows in one
    order)."""
    pending: dict[Served, Any] = sync.info.get(_PENDING) or {}
    if not pending:
        return
    conn = sync.connection()
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    now = utcnow()
    conn.execute(insert(_TABLE).on_conflict_do_nothing(), [
        {"service_id": service_id, "pack_id": pack_id, "version": version, "recorded_at": now}
        for service_id, pack_id, version in sorted(pending)])


@event.listens_for(SyncSession, "after_commit")
def _learn(sync: SyncSession) -> None:
    """Committed: the process knows these versions are recorded."""
    for served, known in (sync.info.pop(_PENDING, None) or {}).items():
        known.add(served)


@event.listens_for(SyncSession, "after_soft_rollback")
def _forget(sync: SyncSession, _previous: Any) -> None:
    """Rolled back: nothing was recorded."""
    sync.info.pop(_PENDING, None)


async def recorded(session: AsyncSession) -> list[tuple[uuid.UUID, str, str, str]]:
    """Every recorded version: ``(service id, service slug, pack id, version)``, by slug."""
    rows = await session.exec(
        select(ServicePackVersion.service_id, Service.slug, ServicePackVersion.pack_id,
               ServicePackVersion.version)
        .join(Service, col(Service.id) == col(ServicePackVersion.service_id))
        .order_by(col(Service.slug), col(ServicePackVersion.pack_id),
                  col(ServicePackVersion.version)))
    return [(sid, slug, pack, version) for sid, slug, pack, version in rows.all()]


def not_loaded(
    rows: Iterable[tuple[uuid.UUID, str, str, str]], loaded: Mapping[str, Sequence[Any]]
) -> list[tuple[uuid.UUID, str, str, str]]:
    """Those of the recorded versions (:func:`recorded`) that no loaded pack holds (``loaded``:
    the versions of each pack id, objects with a ``version``)."""
    have = {(pack_id, p.version) for pack_id, found in loaded.items() for p in found}
    return [row for row in rows if (row[2], row[3]) not in have]


def removed_versions_message(removed: Sequence[tuple[uuid.UUID, str, str, str]],
                             loaded: Mapping[str, Sequence[Any]]) -> str:
    """One line naming each service served with a version no longer loaded, and what to do."""
    named = "; ".join(
        f"service {slug!r} has been served with version {version!r} of policy pack {pack!r}"
        f" ({_loaded_versions(loaded, pack)})" for _, slug, pack, version in removed)
    return (f"refusing to start: {named}; its acts of that version's period would be judged by "
            "another version, and its steps cite that one: put that version's file back "
            "(bundled packs and YJ_PACKS_DIR) before starting (a version that has been in force "
            "is never removed: correct it with a new version)")


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


async def check_served(
    session: AsyncSession, policy: PolicyContext
) -> list[tuple[uuid.UUID, str, str, str]]:
    """Read the recorded versions into ``policy`` (a :class:`PolicyContext`): those loaded
    become known (no write records them again), a service with one not loaded is refused
    (``policy.unservable``: its acts are 503); answer the ones not loaded."""
    rows = await recorded(session)
    removed = not_loaded(rows, loaded_of(policy))
    gone = {row[0] for row in removed}
    for service_id, _, pack, version in removed:
        policy.unservable.setdefault(service_id, unservable_message(pack, version))
    policy.served.update((sid, pack, version) for sid, _, pack, version in rows
                         if sid not in gone)
    policy.served_checked = True
    return removed


async def check_served_once(
    factory: async_sessionmaker[AsyncSession], policy: PolicyContext
) -> None:
    """:func:`check_served`, unless this process has done it (at start-up, normally); for a
    process that started while the database was not there (A21a-3), before its first write."""
    if policy.served_checked:
        return
    async with factory() as session:
        await check_served(session, policy)
