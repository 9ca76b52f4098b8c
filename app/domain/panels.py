"""Panels (Somerset MARP, Wokingham High-Risk Panel): scheduling, items and decisions."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from typing import Annotated, Any

import sqlalchemy as sa
from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints
from pydantic import Field as PField
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.errors import Conflict, Forbidden, NotFound, Unprocessable
from app.core.identifiers import visible_text
from app.core.security import Principal
from app.domain import agenda, paging, policy
from app.domain.access import (
    LIVE_PANEL_REFERRAL_STATES,
    NOTED_CASE_COLUMNS,
    accessible_case_ids,
    load_case,
    note_read,
    require_open_case,
    require_roles,
    restriction_clause,
    roles_for,
    service_of,
    visible_cases_clause,
)
from app.domain.answered import answer_from_record
from app.domain.assessments import answer_from_file
from app.domain.audit import record_audit
from app.domain.cases_table import Case, mark_changed
from app.domain.common import (
    KindLabel,
    MappaNumber,
    PlausibleDate,
    StaffId,
    UtcDatetime,
    conditional_on,
    iso_utc,
    peek_now,
    require_current,
    require_plausible,
    resolve_occurred_at,
    state_etag,
    utcnow,
)
from app.domain.final_events import require_before_final_event
from app.domain.history import case_fields_at, fields_changed_after, note_case_act
from app.domain.judgements import JudgementCreate, apply_judgement, ratings_around
from app.domain.judgements_table import Level, RiskDomain
from app.domain.next_steps import (
    close_step,
    require_chair_held_nothing_reviewed,
    satisfy_open_steps,
)
from app.domain.outbox import emit
from app.domain.panels_table import Panel, PanelItem, undecided_agenda
from app.domain.policy import stored_utc
from app.domain.policy_lock import lock_policy_exclusive
from app.domain.referrals import Referral, ReferralKind, ReferralStatus, accept_heard
from app.domain.replay import plain_judged_at, replay_later_acts
from app.domain.restriction import check_chairs_keep_access, shuts_out, staff_of
from app.domain.services import Service
from app.domain.steps import Step, StepStatus, append_note
from app.domain.timing import (
    YEAR_AHEAD_MONTHS,
    a_year_after,
    in_closed_period,
    not_after_error,
    require_not_before,
    require_within_case,
)
from app.domain.transitions import conflicting
from app.domain.write_context import WriteContext
from app.workflows.calendar import LONDON, WorkingCalendar, london_text
from app.workflows.deadlines import shift_local
from app.workflows.types import OpenStep, WorkflowEvent
from app.workflows.vocabulary import PanelKind

SCHEDULERS = ("chair", "panel_admin")
NEXT_PANEL = "next-panel"  # the deadline form a panel's date sets (policy-rules.md)
# What a panel decision is the act for comes from the pack, in passes (``[closures]``), each
# credited to whoever did the act (a step is never closed in someone else's name):
# ``panel_decision_overtakes``: steps the sitting made moot without doing them (a request still
# open): superseded, with the reason; ``panel_decision_misses``: steps owed before the sitting
# that it left undone for good (Somerset 6.2's views): missed; ``panel_decision`` (and
# ``panel_decision_mappa`` when it sets a MAPPA level) then ``panel_decision_then``: the chair's
# acts (the panel held); ``panel_decision_presenter``: the presenter's (the child brought back on
# the booked review date). ``panel_item_added``: putting the case on the agenda answers a request
# not otherwise recorded, credited to whoever put it there.




class PanelCreate(BaseModel):
    """Body of ``POST /v1/panels``."""

    model_config = ConfigDict(extra="forbid")
    kind: KindLabel = PField(description="a panel kind of the service's pack "
                                         "(GET /v1/policy-packs/{id}: panel_kinds)")
    scheduled_for: UtcDatetime
    chair_id: StaffId


class PanelMove(BaseModel):
    """Body of ``POST /v1/panels/{id}/reschedule``."""

    model_config = ConfigDict(extra="forbid")
    scheduled_for: UtcDatetime


class PanelItemCreate(BaseModel):
    """Body of ``POST /v1/panels/{id}/items``."""

    model_config = ConfigDict(extra="forbid")
    case_id: uuid.UUID
    presenter_id: StaffId
    referral_id: uuid.UUID | None = None


class PanelAction(BaseModel):
    """An action agreed by the panel: it becomes a step for its owner."""

    model_config = ConfigDict(extra="forbid")
    description: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                                  max_length=300), AfterValidator(visible_text)]
    owner_id: StaffId
    due_date: PlausibleDate


class PanelDecisionCreate(BaseModel):
    """Body of ``POST /v1/panels/{id}/items/{item_id}/decision``."""

    model_config = ConfigDict(extra="forbid")
    rosh_level: Level | None = PField(
        default=None, description="the rating the panel confirms: rosh_level or swb_level (or "
                                  "both) is required (422 naming both without)")
    swb_level: Level | None = PField(
        default=None, description="the rating the panel confirms: rosh_level or swb_level (or "
                                  "both) is required (422 naming both without)")
    actions: Annotated[list[PanelAction], PField(max_length=50)] = PField(
        default_factory=list,
        description="the action plan, at most 50 actions; a pack may require at least one "
                    "(Wokingham's High-Risk Panel: 422 action-plan-required without)")
    review_date: PlausibleDate | None = None
    mappa_level: MappaNumber | None = None
    minutes: Annotated[str, StringConstraints(min_length=1, max_length=20000),
                       AfterValidator(visible_text)]
    attendees: Annotated[list[KindLabel], PField(max_length=50)] = PField(
        default_factory=list,
        description="who attended, as the panel kind's invitees name them (its "
                    "required_attendance must be there), at most 50")
    occurred_at: UtcDatetime | None = PField(
        default=None,
        description="when the panel decided; default: the panel's scheduled_for (the decision "
                    "is dated when the panel sat, whenever it is typed up); not before it (409); "
                    "up to 5 minutes ahead of the service's clock is recorded as the moment "
                    "it is recorded, more is 422")


class PanelItemOut(BaseModel):
    """A panel item; ``case_id``, ``referral_id`` and ``decision`` (the minutes) are null for a
    reader who may not see the item's case (``case_visible`` false)."""

    id: uuid.UUID
    panel_id: uuid.UUID
    case_visible: bool = True
    case_id: uuid.UUID | None
    presenter_id: str
    referral_id: uuid.UUID | None
    decided_at: datetime | None
    decided_by: str | None
    decision: dict[str, Any] | None
    withdrawn_at: datetime | None = None
    withdrawn_by: str | None = None
    withdrawal_reason: str | None = PField(
        default=None, description="why the item was taken off the agenda (null for a reader "
                                  "who may not see its case)")


class PanelItemWithdraw(BaseModel):
    """Body of ``POST /v1/panels/{id}/items/{item_id}/withdraw``."""

    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                             max_length=500), AfterValidator(visible_text)]
    occurred_at: UtcDatetime | None = PField(
        default=None,
        description="when the case was taken off the agenda (a deferral at the sitting typed "
                    "up the next morning is dated at the sitting); default: when it is "
                    "recorded. Not in the future (up to 5 minutes ahead of the service's clock "
                    "is recorded as the moment it is recorded, more is 422), nor before the "
                    "item was put on the agenda, the case's opening or inside a period it was "
                    "closed (422 `occurred-before-bound`)")


class PanelOut(BaseModel):
    """A panel with its items."""

    id: uuid.UUID
    kind: str
    scheduled_for: datetime
    chair_id: str
    created_by: str
    items: list[PanelItemOut]


def item_out(item: PanelItem, case_visible: bool = True) -> PanelItemOut:
    """Shape a panel item, hiding its case and minutes from a reader who may not see the case."""
    out = PanelItemOut.model_validate(item, from_attributes=True)
    if not case_visible:
        out = out.model_copy(update={"case_visible": False, "case_id": None,
                                     "referral_id": None, "decision": None,
                                     "withdrawal_reason": None})
    return out


def panel_out(panel: Panel, items: list[PanelItem],
              visible_case_ids: set[uuid.UUID] | None = None) -> PanelOut:
    """Shape a panel; items whose case is not in ``visible_case_ids`` (when given) are redacted."""
    return PanelOut(id=panel.id, kind=panel.kind, scheduled_for=panel.scheduled_for,
                    chair_id=panel.chair_id, created_by=panel.created_by,
                    items=[item_out(i, visible_case_ids is None or i.case_id in visible_case_ids)
                           for i in items])


async def create_panel(
    session: AsyncSession, principal: Principal, body: PanelCreate, ctx: policy.PolicyContext
) -> Panel:
    """Schedule a panel; steps waiting for a panel date get one (``next-panel``)."""
    require_roles(principal, SCHEDULERS, "schedule panels")
    service = await service_of(session, principal)
    require_sitting_time(body.scheduled_for, peek_now())  # the instant: after the lock below
    require_working_day_sitting(ctx.calendar, body.scheduled_for)
    allowed = ctx.pack_for(service, at=body.scheduled_for).panel_kind_ids()
    if body.kind not in allowed:
        raise Unprocessable(
            "This service's policy holds no panels of this kind.",
            slug="wrong-panel-kind",
            errors=[{"loc": "body.kind", "msg": f"must be one of: {', '.join(allowed)}"}],
            extra={"allowed": list(allowed)},
        )
    # Serialised with every case write of the service (a next-panel step takes the next
    # panel's date): from here on the waiting steps read below are all there are, and no case
    # write misses this panel (app.domain.policy_lock; A9-24).
    await lock_policy_exclusive(session, service.id)
    panel = Panel(service_id=service.id, kind=body.kind, scheduled_for=body.scheduled_for,
                  chair_id=body.chair_id, created_by=principal.sub)
    session.add(panel)
    await session.flush()
    await record_audit(session, principal, "panel.create", "panel", panel.id,
                       service_id=service.id, change=body.model_dump(mode="json"))
    await emit(session, "panel.scheduled", panel.id, service_id=service.id,
               payload={"kind": body.kind, "scheduled_for": iso_utc(body.scheduled_for)})
    await _redate_next_panel_steps(session, principal, ctx, service, panel, "scheduled",
                                   _due_may_change(body.scheduled_for))
    return panel


async def _redate_next_panel_steps(
    session: AsyncSession, principal: Principal, ctx: policy.PolicyContext, service: Service,
    panel: Panel, change: str, may_change: sa.ColumnElement[bool], *, void: bool = False,
) -> None:
    """After a panel of the service was scheduled, moved or cancelled (``change``), under the
    service's exclusive policy lock: every open ``next-panel`` step of the service is due at the
    next panel of its pack's kind at or after the act that asked for it, among the panels as
    they now stand (the engine's ``panel_scheduled``), sooner or later, each re-date audited
    (``step.redate``) in this unit of work. Somerset 3.2.3 "refer the case to the next YJT
    MARP", 6.2 views "sought before the initial panel" (attack 9, A9-5: a MARP booked after a
    later one, or a MARP moved or cancelled, left steps on the other MARP's date).

    Only the cases with a step whose date the change can alter are run (``may_change``, from
    :func:`_due_may_change`): the engine gives each of the others' steps the date it has
    (attack 28a, ATK28A-7: running every waiting case of the service made a booking cost
    ~8 ms a case, under the lock that holds back the service's case writes). A pack with
    lines or checks of its own on ``panel_scheduled`` runs every waiting case, as before."""
    now = utcnow()
    pack = ctx.pack_for(service, at=now)
    if pack.panel_kind != panel.kind:
        return  # the pack's next-panel steps wait for panels of another kind
    if pack.rules_for("panel_scheduled") or any(
            "panel_scheduled" in check.trigger for check in pack.checks):
        may_change = sa.true()  # the act itself asks something of every waiting case
    # The steps alone, one scan of the service's open steps ((service, status, due) index):
    # no semi-join with the cases, which PostgreSQL may run as a loop over every case of the
    # service (~150 ms a booking on the attack's database).
    waiting = await session.exec(
        select(Step.case_id).where(Step.service_id == service.id,
                                   Step.status == StepStatus.open,
                                   Step.deadline_form == NEXT_PANEL, may_change)
        .distinct().order_by(col(Step.case_id))
    )
    for case_id in waiting.all():
        # Each case is locked (in id order) and read again before its steps are re-dated, as
        # every write on a case does; no case write of the service is under way (the
        # exclusive policy lock waits for them, and they wait for it before their case lock).
        case = await load_case(session, case_id, lock=True)
        if case is None:
            continue
        wctx = WriteContext(session=session, policy=ctx, service=service, case=case,
                            principal=principal, role=_scheduler_role(principal),
                            occurred_at=now)
        data = {"panel_id": str(panel.id), "kind": panel.kind, "change": change}
        if void:
            # A booking made by mistake in the past, cancelled: the dates it gave were no
            # deadlines (A15-5); the steps due at it get the panels' dates as they now stand.
            data["void_due_at"] = iso_utc(panel.scheduled_for)
        await policy.run(wctx, event=wctx.event("panel_scheduled", data, subject_id=panel.id))


def _due_may_change(at: datetime | None, *, was: datetime | None = None
                    ) -> sa.ColumnElement[bool]:
    """The open ``next-panel`` steps whose date a panel of the kind scheduled at ``at`` (None:
    none), having been at ``was`` (None: newly booked), can change: a step is due at the next
    panel of the kind at or after the act that asked for it (or the panel its case is on),
    so a panel at ``at`` can only give a sooner date to a step due after it or not yet dated
    by a panel (none booked: no date, or the kind's cadence day), and a panel leaving ``was``
    only moves the steps due at ``was`` (a booking cancelled as a mistake, A15-5, too: the
    steps it dated are due at its time). The rest keep their dates whatever the engine runs
    (attack 28a, ATK28A-7). Served by the (service, status, due) index."""
    due = col(Step.due_at)
    parts: list[sa.ColumnElement[bool]] = []
    if was is not None:
        parts.append(due == was)
    if at is not None:
        parts += [due > at, due.is_(None), col(Step.awaiting_panel_date).is_(True)]
    return sa.or_(*parts)


# Refusals that may rest on an item the caller is not shown (a restricted case): said the same
# whether or not they see it, naming no case, item or count (attack 18, A18-10).
PANEL_HAS_ITEMS = ("Cases stand on the panel's agenda (its agenda may hold cases you are not "
                   "shown): move the panel instead, or ask its chair.")
PANEL_DECIDED = ("The panel has sat: a decision is recorded on it (its agenda may hold cases "
                 "you are not shown).")


async def _panel_to_change(
    session: AsyncSession, principal: Principal, panel_id: uuid.UUID, what: str,
    *, cancelling: bool = False,
) -> tuple[Service, Panel, list[PanelItem]]:
    """The panel to move or cancel, under the service's exclusive policy lock, with its items;
    409 ``panel-decided`` when a decision is recorded on it (a decision is dated when the panel
    sat: moving or cancelling the sitting would leave it dated before its panel, or without
    one); 409 ``panel-has-sat`` once its time has come: the steps due at it (Somerset 3.2.3
    "refer the case to the next YJT MARP", 6.2 views "before the initial panel") were late
    when it sat, and moving or cancelling it afterwards would erase that lateness (attack pass
    10, A10-1)."""
    require_roles(principal, SCHEDULERS, what)
    service = await service_of(session, principal)
    # Moving or cancelling a panel re-dates next-panel steps: exclusive against every case
    # write of the service (app.domain.policy_lock), before the panel is read.
    await lock_policy_exclusive(session, service.id)
    panel = (await session.exec(select(Panel).where(
        Panel.id == panel_id, Panel.service_id == service.id)
        .execution_options(populate_existing=True))).first()
    if panel is None:
        raise NotFound("No such panel.")
    await require_panel_unchanged(session, panel, principal)
    items = list((await session.exec(select(PanelItem).where(
        PanelItem.panel_id == panel.id))).all())
    if any(item.decided_at is not None for item in items):
        raise Conflict(PANEL_DECIDED, slug="panel-decided")
    if panel.scheduled_for <= utcnow() and not (
            cancelling and _booking_mistake(panel)):
        raise Conflict("The panel's time has passed: it can no longer be moved or cancelled "
                       "(a panel booked after its time may be cancelled while no case is on "
                       "its agenda and nothing is decided at it).", slug="panel-has-sat")
    return service, panel, items


def _booking_mistake(panel: Panel) -> bool:
    """Whether a panel whose time has passed may still be cancelled as a booking made by
    mistake (attack pass 12, A12-13: a MARP booked in the past by a slip could never be taken
    off again). Only when cancelling it erases no sitting: it was booked after its own time
    (nobody was ever due at it in advance: a sitting booked ahead that then passed stays,
    A10-1) and nothing was decided at it (the caller answers 409 ``panel-decided``) nor stands
    on its agenda (every item withdrawn: 409 ``panel-has-items`` for one standing). The
    ``next-panel`` steps the booking re-dated to it (every waiting case's, Somerset 3.2.3
    "refer the case to the next YJT MARP") no longer keep it: a sitting that really took place
    is back-filled with its items and decisions, which keep it; a slip that re-dated the steps
    of every waiting case could otherwise never be undone (attack pass 15, A15-5). Cancelling
    gives those steps back the dates the panels as they now stand give them (the dates they
    had before the slip), each re-date audited."""
    return stored_utc(panel.created_at) >= stored_utc(panel.scheduled_for)


async def _steps_due_at(session: AsyncSession, service: Service, panel: Panel) -> list[str]:
    """The ids of the service's open ``next-panel`` steps due at the panel's time."""
    at = stored_utc(panel.scheduled_for)
    rows = await session.exec(select(Step.id, Step.due_at).where(
        Step.service_id == service.id, Step.status == StepStatus.open,
        Step.deadline_form == NEXT_PANEL, col(Step.due_at).is_not(None)))
    return sorted(str(sid) for sid, when in rows.all()
                  if when is not None and stored_utc(when) == at)


async def reschedule_panel(
    session: AsyncSession, principal: Principal, panel_id: uuid.UUID, body: PanelMove,
    ctx: policy.PolicyContext,
) -> tuple[Panel, list[PanelItem]]:
    """Move a panel to another time (chair, panel admin); the service's ``next-panel`` steps
    whose date that changes, sooner or later, are re-dated (audited) in the same write."""
    service, panel, items = await _panel_to_change(session, principal, panel_id,
                                                   "reschedule panels")
    require_sitting_time(body.scheduled_for)
    require_working_day_sitting(ctx.calendar, body.scheduled_for)
    _refuse_move_into_past(body.scheduled_for)
    was = panel.scheduled_for
    if was == body.scheduled_for:
        return panel, items
    panel.scheduled_for = body.scheduled_for
    session.add(panel)
    await session.flush()
    change = {"scheduled_for": [iso_utc(was), iso_utc(body.scheduled_for)]}
    await record_audit(session, principal, "panel.reschedule", "panel", panel.id,
                       service_id=service.id, change=change)
    await emit(session, "panel.rescheduled", panel.id, service_id=service.id,
               payload={"kind": panel.kind, "scheduled_for": iso_utc(body.scheduled_for),
                        "was": iso_utc(was)})
    await _redate_next_panel_steps(session, principal, ctx, service, panel, "moved",
                                   _due_may_change(body.scheduled_for, was=was))
    return panel, items


def _refuse_move_into_past(scheduled_for: datetime, now: datetime | None = None) -> None:
    """422 ``moved-into-past`` (``bound`` now, never the value sent) for moving a panel that
    has not sat to a time already past on the service's clock: the moved panel would count as
    having sat (409 ``panel-has-sat`` from then on, so a typo could never be undone) and the
    next-panel steps (Somerset S7/S8/S10, not waivable) would fall due, late, at a meeting that
    never happened (attack pass 11, A11-3). Booking a panel in the past stays allowed: that is
    the deliberate back-fill of a sitting that took place (policy-rules "so that a CMS can
    back-fill events"; its decision is then recorded at its time)."""
    now = now or utcnow()
    if scheduled_for > now:
        return
    when = iso_utc(now)
    raise Unprocessable(
        "A panel that has not sat cannot be moved to a time already past (book a panel that "
        "sat as a new panel instead).", slug="moved-into-past",
        errors=[{"loc": "body.scheduled_for", "msg": f"must be after now ({when})"}],
        extra={"bound": {"field": "scheduled_for", "name": "now", "value": when}})


async def cancel_panel(
    session: AsyncSession, principal: Principal, panel_id: uuid.UUID,
    ctx: policy.PolicyContext,
) -> None:
    """Cancel a panel (chair, panel admin): it is removed, and the service's ``next-panel``
    steps that were due at it take the next panel after it (or wait for one), audited, in the
    same write. 409 ``panel-has-items`` while cases are on its agenda (move the panel instead,
    or decide them)."""
    service, panel, items = await _panel_to_change(session, principal, panel_id,
                                                   "cancel panels", cancelling=True)
    if any(item.withdrawn_at is None for item in items):
        # Items the caller is not shown count too (a restricted case that shuts them out):
        # cancelling would take a case off its panel unseen. One answer whether or not the
        # caller sees them, with no count or id: it says no more than that the agenda is not
        # empty (attack 18, A18-10; docs/integrating.md, "Panels and restricted cases").
        raise Conflict(PANEL_HAS_ITEMS, slug="panel-has-items")
    change: dict[str, Any] = {"kind": panel.kind, "scheduled_for": iso_utc(panel.scheduled_for)}
    if panel.scheduled_for <= utcnow():
        # A booking made after its own time, taken off as a mistake (A12-13): said so, with
        # the steps it had re-dated to itself (given their dates back below; A15-5).
        change["booked_at"] = iso_utc(panel.created_at)
        change["past"] = True
        due_at_it = await _steps_due_at(session, service, panel)
        if due_at_it:
            change["steps_redated"] = due_at_it
    if items:
        # The withdrawn items go with the panel; each withdrawal stays in the case's audit,
        # and the cancellation names them.
        change["withdrawn_items"] = [str(item.id) for item in items]
        for item in items:
            await session.delete(item)
        await session.flush()  # before the panel they point at
    await record_audit(session, principal, "panel.cancel", "panel", panel.id,
                       service_id=service.id, change=change)
    await emit(session, "panel.cancelled", panel.id, service_id=service.id,
               payload={"kind": panel.kind, "scheduled_for": iso_utc(panel.scheduled_for)})
    await session.delete(panel)
    await session.flush()
    await _redate_next_panel_steps(session, principal, ctx, service, panel, "cancelled",
                                   _due_may_change(None, was=panel.scheduled_for),
                                   void=bool(change.get("past")))


def _refuse_stale_ratings(body: PanelDecisionCreate, case: Case, sat_at: datetime,
                          occurred_at: datetime, plain_at: frozenset[str]) -> None:
    """409 ``rating-changed-since-panel`` when the decision confirms a ROSH or SWB level other
    than the case's current one, that current rating was judged after the panel sat
    (``sat_at``: the panel's start, or the decision's own time if earlier; typing the decision up
    later, with a later ``occurred_at``, does not make the panel have seen the newer rating),
    and the decision is dated at or after it (say the MARP sat at 10:00, a very high ROSH was
    judged at 11:30, and the chair dates the panel's "medium" 12:00). Taken as the current
    rating, it would take a very high child off the register on a level nobody set after
    seeing that judgement (Somerset 4.5, Wokingham 3.3).

    A decision dated before the newer rating (at the sitting, the default) is not refused: it
    is the panel's rating then, kept in the history as a back-filled judgement is, and the
    newer rating stays current (attack 26b, ATTACK26B-11: an earlier MARP's minutes typed up
    after a later MARP's, or after the case holder's later judgement, could not be recorded
    with the rating the panel decided; leaving the level out, as this refusal advised, is
    422 since a decision records a confirmed rating, A23b-2). So the refusal's remedy is a
    request that stands: date the decision at the sitting (before the newer rating), or bring
    the case back to the panel. ``errors[].loc`` names the fields; ``current`` gives the newer
    rating; ``bound`` the time the decision must be dated before.

    A rating judged at the decision's own instant by a plain judgement (``plain_at``: its
    domains) came after the decision (the one order of an instant, docs/integrating.md §7),
    as one judged a minute later: not a change before it (ATTACK40-3: a Very High dated at
    the instant of a MARP decision keeping High, typed first, had the decision refused; typed
    second, both stood). One judged at that instant by another panel's decision recorded
    before this one came before it, and is refused as such."""
    for field, domain, level in (("rosh_level", "rosh", body.rosh_level),
                                 ("swb_level", "swb", body.swb_level)):
        current = (case.ratings or {}).get(domain) or {}
        if level is None or not current.get("recorded_at"):
            continue
        judged = datetime.fromisoformat(str(current["recorded_at"]))
        before = judged < occurred_at or (judged == occurred_at and domain not in plain_at)
        if judged > sat_at and before and current.get("level") != str(level):
            when = iso_utc(judged)
            then = "before the decision's time" if judged < occurred_at else \
                "at the decision's time, by another panel's decision recorded before this one"
            raise Conflict(
                f"The case's {domain.upper()} rating changed after the panel sat and {then}: "
                f"it is now {current.get('level')} (judged {when}). "
                f"Date the decision at the sitting (leave out occurred_at, or give one before "
                f"{when}): the panel's {field} is then kept in the history and the newer "
                f"rating stays current. Or bring the case back to the panel.",
                slug="rating-changed-since-panel",
                errors=[{"loc": f"body.{field}",
                         "msg": "older than the case's current rating in this domain"},
                        {"loc": "body.occurred_at",
                         "msg": f"must be before {when} (the newer rating) for the panel's "
                                f"{field} to be recorded as history"}],
                extra={"current": {"domain": domain, "level": current.get("level"),
                                   "recorded_at": current["recorded_at"]},
                       "bound": {"field": "occurred_at", "name": "the newer rating's time",
                                 "value": when}},
            )


async def _feed_subs(session: AsyncSession, case: Case) -> frozenset[str]:
    """Who delivered the case's MAPPA feed messages (their referrals' ``created_by``)."""
    return frozenset((await session.exec(select(Referral.created_by).where(
        col(Referral.case_id) == case.id, col(Referral.source) == "feed:mappa"))).all())


async def _refuse_stale_mappa_level(
    session: AsyncSession, body: PanelDecisionCreate, case: Case, sat_at: datetime,
    occurred_at: datetime,
) -> None:
    """409 ``rating-changed-since-panel`` (``loc`` body.mappa_level) when the decision sets a
    MAPPA level other than the case's current one and that level was set by an act dated after
    the panel sat (its ``occurred_at`` in the field history; a change recorded without one: when
    it was recorded): the panel decided on the level it knew, and the newer record must not be
    overwritten silently. The field-change history (:class:`~app.domain.history.RecordChange`)
    says when."""
    if body.mappa_level is None or body.mappa_level == case.mappa_level:
        return
    # When the change happened (its act's time: a PATCH's, an event's, a panel's sitting),
    # else when it was recorded: an earlier panel's decision typed up after the sitting is not
    # a change after it (A21b-5). A MAPPA feed message received at the decision's own instant
    # comes before it (docs/integrating.md §7: the feeds' messages first, then the panels'
    # decisions; what the service records at a message's instant is recorded in the light of
    # it): the decision is taken and its level stands, typed before or after the message
    # (ATTACK40-8: typed after it the decision was refused, typed before it the message's level
    # overwrote the panel's, the panel's S22 referral left owed).
    if await fields_changed_after(session, case.id, {"mappa_level"}, sat_at,
                                  besides_at=(occurred_at, await _feed_subs(session, case))):
        raise Conflict(
            f"The case's MAPPA level changed after the panel sat: it is now {case.mappa_level}. "
            "Record the decision without mappa_level, or bring the case back to the panel.",
            slug="rating-changed-since-panel",
            errors=[{"loc": "body.mappa_level",
                     "msg": "older than the case's current MAPPA level"}],
            extra={"current": {"domain": "mappa_level", "level": case.mappa_level}},
        )


# No youth justice panel sat before youth offending teams existed: the Crime and Disorder Act
# 1998 (s.39) set them up, operating from 1 April 2000 (00:00 London, BST). A panel dated
# earlier (1900) is a typing slip, refused before it gives waiting steps a date.
YJS_FLOOR = datetime(2000, 3, 31, 23, 0, tzinfo=UTC)


# Nor is a sitting booked more than a year ahead: neither seed plans one so far (Somerset's MARP
# "the next YJT MARP" and its "provisional review date" (7.1.6); Wokingham's High-Risk Panel
# "within one week of their request", monthly for MAPPA level 1), and a panel booked far ahead is
# no slip to store quietly: booked first, it sets the date of every waiting next-panel step (a
# meeting day's date gives way to the first panel booked), so a 2099 sitting took them out of
# the overdue list for 73 years (attack pass 10, A10-14). A year also keeps every sitting within
# the timeliness report's own periods (at most 120 months, reports.check_query).
# A year on London wall time (shift_local: 28 August 2026 15:48 to 28 August 2027 15:48, 365
# days; over a 29 February, 366), to the second (attack pass 12, A12-8: 366 days, quoted with
# microseconds).
PANEL_HORIZON_MONTHS = YEAR_AHEAD_MONTHS


def require_sitting_time(scheduled_for: datetime, now: datetime | None = None) -> None:
    """A panel's time (booked or moved to): 422 before 1 April 2000 (``occurred-before-bound``)
    or more than a year after now (London wall time) (``scheduled-too-far-ahead``), each naming the
    bound (never the value sent)."""
    require_plausible(scheduled_for, "scheduled_for")
    require_not_before(scheduled_for, YJS_FLOOR,
                       "the start of youth justice services (1 April 2000)", "scheduled_for")
    latest = shift_local((now or utcnow()).replace(microsecond=0),
                         months=PANEL_HORIZON_MONTHS)
    if scheduled_for > latest:
        when = iso_utc(latest)
        raise Unprocessable(
            f"A panel may be booked at most a year ahead (until {when}).",
            slug="scheduled-too-far-ahead",
            errors=[{"loc": "body.scheduled_for",
                     "msg": f"must not be after a year from now ({when})"}],
            extra={"bound": {"field": "scheduled_for", "name": "a year from now",
                             "value": when}})


def _scheduler_role(principal: Principal) -> str:
    return "chair" if principal.has("chair") else "panel_admin"


async def _load_panel(session: AsyncSession, principal: Principal, panel_id: uuid.UUID
                      ) -> tuple[Service, Panel]:
    require_roles(principal, roles_for("panel.read"), "read panels")
    service = await service_of(session, principal)
    panel = (await session.exec(select(Panel).where(Panel.id == panel_id,
                                                    Panel.service_id == service.id))).first()
    if panel is None:
        raise NotFound("No such panel.")
    return service, panel


async def _panel_again(session: AsyncSession, panel: Panel, principal: Principal) -> Panel:
    """The panel read again after the case's lock (a panel write of the service, which the
    case lock waits for, may have moved or cancelled it meanwhile); 404 when cancelled."""
    again = (await session.exec(select(Panel).where(Panel.id == panel.id)
                                .execution_options(populate_existing=True))).first()
    if again is None:
        raise NotFound("No such panel.")
    await require_panel_unchanged(session, again, principal)
    return again


async def panel_etag(session: AsyncSession, panel: Panel, principal: Principal) -> str:
    """The panel's ETag as ``principal`` reads it: the stored state of the panel and of every
    item of its agenda the principal is shown (:func:`~app.domain.common.state_etag`; the
    items :func:`read_panel` answers): a move, a cancellation, an item put on, withdrawn or
    decided changes it. An item on a restricted case that shuts the principal out is not in
    it (attack 18, A18-10): its agenda reads as if that case were not there (README, Data
    protection), so neither does the tag change when that item comes, goes or is decided,
    nor does a conditional move or cancellation fail (412) for a change the reader could not
    see. The tag is the reader's representation's (RFC 9110 §8.8.3), not the row's."""
    items = (await session.exec(select(PanelItem).where(
        PanelItem.panel_id == panel.id,
        col(PanelItem.case_id).in_(accessible_case_ids(principal, panel.service_id)))
        .order_by(col(PanelItem.id))
        .execution_options(populate_existing=True))).all()
    return state_etag(panel, *items)


async def require_panel_unchanged(session: AsyncSession, panel: Panel,
                                  principal: Principal) -> None:
    """412 when the request's If-Match is about this panel and does not hold for it as it
    stands (under the write's lock) in the principal's view (:func:`panel_etag`); nothing
    without one (A16-8)."""
    if conditional_on(session, "panel", panel.id) is not None:
        require_current(session, "panel", panel.id,
                        await panel_etag(session, panel, principal), "panel")


async def visible_item_cases(session: AsyncSession, principal: Principal, service: Service,
                             items: list[PanelItem]) -> set[uuid.UUID]:
    """Which of the items' cases the principal may see (chairs and panel administrators of the
    service see every case on a panel; a line manager only their team's); on a read request,
    each is noted in its access log (its item, minutes and decision are shown: attack pass
    16, A16-3)."""
    case_ids = {item.case_id for item in items}
    if not case_ids:
        return set()
    rows = (await session.exec(select(*NOTED_CASE_COLUMNS).where(
        col(Case.id).in_(case_ids),
        visible_cases_clause(principal, service.id, panel_view=True)))).all()
    for row in rows:
        note_read(session, principal, row)
    return {row[0] for row in rows}


async def read_panel(session: AsyncSession, principal: Principal, panel_id: uuid.UUID
                     ) -> tuple[Panel, list[PanelItem], set[uuid.UUID]]:
    """A panel with its items (none on a restricted case that shuts the principal out) and the
    ids of the items' cases the principal may see."""
    service, panel = await _load_panel(session, principal, panel_id)
    items = list((await session.exec(select(PanelItem).where(
        PanelItem.panel_id == panel.id,
        col(PanelItem.case_id).in_(accessible_case_ids(principal, service.id)),
    ).order_by(col(PanelItem.created_at)))).all())
    return panel, items, await visible_item_cases(session, principal, service, items)


PANEL_ORDER = paging.Order(((Panel.scheduled_for, "instant"), (Panel.id, "uuid")))


async def list_panels(
    session: AsyncSession, principal: Principal, upcoming_only: bool, page: paging.PageArgs,
) -> tuple[list[tuple[Panel, list[PanelItem]]], set[uuid.UUID], str | None]:
    """A page of the service's panels, soonest first (upcoming only by default), the ids of
    the items' cases the principal may see, and the next page's cursor."""
    require_roles(principal, roles_for("panel.read"), "read panels")
    service = await service_of(session, principal)
    query = select(Panel).where(Panel.service_id == service.id)
    if upcoming_only:
        query = query.where(col(Panel.scheduled_for) >= utcnow())
    panels, following = await paging.keyset_page(
        session, query, PANEL_ORDER, page,
        {"list": "panels", "service": str(service.id), "upcoming": upcoming_only})
    out = []
    every_item: list[PanelItem] = []
    for panel in panels:
        items = list((await session.exec(select(PanelItem).where(
            PanelItem.panel_id == panel.id,
            col(PanelItem.case_id).in_(accessible_case_ids(principal, service.id)),
        ).order_by(col(PanelItem.created_at)))).all())
        every_item += items
        out.append((panel, items))
    return out, await visible_item_cases(session, principal, service, every_item), following


def require_panel_may_hear(case: Case, sits: datetime, loc: str = "body.case_id",
                           remedy: str = "") -> None:
    """422 for putting the case on the agenda of a panel sitting at ``sits`` that could not
    have heard it, naming no stored time: one that sat before the case was opened
    (``panel-before-case``; attack pass 16, A16-19) or while it was closed, before a reopening
    (``panel-while-case-closed``; attack pass 18, A18-9). As an agenda entry it would answer the
    referral to the next panel (Somerset 3.2.3, not waivable) and make the chair owe a decision
    (S29, 7.1.2) that could never be recorded: a decision is refused there (a panel does not
    decide a closed case), and the chair's step can be neither done nor waived. ``remedy``:
    words added to the detail (a decision on an item listed before the rule: withdraw it)."""
    if sits < stored_utc(case.opened_at):
        raise Unprocessable(
            "The panel sat before the case was opened: it cannot hear the case." + remedy,
            slug="panel-before-case",
            errors=[{"loc": loc, "msg": "the panel's time is before the case's opening"}])
    if in_closed_period(case, sits):
        raise Unprocessable(
            "The panel sat while the case was closed: it cannot hear the case." + remedy,
            slug="panel-while-case-closed",
            errors=[{"loc": loc, "msg": "the panel's time falls while the case was closed "
                                        "(before its reopening)"}])


async def add_item(
    session: AsyncSession, principal: Principal, panel_id: uuid.UUID, body: PanelItemCreate,
    ctx: policy.PolicyContext,
) -> tuple[PanelItem, policy.PolicyResult]:
    """Put a case of the service on the panel's agenda; answers the case's open steps (a
    request for the panel not yet recorded is done by this act, credited to its author)."""
    require_roles(principal, SCHEDULERS, "add panel items")
    service, panel = await _load_panel(session, principal, panel_id)
    case = await load_case(session, body.case_id, Case.service_id == service.id,
                           restriction_clause(principal), lock=True)
    if case is None:
        raise NotFound("No such case.")
    panel = await _panel_again(session, panel, principal)
    require_open_case(case, "put it on a panel")
    require_panel_may_hear(case, stored_utc(panel.scheduled_for))
    await require_before_final_event(
        session, ctx.pack_for(service, at=panel.scheduled_for), case,
        stored_utc(panel.scheduled_for), what="put the case on a panel sitting then",
        field="case_id")
    await _refuse_second_item(session, panel, case)
    await check_chairs_keep_access(session, case.access_mode, await staff_of(session, case),
                                   case, "body.case_id", chair_id=panel.chair_id)
    await _require_panel_route(session, case, body.referral_id,
                               owed=ctx.pack_now(service).closes("panel_decision_then"))
    if case.access_mode is not None and shuts_out(case.access_mode,
                                                  set(await staff_of(session, case)),
                                                  body.presenter_id):
        # The presenter brings the case to the panel and must see it (A15-11).
        raise Unprocessable(
            "The presenter may not see this restricted case; name someone with access (the "
            "case holder presents, Somerset 7.1.1).", slug="restriction-shuts-out-presenter",
            errors=[{"loc": "body.presenter_id",
                     "msg": "the case's access restriction shuts this presenter out"}])
    item = PanelItem(service_id=service.id, panel_id=panel.id, case_id=case.id,
                     presenter_id=body.presenter_id, referral_id=body.referral_id)
    session.add(item)
    await session.flush()
    wctx = WriteContext(session=session, policy=ctx, service=service, case=case,
                        principal=principal, role=_scheduler_role(principal),
                        occurred_at=resolve_occurred_at(None))
    # Audited under all the principal's roles, as it always was; the steps it closes under
    # the scheduler's.
    await wctx.acting(None).audit("panel.item.add", entity_type="panel_item", entity_id=item.id,
                                  change=body.model_dump(mode="json"))
    local = london_text(panel.scheduled_for.astimezone(LONDON).date())
    # Put on the agenda of a panel that has already sat (a sitting recorded late, A13-5), the
    # case was heard at the sitting: what the item answers (S7's referral to the next MARP,
    # W7's request) is answered then, not when typed in, so a rise after the sitting is not
    # taken as answered by it (attack pass 16, A16-16).
    heard = dataclasses.replace(
        wctx, occurred_at=min(wctx.occurred_at, stored_utc(panel.scheduled_for)))
    listed = (f"The case was put on the agenda of the {wctx.pack.panel(panel.kind).title} of "
              f"{local} (item {item.id}) by {principal.sub}")
    satisfied = await satisfy_open_steps(
        heard, codes=wctx.pack.closes("panel_item_added"), act=("panel_item", item.id),
        note=listed)
    relisted = await _answer_relisted(wctx, panel=panel, item=item, heard=heard.occurred_at,
                                      note=listed)
    if relisted is not None:
        satisfied = relisted if satisfied is None else satisfied.merge(relisted)
    # What the agenda asks of the panel itself (the pack's ``panel_item_added`` lines: its
    # chair records the decision, Somerset 7.1.2; A9-25/A10-9), about this item. Asked at the
    # sitting when the panel has already sat (``heard``): the attendance it owes (S48, 7.1.1)
    # is due at that sitting, the panel the case is on, and its decision dated then does it,
    # not the next panel's (attack 27, ATTACK27-4).
    added = await policy.run(heard, event=_item_added_event(heard, panel, item))
    # Its next-panel steps (Somerset S8's views, S10's MAPPA level) are due at the panel it
    # is now on, not whichever is next (6.2 "before the initial panel"; A11-13).
    redated = await policy.run(wctx, event=wctx.event(
        "panel_scheduled", {"panel_id": str(panel.id), "kind": panel.kind, "change": "agenda"},
        subject_id=panel.id))
    result = satisfied.merge(added) if satisfied else added
    return item, result.merge(redated)


def _item_added_event(wctx: WriteContext, panel: Panel, item: PanelItem) -> WorkflowEvent:
    """The ``panel_item_added`` event of ``item`` at ``wctx.occurred_at``."""
    return wctx.event(
        "panel_item_added",
        # A chair who holds the case does not chair its decision (403 case-holder-cannot-chair),
        # nor one who presents it where the pack says so (403 presenter-cannot-chair; Somerset
        # 7.1.5 "Where a line-manager attends the MARP on a case holder's behalf, they will not
        # chair the panel ... another panel member will act as chair for that case"): the duty
        # goes to the chairs, unnamed (attack passes 12 and 14, A12-15, A14-15).
        {"panel_id": str(panel.id), "panel_kind": panel.kind,
         "panel_chair_id": None if panel.chair_id in agenda.may_not_chair(
             wctx.pack.panel(panel.kind), item, wctx.case) else panel.chair_id,
         "scheduled_for": iso_utc(panel.scheduled_for)},
        subject_id=item.id)


async def _answer_relisted(wctx: WriteContext, *, panel: Panel, item: PanelItem,
                           heard: datetime, note: str) -> policy.PolicyResult | None:
    """What the item answers that the case owed again because it was taken off a sitting at
    or before this panel's, after that sitting (:func:`agenda.relisting_answers_at`): put back
    on the agenda it was deferred from, or on another sitting then or later, recorded after
    the withdrawal, the case is heard there; done at the withdrawal when the listing's own
    time (the sitting) is before it (Somerset 3.2.3 "refer the case to the next YJT MARP";
    ATTACK40-1: put back on the MARP that deferred it, the case owed the referral still, overdue,
    after that MARP had decided it)."""
    codes = wctx.pack.closes("panel_item_added")
    if not codes:
        return None
    steps = (await wctx.session.exec(select(Step).where(
        Step.case_id == wctx.case.id, Step.status == StepStatus.open,
        col(Step.code).in_(codes)))).all()
    result = None
    for step in steps:
        at = agenda.relisting_answers_at(step, sits=stored_utc(panel.scheduled_for),
                                         heard=heard)
        if at is None:
            continue
        more = await close_step(dataclasses.replace(wctx, occurred_at=at), step=step,
                                note=note, satisfied_by=("panel_item", item.id))
        result = more if result is None else result.merge(more)
    return result


async def withdraw_item(
    session: AsyncSession, principal: Principal, panel_id: uuid.UUID, item_id: uuid.UUID,
    body: PanelItemWithdraw, ctx: policy.PolicyContext,
) -> tuple[PanelItem, policy.PolicyResult]:
    """Take a case off a panel's agenda before its decision (chair, panel admin: who keep the
    agenda, as they put cases on it): the item is kept, marked withdrawn with who, when and
    why; the chair's duty to record its decision is superseded with the reason, and the case's
    ``next-panel`` steps follow the panels as they now stand for it. Under the case's lock, as
    every act on its items: 409 ``conflicting-transition`` once decided or withdrawn."""
    require_roles(principal, SCHEDULERS, "withdraw panel items")
    service, panel = await _load_panel(session, principal, panel_id)
    item, case = await _item_under_lock(session, principal, service, panel, item_id)
    panel = await _panel_again(session, panel, principal)
    for state, at in (("decided", item.decided_at), ("withdrawn", item.withdrawn_at)):
        if at is not None:
            raise conflicting("panel item", "withdraw", state,
                              item_out(item).model_dump(mode="json"))
    wctx = WriteContext(session=session, policy=ctx, service=service, case=case,
                        principal=principal, role=_scheduler_role(principal),
                        occurred_at=withdrawal_time(body, case, item, panel))
    ended = await agenda.withdraw_item(wctx, item=item, panel=panel, reason=body.reason,
                                       by_keepers=True)
    return item, policy.PolicyResult(superseded=ended).merge(
        await policy.current(session, case))


def withdrawal_time(body: PanelItemWithdraw, case: Case, item: PanelItem, panel: Panel
                    ) -> datetime:
    """When the item was taken off the agenda: ``occurred_at`` (the write's instant by
    default), judged like every dated act (fix36e's leftover: a deferral at the sitting typed
    the next morning was judged then, and S48's attendance missed). 422 in the future, before
    the item was put on the agenda (:func:`item_added_at`), before the case's opening or inside
    a closed period."""
    at = resolve_occurred_at(body.occurred_at)
    if body.occurred_at is not None:
        require_within_case(case, at)
        require_not_before(at, item_added_at(item, panel), "the item's adding to the agenda")
    return at


def item_added_at(item: PanelItem, panel: Panel) -> datetime:
    """When the case was on the panel's agenda from: when the item was recorded, and in any
    case by the sitting (an item recorded after its sitting, a sitting typed up late, was on
    the agenda when the panel sat: its steps are asked at the sitting, :func:`add_item`'s
    ``heard``, and its decision is dated there by default; ``answered._panel_acts`` reads it
    so too). ATTACK37-10: an item recorded the day after its sitting could not be withdrawn
    dated at the sitting (422 before the item's adding), so its attendance (S48, 7.1.1, due at
    the sitting) was always recorded missed, and its decision was dated before the item."""
    return min(stored_utc(item.created_at), stored_utc(panel.scheduled_for))


def _refuse_barred_chair(principal: Principal, kind: PanelKind, pack_id: str, item: PanelItem,
                         case: Case | None) -> None:
    """403 when the principal may not chair this item's decision
    (:func:`app.domain.agenda.may_not_chair`)."""
    slug = agenda.may_not_chair(kind, item, case).get(principal.sub)
    if slug == "presenter-cannot-chair":
        raise Forbidden(
            "The presenter of a case cannot chair its decision; another panel member must "
            f"chair this item ({pack_id}).", slug=slug,
        )
    if slug is not None:
        raise Forbidden("You hold this case: another panel member chairs its decision.",
                        slug=slug)


async def _item_under_lock(
    session: AsyncSession, principal: Principal, service: Service, panel: Panel,
    item_id: uuid.UUID, before_lock: Callable[[PanelItem], None] | None = None,
) -> tuple[PanelItem, Case]:
    """The panel's agenda item (of a case the caller may see) and its case, read again once the
    case's lock is held, so that what a write that committed meanwhile left is what this act
    sees (a decision, a withdrawal, a restriction shutting the caller out: 404 as for an item
    never seen). ``before_lock`` checks the item first (403s that need no lock)."""
    query = select(PanelItem).where(
        PanelItem.id == item_id, PanelItem.panel_id == panel.id,
        col(PanelItem.case_id).in_(accessible_case_ids(principal, service.id)))
    item = (await session.exec(query)).first()
    if item is None:
        raise NotFound("No such panel item.")
    if before_lock is not None:
        before_lock(item)
    case = await load_case(session, item.case_id, lock=True)
    item = (await session.exec(query.execution_options(populate_existing=True))).first()
    if item is None or case is None:
        raise NotFound("No such panel item.")
    return item, case


async def _refuse_second_item(session: AsyncSession, panel: Panel, case: Case) -> None:
    """409 ``already-on-agenda`` when the case is already on this panel's agenda (decided or
    not), naming that item: a panel hears a child once at a sitting and records one decision
    (Somerset 7.1.2 "the Chair will set the review date", Wokingham "At the end of the Panel, a
    specific action plan and risk classification should be agreed"); a second line invited two
    contradicting ones (attack pass 11, A11-8). Read under the case's lock, which every add of
    an item for the case takes, so racing adds see each other; the unique index of migration
    0020 backs it."""
    existing = (await session.exec(select(PanelItem.id).where(
        PanelItem.panel_id == panel.id, PanelItem.case_id == case.id,
        col(PanelItem.withdrawn_at).is_(None))
        .order_by(col(PanelItem.created_at)).limit(1))).first()
    if existing is not None:
        raise Conflict("The case is already on this panel's agenda (item_id): a panel hears a "
                       "case once at a sitting and records one decision on it.",
                       slug="already-on-agenda", extra={"item_id": str(existing)})


async def _require_panel_route(
    session: AsyncSession, case: Case, referral_id: uuid.UUID | None, *,
    owed: tuple[str, ...] = (),
) -> None:
    """A case comes onto a panel only through a live panel referral (made, not withdrawn or
    declined; Somerset 3.2.3, Wokingham's High-Risk Panel request), by being on the register
    (ROSH or SWB high/very high, Somerset 9), or when it is owed a panel that only the panel's
    decision gives (an open step of ``owed``, the pack's ``[closures] panel_decision_then``:
    Wokingham "For MAPPA Level 1 children, High Risk Panels should be held monthly", W19's
    review, which the chair owes without any referral: attack pass 13, A13-12); a named
    referral must be a panel referral of this case that is still standing. 422 otherwise."""
    panel_referrals = select(Referral).where(Referral.case_id == case.id,
                                             Referral.kind == ReferralKind.panel)
    live = [ReferralStatus(s) for s in LIVE_PANEL_REFERRAL_STATES]
    if referral_id is not None:
        standing = (await session.exec(panel_referrals.where(
            Referral.id == referral_id,
            col(Referral.status).not_in([ReferralStatus.withdrawn, ReferralStatus.declined])
        ))).first()
        if standing is None:
            raise Unprocessable(
                "The referral is not a standing panel referral of this case.",
                slug="not-referred",
                errors=[{"loc": "body.referral_id",
                         "msg": "must be this case's panel referral, not withdrawn or declined"}])
        if standing.status not in live:
            # Somerset 3.2.3/6.2: the referral is made by completing and submitting its form,
            # which carries the child's and carer's views; a draft is not yet a referral.
            raise Unprocessable(
                "The referral is still a draft: submit it (with the child's and carer's views, "
                "or why they could not be sought safely) before the case goes on the agenda.",
                slug="not-referred",
                errors=[{"loc": "body.referral_id",
                         "msg": "must be a submitted panel referral, not a draft"}])
    if case.on_register or (await session.exec(
            panel_referrals.where(col(Referral.status).in_(live)))).first() is not None:
        return
    if owed and (await session.exec(select(Step.id).where(
            Step.case_id == case.id, Step.status == StepStatus.open,
            col(Step.code).in_(owed)).limit(1))).first() is not None:
        return
    raise Unprocessable(
        "A case goes onto a panel only with a panel referral, when it is on the register or "
        "when it is owed a panel's review.",
        slug="not-referred",
        errors=[{"loc": "body.case_id", "msg": "no live panel referral and not on the register"}])


def decision_time(body: PanelDecisionCreate, panel: Panel, now: datetime | None = None
                  ) -> datetime:
    """When the decision was made: ``occurred_at``, by default the panel's start (minutes are
    written up after the meeting). 409 for a decision before the panel starts, naming both."""
    start = panel.scheduled_for.astimezone(UTC)
    if body.occurred_at is None:
        moment = now or utcnow()
        if moment < start:
            raise Conflict(
                f"The panel starts at {iso_utc(start)}: its decision cannot be recorded "
                f"before then (it is now {iso_utc(moment.replace(microsecond=0))}).",
                slug="decision-before-panel",
                extra=_before_panel(start))
        return start
    occurred_at = resolve_occurred_at(body.occurred_at, now)
    if occurred_at < start:
        raise Conflict(
            f"The decision is dated before the panel starts at {iso_utc(start)}.",
            slug="decision-before-panel",
            errors=[{"loc": "body.occurred_at",
                     "msg": f"must not be before the panel's scheduled_for ({iso_utc(start)})"}],
            extra=_before_panel(start))
    return occurred_at


def sat_while_open(case: Case, panel: Panel, occurred_at: datetime) -> bool:
    """Whether the panel sat, and decided, while the case was open: always for an open case;
    for a closed one, when the sitting and the decision's time are before its closure (the
    case is closed from its closure's instant: A25-2)."""
    if case.closed_at is None:
        return True
    closed_at = stored_utc(case.closed_at)
    return stored_utc(panel.scheduled_for) < closed_at and occurred_at < closed_at


def history_domains(case: Case, occurred_at: datetime) -> frozenset[str]:
    """The rating domains whose current rating was judged after ``occurred_at``: a decision's
    level in one of them is the panel's rating then, kept in the history (a back-fill), not
    the case's rating after the decision (ATTACK26B-11)."""
    return frozenset(
        domain for domain, current in (case.ratings or {}).items()
        if current and current.get("recorded_at")
        and datetime.fromisoformat(str(current["recorded_at"])) > occurred_at)


async def _after_heard(wctx: WriteContext, *, panel: Panel, item: PanelItem, name: str
                       ) -> None:
    """The case's open ``next-panel`` steps still due at this sitting, now that it has decided
    the case, that were asked at or after its decision (a Very High dated at the decision's
    instant typed before it, S10 asked again by its reason ranked after the decision; the
    decision's own): due at the next sitting, or waiting for one to be booked (Somerset 7.1.9
    "The MARP will decide", 3.2.3 "refer the case to the next YJT MARP"; fix37a, ATTACK36-1:
    due at the sitting already decided, born overdue). The engine judges each by the act that
    asked for it (:func:`app.workflows.engine.heard_by`): one asked before the decision keeps
    this sitting's date."""
    sits = stored_utc(panel.scheduled_for)
    steps = [s for s in (await wctx.session.exec(select(Step).where(
        Step.case_id == wctx.case.id, Step.status == StepStatus.open,
        Step.deadline_form == NEXT_PANEL, col(Step.due_at).is_not(None)))).all()
        if stored_utc(s.due_at) == sits]  # type: ignore[arg-type]
    if steps:
        await policy.redate_returning_next_panel_steps(
            wctx, steps=steps, why=f"the {name} (item {item.id}) had decided the case before "
                                   "it was asked for")


async def _later_listings_asked_again(wctx: WriteContext, item: PanelItem
                                      ) -> policy.PolicyResult | None:
    """What the case's agenda items on file that were on their agenda only after this decision
    (:func:`item_added_at` after its time: a later sitting's item typed in before it) asked of
    their own, asked again on the case as the decision left it: in time order they were listed
    after it. A step one of them raised that its line no longer asks for was never raised:
    kept as a step raised and ended at one instant (superseded then, out of the timeline, the
    queues and the report, readable by its id; ``step.retract`` audited, as fix41c's
    never-raised steps). Somerset S48's attendance at the initial MARP ("The case holder will
    attend MARP to discuss the case", 7.1.1) is not owed for the review listing once the
    decision booked the review (S20, attend_panel_review), as when the listing is typed in
    after the decision (fix41f, ATTACK40-5: S48 owed beside S20, overdue, when the review's
    item was typed first). None when nothing changed."""
    session, case = wctx.session, wctx.case
    lines = {(line.id, line.code) for line in wctx.pack.rules_for("panel_item_added")}
    later = [(other, panel) for other, panel in await agenda.standing_items(
        wctx, after=wctx.occurred_at) if other.id != item.id
        and item_added_at(other, panel) > wctx.occurred_at]
    if not later or not lines:
        return None
    open_steps = await policy.open_steps_of(session, case.id)
    never: list[Step] = []
    for other, panel in later:
        own = [s for s in open_steps
               if s.subject_id == other.id and (s.rule_id, s.code) in lines]
        if not own:
            continue
        # Judged as when it was listed: on the steps open then (the review this decision
        # booked among them), its own aside.
        listed = dataclasses.replace(wctx, occurred_at=item_added_at(other, panel))
        then = [s for s in await policy.steps_open_at(session, case.id, listed.occurred_at)
                if s not in own]
        panels, extras = await policy.snapshot_inputs(session, wctx.service, case,
                                                      listed.occurred_at)
        evaluation = policy.evaluate_for(
            wctx.policy, wctx.service, case, then, _item_added_event(listed, panel, other),
            panels, checks=False, **extras,
            **await case_fields_at(session, case, listed.occurred_at))
        asked = {(i.rule_id, i.code, i.subject_id) for i in evaluation.intents
                 if i.action == "create"}
        never += [s for s in own if (s.rule_id, s.code, s.subject_id) not in asked]
    if not never:
        return None
    short = f"never owed: listed after the panel decision on item {item.id}, recorded later"
    reasons = {}
    for step in never:
        # Superseded at the instant it arose, which the case's history leaves out (a step
        # raised and ended at one instant, fix36d); the row stays, readable by its id (fix41c).
        rose = stored_utc(step.raised_at or step.created_at)
        reasons[step.id] = (
            f"Never raised: the agenda item {step.subject_id} was on its agenda from "
            f"{iso_utc(rose)}, after the panel decision on item {item.id} of "
            f"{iso_utc(wctx.occurred_at)} recorded later; its line ({step.rule_id}, "
            f"{step.code}) does not ask for it then")
        policy.end_need(session, step, at=rose, why=short)
        step.note = append_note(step.note, reasons[step.id])
        session.add(step)
    await session.flush()
    retired = await policy.record_superseded(wctx, never, reason=short)
    for step in never:
        await wctx.audit(
            "step.retract", entity_type="step", entity_id=step.id, reason=reasons[step.id],
            change={"code": step.code, "rule_id": step.rule_id,
                    "raised_at": iso_utc(stored_utc(step.raised_at or step.created_at))})
    return policy.PolicyResult(superseded=never + retired)


def _decision_event(wctx: WriteContext, body: PanelDecisionCreate, panel: Panel,
                    item: PanelItem) -> WorkflowEvent:
    """The ``panel_decision`` event of the decision: what the pack's rules and checks see."""
    data = {
        "rosh_level": body.rosh_level.value if body.rosh_level else None,
        "swb_level": body.swb_level.value if body.swb_level else None,
        "actions": [{**a.model_dump(mode="json"), "subject_id": str(uuid.uuid4())}
                    for a in body.actions],
        "review_date": body.review_date,
        "mappa_level": body.mappa_level,
        "panel_kind": panel.kind,
        "panel_chair_id": panel.chair_id,
        "attendees": list(body.attendees),
    }
    return wctx.event("panel_decision", data, subject_id=item.id)


def _replacing_codes(pack: Any) -> frozenset[str]:
    """The codes a panel's next decision replaces (its lines' ``supersedes_previous``: the
    booked review, Somerset S20 / Wokingham W22)."""
    return frozenset(line.code for line in pack.rules_for("panel_decision")
                     if line.supersedes_previous)


async def _later_decision(wctx: WriteContext, pack: Any, item: PanelItem
                          ) -> tuple[PanelItem | None, frozenset[uuid.UUID]]:
    """The case's earliest decision dated after this one's (typed in before it), and the open
    steps of the codes a next decision replaces that it (or one after it) raised: in time order
    this decision came first, and the later one replaced its booked review, not the other way
    round (ATTACK26B-11: the 15 April MARP's minutes typed after the 16 April MARP's)."""
    later = (await wctx.session.exec(
        select(PanelItem).where(PanelItem.case_id == wctx.case.id, PanelItem.id != item.id,
                                col(PanelItem.decided_at).is_not(None),
                                col(PanelItem.decided_at) > wctx.occurred_at)
        .order_by(col(PanelItem.decided_at)))).all()
    codes = _replacing_codes(pack)
    if not later or not codes:
        return (later[0] if later else None), frozenset()
    ids = {str(x.id) for x in later}
    rows = (await wctx.session.exec(select(Step).where(
        Step.case_id == wctx.case.id, Step.status == StepStatus.open,
        col(Step.code).in_(codes)))).all()
    kept = frozenset(s.id for s in rows if any(
        (r.get("record") or {}).get("id") in ids for r in s.reasons or ()))
    return later[0], kept


async def _replaced_by_later_decision(wctx: WriteContext, pack: Any, created: list[Step],
                                      later: PanelItem) -> None:
    """The steps this decision raised that the later decision on file replaced in time order
    (its booked review: ``supersedes_previous``), superseded as that decision's act."""
    codes = _replacing_codes(pack)
    when = iso_utc(later.decided_at) if later.decided_at else ""
    for step in [s for s in created if s.code in codes and s.status == StepStatus.open]:
        step.status = StepStatus.superseded
        step.completed_at = later.decided_at
        step.completion_note = (f"Superseded: replaced by the later panel decision on item "
                                f"{later.id} ({when}), recorded before this one")
        step.satisfied_by_type, step.satisfied_by_id = "panel_item", later.id
        wctx.session.add(step)
        await policy.record_superseded(
            wctx, [step], action="step.superseded", reason=step.completion_note,
            change=lambda step: {"code": step.code, "note": step.completion_note})
    await wctx.session.flush()


def _before_panel(start: datetime) -> dict[str, object]:
    when = iso_utc(start)  # UTC with Z, as every time the service answers (attack 12, A12-5)
    return {"panel_starts_at": when,
            "bound": {"field": "occurred_at", "name": "the panel's scheduled_for", "value": when}}


LATEST_AFTER_PANEL = "a year after the panel's date"


def action_dates_after(due_dates: Iterable[date], latest: date, loc: str = "body"
                       ) -> list[dict[str, str]]:
    """The ``errors`` of a decision's actions due after ``latest`` (a year after the panel's
    date; the preview's: a year after the decision's), one per action (``loc``: where the
    decision's fields are)."""
    return [not_after_error(f"{loc}.actions.{i}.due_date", LATEST_AFTER_PANEL, latest)
            for i, due in enumerate(due_dates) if due > latest]


def non_working_day_errors(calendar: WorkingCalendar, dated: Iterable[tuple[str, date]]
                           ) -> list[dict[str, str]]:
    """The ``errors`` (``{loc, msg}``) of the dates the service books that fall on no working day
    (a weekend, an England-and-Wales bank holiday, a closure day of the service), each naming the
    date, why, and the next working day (attack pass 19, A19-15). Neither seed lets a MARP or
    High-Risk Panel sit, or a step agreed at one fall due, on a day the service is shut:
    Somerset 7.1.6 "the panel will agree and then book a provisional review date", 4.6 "within
    the timeframe agreed"; Wokingham's panel "actions (each with owner and due date)"; the
    service's own deadlines all fall on working days (``+Nwd``). Such a date is a slip
    (refused, 422), not a choice the policy makes; the client sends the next working day or
    another one."""
    errors = []
    for loc, day in dated:
        why = calendar.why_not_working(day)
        if why is not None:
            nxt = calendar.next_working_day_on_or_after(day)
            errors.append({"loc": loc, "msg": (
                f"{day.isoformat()} is not a working day ({why}): the next working day is "
                f"{nxt.isoformat()}")})
    return errors


def decision_date_errors(calendar: WorkingCalendar, review: date | None,
                         due_dates: Iterable[date], loc: str = "body") -> list[dict[str, str]]:
    """:func:`non_working_day_errors` of a decision's review date (the panel books a sitting on
    it) and of its actions' due dates: every date a user gives the service is judged by the one
    working-day calendar, as the panel's sitting is (:func:`require_working_day_sitting`).
    An action due on Good Friday was accepted while a review on Easter Monday was refused
    (attack 34b, ATTACK34B-3; attack 32c, ATTACK32C-7 had let actions through as the minutes'
    agreement): docs/integrating.md §7 and the 1.1.0 changelog have always said both are
    refused, and neither seed lets a step the panel agreed fall due on a day the service is
    shut (Somerset 4.6 "within the timeframe agreed"; Wokingham's panel "actions (each with
    owner and due date)")."""
    dated = [(f"{loc}.review_date", review)] if review is not None else []
    dated += [(f"{loc}.actions.{i}.due_date", due) for i, due in enumerate(due_dates)]
    return non_working_day_errors(calendar, dated)


def require_working_day_sitting(calendar: WorkingCalendar, scheduled_for: datetime) -> None:
    """422 ``not-a-working-day`` for a panel booked (or moved) to a London day that is no
    working day (a weekend, an England-and-Wales bank holiday, a closure day of the service),
    naming the day, why and the next working day (attack 34b, ATTACK34B-6: a MARP booked on
    Christmas Day dated every waiting ``next-panel`` step on it). Neither seed has a MARP or
    High-Risk Panel sit on a day the service is shut (Somerset 3.2.3 "the next YJT MARP";
    Wokingham "within one week of their request"), and a sitting dates the steps due at it."""
    day = scheduled_for.astimezone(LONDON).date()
    errors = non_working_day_errors(calendar, [("body.scheduled_for", day)])
    if errors:
        why = calendar.why_not_working(day)
        nxt = calendar.next_working_day_on_or_after(day)
        raise Unprocessable(
            f"A panel sits on a working day: {london_text(day)} is {why}. The next working "
            f"day is {london_text(nxt)}.", slug="not-a-working-day", errors=errors,
            extra={"not_working": {"date": day.isoformat(), "why": why,
                                   "next_working_day": nxt.isoformat()}})


def rating_errors(rosh_level: object, swb_level: object, loc: str = "body"
                  ) -> list[dict[str, str]]:
    """The ``errors`` of a decision that confirms no rating (attack 23b, A23b-2): both panels
    record "a confirmed rating" (the catalogue's Panels; Somerset 7.1.6 "Unless the child's risk
    status has reduced to medium or low", Wokingham "a specific action plan and risk
    classification should be agreed"): ``rosh_level`` or ``swb_level``, one error naming each."""
    if rosh_level is not None or swb_level is not None:
        return []
    msg = ("a panel decision records a confirmed rating: give rosh_level or swb_level (or "
           "both)")
    return [{"loc": f"{loc}.rosh_level", "msg": msg}, {"loc": f"{loc}.swb_level", "msg": msg}]


def _check_decision(body: PanelDecisionCreate, case: Case, panel: Panel,
                    calendar: WorkingCalendar) -> None:
    """Refuse a decision that cannot stand: no confirmed rating (A23b-2), a review or action
    before the panel's (London) date or on no working day (A19-15), MAPPA without category;
    each error names the comparison made."""
    day = panel.scheduled_for.astimezone(LONDON).date()
    errors = rating_errors(body.rosh_level, body.swb_level)
    errors += decision_date_errors(calendar, body.review_date,
                                   [a.due_date for a in body.actions])
    if body.review_date is not None and body.review_date <= day:
        errors.append({"loc": "body.review_date",
                       "msg": f"must be after the panel's date ({day.isoformat()})"})
    latest = a_year_after(day)
    if body.review_date is not None and body.review_date > latest:
        # Somerset 7.1.6 "a provisional review date"; as a panel is booked at most a year
        # ahead, its review is at most a year after it (attack pass 12, A12-11: a review in
        # 2099 let the rating stand unreviewed, and M6 kept the holder from lowering it).
        errors.append(not_after_error("body.review_date", LATEST_AFTER_PANEL, latest))
    errors += [{"loc": f"body.actions.{i}.due_date",
                "msg": f"must not be before the panel's date ({day.isoformat()})"}
               for i, action in enumerate(body.actions) if action.due_date < day]
    # An agreed action is due within the same year as the review that follows it up: a 2099
    # due date made the action (not waivable, chased only when overdue) never due (A18-2).
    errors += action_dates_after((a.due_date for a in body.actions), latest)
    if body.mappa_level is not None and case.mappa_category is None:
        errors.append({"loc": "body.mappa_level",
                       "msg": "the case has no MAPPA category: record it first (PATCH the case)"})
    if errors:
        raise Unprocessable("The decision cannot be recorded as it stands; see errors.",
                            errors=errors)


async def _check_owners_have_access(
    session: AsyncSession, body: PanelDecisionCreate, case: Case
) -> None:
    """422 ``restriction-shuts-out-owner`` for an action owned by someone the case's access
    restriction shuts out (not on its ``allowed`` list, or on its ``excluded`` list): the step
    would belong to someone who may not see it. An owner who is neither the case's holder nor
    its manager is otherwise fine (Wokingham's "Internal and External Controls": every action
    names "the professional responsible for it"): the case's holder, line manager or a duty
    manager records it done (:data:`app.domain.next_steps.COVER`)."""
    if case.access_mode is None or not body.actions:
        return
    staff = set(await staff_of(session, case))
    errors = [{"loc": f"body.actions.{i}.owner_id",
               "msg": "the case's access restriction shuts this owner out"}
              for i, action in enumerate(body.actions)
              if shuts_out(case.access_mode, staff, action.owner_id)]
    if errors:
        raise Unprocessable(
            "An action's owner may not see this restricted case; name someone with access.",
            slug="restriction-shuts-out-owner", errors=errors)


def _check_attendance(body: PanelDecisionCreate, kind: PanelKind) -> None:
    """422 for attendees the panel kind does not invite, or a required attendee missing."""
    errors = []
    if kind.invitees:
        errors += [{"loc": f"body.attendees.{i}",
                    "msg": f"not an invitee of the {kind.id}: one of {', '.join(kind.invitees)}"}
                   for i, who in enumerate(body.attendees) if who not in kind.invitees]
    missing = [who for who in kind.required_attendance if who not in body.attendees]
    if missing:
        errors.append({"loc": "body.attendees",
                       "msg": f"the {kind.title} needs {', '.join(missing)} to attend"})
    if errors:
        raise Unprocessable("The panel's attendance does not meet its terms of reference.",
                            slug="panel-attendance", errors=errors)


async def decide(
    session: AsyncSession,
    principal: Principal,
    panel_id: uuid.UUID,
    item_id: uuid.UUID,
    body: PanelDecisionCreate,
    ctx: policy.PolicyContext,
) -> tuple[PanelItem, policy.PolicyResult]:
    """Record the panel's decision on an item: confirmed ratings, actions, review date."""
    service, panel = await _load_panel(session, principal, panel_id)
    # The version in force when the decision was made: by default at the panel's start. (The
    # write's instant is taken under the case's lock, below: A23a-1.)
    decided_at = resolve_occurred_at(body.occurred_at, peek_now()) if body.occurred_at \
        else panel.scheduled_for
    pack = ctx.pack_for(service, at=decided_at)
    kind = pack.panel(panel.kind)
    chair = kind.chair_role
    require_roles(principal, (chair,), "record panel decisions")

    def presenter_may_not_chair(item: PanelItem) -> None:
        _refuse_barred_chair(principal, kind, pack.id, item, None)

    # Re-read under the case's lock: a restriction may have shut the chair out, or another
    # decision on this item committed, while we waited (404 as for a case never seen).
    item, case = await _item_under_lock(session, principal, service, panel, item_id,
                                        before_lock=presenter_may_not_chair)
    # Neither the case's own holder nor (where the pack says so) its presenter decides it, as
    # they stand under the lock (agenda.may_not_chair; Somerset 7.1.5 "another panel member
    # will act as chair for that case").
    _refuse_barred_chair(principal, kind, pack.id, item, case)
    # The panel as it stands under the lock (a move or cancellation waits for no case write,
    # it is waited for): the decision is dated by the sitting's time now.
    panel = await _panel_again(session, panel, principal)
    if body.occurred_at is None and panel.scheduled_for != decided_at:
        pack = ctx.pack_for(service, at=panel.scheduled_for)
    if item.decided_at is not None:
        raise conflicting("panel item", "decide", "decided",
                          item_out(item).model_dump(mode="json"))
    if item.withdrawn_at is not None:
        # Taken off the agenda (by its keepers, or by the case's closure or its referral's
        # withdrawal): the panel does not decide it (A11-16).
        raise conflicting("panel item", "decide", "withdrawn",
                          item_out(item).model_dump(mode="json"))
    # Dated at the panel's start by default; before it starts, 409 (names both moments).
    occurred_at = decision_time(body, panel)
    # A panel that sat while the case was open has its decision recorded after the closure
    # (the minutes are typed up later; attack pass 15, A15-13); one after it acts on a case
    # nobody holds: 409 ``case-closed``.
    if not sat_while_open(case, panel, occurred_at):
        require_open_case(case, "record a panel decision")
    # An item listed before A18-9 on a panel that sat while the case was closed (or before it
    # opened) is never decided, whenever the decision is dated: the chair is told to take it
    # off the agenda, which supersedes the duty to record its decision.
    require_panel_may_hear(case, stored_utc(panel.scheduled_for), "path.item_id",
                           remedy=" Withdraw the item from the agenda.")
    require_within_case(case, occurred_at)
    await require_before_final_event(
        session, ctx.pack_for(service, at=occurred_at), case, occurred_at,
        what="record a panel decision on the child (withdraw the item from the agenda)")
    sat_at = min(occurred_at, panel.scheduled_for)  # what the panel knew: the case then
    # The domains judged at its instant by a plain judgement, which comes after the decision
    # (app.domain.replay.SAME_INSTANT; fix35i, ATTACK35A-17; ATTACK40-3).
    plain_at = await plain_judged_at(session, case, occurred_at)
    _refuse_stale_ratings(body, case, sat_at, occurred_at, plain_at)
    await _refuse_stale_mappa_level(session, body, case, sat_at, occurred_at)
    _check_decision(body, case, panel, ctx.calendar)
    await _check_owners_have_access(session, body, case)
    _check_attendance(body, kind)
    # The checks it does (W19's monthly review, W8's hold: the passes below) are not done by a
    # chair who held the case since they were raised, as completing them is not (A21a-8;
    # left13a), before anything is written.
    # Nor one who held it at the decision's own date, or since its current rating was judged
    # (every step the decision does, in either pack: its [closures]; attack 24a, A24a-1).
    await require_chair_held_nothing_reviewed(
        session, principal, case=case, pack=pack, occurred_at=occurred_at,
        domains=[domain for domain, level in ((RiskDomain.rosh, body.rosh_level),
                                              (RiskDomain.swb, body.swb_level))
                 if level is not None],
        mappa=body.mappa_level is not None, slug="case-holder-cannot-chair",
        others=frozenset(other for other, _ in await undecided_agenda(session, case.id)
                         if other != item.id),
        who_does_it="another panel member chairs its decision.")
    wctx = WriteContext(session=session, policy=ctx, service=service, case=case,
                        principal=principal, role=chair, occurred_at=occurred_at)
    # Typed up after the case's closure, of a sitting while it was open (A15-13): recorded as
    # it would have been before the closure, the closure then setting aside what is still
    # owed (ATTACK26B-12: kept without its rating, the case came back high at its reopening,
    # owing the decision already recorded).
    set_aside = await policy.open_as_before_closure(wctx)
    # The domains where the case was rated again after the decision's date: its level there is
    # the panel's rating then, kept in the history (ATTACK26B-11).
    # Or judged at its instant by a plain judgement, which comes after the decision
    # (app.domain.replay.SAME_INSTANT; fix35i, ATTACK35A-17); read again: the case as it stood
    # before a closure the decision is typed up after.
    plain_at = await plain_judged_at(session, case, occurred_at)
    past = (history_domains(case, occurred_at) | plain_at) & {
        domain for domain, level in (("rosh", body.rosh_level), ("swb", body.swb_level))
        if level is not None}
    result: policy.PolicyResult | None = None
    # The panel sitting on the case is the act earlier steps asked for (before this decision's
    # own steps): holding the requested High-Risk Panel (W8),
    # the review it booked last time (S20/W22), the monthly MAPPA level 1 review (W19).
    mappa = pack.closes("panel_decision_mappa") if body.mappa_level else ()
    act = ("panel_item", item.id)
    # A step about another item of the case still waiting for its panel's decision (its chair
    # to record that decision) is that item's, not done by this one.
    pending = frozenset(other for other, _ in await undecided_agenda(session, case.id)
                        if other != item.id)
    name = pack.panel(panel.kind).title  # the pack's name for it, as practitioners say it
    # The sitting's own attendance and hearing (the booked review presented, S20/W22; the
    # requested panel held, W8; W19's review) are done at the sitting before the ratings it
    # confirms apply: a review held on its due date that lowers the rating is done on time,
    # not superseded by the lowering it decides (ATTACK34B-7). No confirmed rating asks for
    # these codes again. The steps a rating asks for (the referral and views it overtakes, the
    # MAPPA level) are closed after the ratings, as before: done first, the confirmed rating
    # would raise them anew.
    sitting: tuple[tuple[tuple[str, ...], str | None, StepStatus, str], ...] = (
        (pack.closes("panel_decision_then"), None, StepStatus.done,
         f"Satisfied by the {name} decision on item {item.id}"),
        (pack.closes("panel_decision_presenter"), item.presenter_id, StepStatus.done,
         f"The case was presented at the {name} (item {item.id}) by {item.presenter_id}"),
    )
    after_ratings: tuple[tuple[tuple[str, ...], str | None, StepStatus, str], ...] = (
        (pack.closes("panel_decision_overtakes"), None, StepStatus.superseded,
         f"overtaken: the {name} discussed the case (item {item.id})"),
        (pack.closes("panel_decision_misses"), None, StepStatus.missed,
         f"the {name} sat on the case before it was done (item {item.id})"),
        (pack.closes("panel_decision") + mappa, None, StepStatus.done,
         f"Satisfied by the {name} decision on item {item.id}"),
    )

    async def close_passes(passes: tuple[tuple[tuple[str, ...], str | None, StepStatus, str],
                                         ...]) -> None:
        nonlocal result
        for codes, credit, status, note in passes:
            # The monthly review only this decision does (W19), recorded missed at a later
            # end of its need (the level changed, the death), is corrected (fix41d).
            satisfied = await satisfy_open_steps(
                wctx, codes=codes, act=act, note=note, credited_to=credit, status=status,
                own_subject=codes if pending else (), others=pending, kind="panel_decision",
                missed_too=codes == pack.closes("panel_decision_then"))
            if satisfied is not None:
                result = satisfied if result is None else result.merge(satisfied)

    await close_passes(sitting)
    for domain, level in ((RiskDomain.rosh, body.rosh_level), (RiskDomain.swb, body.swb_level)):
        if level is None:
            continue
        _, judged = await apply_judgement(
            wctx, body=JudgementCreate(domain=domain, level=level, occurred_at=occurred_at,
                                       rationale=f"Confirmed by panel {panel.id}"),
            panel_item_id=item.id,
        )
        result = judged if result is None else result.merge(judged)
    await close_passes(after_ratings)
    # The MAPPA level it sets is set after the decision's own evaluation (below): the engine
    # reads the level before the decision from the case and the decided one from its data, as
    # it reads a PATCH's change, so a decision making the case level 2/3 raises what the same
    # change by PATCH, upsert or feed raises (Somerset S37/S38 8.4, Wokingham W27; attack 21,
    # A21b-3/A21b-4).
    event = _decision_event(wctx, body, panel, item)
    later_item, replaced = await _later_decision(wctx, pack, item)
    # The steps it raises in time order, before the later acts (a review booked): the later
    # judgements are judged again with them open (a lowering it must approve, A30a-6).
    in_time_order: list[OpenStep] = []
    if past:
        # A level the history keeps (the domain rated again after the decision's date): the
        # decision is judged as the history in time order has it, as a back-filled judgement
        # is (A10-30): checked on the ratings of its moment with the levels it decided (its
        # lowering booked no review; its "high" one must), raising what that history still
        # owes, the newer current rating, register and steps left as they are (ATTACK26B-11).
        kept = sorted(past)[0]
        moment, later = await ratings_around(session, case.id, kept,
                                             str(getattr(body, f"{kept}_level").value),
                                             occurred_at, decision=True)
        decided = await policy.run_backfill(wctx, event=event, ratings=moment, later=later,
                                            strict=True, in_time_order=in_time_order)
    else:
        decided = await policy.run(wctx, event=event, untouched=replaced)
    if later_item is not None:
        await _replaced_by_later_decision(wctx, pack, decided.created, later_item)
    result = decided if result is None else result.merge(decided)
    if body.mappa_level is not None and body.mappa_level != case.mappa_level:
        # A change of the case's fields by the panel's act, dated at the sitting as the ratings
        # it confirms are (the field history: a later panel's decision typed up afterwards
        # knows it; a closure may not predate it; attack 21, A21b-5).
        case.mappa_level = body.mappa_level
        mark_changed(case, occurred_at)
        note_case_act(session, case.id, occurred_at, role=wctx.event_role)
        session.add(case)
        await session.flush()
    result = await answer_from_file(wctx, result=result)
    item.decided_at, item.decided_by = occurred_at, principal.sub
    item.decision = body.model_dump(mode="json", exclude={"occurred_at"})
    session.add(item)
    await session.flush()
    await accept_heard(wctx, item_id=item.id, referral_id=item.referral_id,
                       panel_name=pack.panel(panel.kind).title)
    # The decision is dated at the sitting: acts recorded before it but dated after the panel sat
    # (a rating that rose to very high that afternoon) owe, after it, what they owe in time
    # order (the review it booked makes a rise a new referral: S7 3.2.4, W7; attack pass 15,
    # A15-7), the item now decided. Replayed as a back-dated judgement or event replays them
    # (app.domain.replay).
    replayed = await replay_later_acts(wctx, since=occurred_at, judged_again=in_time_order,
                                       plain_at_since=True, signed_at_since=True)
    if replayed is not None:
        # What the later acts raise again that an act on file answers, this item too: in time
        # order it was on file before them (a request for the panel a very high judgement of
        # the sitting's instant asks for is answered by the agenda item, Wokingham W7;
        # fix35i, ATTACK35A-17).
        result = result.merge(await answer_from_record(wctx, result=replayed))
    # What it (or the replay) raised that a referral or panel act on file, dated after the
    # sitting, did in time order (A15-4).
    result = await answer_from_record(wctx, result=result, besides=item.id)
    await _after_heard(wctx, panel=panel, item=item, name=name)
    listed_later = await _later_listings_asked_again(wctx, item)
    if listed_later is not None:
        result = result.merge(listed_later).merge(await policy.current(session, case))
    if set_aside:  # the steps now open: those the closure does not set aside
        await policy.closed_again(wctx, set_aside)
        result = result.merge(await policy.current(session, case))
    change = dict(item.decision)
    if case.closed_at is not None:  # the record of a sitting while it was open (A15-13)
        change["case_closed_at"] = iso_utc(case.closed_at)
    await wctx.audit("panel.decision", entity_type="panel_item", entity_id=item.id,
                     change=change)
    await emit(session, "panel.decision", item.id, service_id=service.id,
               payload={"case_id": str(case.id), "panel_id": str(panel.id),
                        "occurred_at": iso_utc(wctx.occurred_at)})
    await policy.announce_act_changes(wctx)
    return item, result
