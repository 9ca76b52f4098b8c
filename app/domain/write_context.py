"""What every write on a case carries: the policy it runs under and the one write's context.

A write on a case (a judgement, an event, a referral's move, a step completed, a panel's
decision, a case patched) passes the same values through the services, the policy seam
(``policy.py``), the step closers (``next_steps.py``) and the audit trail: the unit of work,
the loaded packs, the service, the case, who acts, under which role, and when the act happened.
They travel together in one frozen :class:`WriteContext`, built once per write by the service
that performs it, *after* it has taken the case's lock and re-checked the record's state (see
``get_visible_case`` / ``load_case`` / ``lock_case`` in ``app/domain/access.py``), then passed
down as the first argument; everything else a function needs is keyword-only.

This module imports no domain service, so every service (and ``policy.py``) may import it.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.errors import ServiceUnavailable
from app.core.security import Principal
from app.domain.audit import AuditRow, record_audit
from app.domain.cases_table import Case
from app.domain.common import peek_now
from app.domain.pack_versions import ActDays, Served, note_served
from app.domain.services import Service
from app.workflows.calendar import WorkingCalendar, london_date
from app.workflows.packs import Pack, version_on
from app.workflows.types import WorkflowEvent


@dataclass
class PolicyContext:
    """What the engine needs besides the case: the loaded packs and the working calendar."""

    packs: Mapping[str, Pack]
    calendar: WorkingCalendar
    # Every version of each pack, oldest first (default: just the one in ``packs``).
    versions: Mapping[str, tuple[Pack, ...]] = field(default_factory=dict)
    # The versions services have been served with that this process knows are recorded
    # (app.domain.pack_versions: read at start-up, added after each write that recorded one),
    # with the London days of their acts known to be within the recorded range (ATK29-4).
    served: dict[Served, ActDays] = field(default_factory=dict)
    # Whether the recorded versions have been read (at start-up; else before the first write).
    served_checked: bool = False
    # Services served with a version this process has not loaded: why their acts are 503.
    unservable: dict[uuid.UUID, str] = field(default_factory=dict)

    def pack_for(self, service: Service, *, at: datetime) -> Pack:
        """The version of the service's pack in force at ``at`` (an aware time): an act is
        judged by the policy in force when it happened, so a write passes its act's
        ``occurred_at`` (``WriteContext.pack``); a read about now calls :meth:`pack_now`.
        503 for a service served with a version not loaded (ATTACK27-1)."""
        return self.pack_on(service, day=london_date(at))

    def pack_on(self, service: Service, *, day: date) -> Pack:
        """:meth:`pack_for` by the act's Europe/London date."""
        if self.unservable and service.id in self.unservable:
            raise ServiceUnavailable(self.unservable[service.id])
        found = self.versions.get(service.policy_pack)
        if not found:
            if service.policy_pack not in self.packs:
                # Its file removed while the database was not there at start-up (the start-up
                # refuses it otherwise, A26a-17): not judged by any other pack.
                raise ServiceUnavailable(
                    "This service's policy pack is not loaded by this process; an operator "
                    "must restore its pack file (YJ_PACKS_DIR) and restart.")
            return self.packs[service.policy_pack]
        return version_on(found, day)

    def pack_now(self, service: Service) -> Pack:
        """The version of the service's pack in force now (reads: what a referral may do next,
        what a subject access request explains); never for judging an act."""
        return self.pack_for(service, at=peek_now())  # a write's instant: after its lock

    def versions_of(self, pack_id: str) -> tuple[Pack, ...]:
        """Every version of a pack, oldest first (empty for an unknown id)."""
        if pack_id in self.versions:
            return self.versions[pack_id]
        return (self.packs[pack_id],) if pack_id in self.packs else ()

    @functools.cached_property
    def final_types(self) -> list[str]:
        """The event types any loaded pack (any version) declares ``final`` (a death),
        sorted: a statement that reads a case before its pack is known asks for these."""
        packs = [*self.packs.values(), *(p for found in self.versions.values() for p in found)]
        return sorted({t for pack in packs for t in pack.final_event_types})


def event(
    trigger: str,
    occurred_at: datetime,
    subject_id: uuid.UUID,
    principal: Principal,
    data: Mapping[str, Any],
    role: str | None = None,
) -> WorkflowEvent:
    """Build an engine event for something that happened (``role`` None: the principal's first
    role in alphabetical order acts)."""
    acting = role or next(iter(sorted(principal.roles)))
    return WorkflowEvent(
        trigger=trigger, occurred_at=occurred_at, subject_id=subject_id,
        actor_role=acting, data=dict(data),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class WriteContext:
    """One write on one case: who does what to it, when, under which policy.

    - ``session``: the request's unit of work (services only flush; one commit holds the
      record, its steps, its audit entries and its outgoing events).
    - ``policy``: the loaded packs and the working calendar.
    - ``service``, ``case``: the case written, already locked (``lock_case``) and re-checked
      under the lock by whoever built the context. The case row itself is mutable; the
      context only never changes which case it names.
    - ``principal``: who acts (their ``sub`` is recorded as the actor).
    - ``role``: the role the write was authorised under (``case_holder``, ``chair``,
      ``feed``, ...). ``None`` where no single role authorised it (opening a case): the
      audit then names all the principal's roles and the engine's event their first.
    - ``occurred_at``: when the act happened (aware UTC), not when it is recorded: deadlines
      count from it and the pack version in force at it judges the act.

    The functions that take a context take the act's time and role from it only (no
    ``occurred_at=`` or ``role=`` keyword beside it). An act within the write at another
    moment or under another role is a copy: ``dataclasses.replace(wctx, occurred_at=...)``,
    or :meth:`acting` for the role (an entry audited under all the principal's roles, as a
    panel item's addition is).
    """

    session: AsyncSession
    policy: PolicyContext
    service: Service
    case: Case
    principal: Principal
    role: str | None
    occurred_at: datetime

    def __post_init__(self) -> None:
        # The version that judges this act is one the service has now been served with, on
        # the act's day: the write records it, unless this process knows it is recorded with
        # that day in its range (ATTACK27-1, ATK29-4).
        day = london_date(self.occurred_at)
        pack = self.policy.pack_on(self.service, day=day)
        note_served(self.session, self.policy.served,
                    (self.service.id, pack.id, pack.version), day)

    @property
    def pack(self) -> Pack:
        """The version of the service's pack in force at ``occurred_at``: the one that judges
        this act (issue 12 item 5), whatever version is in force when it is recorded."""
        return self.policy.pack_for(self.service, at=self.occurred_at)

    def acting(self, role: str | None) -> WriteContext:
        """The same write, under ``role``."""
        return replace(self, role=role)

    @property
    def event_role(self) -> str:
        """The role the engine sees acting: ``role``, else the principal's first role."""
        return self.role or next(iter(sorted(self.principal.roles)))

    def event(
        self, trigger: str, data: Mapping[str, Any], *, subject_id: uuid.UUID | None = None
    ) -> WorkflowEvent:
        """The engine's event for this act: ``trigger`` (one of ``TRIGGERS``) with ``data``,
        at ``occurred_at``, about ``subject_id`` (default: the case)."""
        return WorkflowEvent(
            trigger=trigger, occurred_at=self.occurred_at,
            subject_id=subject_id or self.case.id, actor_role=self.event_role, data=dict(data),
        )

    async def audit(
        self,
        action: str,
        *,
        entity_type: str,
        entity_id: uuid.UUID,
        change: dict[str, Any] | None = None,
        reason: str | None = None,
    ) -> AuditRow:
        """Append an audit entry for this write (same unit of work): actor, role, service and
        case from the context; its ``at`` is when it is recorded (now), not ``occurred_at``.
        A write with no case (a service's settings, a panel scheduled) calls
        :func:`app.domain.audit.record_audit` itself."""
        return await record_audit(
            self.session, self.principal, action, entity_type, entity_id,
            service_id=self.service.id, case_id=self.case.id, change=change, role=self.role,
            reason=reason,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class DryRunContext(WriteContext):
    """The context of a dry run (the workflow preview): the write's reads of the case as at the
    act's time, recording nothing (no pack version noted as having served: nothing is written,
    the session is never flushed)."""

    def __post_init__(self) -> None:
        """Note nothing: a dry run writes nothing."""
