"""Case events: things that happened to the child (incidents, charges, custody, transfers),
stored with who recorded them and when, and fed to the engine as ``case_event``."""

from __future__ import annotations

import dataclasses
import enum
import functools
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, NamedTuple

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, StringConstraints
from pydantic import Field as PField
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.errors import Conflict, Unprocessable
from app.core.security import Principal
from app.domain import agenda, paging, policy, transfers
from app.domain.access import (
    MANAGERS,
    case_role_for,
    get_case_in_service,
    get_visible_case,
    is_machine,
    require_machine_scope,
    require_open_case,
    require_roles,
    service_of,
    withheld_from,
)
from app.domain.acts import require_final_event_after_living_acts
from app.domain.answered import answer_from_record
from app.domain.audit import AuditEntry, record_audit
from app.domain.cases_table import Case, mark_changed
from app.domain.common import (
    FUTURE_TOLERANCE,
    ActTime,
    PlausibleDate,
    check_details_size,
    iso_utc,
    resolve_occurred_at,
    utcnow,
)
from app.domain.derived_history import restate_derived
from app.domain.events_table import CaseEvent, event_data
from app.domain.final_events import require_before_final_event
from app.domain.history import (
    ChangeAround,
    RecordChange,
    case_fields_at,
    first_change_after,
    note_case_act,
    note_derived_at,
)
from app.domain.judgements_table import Level
from app.domain.outbox import emit
from app.domain.replay import (
    Move,
    dated_before_a_rating,
    following_moves,
    rating_history,
    ratings_after,
    ratings_at,
    replay_later_acts,
)
from app.domain.services import Service
from app.domain.steps import Step, StepStatus
from app.domain.timing import require_transfer_date_within, require_within_case
from app.domain.write_context import WriteContext
from app.workflows.packs import Pack
from app.workflows.vocabulary import EVENT_MOVES, EventType


class CaseEventType(enum.StrEnum):
    """What happened (``api-v1.md``)."""

    change_of_circumstances = "change_of_circumstances"
    new_incident = "new_incident"
    exploitation_concern = "exploitation_concern"
    trafficking_concern = "trafficking_concern"
    risk_to_staff = "risk_to_staff"
    charged = "charged"
    death = "death"
    custody_entry = "custody_entry"
    custody_release = "custody_release"
    transfer_in = "transfer_in"
    transfer_out = "transfer_out"
    partner_action_not_secured = "partner_action_not_secured"


EventTypeLabel = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=32)]
# Events whose deadline is counted towards a date the event names.
NEEDS_TRANSFER_DATE = frozenset({CaseEventType.transfer_out})
# Events that change where the child is: the case's ``in_custody`` follows them.
IN_CUSTODY_AFTER: dict[str, bool] = {
    kind: bool(moves["in_custody"]) for kind, moves in EVENT_MOVES.items() if "in_custody" in moves
}




class IncomingRatings(BaseModel):
    """The ratings a transferring-in case arrives with (S25)."""

    model_config = ConfigDict(extra="forbid")
    rosh: Level | None = None
    swb: Level | None = None


class CaseEventCreate(BaseModel):
    """Body of ``POST /v1/cases/{id}/events``."""

    model_config = ConfigDict(extra="forbid")
    type: EventTypeLabel = PField(description="a core type (CaseEventType) or one the service's "
                                              "pack declares (GET /v1/policy-packs/{id})")
    occurred_at: ActTime = None
    known_at: ActTime = None
    may_raise_to_high: bool = False
    details: dict[str, Any] | None = None
    transfer_date: PlausibleDate | None = PField(
        default=None,
        description="transfer_in and transfer_out only (other types: 422): the day the child "
                    "transfers (Somerset 13.4.3: the handover call is due before it; required "
                    "for transfer_out)")
    incoming_ratings: IncomingRatings | None = PField(
        default=None,
        description="transfer_in only (other types: 422): the ROSH and SWB ratings the child "
                    "arrives with from another service (Somerset 13.3, 4.5; S25, S42)")
    release_address_other_area: bool | None = None
    notifiable_offence: bool | None = PField(
        default=None,
        description="charged only: whether the offence charged is notifiable under the YJB's "
                    "serious incident (CSPPI) guidance; a notifiable charge raises the serious "
                    "incident notification (Somerset 12, S23; Wokingham W24), any charge is a "
                    "change of circumstances (S14; W4-W6). Unsaid means true (the protective "
                    "reading: a serious incident is never left unnotified because a system "
                    "could not say); stored in details.notifiable_offence")


class CaseEventOut(BaseModel):
    """A case event as the API shows it. ``recorded_by``, ``recorded_role`` and ``created_at``
    are null only in the answer to a machine client's report of an event someone else recorded
    (:func:`reported_again_out`)."""

    id: uuid.UUID
    case_id: uuid.UUID
    type: str
    occurred_at: datetime
    known_at: datetime | None
    may_raise_to_high: bool
    transfer_date: date | None
    details: dict[str, Any]
    recorded_by: str | None
    recorded_role: str | None
    created_at: datetime | None


def case_event_out(e: CaseEvent) -> CaseEventOut:
    """Shape a case event for the API."""
    return CaseEventOut.model_validate(e, from_attributes=True)


def answered_as_sent(principal: Principal, event: CaseEvent, *, others_added: bool) -> bool:
    """Whether ``principal`` reporting ``event`` again is answered only what it sent
    (:func:`reported_again_out`): a machine client, unless the event is its own report and no
    one else has added to it. Such a client is answered no steps either (``next_steps: []``,
    restricted case or not): the open steps about the event are counted from the first
    report's time and carry its assignee (attack 22/23, A22-11 / A23a-2)."""
    return principal.is_machine and (event.recorded_by != principal.sub or others_added)


def reported_again_out(
    principal: Principal, event: CaseEvent, body: CaseEventCreate, occurred_at: datetime,
    details: dict[str, Any], *, others_added: bool = False,
) -> CaseEventOut:
    """The answer to a report of an event already recorded (200, :func:`same_event`).

    Staff who may record events on the case may read them: the event first recorded, whole.
    A machine client (a ``feed`` token: the CMS) has no route that reads a case's events, so
    when someone else recorded the event it is answered the event's ids and type with what it
    sent itself (time, transfer date, flag, details; ``known_at``, ``recorded_by``,
    ``recorded_role`` and ``created_at`` null), never the first report's details or author:
    sending "the same event again" with no details must not read a worker's free text about
    the child or third parties, restricted case or not (attack 21, A21a-5). Its own earlier
    report is answered whole, as before, unless someone else has added to it since
    (``others_added``, :func:`added_by_others`; attack 22, A22-9): then it too is answered what
    the client sent."""
    if not answered_as_sent(principal, event, others_added=others_added):
        return case_event_out(event)
    return CaseEventOut(
        id=event.id, case_id=event.case_id, type=event.type, occurred_at=occurred_at,
        known_at=None, may_raise_to_high=body.may_raise_to_high,
        transfer_date=body.transfer_date, details=details, recorded_by=None,
        recorded_role=None, created_at=None)


# The keys the write stores in ``details`` from the body's own fields: sent inside ``details``
# they would be stored but never read as the field (attack 20, A20-1: a charge sent with
# ``details.notifiable_offence: false`` raised the CSPPI notification while the stored event
# said false), so there they are refused.
FIELDS_IN_DETAILS = ("incoming_ratings", "release_address_other_area", "notifiable_offence")


# The body's fields that mean something for some event types only, and those types (attack
# 20, A20-20): ``incoming_ratings`` are the ratings a child transferring in arrives with
# (Somerset 13.3, 4.5: S25, S42 read them on a transfer in alone); ``notifiable_offence`` says
# whether a charge's offence is notifiable (Somerset 12 S23, Wokingham W24; A19-20);
# ``transfer_date`` is the day a transfer happens (Somerset 13.4.3's "prior to the transfer",
# the closure a transfer out sets aside, the transfer in's date bounds: A18-8). Sent with
# another type they were stored and never read (an incoming rating on a change of
# circumstances looked like a recorded rating in the event's details), so they are refused.
# ``release_address_other_area`` is not here: Wokingham W20 reads it on any event (the address
# may become known before the release is recorded).
TYPE_FIELDS: dict[str, frozenset[str]] = {
    "incoming_ratings": frozenset({CaseEventType.transfer_in}),
    "notifiable_offence": frozenset({CaseEventType.charged}),
    "transfer_date": frozenset({CaseEventType.transfer_in, CaseEventType.transfer_out}),
}


def refuse_fields_of_other_types(body: CaseEventCreate, at: str = "body") -> None:
    """422 naming each ``<at>.<field>`` of :data:`TYPE_FIELDS` sent (not null) with an event
    type it does not belong to (``msg``: the types it is for), as ``notifiable_offence``
    on a non-charge has been since A20-1; nothing for a field the type reads."""
    wrong = [(name, sorted(types)) for name, types in TYPE_FIELDS.items()
             if getattr(body, name) is not None and body.type not in types]
    if wrong:
        raise Unprocessable(
            "These fields belong to other event types: " + "; ".join(
                f"{name} only to {' or '.join(types)}" for name, types in wrong) + ".",
            errors=[{"loc": f"{at}.{name}", "msg": f"only for type {' or '.join(types)}"}
                    for name, types in wrong])


def event_details(body: CaseEventCreate, at: str = "body") -> dict[str, Any]:
    """The ``details`` the write stores for ``body`` (with the fields it keeps there), or 422
    naming ``<at>.<field>`` (a field kept there sent inside ``details``, A20-1; a field of
    another event type, :func:`refuse_fields_of_other_types`, A20-20); the preview reads a
    case event through this too (A20-1)."""
    details = dict(body.details or {})
    check_details_size(details)
    refuse_fields_of_other_types(body, at)
    inside = [k for k in FIELDS_IN_DETAILS if k in details]
    if inside:
        raise Unprocessable(
            "These keys are the event's own fields: send them beside details, not in it (the "
            "stored details hold what the field said).",
            errors=[{"loc": f"{at}.details.{k}", "msg": f"send it as {at}.{k}"} for k in inside])
    if body.type in NEEDS_TRANSFER_DATE and body.transfer_date is None:
        raise Unprocessable(
            "A transfer out needs the transfer date (the handover call is due before it).",
            errors=[{"loc": f"{at}.transfer_date", "msg": "required for transfer_out"}],
        )
    if body.incoming_ratings is not None:
        details["incoming_ratings"] = body.incoming_ratings.model_dump(mode="json")
    if body.release_address_other_area is not None:
        details["release_address_other_area"] = body.release_address_other_area
    if body.notifiable_offence is not None:
        details["notifiable_offence"] = body.notifiable_offence
    return details


def known_at_of(body: CaseEventCreate, occurred_at: datetime) -> datetime:
    """When the event became known to the worker: default when it happened; never before it
    happened, nor more than five minutes in the future (422)."""
    known_at = resolve_occurred_at(body.known_at, field="known_at") if body.known_at \
        else occurred_at
    if known_at < occurred_at:
        raise Unprocessable(
            "known_at is before occurred_at: an event cannot become known before it happened.",
            errors=[{"loc": "body.known_at", "msg": "must be at or after occurred_at"}],
        )
    return known_at


def check_event_type(pack: Pack, event_type: str) -> None:
    """422 listing the allowed types unless the service's pack knows this event type."""
    allowed = pack.event_type_ids()
    if event_type not in allowed:
        raise Unprocessable(
            "This service's policy has no such event type.",
            slug="unknown-event-type",
            errors=[{"loc": "body.type", "msg": f"must be one of: {', '.join(allowed)}"}],
            extra={"allowed": list(allowed)},
        )


# Which events the policy still acts on after closure is the pack's (``after_closure`` on an
# event type: Somerset S23, a charge or death within 20 days).


async def _case_and_role(
    session: AsyncSession, principal: Principal, case_id: uuid.UUID
) -> tuple[Service, Case, str]:
    """Staff act on cases they hold or manage; the case management system (a machine client
    scoped ``cms``) on any case of its service, restricted ones included (it is the system of
    record; it is answered the event alone there)."""
    if is_machine(principal):
        require_machine_scope(principal, "cms")
        service = await service_of(session, principal)
        return service, await get_case_in_service(session, service.id, case_id), "feed"
    require_roles(principal, ("case_holder", *MANAGERS), "record case events")
    service, case = await get_visible_case(session, principal, case_id)
    role = case_role_for(principal, case, ("case_holder", *MANAGERS), "record events")
    return service, case, role


async def record_event(
    session: AsyncSession,
    principal: Principal,
    case_id: uuid.UUID,
    body: CaseEventCreate,
    ctx: policy.PolicyContext,
) -> tuple[CaseEvent, policy.PolicyResult, bool, CaseEventOut]:
    """Store an event on the case and run the rules it triggers (subject: the event); the
    third value says whether it was recorded now (false: the same event was already recorded,
    :func:`same_event`), the fourth is the event as the answer shows it to ``principal``
    (:func:`reported_again_out`)."""
    service, case, role = await _case_and_role(session, principal, case_id)
    occurred_at = resolve_occurred_at(body.occurred_at)
    pack = ctx.pack_for(service, at=occurred_at)
    # The request's own consistency first (its type, fields and times, which need nothing
    # stored), then what the case's stored state and dates allow: so that a body refused
    # whatever the case holds is refused the same way on every case, and a refusal that
    # depends on a stored date is met only by a body that would otherwise be written. A CMS
    # bisected a restricted case's reopening write-free with events always refused by their
    # own known_at, answered occurred-before-bound on one side of it (attack 24a, A24a-4).
    check_event_type(pack, body.type)
    details = event_details(body)
    known_at = known_at_of(body, occurred_at)
    if not pack.event_type(body.type).after_closure:
        require_open_case(case, f"record a {body.type} event")
    require_within_case(case, occurred_at,
                        after_closure=pack.event_type(body.type).after_closure)
    if pack.event_type(body.type).requires_in_custody:
        await require_in_custody_at(session, case, occurred_at, body.type)
    require_transfer_date_within(case, body.transfer_date)
    await policy.require_held_role_then(session, principal, case, role, occurred_at)  # ATTACK27-2
    once = pack.event_type(body.type).once_per_case
    same = await same_event(session, case, body, occurred_at, details, once=once)
    if same is not None:
        sent = {"occurred_at": iso_utc(occurred_at), "details": details} \
            if (same.occurred_at, same.details or {}) != (occurred_at, details) else None
        shown_before = await added_by_others(session, principal, same)
        await _add_to_event(WriteContext(
            session=session, policy=ctx, service=service, case=case, principal=principal,
            role=role, occurred_at=same.occurred_at), event=same, body=body, details=details)
        again = await _reported_again(session, principal, service, case, role, same, sent=sent)
        if answered_as_sent(principal, same, others_added=shown_before):
            again = again.without_next_steps()
        return same, again, False, reported_again_out(
            principal, same, body, occurred_at, details, others_added=shown_before)
    await require_no_rival_at_instant(session, case, body.type, occurred_at, pack)
    # A death reported again is the first (above); anything else after it is refused (A19-17).
    await require_before_final_event(session, pack, case, occurred_at,
                                     what=f"record a {body.type} event", event_type=body.type)
    if pack.event_type(body.type).final:  # a death: not before what the living child did
        await require_final_event_after_living_acts(session, case.id, occurred_at,
                                                    pack.event_type(body.type))
    event = CaseEvent(
        service_id=service.id, case_id=case.id, type=body.type, occurred_at=occurred_at,
        known_at=known_at,
        may_raise_to_high=body.may_raise_to_high, transfer_date=body.transfer_date,
        details=details, recorded_by=principal.sub, recorded_role=role,
    )
    session.add(event)
    await session.flush()
    # Dated before another act that changed the case's fields (a later transfer in): its
    # incoming ratings stand on the timeline from its date until that one's (fix34b).
    before_later_act = event.type == CaseEventType.transfer_in and case.changed_at is not None \
        and policy.stored_utc(case.changed_at) > occurred_at
    await _keep_incoming_ratings(session, case, event)
    wctx = WriteContext(session=session, policy=ctx, service=service, case=case,
                        principal=principal, role=role, occurred_at=occurred_at)
    data = event_data(event)
    if await custody_move_recorded(session, case, event.type):
        data["custody_move_recorded"] = True
    wf_event = wctx.event("case_event", data, subject_id=event.id)
    # Typed after the case's closure, dated before it (a charge or a death within the
    # open period): judged with the steps open then, those the closure set aside, as it would
    # have been before the closure, the closure then setting aside what is still owed (the
    # twin of a panel's decision, ATTACK26B-12): a second charge joins the first's review, a
    # death ends the earlier report, and a reopening reinstates each duty once.
    set_aside = await policy.open_as_before_closure(wctx)
    if dated_before_a_rating(case, occurred_at, or_at=True):
        # Typed in after a later judgement (or one of its instant, which comes after it:
        # app.domain.replay.SAME_INSTANT, ATTACK32A-2): judged on the ratings from before its
        # instant, asking only what the history in time order still owes (A11-5, redate6's
        # leftover).
        history = await rating_history(wctx)
        result = await policy.run_backfill(
            wctx, event=wf_event, ratings=ratings_at(history, occurred_at, before=True),
            later=ratings_after(history, occurred_at, before=True), strict=True)
        if event.type == CaseEventType.transfer_in:
            # Its incoming ratings stand now unless a later own judgement answered them: the
            # register, contact level and priority of now follow (fix32a).
            derived = await policy.derive_now(wctx)
            if derived is not None:
                result = result.merge(derived)
            # And from its date on, on the timeline: listed from the arrival until the own
            # judgement that answered it (fix32h).
            await restate_derived(wctx, since=occurred_at)
    else:
        result = await policy.run(wctx, event=wf_event)
        if before_later_act:
            await restate_derived(wctx, since=occurred_at)
    more, moves = await _follow_custody(wctx, event=event)
    if more is not None:
        result = result.merge(more)
    ended = await _end_steps(wctx, event=event, declared=pack.event_type(body.type))
    if ended is not None:
        result = result.merge(ended)
    replaced = await _replace_earlier(wctx, event=event, declared=pack.event_type(body.type))
    if replaced is not None:
        result = result.merge(replaced)
    if body.occurred_at is not None or moves:
        # Dated before acts already recorded: what they owe now that it is in the history,
        # in time order, a later custody move that stated where the child already was among
        # them (fix41a, ATTACK40-2).
        replayed = await replay_later_acts(wctx, since=occurred_at, judgements_at_since=True,
                                           moves=moves)
        if replayed is not None:
            result = result.merge(replayed)
    result = await answer_from_record(wctx, result=result)
    if set_aside:  # the steps now open: those the closure does not set aside
        await policy.closed_again(wctx, set_aside)
        result = result.merge(await policy.current(session, case))
    await wctx.audit("case_event.record", entity_type="case_event", entity_id=event.id,
                     change=body.model_dump(mode="json", exclude_none=True))
    await emit(session, "case_event.recorded", event.id, service_id=service.id,
               payload={"case_id": str(case.id), "type": str(body.type),
                        "occurred_at": iso_utc(wctx.occurred_at)})
    await policy.announce_act_changes(wctx)
    if withheld_from(principal, case):
        result = result.without_next_steps()
    return event, result, True, case_event_out(event)


async def require_in_custody_at(session: AsyncSession, case: Case, at: datetime,
                                kind: str) -> None:
    """422 ``not-in-custody`` unless the child is recorded in custody at ``at`` (the case's
    fields as they stood then): an event about the setting holding the child (the pack's
    ``requires_in_custody``; Somerset 14.3.1) is judged at its own time, whatever order the
    custody entry and it are typed in (attack 24b, A24b-5)."""
    then = await case_fields_at(session, case, at)
    if bool(then.get("in_custody", case.in_custody)):
        return
    raise Unprocessable(
        f"A {kind} event is about the secure setting holding the child, but the child is not "
        "recorded in custody at its occurred_at: record the custody entry (or in_custody) first, "
        "dated at or before it.",
        slug="not-in-custody",
        errors=[{"loc": "body.occurred_at", "msg": "the child is not recorded in custody then"}])


# Events of which a case can hold only one at an instant (fix37d; docs/integrating.md §7): the
# child's moves into and out of custody (an entry and a release at one instant say nothing of
# which came first, and so whether the child is now in custody: Somerset 14.3/14.4's handover,
# Wokingham W16's release date), and two transfers out naming different dates (which one
# stands: Somerset 13.4.3's call "before the transfer date"). In recording order the
# later-typed one silently won; the second is refused instead, so that the practitioner says
# which happened first (a minute apart) or records the correction later. Not two transfers in:
# the arrival reported again with the ratings the child came with is a second transfer in of
# its instant that completes the first (fix34b), and a transfer in and a transfer out of one
# instant are an arrival then a departure (in before out).
ONE_AT_AN_INSTANT = (frozenset(IN_CUSTODY_AFTER), frozenset({CaseEventType.transfer_out.value}))
# The moves a death cannot share an instant with (fix38a, ATTACK37-4): a custody entry or
# release, a transfer in or out. Death then entry left a dead child in custody, entry then death
# the entry's steps superseded: which came first decides the record, so either is refused at
# the other's instant, as two custody moves are.
MOVES_BESIDE_DEATH = frozenset({*IN_CUSTODY_AFTER, CaseEventType.transfer_in.value,
                                CaseEventType.transfer_out.value})


def rival_types(pack: Pack, event_type: str) -> frozenset[str]:
    """The event types that cannot share an instant with one of ``event_type``
    (:data:`ONE_AT_AN_INSTANT`, and a final event, the pack's death, with
    :data:`MOVES_BESIDE_DEATH`)."""
    group = next((g for g in ONE_AT_AN_INSTANT if event_type in g), frozenset())
    final = pack.final_event_types
    if event_type in final:
        return group | MOVES_BESIDE_DEATH
    if event_type in MOVES_BESIDE_DEATH:
        return group | final
    return group


_SAME_INSTANT_TAIL = (": the order of the two at one instant is unknown, and it decides the "
                      "record. Date each at the time it happened (a minute apart is enough), "
                      "or, if this one corrects the first, record the correction at a later "
                      "time.")


def _at_same_instant(recorded: str, what: str, msg: str, extra: dict[str, Any],
                     withheld: Conflict | None = None) -> Conflict:
    """The 409 ``event-at-same-instant``: the case already records ``recorded`` (what and
    when), which ``what`` cannot share its instant with; ``msg`` the ``occurred_at`` error,
    ``extra`` what names the other record."""
    return Conflict(
        f"The case already records {recorded}; {what} cannot share its instant"
        f"{_SAME_INSTANT_TAIL}", slug="event-at-same-instant",
        errors=[{"loc": "body.occurred_at", "msg": msg}], extra=extra, withheld=withheld)


def _event_at_same_instant(rival: CaseEvent | EventAround, what: str, when: str) -> Conflict:
    """The 409 naming the event recorded at the instant (to a machine client without its
    id)."""
    msg, kind = f"a {rival.type} event is recorded at this instant", str(rival.type)
    return _at_same_instant(
        f"a {rival.type} event at {when} (event {rival.id})", what, msg,
        {"other_event": {"type": kind, "id": str(rival.id), "occurred_at": when}},
        # To a machine client: the other event's type and the instant it sent, not its id.
        withheld=_at_same_instant(f"a {rival.type} event at {when}", what, msg,
                                  {"other_event": {"type": kind, "occurred_at": when}}))


async def require_no_rival_at_instant(
    session: AsyncSession, case: Case, event_type: str, occurred_at: datetime, pack: Pack
) -> None:
    """409 ``event-at-same-instant`` when the case already records, at ``occurred_at``, an
    event that cannot share that instant with one of ``event_type`` (:func:`rival_types`; the
    same event reported again was answered before this), or, for a custody move, a change of
    ``in_custody`` by ``PATCH`` to the other value (:func:`require_no_custody_rival`)."""
    group = rival_types(pack, event_type)
    if group:
        rival = (await session.exec(select(CaseEvent).where(
            col(CaseEvent.case_id) == case.id, col(CaseEvent.type).in_(sorted(group)),
            col(CaseEvent.occurred_at) == occurred_at).order_by(col(CaseEvent.created_at))
            .limit(1))).first()
        if rival is not None:
            raise _event_at_same_instant(rival, f"a {event_type} event", iso_utc(occurred_at))
    if event_type in IN_CUSTODY_AFTER:
        await _require_no_custody_change_at(session, case, IN_CUSTODY_AFTER[event_type],
                                            occurred_at, f"a {event_type} event")
    elif pack.event_type(event_type).final and occurred_at > policy.stored_utc(case.opened_at):
        # A death at the instant of a PATCH that moved the child into or out of custody (the
        # custody events were looked for above): in_custody just before the instant differs
        # from at it.
        before = await case_fields_at(session, case, occurred_at - timedelta(microseconds=1))
        then = await case_fields_at(session, case, occurred_at)
        moved = bool(then.get("in_custody", case.in_custody))
        if bool(before.get("in_custody", case.in_custody)) != moved:
            raise _custody_change_at_same_instant(moved, iso_utc(occurred_at),
                                                  f"a {event_type} event")


async def require_no_custody_rival(
    session: AsyncSession, case: Case, in_custody: bool, at: datetime, pack: Pack, *,
    known: tuple[list[EventAround], list[ChangeAround]] | None = None,
) -> None:
    """For a change of ``in_custody`` (a ``PATCH``, stated or implied by a future release date)
    at ``at`` (fix38a, ATTACK37-3): 409 ``event-at-same-instant`` when the case records, at that
    instant, a custody event that puts the child the other way (named as ``other_event``) or a
    change of ``in_custody`` to the other value (``other_change``), or a death while the change
    moves the child (ATTACK37-4's twin). The same state at one instant (an entry, then
    ``in_custody: true``) is no conflict. ``known``: the case's custody and final events at or
    after ``at`` (:func:`events_around_column`) and its field changes around it
    (:func:`app.domain.history.changes_around_column`), as the caller read them with the case
    under its lock: no statement of its own."""
    wrong = {t for t, after in IN_CUSTODY_AFTER.items() if after != in_custody}
    final = pack.final_event_types
    what = f"a change of in_custody to {str(in_custody).lower()}"
    at_instant: Sequence[CaseEvent | EventAround]
    if known is None:
        at_instant = (await session.exec(select(CaseEvent).where(
            col(CaseEvent.case_id) == case.id, col(CaseEvent.type).in_(sorted(wrong | final)),
            col(CaseEvent.occurred_at) == at).order_by(col(CaseEvent.created_at)))).all()
    else:
        at_instant = sorted((e for e in known[0] if e.occurred_at == at
                             and e.type in wrong | final), key=lambda e: e.created_at)
    rival = next((e for e in at_instant if e.type in wrong), None)
    if rival is not None:
        raise _event_at_same_instant(rival, what, iso_utc(at))
    await _require_no_custody_change_at(session, case, in_custody, at, what,
                                        known=None if known is None else known[1])
    death = next((e for e in at_instant if e.type in final), None)
    if death is not None:
        then = await case_fields_at(session, case, at)
        if bool(then.get("in_custody", case.in_custody)) != in_custody:
            raise _event_at_same_instant(death, what, iso_utc(at))


async def _require_no_custody_change_at(
    session: AsyncSession, case: Case, in_custody: bool, at: datetime, what: str, *,
    known: list[ChangeAround] | None = None,
) -> None:
    """409 when the case's field-change history holds, at ``at``, ``in_custody`` set to the
    other value (a dated ``PATCH``, stated or a move, or a custody move's row). ``known``: as
    :func:`require_no_custody_rival`."""
    rows: Sequence[Mapping[str, Any] | None]
    if known is None:
        rows = (await session.exec(select(RecordChange.changes).where(
            col(RecordChange.entity_type) == "case", col(RecordChange.entity_id) == case.id,
            col(RecordChange.created).is_(False), col(RecordChange.occurred_at) == at))).all()
    else:
        rows = [c.changes for c in known if c.occurred_at == at]
    if not any(c is not None and "in_custody" in c and bool(c["in_custody"][1]) != in_custody
               for c in rows):
        return
    raise _custody_change_at_same_instant(not in_custody, iso_utc(at), what)


class EventAround(NamedTuple):
    """A case event read by :func:`events_around_column`: what a refusal names of it, and
    when it was recorded."""

    type: str
    id: uuid.UUID
    occurred_at: datetime
    created_at: datetime


@functools.cache
def events_around_column() -> Any:
    """PostgreSQL: the case ``yj_case``'s events of a custody type (:data:`IN_CUSTODY_AFTER`)
    or a type in ``yj_final_types`` dated at or after ``yj_act_at``, as one column of the
    case file's statement (:func:`app.domain.access.get_case_file_for_write`; issue 15: a
    ``PATCH`` of ``in_custody``'s reads of the events at its instant and, dated, of the
    custody moves after it, a round trip fewer each), read after the case lock with the
    case's own snapshot: an array of ``(type, id, occurred_at, created_at)`` rows (NULL for
    none); :func:`events_around_of` makes it a ``known`` of :func:`require_no_custody_rival`
    and of :func:`app.domain.cases.patch_case`'s reading of later custody moves."""
    event: Any = sa.alias(CaseEvent.__table__, "yj_ea")  # type: ignore[attr-defined]
    return (sa.select(sa.func.array_agg(
        sa.tuple_(event.c.type, event.c.id, event.c.occurred_at, event.c.created_at),
        type_=sa.types.NullType()))
        .where(event.c.case_id == sa.bindparam("yj_case", type_=event.c.case_id.type),
               sa.or_(event.c.type == sa.any_(sa.bindparam("yj_final_types",
                                                            type_=ARRAY(sa.String()))),
                      event.c.type == sa.any_(sa.bindparam("yj_custody_types",
                                                           type_=ARRAY(sa.String())))),
               event.c.occurred_at >= sa.bindparam("yj_act_at",
                                                   type_=event.c.occurred_at.type))
        .scalar_subquery().correlate(None).label("yj_events_around"))


def events_around_params(at: datetime) -> dict[str, Any]:
    """The parameters of :func:`events_around_column` and
    :func:`app.domain.history.changes_around_column` besides the case file's and
    ``yj_final_types`` (:func:`app.domain.final_events.final_events_params`)."""
    return {"yj_custody_types": sorted(IN_CUSTODY_AFTER), "yj_act_at": at}


def events_around_of(value: Any) -> list[EventAround]:
    """:func:`events_around_column`'s value (asyncpg's UUIDs made :class:`uuid.UUID`)."""
    return [EventAround(kind, uuid.UUID(bytes=ident.bytes), at, created)
            for kind, ident, at, created in value or ()]


def _custody_change_at_same_instant(value: bool, when: str, what: str) -> Conflict:
    """The 409 naming a change of ``in_custody`` to ``value`` recorded at the instant."""
    other = str(value).lower()
    return _at_same_instant(
        f"in_custody changed to {other} at {when} (a PATCH of the case)", what,
        f"in_custody is recorded as changed to {other} at this instant",
        {"other_change": {"field": "in_custody", "value": value, "occurred_at": when}})


async def same_event(
    session: AsyncSession, case: Case, body: CaseEventCreate, occurred_at: datetime,
    details: dict[str, Any], *, once: bool = False,
) -> CaseEvent | None:
    """The event already recorded on the case that this one reports again, if any: the same
    type at the same instant (``occurred_at``), with the same transfer date and flag, and no
    detail stated differently (a detail one report leaves out is not a difference). The case
    holder and the IYSS feed each sent the one charge: two CSPPI notifications were raised
    (attack pass 15, A15-10). Read under the case's lock, which every event write takes, so
    racing reports see each other. Two incidents at different times, or the same time with
    different details, stay two events (two ``record_incident`` steps, policy-rules.md).
    ``once``: the type happens to a child at most once (the pack's ``once_per_case``, a
    death): any earlier event of the type is the one reported again (A18-4)."""
    query = select(CaseEvent).where(col(CaseEvent.case_id) == case.id,
                                    col(CaseEvent.type) == body.type)
    if once:
        return (await session.exec(query.order_by(
            col(CaseEvent.occurred_at), col(CaseEvent.created_at)).limit(1))).first()
    at = col(CaseEvent.occurred_at) == occurred_at
    sent = body.occurred_at
    if sent is not None and sent > occurred_at:
        # Sent a little ahead of the write's instant, it was recorded at it
        # (:func:`resolve_occurred_at`), as an earlier report of it sent with the same time
        # was recorded at its own write's instant, at most five minutes before that time.
        at = sa.or_(at, sa.and_(col(CaseEvent.occurred_at) == col(CaseEvent.created_at),
                                col(CaseEvent.occurred_at) >= sent - FUTURE_TOLERANCE,
                                col(CaseEvent.occurred_at) <= occurred_at))
    rows = await session.exec(query.where(at).order_by(col(CaseEvent.created_at)))
    for event in rows.all():
        if _agrees(event, body, details):
            return event
    return None


def _agrees(event: CaseEvent, body: CaseEventCreate, details: dict[str, Any]) -> bool:
    """Whether nothing ``body`` states contradicts ``event``: a transfer date or a detail
    either leaves out is no difference, nor is a flag the record lacks (``may_raise_to_high``
    raised by one report: what it adds, :func:`additions`); a flag the record has, said false
    (not merely left out), is (attack 22, A22-9: a transfer in dated by one channel and not by
    the other was two transfers, each with its steps)."""
    if None not in (event.transfer_date, body.transfer_date) \
            and event.transfer_date != body.transfer_date:
        return False
    if event.may_raise_to_high and not body.may_raise_to_high \
            and "may_raise_to_high" in body.model_fields_set:
        return False
    theirs = event.details or {}
    return all(theirs[k] == v for k, v in details.items() if k in theirs)


def additions(event: CaseEvent, body: CaseEventCreate, details: dict[str, Any]
              ) -> dict[str, Any]:
    """What a later report of ``event`` (:func:`same_event`) says that the record does not, by
    field (``details.<key>``, ``transfer_date``, ``may_raise_to_high``): the keys of its
    details the record lacks (the fields kept there too: ``release_address_other_area``, a
    transfer in's ``incoming_ratings``, a charge's ``notifiable_offence``), a transfer date the
    record lacks, the flag the record lacks. Nothing the record says is overwritten."""
    theirs = event.details or {}
    added: dict[str, Any] = {f"details.{k}": v for k, v in details.items() if k not in theirs}
    if event.transfer_date is None and body.transfer_date is not None:
        added["transfer_date"] = body.transfer_date.isoformat()
    if body.may_raise_to_high and not event.may_raise_to_high:
        added["may_raise_to_high"] = True
    return added


def with_additions(event: CaseEvent, added: dict[str, Any]) -> CaseEvent:
    """``event`` (a transient copy, never added to a session) with ``added`` on it."""
    copy = CaseEvent.model_validate(event.model_dump())
    _put(copy, added)
    return copy


def _put(event: CaseEvent, added: dict[str, Any]) -> None:
    """Write :func:`additions` onto ``event`` (its details reassigned: JSON is not tracked in
    place)."""
    event.details = {**(event.details or {}), **{
        k.removeprefix("details."): v for k, v in added.items() if k.startswith("details.")}}
    if "transfer_date" in added:
        event.transfer_date = date.fromisoformat(added["transfer_date"])
    if added.get("may_raise_to_high"):
        event.may_raise_to_high = True


async def _keep_incoming_ratings(session: AsyncSession, case: Case, event: CaseEvent) -> None:
    """A transfer in that is the case's latest (none dated after it) sets the ratings the child
    arrived with (``Case.incoming_ratings``; none sent: none), which the pack may count until
    the service rates the domain itself (Somerset 13.3, 9, 3.2.4; attack 28b, ATK28B-11)."""
    if event.type != CaseEventType.transfer_in:
        return
    later = await session.exec(select(CaseEvent.id).where(
        CaseEvent.case_id == case.id, CaseEvent.type == CaseEventType.transfer_in,
        col(CaseEvent.occurred_at) > event.occurred_at).limit(1))
    if later.first() is not None:
        return
    incoming = dict((event.details or {}).get("incoming_ratings") or {})
    # With the arrival's instant: an own judgement answers them only if dated at or after it
    # (fix32a; at its instant too, events first: app.domain.replay.SAME_INSTANT, fix34a).
    incoming[policy.ARRIVED_AT] = iso_utc(event.occurred_at)
    if (case.incoming_ratings or {}) != incoming:
        case.incoming_ratings = incoming
        session.add(case)
        # A change of the case's fields by the arrival, at its date (the timeline, attack 33,
        # ATTACK33-1: it was dated when typed in), and the case's latest act for a judgement
        # dated before it (typed in after it: its derived fields are restated, fix34b).
        mark_changed(case, event.occurred_at)
        note_case_act(session, case.id, event.occurred_at, role=event.recorded_role)
        await session.flush()


async def _add_to_event(
    wctx: WriteContext, *, event: CaseEvent, body: CaseEventCreate, details: dict[str, Any]
) -> policy.PolicyResult | None:
    """A later report of an event already recorded that says more than the record (the CMS
    reported it without details, the worker with them): what it adds joins the record
    (:func:`additions`), audited ``case_event.added_to`` under the reporter with the fields it
    added (attack 22, A22-9: the worker's details were kept only in the audit's digest), and
    the policy judges the event as now reported (:func:`app.domain.policy.run_restated`): a
    release address in another area said now asks Wokingham W20's notice, a charge now said
    not notifiable no longer asks the CSPPI notification (policy owner to confirm)."""
    added = additions(event, body, details)
    if not added:
        return None
    before = event_data(event)
    _put(event, added)
    check_details_size(event.details)
    wctx.session.add(event)
    await wctx.session.flush()
    await _keep_incoming_ratings(wctx.session, wctx.case, event)
    await wctx.audit("case_event.added_to", entity_type="case_event", entity_id=event.id,
                     change=added)
    after = event_data(event)
    if {k: v for k, v in before.items() if k != "details"} \
            == {k: v for k, v in after.items() if k != "details"}:
        return None
    backfill = None
    if dated_before_a_rating(wctx.case, event.occurred_at, or_at=True):
        history = await rating_history(wctx)
        backfill = (ratings_at(history, event.occurred_at, before=True),
                    ratings_after(history, event.occurred_at, before=True))
    return await policy.run_restated(
        wctx, before=wctx.event("case_event", before, subject_id=event.id),
        after=wctx.event("case_event", after, subject_id=event.id), backfill=backfill)


async def added_by_others(session: AsyncSession, principal: Principal, event: CaseEvent
                          ) -> bool:
    """Whether someone other than ``principal`` (a machine client, the event's recorder) has
    added to ``event`` since it recorded it (``case_event.added_to`` entries): its own event
    is then no longer only what it sent (A22-9 with A21a-5). No query for staff, nor for a
    machine client answered only what it sent anyway."""
    if not principal.is_machine or event.recorded_by != principal.sub:
        return False
    found = await session.exec(select(AuditEntry.id).where(
        col(AuditEntry.case_id) == event.case_id, col(AuditEntry.entity_id) == event.id,
        col(AuditEntry.action) == "case_event.added_to",
        col(AuditEntry.actor_sub) != principal.sub).limit(1))
    return found.first() is not None


async def _reported_again(
    session: AsyncSession, principal: Principal, service: Service, case: Case, role: str,
    event: CaseEvent, *, sent: dict[str, Any] | None = None,
) -> policy.PolicyResult:
    """A second report of an event already recorded (:func:`same_event`): nothing is recorded
    again and no step is raised again (the first report's are the event's); the report is
    audited on the event (who sent it, under which role; ``sent``: the time and details it
    gave, when they differ from the first's, as a second report of a death may), and the
    case's open steps answered. The router answers 200 with the event first recorded, as a
    case upsert that changes nothing does."""
    change: dict[str, Any] = {"type": event.type, "occurred_at": event.occurred_at.isoformat(),
                              "first_recorded_by": event.recorded_by}
    if sent is not None:
        change["reported"] = sent
    await record_audit(session, principal, "case_event.reported_again", "case_event", event.id,
                       service_id=service.id, case_id=case.id, role=role, change=change)
    result = await policy.current(session, case)
    return result.without_next_steps() if withheld_from(principal, case) else result


async def _replace_earlier(
    wctx: WriteContext, *, event: CaseEvent, declared: EventType
) -> policy.PolicyResult | None:
    """The open steps raised about an event that no longer stands are superseded, with the
    reason, audited (:func:`app.domain.transfers.not_standing`): an event of a type the pack
    says replaces earlier ones (``replaces_earlier``: a second transfer out, Somerset 13.4) is
    followed by a later one by date (attack pass 15, A15-2: both transfers' handover calls
    stayed open; a transfer out typed in late, dated before the one now planned, is replaced
    at once), or an event reversing it is dated after it (a transfer in after a transfer out:
    the child is back, and the handover call and documentation of the transfer that no longer
    stands are not owed; attack pass 21, A21a-6)."""
    kinds: dict[str, bool] = {}
    if declared.replaces_earlier or event.type in transfers.REVERSED_BY:
        kinds[event.type] = declared.replaces_earlier
    for kind, by in transfers.REVERSED_BY.items():
        if event.type in by:
            kinds[kind] = wctx.pack.event_type(kind).replaces_earlier
    gone: dict[uuid.UUID, datetime] = {}
    for kind, replaced in kinds.items():
        gone.update(await transfers.ended_at(wctx.session, event.case_id, kind,
                                             replaced=replaced))
    # Each at the date of the event that ended it, whatever order the two were typed in
    # (ATTACK35A-4, fix35f).
    result = None
    for at in sorted(set(gone.values())):
        more = await policy.supersede_codes(
            dataclasses.replace(wctx, occurred_at=at), codes=(),
            subjects=frozenset(i for i, when in gone.items() if when == at),
            act=("event", event.id),
            reason=f"the {' or '.join(sorted(kinds))} it was raised about no longer stands: "
                   f"a later one by date replaces it or a later event reverses it (found on "
                   f"recording {event.type} event {event.id})")
        if more is not None:
            result = more if result is None else result.merge(more)
    return result


async def _end_steps(
    wctx: WriteContext, *, event: CaseEvent, declared: EventType
) -> policy.PolicyResult | None:
    """The open steps the event makes impossible (the pack's ``ends_steps`` for its type: a
    child's death ends the work with the child) are superseded with the pack's reason, linked
    to the event; the steps the policy asks for after it (notifications) stay open."""
    if declared.final:
        await _off_register_and_agendas(wctx, event=event, declared=declared)
    reason = declared.ends_reason or f"{declared.title} ({event.type})"
    result = None
    if declared.ends_steps:
        result = await policy.supersede_codes(
            wctx, codes=declared.ends_steps, act=("event", event.id),
            reason=f"{reason} (event {event.id})")
    if declared.ends_earlier_steps:
        # Not the event's own steps of these codes (its own report of the death).
        others = {s.subject_id for s in await policy.open_steps_of(wctx.session, wctx.case.id)
                  if s.code in declared.ends_earlier_steps and s.subject_id != event.id}
        if others:
            more = await policy.supersede_codes(
                wctx, codes=declared.ends_earlier_steps, act=("event", event.id),
                reason=f"{reason} (event {event.id})", subjects=others)
            if more is not None:
                result = more if result is None else result.merge(more)
    return result


async def _off_register_and_agendas(
    wctx: WriteContext, *, event: CaseEvent, declared: EventType
) -> None:
    """A final event (a death) takes the case off the register and priority and off the
    agendas of panels after it, as a closure does (the item withdrawn naming the event, the
    chair's decision about it superseded: no panel may decide it after the death, A20-2)."""
    await policy.end_register_and_priority(wctx)
    why = f"the case records '{declared.title}' ({event.type}, event {event.id})"
    for item, panel in await agenda.standing_items(wctx, after=event.occurred_at):
        await agenda.withdraw_item(wctx, item=item, panel=panel, redate=False, reason=why)


async def custody_move_recorded(session: AsyncSession, case: Case, event_type: str) -> bool:
    """Whether a custody event reports a move the case already records: ``in_custody`` is
    already where the event would put it, and the last recorded change of ``in_custody`` (the
    field-change history: a ``PATCH``, an upsert or an earlier custody event) made it so.
    Somerset 14.3/14.4 and Wokingham "Internal and External Controls" ask their steps once for
    one move: IYSS recorded the release as ``in_custody: false`` and then sent the
    ``custody_release`` event for it (attack pass 15, A15-1, release half). A release on a case
    never recorded in custody (its ``in_custody`` false from its opening) is a real release."""
    target = IN_CUSTODY_AFTER.get(event_type)
    if target is None or case.in_custody != target:
        return False
    rows = await session.exec(
        select(RecordChange.changes).where(
            RecordChange.entity_type == "case", RecordChange.entity_id == case.id)
        .order_by(col(RecordChange.recorded_at).desc()))
    for changes in rows:
        moved = (changes or {}).get("in_custody")
        if moved is not None and moved[0] == moved[1]:
            continue  # a dated PATCH that stated where the child already was: no move
        if moved is not None:
            return bool(moved[0] is not None and moved[0] != moved[1] and moved[1] == target)
    return False


async def _follow_custody(wctx: WriteContext, *, event: CaseEvent
                          ) -> tuple[policy.PolicyResult | None, list[Move]]:
    """Custody entry/release sets the case's ``in_custody``: a case change like any other
    (at the event's ``occurred_at``, which is the write's), flagged ``custody_event`` (the
    event's own lines have asked for what a move into or out of custody needs; the same move
    recorded by ``PATCH in_custody`` asks for it on the change). A move dated before another
    custody event, or a change of ``in_custody`` by ``PATCH`` or upsert, already recorded
    changes nothing now: ``in_custody`` is where the latest move by date left the child, not
    the one typed in last (attack pass 15, A15-14: a release dated 25 August typed in after an
    entry of 26 August took the child out of custody; attack pass 16, A16-1: likewise after a
    ``PATCH in_custody: true`` of 28 August). The second: the later ``PATCH`` that stated
    where the child already was and is a move now (:func:`~app.domain.replay.following_moves`),
    for the replay of the later acts to evaluate at its time, among them (fix41a, ATTACK40-2)."""
    session, case = wctx.session, wctx.case
    in_custody = IN_CUSTODY_AFTER.get(event.type)
    if in_custody is None:
        return None, []
    later = (await session.exec(select(CaseEvent.occurred_at).where(
        col(CaseEvent.case_id) == case.id, col(CaseEvent.id) != event.id,
        col(CaseEvent.type).in_(list(IN_CUSTODY_AFTER)),
        col(CaseEvent.occurred_at) > event.occurred_at)
        .order_by(col(CaseEvent.occurred_at)).limit(1))).first()
    # The next move by date: a custody event's, or a change of in_custody by PATCH or upsert
    # (A16-1).
    moves = [at for at in (later, await first_change_after(
        session, case.id, "in_custody", event.occurred_at)) if at is not None]
    if moves:
        # Where it left the child until the next move, on the timeline at its date (attack
        # 30a, A30a-1: six hours in custody typed in after the release were missing; fix32b:
        # an entry typed in after a later PATCH that recorded the same move).
        following = min(at if at.tzinfo else at.replace(tzinfo=UTC) for at in moves)
        await note_derived_at(session, case, event.occurred_at, {"in_custody": in_custody},
                              until=following)
        if later is None or following < policy.stored_utc(later):
            # The later change that recorded this very move (a PATCH of the release date,
            # which implies custody, typed in before this entry) is no move in time order:
            # what it raised as one was never raised (fix43d, ATTACK41-6).
            await _never_raised_by_same_move(wctx, in_custody, following)
        # A later PATCH that stated where the child already was is a move now (ATTACK35A-18,
        # t25: the release PATCHed for 15 August typed in before the entry of the 10th).
        return None, await following_moves(wctx, {"in_custody": (in_custody, following)})
    if case.in_custody == in_custody:
        return None, []
    changes = {"in_custody": [case.in_custody, in_custody]}
    case.in_custody = in_custody
    case.updated_at = utcnow()
    session.add(case)
    # The change is the event's, at its date, in the field-change history; an act dated before
    # it is judged on the case as it stood then (changed_at: app.domain.history.case_fields_at;
    # attack 21, A21b-5 twin).
    mark_changed(case, event.occurred_at)
    note_case_act(session, case.id, event.occurred_at, role=wctx.event_role)
    await session.flush()
    return await policy.run(
        wctx, event=wctx.event("case_changed", {"changes": changes, "custody_event": True})), []


async def _never_raised_by_same_move(wctx: WriteContext, in_custody: bool,
                                     at: datetime) -> None:
    """A change of ``in_custody`` at ``at`` that moved the child to ``in_custody`` (recorded
    as a move because the custody event dated before it, just typed in, was not on file yet:
    a ``PATCH`` of a future expected release date, which implies custody, typed in before the
    custody entry) states, in time order, where the child already was: no move, so none of
    the steps it raised as one (Wokingham W4's "record the change of circumstances", whose
    open row would also keep the release's own W4 from being raised). Each open step whose
    every reason is that change is superseded at the instant it arose and marked never raised
    (fix42d's note line and a ``step.retract`` audit entry, fix41c's convention: the row
    stays, readable by its id, left out of the timeline, queues and report); a step with other
    reasons loses that change's (fix43d, ATTACK41-6)."""
    session, case = wctx.session, wctx.case
    rows = (await session.exec(select(RecordChange).where(
        col(RecordChange.entity_type) == "case", col(RecordChange.entity_id) == case.id,
        col(RecordChange.created).is_(False)))).all()
    moved = [r for r in rows if policy.stored_utc(r.occurred_at or r.recorded_at) == at
             and (pair := (r.changes or {}).get("in_custody")) is not None
             and pair[0] != pair[1] and bool(pair[1]) == in_custody]
    if not moved:
        return
    steps = (await session.exec(select(Step).where(
        Step.case_id == case.id, Step.status == StepStatus.open))).all()
    gone: list[Step] = []
    for step in steps:
        own = [r for r in step.reasons or () if r.get("trigger") == "case_changed"
               and r.get("at") is not None
               and _reason_at(r["at"]) == at]
        if not own:
            continue
        rest = [r for r in step.reasons or () if r not in own]
        if rest:
            step.reasons = rest
            session.add(step)
            continue
        why = (f"{policy.NEVER_RAISED_EARLIER} dated {iso_utc(wctx.occurred_at)}, recorded "
               f"after it, put the child where this change of {iso_utc(at)} found them: no "
               f"move, the duty ({step.rule_id}, {step.code}) not raised by it")
        step.status = StepStatus.superseded
        policy.note_superseded(session, step, step.raised_at or step.created_at)
        gone.append(step)
        await policy.mark_never_raised(wctx, step, why)
    await session.flush()
    if gone:
        await policy.record_superseded(wctx, gone, reason=gone[0].note)


def _reason_at(value: Any) -> datetime:
    """A step reason's ``at`` (stored as ISO text, or a datetime not yet serialised), in UTC."""
    when = value if isinstance(value, datetime) else datetime.fromisoformat(
        str(value).replace("Z", "+00:00"))
    return policy.stored_utc(when)


EVENT_ORDER = paging.Order(
    ((CaseEvent.occurred_at, "instant"), (CaseEvent.created_at, "instant"),
     (CaseEvent.id, "uuid")), descending=True)


async def list_events(
    session: AsyncSession, principal: Principal, case_id: uuid.UUID,
    page: paging.PageArgs,
) -> tuple[list[CaseEvent], str | None]:
    """A page of the case's events, newest first, and the next page's cursor."""
    _, case = await get_visible_case(session, principal, case_id)
    return await paging.keyset_page(
        session, select(CaseEvent).where(CaseEvent.case_id == case.id), EVENT_ORDER, page,
        {"list": "events", "case": str(case.id)})
