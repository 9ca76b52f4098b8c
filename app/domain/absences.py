"""Staff absences (annual leave and other prolonged absences), recorded by managers.

Wokingham "Internal and External Controls": an incident that becomes known to the worker "on a
Friday or the last day before a prolonged absence (for example, the last working day before
annual leave)" is recorded and reported before the end of the working week: an absence ends the
worker's working week early for ``+1wd-in-week`` deadlines.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date, datetime
from typing import Annotated, Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, StringConstraints, model_validator
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.errors import Conflict, Forbidden, NotFound, Unprocessable
from app.core.identifiers import check_staff_id
from app.core.security import Principal
from app.domain import cursors
from app.domain.access import MANAGERS, require_roles, service_of
from app.domain.audit import AuditEntry, record_audit
from app.domain.cases_table import Case
from app.domain.common import PlausibleDate, new_id, require_if_match, utcnow
from app.domain.history import RecordChange
from app.domain.outbox import emit
from app.domain.policy_lock import lock_policy_exclusive
from app.domain.services import Service
from app.domain.timing import require_absence_dates_within

MAX_ABSENCE_DAYS = 366

_version = sa.Column("version", sa.Integer, nullable=False)


class StaffAbsence(SQLModel, table=True):
    """A period (London dates, both inclusive) when a member of staff is away."""

    __tablename__ = "staff_absence"
    __table_args__ = (sa.Index("ix_staff_absence_staff", "service_id", "staff_id", "ends_on"),)
    # Optimistic concurrency (the contract: PATCH requires If-Match): the ETag is the version,
    # which every UPDATE moves on (attack pass 10, A10-22).
    __mapper_args__ = {"version_id_col": _version}

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    service_id: uuid.UUID = Field(foreign_key="service.id")
    staff_id: str = Field(max_length=128)
    starts_on: date
    ends_on: date
    reason: str | None = Field(default=None, max_length=200)
    created_by: str = Field(max_length=128)
    created_at: datetime = Field(default_factory=utcnow)
    version: int = Field(default=1, sa_column=_version)


def etag_of(absence: StaffAbsence) -> str:
    """The strong ETag of an absence: its version."""
    return f'"{absence.version}"'


class AbsenceCreate(BaseModel):
    """Body of ``POST /v1/staff/{id}/absences``: first and last day away (inclusive)."""

    model_config = ConfigDict(extra="forbid")
    starts_on: PlausibleDate
    ends_on: PlausibleDate
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None

    @model_validator(mode="after")
    def _ordered(self) -> AbsenceCreate:
        if self.ends_on < self.starts_on:
            raise ValueError("ends_on must be on or after starts_on")
        if (self.ends_on - self.starts_on).days >= MAX_ABSENCE_DAYS:
            raise ValueError(f"an absence is at most {MAX_ABSENCE_DAYS} days")
        return self


class AbsenceOut(BaseModel):
    """A recorded absence."""

    id: uuid.UUID
    staff_id: str
    starts_on: date
    ends_on: date
    reason: str | None
    created_by: str
    created_at: datetime
    version: int


def absence_out(absence: StaffAbsence) -> AbsenceOut:
    """Shape an absence for the API."""
    return AbsenceOut.model_validate(absence, from_attributes=True)


class AbsenceChange(BaseModel):
    """Body of ``PATCH /v1/staff/{id}/absences/{absence_id}``: the new first and/or last day
    (back early: an earlier ``ends_on``)."""

    model_config = ConfigDict(extra="forbid")
    starts_on: PlausibleDate | None = None
    ends_on: PlausibleDate | None = None


async def record_absence(
    session: AsyncSession, principal: Principal, staff_id: str, body: AbsenceCreate
) -> StaffAbsence:
    """Record a staff absence in the manager's own service: a duty manager anyone's, a line
    manager their own or that of the case holder of an open case they manage (403 otherwise:
    a closed case manages nobody)."""
    service = await _may_record(session, principal, staff_id)
    require_absence_dates_within(body.starts_on, body.ends_on)
    await _no_overlap(session, service.id, staff_id, body.starts_on, body.ends_on)
    absence = StaffAbsence(service_id=service.id, staff_id=staff_id, starts_on=body.starts_on,
                           ends_on=body.ends_on, reason=body.reason, created_by=principal.sub)
    session.add(absence)
    await session.flush()
    await record_audit(session, principal, "staff.absence", "staff_absence", absence.id,
                       service_id=service.id, change=body.model_dump(mode="json"))
    # Who, not when: a person's leave dates (and the reason) are theirs, not every subscriber's
    # (attack pass 9, A9-23); the steps it moves are announced as step.reassigned.
    await emit(session, "staff.absence_recorded", absence.id, service_id=service.id,
               payload={"staff_id": staff_id})
    return absence


async def change_absence(
    session: AsyncSession, principal: Principal, staff_id: str, absence_id: uuid.UUID,
    body: AbsenceChange, if_match: str | None,
) -> tuple[StaffAbsence, tuple[date, date]]:
    """Change an absence's dates (who may record it may change it; 404 for one not theirs
    to see, 428 without If-Match, 412 when it changed since the caller read it, 422 for dates
    out of order or too long); the absence and its dates before."""
    absence = await _absence(session, principal, staff_id, absence_id)
    # Checked on the absence as re-read under the service's policy lock: of two PATCHes sent
    # with the same ETag, the second sees the first's version (A10-22).
    require_if_match(etag_of(absence), if_match, "absence")
    before = (absence.starts_on, absence.ends_on)
    starts = body.starts_on or absence.starts_on
    ends = body.ends_on or absence.ends_on
    try:
        AbsenceCreate(starts_on=starts, ends_on=ends)
    except ValueError:
        raise Unprocessable(
            "An absence ends on or after it starts and lasts at most "
            f"{MAX_ABSENCE_DAYS} days.",
            errors=[{"loc": "body.ends_on", "msg": "out of order or too long"}]) from None
    require_absence_dates_within(body.starts_on, body.ends_on)
    await _no_overlap(session, absence.service_id, staff_id, starts, ends, besides=absence.id)
    absence.starts_on, absence.ends_on = starts, ends
    session.add(absence)
    await session.flush()
    change = {"starts_on": {"from": before[0].isoformat(), "to": starts.isoformat()},
              "ends_on": {"from": before[1].isoformat(), "to": ends.isoformat()}}
    await record_audit(session, principal, "staff.absence_change", "staff_absence", absence.id,
                       service_id=absence.service_id, change=change)
    await emit(session, "staff.absence_changed", absence.id, service_id=absence.service_id,
               payload={"staff_id": staff_id})  # who, not when (A9-23)
    return absence, before


async def cancel_absence(
    session: AsyncSession, principal: Principal, staff_id: str, absence_id: uuid.UUID,
    if_match: str | None,
) -> StaffAbsence:
    """Cancel (delete) an absence, audited with its dates; the absence as it was. As for its
    PATCH (api-v1 "Optimistic concurrency"): 404 for one not the caller's to see, then 428
    without If-Match, 412 when it changed since the caller read it (a cancellation decided on
    dates someone has since moved is not the one they meant)."""
    absence = await _absence(session, principal, staff_id, absence_id)
    # Checked on the absence as re-read under the service's policy lock, as its PATCH (A10-22).
    require_if_match(etag_of(absence), if_match, "absence", act="cancel")
    await session.delete(absence)
    await session.flush()
    await record_audit(session, principal, "staff.absence_cancel", "staff_absence", absence.id,
                       service_id=absence.service_id,
                       change={"starts_on": absence.starts_on.isoformat(),
                               "ends_on": absence.ends_on.isoformat()})
    await emit(session, "staff.absence_cancelled", absence.id, service_id=absence.service_id,
               payload={"staff_id": staff_id})  # who, not when (A9-23)
    return absence


ABSENCE_PAGE = 200


async def read_absence(
    session: AsyncSession, principal: Principal, staff_id: str, absence_id: uuid.UUID
) -> StaffAbsence:
    """One of the worker's absences, for those who may record them (403 for others; 404 for an
    unknown id, another worker's or another service's)."""
    service = await _may_manage(session, principal, staff_id, "see staff absences")
    absence = (await session.exec(select(StaffAbsence).where(
        StaffAbsence.id == absence_id, StaffAbsence.service_id == service.id,
        StaffAbsence.staff_id == staff_id))).first()
    if absence is None:
        raise NotFound("No such absence.")
    return absence


async def list_absences(
    session: AsyncSession, principal: Principal, staff_id: str, limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[StaffAbsence], str | None]:
    """A page of the worker's recorded absences in the caller's service, earliest first (by
    first day, then id), for those who may record them (403 otherwise), after ``cursor`` (the
    previous page's ``next_cursor``; 422 ``invalid-cursor`` for one not made for this list),
    and the next page's cursor (None on the last)."""
    service = await _may_manage(session, principal, staff_id, "see staff absences")
    await cursors.ready(session)
    key = cursors.query_key({"list": "absences", "service": str(service.id),
                             "staff": staff_id})
    where = [col(StaffAbsence.service_id) == service.id, col(StaffAbsence.staff_id) == staff_id]
    if cursor is not None:
        first, ident = cursors.decode(cursor, key, 2)
        try:
            day = date.fromisoformat(first)
        except ValueError:
            raise cursors.invalid() from None
        last = cursors.identifier(ident)
        where.append(sa.or_(col(StaffAbsence.starts_on) > day, sa.and_(
            col(StaffAbsence.starts_on) == day, col(StaffAbsence.id) > last)))
    rows = list((await session.exec(
        select(StaffAbsence).where(*where)
        .order_by(col(StaffAbsence.starts_on), col(StaffAbsence.id)).limit(limit + 1))).all())
    page = rows[:limit]
    following = (cursors.encode((page[-1].starts_on.isoformat(), str(page[-1].id)), key)
                 if len(rows) > limit else None)
    return page, following


async def _absence(
    session: AsyncSession, principal: Principal, staff_id: str, absence_id: uuid.UUID
) -> StaffAbsence:
    """The worker's absence in the caller's service (404 for another's or an unknown id), if
    the caller may record their absences (403 otherwise), read again once the service's
    policy lock is held: what a write that committed meanwhile left (a new version, or
    nothing: cancelled) is what this write changes. Whether the caller may record them is
    asked first: a real absence of a worker not theirs was 403 where a made-up id was 404,
    telling them the id is real (attack 26a, A26a-10's kind)."""
    service = await _may_manage(session, principal, staff_id, "record staff absences")
    query = select(StaffAbsence).where(StaffAbsence.id == absence_id,
                                       StaffAbsence.service_id == service.id,
                                       StaffAbsence.staff_id == staff_id)
    if (await session.exec(query)).first() is None:
        raise NotFound("No such absence.")
    # Serialised with every case write of the service (as in _may_record).
    await lock_policy_exclusive(session, service.id)
    absence = (await session.exec(
        query.with_for_update().execution_options(populate_existing=True))).first()
    if absence is None:
        raise NotFound("No such absence.")
    return absence


async def _may_record(session: AsyncSession, principal: Principal, staff_id: str) -> Service:
    """The caller's service when they may record ``staff_id``'s absences, else 403; its
    policy lock then held exclusive."""
    service = await _may_manage(session, principal, staff_id, "record staff absences")
    # Recording, changing or cancelling an absence is serialised with every case write of the
    # service (they read absences: who stands in, whose week ends early): from here on the
    # steps the caller moves are all there are, and no case write misses the change
    # (app.domain.policy_lock; A9-16).
    await lock_policy_exclusive(session, service.id)
    return service


async def require_absence_authority(
    session: AsyncSession, principal: Principal, path: Mapping[str, Any]
) -> None:
    """403 unless the caller may record the absences of the path's ``staff_id``
    (:func:`_may_manage`): asked by the route before the body is read (``gates.authority``;
    attack pass 28a, ATK28A-3), as GET and DELETE of the same path answer, and again by the
    write under the service's policy lock. A path that is no staff id at all is left to the
    route, which answers it 422 (``path.staff_id``) as it does on GET, before the 403: no
    one's absences are at that path."""
    raw = str(path.get("staff_id", ""))
    try:
        staff_id = check_staff_id(raw)
    except ValueError:
        return
    if 1 <= len(raw) <= 128:
        await _may_manage(session, principal, staff_id, "record staff absences")


async def _may_manage(
    session: AsyncSession, principal: Principal, staff_id: str, what: str
) -> Service:
    """The caller's service when they manage ``staff_id``'s absences (record, change, cancel
    or see them): a duty manager anyone's, a line manager their own and those of the case
    holders of the open cases they manage who have acted on such a case as its holder (not
    merely opened it) and whose line manager someone else named (:func:`_manages`); 403
    otherwise.

    The act is the evidence that the worker is managed by the caller: any line manager may open
    a case naming anyone as its holder (there is no staff directory), and that alone must not
    open a colleague's leave, its reason (often health data) included, to them, nor let them
    move or cancel it (attack pass 13, A13-4). A holder who has not yet recorded anything has
    their absences recorded by a duty manager."""
    require_roles(principal, MANAGERS, what)
    service = await service_of(session, principal)
    if not staff_id.strip() or len(staff_id) > 128:
        raise Unprocessable("Not a staff id.", errors=[{"loc": "path.staff_id", "msg": "invalid"}])
    if not principal.has("duty_manager") and staff_id != principal.sub:
        # An absence brings the worker's in-week deadlines forward (and so their escalations):
        # their own line manager records it, not any line manager of the service; and a
        # person's leave is seen by those who may record it, no one else (A10-16).
        if not await _manages(session, service.id, principal.sub, staff_id):
            raise Forbidden("A line manager records and sees the absences of the case holders "
                            "they manage who have acted on their cases (and their own); a duty "
                            "manager anyone's.")
    return service


async def _manages(
    session: AsyncSession, service_id: uuid.UUID, manager: str, staff_id: str
) -> bool:
    """Whether ``manager`` is ``staff_id``'s line manager by a relation the worker did not set
    up alone: an open case of the service that ``manager`` manages and ``staff_id`` holds, on
    which ``staff_id`` has acted as its holder (an audited act under the case holder's role)
    other than opening it, and whose line manager was last set by someone else (the case's
    field-change history). A holder who opens a case naming a line manager (by mistake, or a
    friend) does not give them their whole leave history, its reasons included, nor their
    leave to move (attack pass 21, A21a-4: the case's opening was counted as the holder's act
    on it)."""
    acted = sa.exists().where(
        col(AuditEntry.case_id) == col(Case.id), col(AuditEntry.actor_sub) == staff_id,
        col(AuditEntry.actor_role) == "case_holder", col(AuditEntry.action) != "case.create")
    cases = (await session.exec(select(Case.id).where(
        Case.service_id == service_id, Case.line_manager_id == manager,
        Case.case_holder_id == staff_id, col(Case.closed_at).is_(None), acted))).all()
    for case_id in cases:
        rows = await session.exec(select(RecordChange.actor_sub, RecordChange.changes).where(
            RecordChange.entity_type == "case", RecordChange.entity_id == case_id)
            .order_by(col(RecordChange.recorded_at).desc(), col(RecordChange.id).desc()))
        setter = next((actor for actor, changes in rows
                       if "line_manager_id" in (changes or {})), staff_id)
        if setter != staff_id:
            return True
    return False


async def _no_overlap(
    session: AsyncSession, service_id: uuid.UUID, staff_id: str, starts_on: date,
    ends_on: date, *, besides: uuid.UUID | None = None,
) -> None:
    """409 ``absence-overlaps`` when the worker already has a recorded absence on any day from
    ``starts_on`` to ``ends_on`` (other than ``besides``, the one being changed): the same leave
    recorded twice (A10-16). Read under the service's policy lock (exclusive), so of two writes
    racing to record it one wins. The problem names the absence already there, not the dates
    sent."""
    query = select(StaffAbsence.id).where(
        StaffAbsence.service_id == service_id, StaffAbsence.staff_id == staff_id,
        col(StaffAbsence.starts_on) <= ends_on, col(StaffAbsence.ends_on) >= starts_on)
    if besides is not None:
        query = query.where(StaffAbsence.id != besides)
    found = (await session.exec(query.order_by(col(StaffAbsence.starts_on)).limit(1))).first()
    if found is not None:
        raise Conflict(
            "The staff member already has a recorded absence on some of these days: change "
            "that absence (PATCH) instead of recording another.",
            slug="absence-overlaps", extra={"absence_id": str(found)})


async def absences_of(
    session: AsyncSession, service_id: uuid.UUID, staff_id: str | None, since: date
) -> tuple[tuple[date, date], ...]:
    """The staff member's absences ending on or after ``since`` (London dates, inclusive)."""
    if not staff_id:
        return ()
    rows = await session.exec(
        select(StaffAbsence).where(StaffAbsence.service_id == service_id,
                                   StaffAbsence.staff_id == staff_id,
                                   col(StaffAbsence.ends_on) >= since)
        .order_by(col(StaffAbsence.starts_on))
    )
    return tuple((a.starts_on, a.ends_on) for a in rows.all())
