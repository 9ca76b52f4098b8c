"""The service's policy-state lock: case writes and the writes that change what they read.

A write on a case reads state that belongs to its service, not to the case: the staff's recorded
absences (who stands in for an absent line manager, Somerset 3.1; an absence ending a worker's
week early, Wokingham), the panels scheduled (a ``next-panel`` step's date). A write that changes
that state (an absence recorded, a panel scheduled; and any later write of the kind: an absence
edited or cancelled, a panel rescheduled or cancelled) re-reads and re-addresses or re-dates the
open steps it affects. On PostgreSQL, under READ COMMITTED, the two can each miss the other (write
skew, attack pass 9, A9-16 and A9-24): the judgement reads "no absence" and the absence write
reads "no step". Row locks cannot help: the case write's absences and panels are rows no one
else has written yet.

So both take one lock per service, in two modes (a transaction-scoped PostgreSQL advisory lock,
key ``(POLICY_LOCK_CLASS, hashtext(service id))``): every case write takes it SHARED, in the same
statement as its case lock and before it (:func:`lock_case_statement`; a new case with its
first read, :func:`lock_policy_shared`); every write that changes the state takes it EXCLUSIVE
(:func:`lock_policy_exclusive`) before it reads the steps it will move. Case writes do not
block each other; a policy-state write waits for the case writes in flight and holds back new
ones until it commits, so each case write reads the state either before it or after it, and
the end state is that of a serial order.

Lock order (no deadlock): a write takes the service's policy lock before any case lock (the
case-lock statement takes it first; a policy-state write takes it before it locks the cases it
re-dates), after an external reference's lock, and the audit chain's lock last, at commit. A
transaction that already holds the lock in either mode is granted it again at once. The
escalation pass, which locks its cases ``SKIP LOCKED`` before it knows their services, only
*tries* the lock (:func:`try_lock_policy_shared`) and leaves a service whose state is being
changed to the next pass, as it leaves a case a write holds.

SQLite has one writer at a time: a case write takes the database's write lock before it reads
(``lock_case``'s no-op UPDATE, or a new case's INSERT), so the shared mode is a no-op there; the
exclusive mode takes the write lock at once (a no-op UPDATE), so what the writer reads next is
what later writers will see.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core import clock
from app.domain.cases_table import Case
from app.domain.services import Service

# The first key of the two-integer advisory lock space ("YJPS"): apart from the bigint keys of
# the audit chains and external references.
POLICY_LOCK_CLASS = 0x594A5053

_CLASS: Any = sa.literal_column(str(POLICY_LOCK_CLASS))
_SERVICE = sa.bindparam("yj_service", type_=Service.__table__.c.id.type)  # type: ignore[attr-defined]


def _key(service_id: Any) -> Any:
    return sa.func.hashtext(sa.cast(service_id, sa.Text))


_SHARED = select(sa.func.pg_advisory_xact_lock_shared(_CLASS, _key(_SERVICE)))
_EXCLUSIVE = select(sa.func.pg_advisory_xact_lock(_CLASS, _key(_SERVICE)))
_SQLITE_EXCLUSIVE = sa.update(Service).where(col(Service.id) == _SERVICE).values(
    id=Service.id)  # type: ignore[arg-type]


def lock_case_statement(case_id: sa.BindParameter[uuid.UUID]) -> Any:
    """PostgreSQL: ``SELECT case.id ... FOR UPDATE`` that first takes the case's service's policy
    lock SHARED. The lock is a CTE the query tests as an uncorrelated EXISTS: PostgreSQL runs it
    as a one-time filter (an InitPlan) before it reads, so before it locks, the case's row; one
    round trip, as the case lock alone was. No row (an unknown case): neither lock."""
    policy = (select(sa.func.pg_advisory_xact_lock_shared(_CLASS, _key(col(Case.service_id))))
              .where(col(Case.id) == case_id).cte("policy_lock"))
    return (select(Case.id).where(col(Case.id) == case_id, sa.exists(sa.select(policy)))
            .with_for_update(of=Case.__table__))  # type: ignore[attr-defined]


def shared_lock_of(service_id: uuid.UUID) -> Any:
    """The SHARED policy lock of a service as a column, to take it within another statement
    (after what that statement's earlier columns lock)."""
    value = sa.bindparam(None, service_id, type_=Service.__table__.c.id.type)  # type: ignore[attr-defined]
    return sa.func.pg_advisory_xact_lock_shared(_CLASS, _key(value))


async def lock_policy_shared(session: AsyncSession, service_id: uuid.UUID) -> None:
    """Take the service's policy lock SHARED for this transaction (a case write that locks no
    existing case: a new case, before it reads absences and panels). SQLite: the database's
    write lock, now (a no-op UPDATE), so that the write's instant is taken after it."""
    if session.get_bind().dialect.name != "sqlite":
        await session.exec(_SHARED, params={"yj_service": service_id})
    else:
        conn = await session.connection()
        await conn.execute(_SQLITE_EXCLUSIVE, {"yj_service": service_id})
    clock.locked(("policy", service_id))


async def lock_policy_exclusive(session: AsyncSession, service_id: uuid.UUID) -> None:
    """Take the service's policy lock EXCLUSIVE for this transaction: before a write that
    changes the service's policy state (absences, scheduled panels) reads the open steps it
    re-addresses or re-dates. Waits for the case writes in flight; new ones wait for this one.
    SQLite: the database's write lock, now."""
    if session.get_bind().dialect.name == "sqlite":
        conn = await session.connection()
        await conn.execute(_SQLITE_EXCLUSIVE, {"yj_service": service_id})
    else:
        await session.exec(_EXCLUSIVE, params={"yj_service": service_id})
    clock.locked(("policy-exclusive", service_id), sole=True)


async def try_lock_policy_shared(
    session: AsyncSession, service_ids: Iterable[uuid.UUID]
) -> frozenset[uuid.UUID]:
    """Try the policy lock SHARED of each service without waiting (one statement): the
    services now held. A service whose state is being changed (or about to be: the lock is
    queued for) is not. SQLite: every service (its write lock is held)."""
    wanted = sorted(set(service_ids))
    if not wanted or session.get_bind().dialect.name == "sqlite":
        return frozenset(wanted)
    service = sa.func.unnest(sa.bindparam("yj_services", wanted, type_=sa.ARRAY(
        Service.__table__.c.id.type))).column_valued("service")  # type: ignore[attr-defined]
    held = await session.exec(select(service).where(
        sa.func.pg_try_advisory_xact_lock_shared(_CLASS, _key(service))))
    return frozenset(held.all())
