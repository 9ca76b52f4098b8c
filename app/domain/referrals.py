"""Referrals to panels and other agencies, with their lifecycle as data.

Allowed moves, who may make them and the hint shown to users live in :data:`TRANSITIONS`, a
table the API publishes (``GET /v1/referrals/transitions``), not in ``if`` chains.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from pydantic import Field as PField
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.errors import Conflict, Forbidden, NotFound, Unprocessable
from app.core.identifiers import has_visible
from app.core.security import Principal
from app.domain import agenda, paging, policy
from app.domain.access import (
    MANAGERS,
    case_role_for,
    get_visible_case,
    is_write,
    referral_roles,
    require_not_case_holder,
    require_open_case,
    roles_for,
    service_of,
)
from app.domain.cases_table import Case
from app.domain.common import (
    ActTime,
    JSONType,
    KindLabel,
    check_details_size,
    enum_column,
    iso_utc,
    new_id,
    require_unchanged,
    resolve_occurred_at,
    utcnow,
)
from app.domain.final_events import require_before_final_event
from app.domain.next_steps import reason_act, satisfy_open_steps
from app.domain.outbox import emit
from app.domain.panels_table import Panel, PanelItem, undecided_agenda
from app.domain.services import Service
from app.domain.steps import Step, StepStatus
from app.domain.timing import (
    require_not_before,
    require_outside_closed_periods,
    require_within_case,
)
from app.domain.transitions import check_move, reload
from app.domain.write_context import WriteContext
from app.workflows.instant_order import SAME_INSTANT, reason_rank
from app.workflows.packs import Pack


class ReferralKind(enum.StrEnum):
    """Where a referral goes."""

    panel = "panel"
    mappa_h = "mappa_h"
    mappa_a = "mappa_a"
    emrac = "emrac"
    marf = "marf"
    nrm = "nrm"
    child_protection = "child_protection"
    serious_incident = "serious_incident"


class ReferralStatus(enum.StrEnum):
    """Lifecycle states."""

    draft = "draft"
    submitted = "submitted"
    quality_assured = "quality_assured"
    sent = "sent"
    received = "received"
    accepted = "accepted"
    declined = "declined"
    withdrawn = "withdrawn"


DECIDERS = (*MANAGERS, "chair")
# A referral moved by one of these actions is undone: it gives back the steps it closed.
UNDONE_BY = frozenset({"withdraw", "decline"})
# Which act makes a referral (and so closes the steps that asked for it), which kinds pass a
# manager's quality assurance, and which need the child's views, are the pack's
# (``[[referral_kinds]]``: ``made_by``, ``closes``, ``quality_assurance``, ``requires_views``).


@dataclass(frozen=True)
class Transition:
    """One allowed move: the action, from which states, to which, by whom, and a hint."""

    action: str
    sources: frozenset[ReferralStatus]
    target: ReferralStatus
    roles: tuple[str, ...]
    hint: str
    # Only kinds the pack gates by a manager's quality assurance (None: every kind).
    quality_assured_kinds_only: bool = False

    def applies_to(self, kind: str, pack: Pack) -> bool:
        """Whether this move exists for a referral of this kind under this pack."""
        return not self.quality_assured_kinds_only or pack.referral_kind(kind).quality_assurance

    def as_dict(self, pack: Pack) -> dict[str, Any]:
        """The transition as data for the API (``kinds``: the kinds it applies to under this
        pack, None for every kind)."""
        kinds = sorted(k for k in pack.referral_kind_ids() if self.applies_to(k, pack)) \
            if self.quality_assured_kinds_only else None
        return {
            "action": self.action,
            "from": sorted(s.value for s in self.sources),
            "to": self.target.value,
            "roles": list(self.roles),
            "kinds": kinds,
            "hint": self.hint,
        }


S = ReferralStatus
TRANSITIONS: tuple[Transition, ...] = (
    Transition("submit", frozenset({S.draft}), S.submitted, roles_for("referral.submit"),
               "Submit the completed referral for sending (and, for MAPPA forms, for a "
               "manager's quality assurance)."),
    Transition("quality-assure", frozenset({S.submitted}), S.quality_assured,
               roles_for("referral.quality-assure"),
               "A manager quality-assures the form before it is sent, for the kinds the "
               "service's pack gates (Wokingham: MAPPA forms, Referrals into MAPPA).",
               quality_assured_kinds_only=True),
    Transition("send", frozenset({S.submitted, S.quality_assured}), S.sent,
               roles_for("referral.send"),
               "Mark the referral as sent to the receiving panel or agency; a kind the pack "
               "gates needs quality assurance first."),
    Transition("accept", frozenset({S.sent, S.received}), S.accepted,
               roles_for("referral.accept"),
               "The receiving panel or agency accepted the referral."),
    Transition("decline", frozenset({S.sent, S.received}), S.declined,
               roles_for("referral.decline"),
               "The receiving panel or agency declined the referral; record why in the note."),
    Transition("withdraw", frozenset({S.draft, S.submitted, S.quality_assured, S.sent,
                                      S.received}), S.withdrawn, roles_for("referral.withdraw"),
               "Withdraw a referral that is no longer needed; record why in the note."),
)
TRANSITIONS_BY_ACTION = {t.action: t for t in TRANSITIONS}


class Referral(SQLModel, table=True):
    """A referral from a case to a panel or agency (or received from a feed)."""

    __tablename__ = "referral"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    service_id: uuid.UUID = Field(foreign_key="service.id")
    case_id: uuid.UUID = Field(foreign_key="case.id", index=True)
    # A core kind (ReferralKind) or one the service's pack declares; checked on write.
    kind: str = Field(max_length=32)
    status: ReferralStatus = Field(sa_column=enum_column(ReferralStatus))
    source: str = Field(default="api", max_length=32)
    details: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    occurred_at: datetime
    created_by: str = Field(max_length=128)
    quality_assured_by: str | None = Field(default=None, max_length=128)
    quality_assured_at: datetime | None = None
    # When the service sent it (the ``send`` move's act time; a referral made ``sent``: its
    # ``occurred_at``), kept when it moves on (received, accepted, declined, withdrawn): the
    # case's state at an act's instant counts only the forms sent by then (``referral_sent_in``,
    # Somerset S10 and 8.3.3; migration 0037, fix40c).
    sent_at: datetime | None = None
    # When it was made (the act its kind is ``made_by``: a panel referral's ``submit``, 3.2.3;
    # the others' ``send``; one recorded sent or received: its ``occurred_at``) and when it
    # stopped standing (its ``withdraw`` or ``decline``): the case's state at an act's instant
    # counts a referral standing then (``panel_referred``, Somerset S7/S8; ``referral_sent_in``
    # for an act dated before a withdrawal; migration 0038, fix41c).
    made_at: datetime | None = None
    ended_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    history: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONType)


class ReferralCreate(BaseModel):
    """Body of ``POST /v1/cases/{id}/referrals``."""

    model_config = ConfigDict(extra="forbid")
    kind: KindLabel = PField(description="a core kind (ReferralKind) or one the service's pack "
                                         "declares (GET /v1/policy-packs/{id})")
    details: dict[str, Any] = PField(default_factory=dict)
    occurred_at: ActTime = None


class ReferralAction(BaseModel):
    """Body of ``POST /v1/referrals/{id}/{action}``."""

    model_config = ConfigDict(extra="forbid")
    note: str | None = PField(default=None, max_length=4000)
    details: dict[str, Any] | None = None
    occurred_at: ActTime = None


class ReferralOut(BaseModel):
    """A referral as the API shows it, with the actions now open to it."""

    id: uuid.UUID
    case_id: uuid.UUID
    kind: str
    status: ReferralStatus
    source: str
    details: dict[str, Any]
    occurred_at: datetime
    created_by: str
    quality_assured_by: str | None
    quality_assured_at: datetime | None
    sent_at: datetime | None = PField(
        default=None, description="when the referral was sent (the send's occurred_at); null "
                                  "until it is; kept once it moves on")
    made_at: datetime | None = PField(
        default=None, description="when the referral was made (the act its kind is made by: "
                                  "submit or send); null until it is")
    ended_at: datetime | None = PField(
        default=None, description="when the referral was withdrawn or declined; null while "
                                  "it stands")
    created_at: datetime
    updated_at: datetime
    history: list[dict[str, Any]]
    allowed_actions: list[str]


def needs_quality_assurance(pack: Pack, referral: Referral) -> bool:
    """The pack gates this kind by a manager's quality assurance and it has not had it yet."""
    return pack.referral_kind(referral.kind).quality_assurance and \
        referral.quality_assured_at is None


def referral_out(referral: Referral, pack: Pack) -> ReferralOut:
    """Shape a referral for the API, with the actions its pack now allows."""
    allowed = [t.action for t in TRANSITIONS if referral.status in t.sources
               and t.applies_to(referral.kind, pack)
               and not (t.action == "send" and needs_quality_assurance(pack, referral))]
    return ReferralOut(
        id=referral.id, case_id=referral.case_id, kind=referral.kind, status=referral.status,
        source=referral.source, details=referral.details, occurred_at=referral.occurred_at,
        created_by=referral.created_by, quality_assured_by=referral.quality_assured_by,
        quality_assured_at=referral.quality_assured_at, sent_at=referral.sent_at,
        made_at=referral.made_at, ended_at=referral.ended_at,
        created_at=referral.created_at,
        updated_at=referral.updated_at, history=referral.history, allowed_actions=allowed,
    )


def has_panel_views(referral: Referral) -> bool:
    """A panel referral carries the child's and carer's views, or why they were not sought."""
    d = referral.details or {}
    views = has_visible(str(d.get("child_views", ""))) and has_visible(
        str(d.get("carer_views", "")))
    return views or has_visible(str(d.get("views_not_sought_reason", "")))


def check_panel_views(pack: Pack, referral: Referral) -> None:
    """A kind the pack says ``requires_views`` carries the child's and carer's views, or why they
    were not sought (Somerset 6.2); 422 otherwise."""
    if not pack.referral_kind(referral.kind).requires_views:
        return
    if not has_panel_views(referral):
        raise Unprocessable(
            "A panel referral needs the child's and carer's views, or the reason they could "
            "not be sought safely (Somerset 6.2).",
            slug="views-required",
            errors=[{"loc": "body.details.child_views", "msg": "required (or a reason)"},
                    {"loc": "body.details.carer_views", "msg": "required (or a reason)"},
                    {"loc": "body.details.views_not_sought_reason",
                     "msg": "required when views were not sought"}],
            extra={"rules": ["S8"], "policy": {"ref": "6.2"}},
        )


def views_satisfied(pack: Pack, referral: Referral) -> tuple[str, ...]:
    """A panel referral carrying the child's and carer's views (or why not) is the act for the
    pack's ``referral_views`` closures."""
    if not pack.referral_kind(referral.kind).to_panel or not has_panel_views(referral):
        return ()
    return pack.closes("referral_views")


def check_kind(pack: Pack, kind: str) -> None:
    """422 listing the allowed kinds unless the service's pack knows this referral kind."""
    allowed = pack.referral_kind_ids()
    if kind not in allowed:
        raise Unprocessable(
            "This service's policy has no such referral kind.", slug="unknown-referral-kind",
            errors=[{"loc": "body.kind", "msg": f"must be one of: {', '.join(allowed)}"}],
            extra={"allowed": list(allowed)},
        )


async def reopen_steps_satisfied_by(
    wctx: WriteContext, referral: Referral, action: str,
    ids: Collection[uuid.UUID] | None = None,
) -> list[Step]:
    """A withdrawn or declined referral no longer answers the steps it closed: reopen them,
    each audited as created (the case's timeline shows it). Not a step about the referral
    itself (its quality assurance, W18): a withdrawn form is never sent, so a duty about it has
    no purpose; the engine superseded any still open with the withdrawal. With ``ids``, only
    those steps (closed by the referral's making when an act dated before it was typed in
    after its withdrawal: app.domain.answered, fix42d)."""
    session = wctx.session
    if referral.kind == ReferralKind.panel and await undecided_agenda(session, referral.case_id):
        # The case stands on a panel's agenda not yet decided: it is going to the panel, which
        # answers the referral to it and the views sought for it (the pack's
        # ``panel_item_added``; S7 and S8 do not fire while it is there, A11-7): nothing the
        # withdrawn referral did comes back (attack pass 12, A12-14: both came back, due at
        # whichever MARP was next, and blocked the case's closure).
        return []
    reopened = await policy.reopen_done_by(
        wctx, act=("referral", referral.id), exclude_subject=referral.id, ids=ids,
        note=f"Re-opened: the {referral.kind} referral {referral.id} that satisfied it was "
             f"{'withdrawn' if action == 'withdraw' else 'declined'}.")
    # Its next-panel date as the panels stand now: they may have been booked, moved or
    # cancelled while the referral answered it (A10-26).
    undone = "withdrawn" if action == "withdraw" else "declined"
    await policy.redate_returning_next_panel_steps(
        wctx, steps=reopened, why=f"the referral that answered it was {undone}")
    return reopened


async def satisfy_steps(
    wctx: WriteContext, *, referral: Referral, codes: tuple[str, ...]
) -> policy.PolicyResult | None:
    """Close the case's open steps that this referral is the act for, at the act's time."""
    return await satisfy_open_steps(
        wctx, codes=codes, act=("referral", referral.id),
        note=f"Satisfied by {referral.kind} referral {referral.id}",
    )


# The referral actions that make or move on a referral; after a final event (a death) only a
# kind the pack still accepts (the CSPPI notification) is made (A19-17). Withdrawing, declining
# and recording the receiver's acceptance of one made before are records, and still accepted.
MAKING_ACTIONS = frozenset({"submit", "quality-assure", "send"})


async def create_referral_for_case(
    wctx: WriteContext,
    *,
    body: ReferralCreate,
    source: str = "api",
    status: ReferralStatus = ReferralStatus.draft,
    time_field: str = "occurred_at",
) -> tuple[Referral, policy.PolicyResult]:
    """Make a referral made (or received) at ``wctx.occurred_at`` (the body's ``time_field``,
    resolved by the caller) and run the engine (the draft closes no step: the act its kind is
    ``made_by`` does, :func:`transition`; ATTACK26B-10); 422 for
    details too large, a time outside the case's life or a kind the pack does not know."""
    session, case, principal, role = wctx.session, wctx.case, wctx.principal, wctx.role
    service, occurred_at = wctx.service, wctx.occurred_at
    after_closure = wctx.pack.referral_kind(body.kind).after_closure
    if not after_closure:  # e.g. a CSPPI notification
        # Through the API or a feed alike: a closed case takes no new referral (409).
        require_open_case(case, "make a referral")
    check_details_size(body.details)
    require_within_case(case, occurred_at, time_field, after_closure=after_closure)
    pack = wctx.pack
    check_kind(pack, body.kind)
    await require_before_final_event(session, pack, case, occurred_at,
                                     what=f"make a {body.kind} referral",
                                     referral_kind=body.kind, field=time_field)
    referral = Referral(
        service_id=service.id, case_id=case.id, kind=body.kind, status=status, source=source,
        details=body.details, occurred_at=occurred_at, created_by=principal.sub,
        sent_at=occurred_at if status == ReferralStatus.sent else None,
        made_at=None if status == ReferralStatus.draft else occurred_at,
        history=[{"action": "create", "to": status.value, "by": principal.sub, "role": role,
                  "at": iso_utc(occurred_at)}],
    )
    session.add(referral)
    await session.flush()
    result = await policy.run(wctx, event=wctx.event(
        "referral_created",
        {"kind": body.kind, "source": source, "from_feed": source.startswith("feed:")},
        subject_id=referral.id))
    # A referral received from a feed is a message to the service: of a kind the pack says the
    # feed's delivery makes (``feed_makes``: Wokingham's EMRAC triage), it is the act that made
    # it, closing the steps as the person's act would; otherwise (a MAPPA H from MAPPA) it closes
    # none of the steps that ask the service to refer or notify.
    if source.startswith("feed:") and pack.referral_kind(body.kind).feed_makes:
        satisfied = await _made_by_feed(wctx, referral)
        if satisfied is not None:
            result = result.merge(satisfied)
    await wctx.audit(
        "referral.create", entity_type="referral", entity_id=referral.id,
        change={"kind": body.kind, "status": status.value, "source": source,
                "details": body.details},
    )
    await emit(session, "referral.created", referral.id, service_id=service.id,
               payload={"case_id": str(case.id), "kind": body.kind, "source": source,
                        "occurred_at": iso_utc(wctx.occurred_at)})
    return referral, result


async def _made_by_feed(
    wctx: WriteContext, referral: Referral
) -> policy.PolicyResult | None:
    """A feed's delivery that records the referral made (the kind's ``feed_makes``): at its
    ``received_at``, the steps the kind is made after (``after_steps``) are done first, the
    message being proof they were (Wokingham W14: "After the tool has been completed, it must
    be emailed to triage": the triage screened the tool), then the steps making it closes, as
    the person's ``made_by`` act closes them (attack 34b, ATTACK34B-2). Never ``steps-first``:
    the message reports what happened, and a real message is not refused for the order it
    reports it in. A withdrawal or decline of it re-opens both (they are linked to it)."""
    kind = wctx.pack.referral_kind(referral.kind)
    first = await satisfy_open_steps(
        wctx, codes=kind.after_steps, act=("referral", referral.id),
        note=f"Done before the {referral.kind} referral {referral.id} received from "
             f"{referral.source}, which it precedes: that message records the referral made")
    then = await satisfy_steps(wctx, referral=referral, codes=kind.closes)
    if first is None:
        return then
    return first if then is None else first.merge(then)


async def create_referral(
    session: AsyncSession,
    principal: Principal,
    case_id: uuid.UUID,
    body: ReferralCreate,
    ctx: policy.PolicyContext,
) -> tuple[ReferralOut, policy.PolicyResult]:
    """``POST /v1/cases/{id}/referrals``: holder or managers; the referral as the API shows it."""
    service, case = await get_visible_case(session, principal, case_id)
    occurred_at = resolve_occurred_at(body.occurred_at)
    # The kind's makers under the pack in force at the act (a chair: Somerset 12's CSPPI
    # notification, ATTACK34B-8).
    kind = ctx.pack_for(service, at=occurred_at).referral_kind(body.kind)
    role = case_role_for(principal, case, referral_roles("referral.create", kind),
                         f"make {body.kind} referrals")
    wctx = WriteContext(session=session, policy=ctx, service=service, case=case,
                        principal=principal, role=role, occurred_at=occurred_at)
    await policy.require_held_role_then(session, principal, case, role, wctx.occurred_at)
    referral, result = await create_referral_for_case(wctx, body=body)
    return referral_out(referral, ctx.pack_now(service)), result


# What an unknown id answers, and so a record of a case the caller may not see (A26a-10).
NO_SUCH_REFERRAL = "No such referral."


async def load_referral(
    session: AsyncSession, principal: Principal, referral_id: uuid.UUID
) -> tuple[Service, Case, Referral]:
    """A referral on a case the principal may see, in their service; 404 otherwise (a panel
    administrator sees panel referrals of the cases the panel handles, nothing else)."""
    service = await service_of(session, principal)
    referral = (await session.exec(
        select(Referral).where(Referral.id == referral_id, Referral.service_id == service.id)
    )).first()
    if referral is None:
        raise NotFound(NO_SUCH_REFERRAL)
    _, case = await get_visible_case(session, principal, referral.case_id,
                                     panel_view=referral.kind == ReferralKind.panel,
                                     missing=NO_SUCH_REFERRAL)
    if is_write(session):
        await reload(session, referral)  # the case is locked now: its state after any racer
        require_unchanged(session, "referral", referral, "referral")  # If-Match: A16-8
    return service, case, referral


REFERRAL_ORDER = paging.Order(
    ((Referral.created_at, "instant"), (Referral.id, "uuid")), descending=True)


async def list_case_referrals(
    session: AsyncSession, principal: Principal, case_id: uuid.UUID, ctx: policy.PolicyContext,
    page: paging.PageArgs,
) -> tuple[list[ReferralOut], str | None]:
    """A page of the case's referrals, newest first, as the API shows them, and the next
    page's cursor."""
    service, case = await get_visible_case(session, principal, case_id)
    rows, following = await paging.keyset_page(
        session, select(Referral).where(Referral.case_id == case.id), REFERRAL_ORDER, page,
        {"list": "referrals", "case": str(case.id)})
    pack = ctx.pack_now(service)
    return [referral_out(r, pack) for r in rows], following


def _previous_status(referral: Referral) -> str | None:
    """The state the referral was in before its latest move (None if it never moved)."""
    last = (referral.history or [{}])[-1]
    return str(last["from"]) if "from" in last else None


def _check_act_time(referral: Referral, at: datetime) -> None:
    """A move is dated neither before the referral nor before the move it follows."""
    require_not_before(at, referral.occurred_at, "the referral's occurred_at")
    last = (referral.history or [{}])[-1]
    if last.get("at"):
        require_not_before(at, datetime.fromisoformat(str(last["at"])),
                           f"the referral's last move ({last.get('action')})")


# What may still be recorded about a referral once its case is closed: it is withdrawn, or the
# receiving agency declines it. Every other move waits for the case to be reopened.
CLOSED_CASE_ACTIONS = frozenset({"withdraw", "decline"})


async def transition(
    session: AsyncSession,
    principal: Principal,
    referral_id: uuid.UUID,
    action: str,
    body: ReferralAction,
    ctx: policy.PolicyContext,
) -> tuple[ReferralOut, policy.PolicyResult]:
    """Apply a lifecycle action, checked against :data:`TRANSITIONS`; 409 on an illegal move."""
    move = TRANSITIONS_BY_ACTION.get(action)
    if move is None:
        raise NotFound("No such referral action.")
    service, case, referral = await load_referral(session, principal, referral_id)
    pack = ctx.pack_for(service, at=resolve_occurred_at(body.occurred_at))
    role = case_role_for(principal, case,
                         referral_roles(f"referral.{action}", pack.referral_kind(referral.kind)),
                         f"{action} this referral")
    on_closed = action in CLOSED_CASE_ACTIONS or pack.referral_kind(referral.kind).after_closure
    if not on_closed:
        # A closed case's open steps were superseded at closure; a referral moved on now would
        # raise new ones on a case nobody holds (409, checked under the case's lock).
        require_open_case(case, f"{action} a referral")
    if role == "panel_admin" and referral.kind != ReferralKind.panel:
        raise Forbidden("A panel administrator records the outcome of panel referrals only.")
    if not move.applies_to(referral.kind, pack):
        raise Conflict(f"{action} does not apply to a {referral.kind} referral.",
                       slug="illegal-transition")
    if action in UNDONE_BY:
        _refuse_decided(referral, action)
    check_move(
        what=f"{referral.kind} referral", action=action, current=referral.status.value,
        allowed_from={s.value for s in move.sources}, previous=_previous_status(referral),
        current_record=referral_out(referral, pack).model_dump(mode="json"),
        illegal=Conflict(
            f"Cannot {action} a referral that is {referral.status}.",
            slug="illegal-transition",
            extra={"allowed_actions": referral_out(referral, pack).allowed_actions},
        ),
    )
    if action == "send" and needs_quality_assurance(pack, referral):
        raise Conflict(
            f"A {referral.kind} form cannot be sent before a manager has quality-assured it "
            f"({pack.id}).",
            slug="quality-assurance-required",
            extra={"rules": sorted({r.id for code in pack.closes("referral_quality_assure")
                                    for r in pack.lines_for_code(code)})},
        )
    if body.details:
        check_details_size(body.details)
        referral.details = {**referral.details, **body.details}
    if action in ("submit", "send"):
        check_panel_views(pack, referral)
    if action == "quality-assure" and referral.created_by == principal.sub:
        raise Forbidden("The author of a MAPPA form cannot quality-assure it.")
    if action == "quality-assure":
        # Wokingham "Referrals into MAPPA": forms "must be quality assured by a manager" (A12-12).
        require_not_case_holder(principal, case, who_does_it=(
            "its MAPPA forms are quality-assured by its line manager or a duty manager."))
    occurred_at = resolve_occurred_at(body.occurred_at)
    _check_act_time(referral, occurred_at)
    await policy.require_held_role_then(session, principal, case, role, occurred_at)  # ATTACK27-2
    if action in MAKING_ACTIONS:
        await require_before_final_event(session, pack, case, occurred_at,
                                         what=f"{action} a {referral.kind} referral",
                                         referral_kind=referral.kind)
    if not on_closed:  # nor dated while the case was closed (A9-7)
        require_outside_closed_periods(case, occurred_at)
    if action in UNDONE_BY and referral.kind == ReferralKind.panel:
        await _refuse_once_heard(session, pack, referral, action, occurred_at)
    kind_terms = pack.referral_kind(referral.kind)
    if action == kind_terms.made_by and kind_terms.after_steps:
        await _refuse_before_steps(session, case.id, kind_terms.after_steps, occurred_at,
                                   f"{action} the {referral.kind} referral")
    previous = referral.status
    referral.status = move.target
    if action == "quality-assure":
        referral.quality_assured_by, referral.quality_assured_at = principal.sub, occurred_at
    if move.target == ReferralStatus.sent:
        referral.sent_at = occurred_at
    made = action == kind_terms.made_by and referral.made_at is None
    if made:
        referral.made_at = occurred_at
    if action in UNDONE_BY:
        referral.ended_at = occurred_at
    referral.history = [*referral.history, {
        "action": action, "from": previous.value, "to": move.target.value, "by": principal.sub,
        "role": role, "at": iso_utc(occurred_at), "note": body.note}]
    referral.updated_at = utcnow()
    session.add(referral)
    await session.flush()
    # The engine first (a submitted panel referral asks the chair to hold the panel, about this
    # referral; a withdrawn one supersedes what was about it), then the steps this act answers.
    data: dict[str, Any] = {"kind": referral.kind, "action": action,
                            "to_status": move.target.value}
    if action in UNDONE_BY:
        # The steps this referral did are undone with it: reasons they gave go too.
        data["undone_records"] = [str(i) for i in (await session.exec(select(Step.id).where(
            Step.case_id == case.id, Step.satisfied_by_type == "referral",
            Step.satisfied_by_id == referral.id))).all()]
    wctx = WriteContext(session=session, policy=ctx, service=service, case=case,
                        principal=principal, role=role, occurred_at=occurred_at)
    result = await policy.run(
        wctx, event=wctx.event("referral_transition", data, subject_id=referral.id))
    codes: tuple[str, ...] = ()
    kind = pack.referral_kind(referral.kind)
    if action == "quality-assure":
        codes = pack.closes("referral_quality_assure")
    elif action == kind.made_by:
        codes = kind.closes + views_satisfied(pack, referral)
    satisfied = await satisfy_steps(wctx, referral=referral, codes=codes)
    if satisfied is not None:
        result = result.merge(satisfied)
    if move.target == ReferralStatus.sent:
        # Sent before acts already on file (typed in later): what they raised that the form
        # sent ends was never owed in time order (Somerset S10, 7.1.9; fix40c).
        lapsed = await policy.lapsed_by_earlier_send(wctx, kind=referral.kind,
                                                     referral_id=referral.id)
        ended = [s for s in result.superseded if _raised_after_send(s, occurred_at)]
        if lapsed is not None:
            result = result.merge(lapsed)
            ended += [s for s in lapsed.superseded
                      if policy.stored_utc(s.raised_at or s.created_at) > occurred_at]
        result = await _retract_never_raised(wctx, result, ended, referral)
    if made and kind.to_panel and referral.kind == ReferralKind.panel:
        # Made before acts already on file (typed in later): what they raised only on a case
        # not referred was never owed in time order (Somerset S7/S8, 3.2.3; fix41c).
        never = await policy.never_owed_once_referred(
            wctx, why=f"never owed: the panel referral {referral.id} was made "
                      f"{iso_utc(occurred_at)}, before the act that asked for it",
            asked=lambda step, reason: _asked_at_its_moment(wctx, step, reason))
        if never is not None:
            result = result.merge(never)
            result = await _retract_never_raised(wctx, result, never.superseded, referral,
                                                 act="made", found="not yet made")
    if action in UNDONE_BY:
        if referral.kind == ReferralKind.panel:
            # The need for the panel may have ended with it: without another way onto a panel
            # (the register, another live referral), the case leaves the agendas of panels not
            # yet sat (attack pass 11, A11-16), and what it answered is owed again below.
            await agenda.withdraw_unneeded(
                wctx, why=f"its panel referral {referral.id} was "
                          f"{'withdrawn' if action == 'withdraw' else 'declined'}")
        await reopen_steps_satisfied_by(wctx, referral, action)
        owed = await _owed_once_ended(wctx, referral)
        if owed is not None:
            result = result.merge(owed)
        result = result.merge(await policy.current(session, case))
    await wctx.audit(
        f"referral.{action}", entity_type="referral", entity_id=referral.id, reason=body.note,
        change={"from": previous.value, "to": move.target.value, "note": body.note},
    )
    await emit(session, f"referral.{move.target.value}", referral.id, service_id=service.id,
               payload={"case_id": str(case.id), "kind": referral.kind,
                        "occurred_at": iso_utc(wctx.occurred_at)})
    return referral_out(referral, pack), result


async def _owed_once_ended(wctx: WriteContext, referral: Referral) -> policy.PolicyResult | None:
    """The referral just withdrawn or declined at ``wctx.occurred_at`` (its ``ended_at``),
    typed in after acts dated at or after it: each is evaluated again, in time order, on the
    case without the referral (``panel_referred``, ``referral_sent_in``: a referral counts
    until its ``ended_at``), and what it owes that is not on file is raised at its date, as
    typed in time order (fix42a, fix41c's open end: Somerset S7/S8, 3.2.3, a High of 26
    November after the MARP referral withdrawn on the 25th; S10, 7.1.9 "unless this has
    already been done", a Very High after the MAPPA A form's withdrawal). Typed before the
    withdrawal, the act found the referral standing and asked for nothing, or the referral
    typed in after it hid what it raised (:func:`_retract_never_raised`; the rows whose
    ``hidden_by_referral_id`` is this referral's, fix42b: not found by their note's wording):
    those rows stay as they are, hidden, and do not count as the duty closed since
    (``unraised``), so the duty is owed in a fresh step. The withdrawal comes before the
    judgements of its instant and after the case's events and the panels' decisions (docs
    §7): the plain judgements of its instant are evaluated again, not its events or
    decisions. None when no act is dated at or after it."""
    from app.domain.replay import replay_later_acts  # noqa: PLC0415 (imports this module)

    session, ended = wctx.session, wctx.occurred_at
    await session.flush()
    hidden = (await session.exec(select(Step.id).where(
        Step.case_id == wctx.case.id, Step.status == StepStatus.superseded,
        col(Step.raised_at) >= ended,
        col(Step.hidden_by_referral_id) == referral.id))).all()
    return await replay_later_acts(wctx, since=ended, plain_at_since=True,
                                   unraised=frozenset(hidden))


def _raised_after_send(step: Step, sent: datetime) -> bool:
    """Whether ``step`` arose, in the one order of ``sent``'s instant, after a referral sent
    then: every reason it has is an act at that instant ranked after the service's referrals
    (a plain judgement: docs §7, a form sent at a Very High's instant "has already been done"
    for it, Somerset 7.1.9), or later."""
    if policy.stored_utc(step.raised_at or step.created_at) != sent or not step.reasons:
        return False
    judged = SAME_INSTANT.index("judgement")
    for reason in step.reasons:
        at = reason_act(reason)
        if at is None or at < sent or (at == sent and reason_rank(reason) != judged):
            return False
    return True


async def _asked_at_its_moment(wctx: WriteContext, step: Step, reason: Mapping[str, Any]
                               ) -> bool:
    """Whether the act that gave ``step`` this ``reason`` asks for a step of its code when
    evaluated again at its own moment, on the case as it stood then (its ratings before it,
    the steps open then, the referrals standing then: ``panel_referred``); an act other than a
    judgement: yes (fix41c)."""
    from app.domain.judgements import ratings_around  # noqa: PLC0415 (imports this module)
    from app.domain.replay import judgement_event  # noqa: PLC0415 (imports this module)

    record = reason.get("record") or {}
    if reason.get("trigger") != "judgement_recorded" or record.get("type") != "judgement":
        return True
    event = await judgement_event(wctx, uuid.UUID(str(record.get("id"))))
    at = policy.stored_utc(event.occurred_at)
    ratings, _later = await ratings_around(wctx.session, wctx.case.id, str(event.data["domain"]),
                                           str(event.data["level"]), at)
    then = [s for s in await policy.steps_open_at(wctx.session, wctx.case.id, at)
            if policy.stored_utc(s.raised_at or s.created_at) < at]
    evaluation = await policy.evaluation_at_its_moment(wctx, event=event, ratings=ratings,
                                                       steps_then=then)
    return any(i.code == step.code and i.action != "supersede" for i in evaluation.intents)


async def _retract_never_raised(wctx: WriteContext, result: policy.PolicyResult,
                                ended: list[Step], referral: Referral, *, act: str = "sent",
                                found: str = "not yet sent") -> policy.PolicyResult:
    """Mark the steps ``ended`` that the referral just sent (or made, ``act``) means were never
    raised: in time order it came before the acts that raised them (dated after it, or a plain
    judgement of its instant), which then found it (``referral_sent_in``: Somerset S10, 7.1.9
    "unless this has already been done", 8.3.3; ``panel_referred``: S7/S8, 3.2.3). Each was
    superseded at the instant it arose by this write (announced ``step.superseded``), so the
    case's history leaves it out (a step raised and ended at one instant, fix36d): the row
    stays, superseded, readable by its id, in no queue or report; its note and a
    ``step.retract`` audit entry say why (fix41c: fix40c deleted the row, and an id announced
    to subscribers then answered 404)."""
    ended = [s for s in ended if s.status == StepStatus.superseded]
    for step in ended:
        why = (f"Never raised: the {referral.kind} referral {referral.id} was {act} "
               f"{iso_utc(wctx.occurred_at)}, before the act that raised it "
               f"({step.rule_id}, {step.code}) found it {found}")
        step.hidden_by_referral_id = referral.id  # the fact, not the note's wording (fix42b)
        await policy.mark_never_raised(wctx, step, why)
    if ended:
        await wctx.session.flush()
    return result


async def _refuse_before_steps(session: AsyncSession, case_id: uuid.UUID,
                               codes: tuple[str, ...], at: datetime, what: str) -> None:
    """409 ``steps-first`` when a step of ``codes`` (the referral kind's ``after_steps``)
    raised by ``at`` was not done by then: still open, or done later than ``at`` (Wokingham
    W14: "After the tool has been completed, it must be emailed to triage"; attack 26b,
    ATTACK26B-8). A step waived or superseded is no longer owed and does not hold the act
    back. ``steps`` names each (id, code, title, status); the remedy is to record it done
    first, dated before this act. Checked under the case's lock."""
    rows = (await session.exec(select(Step).where(
        Step.case_id == case_id, col(Step.code).in_(codes),
        col(Step.status).in_((StepStatus.open, StepStatus.done))))).all()
    owed = [s for s in rows if policy.stored_utc(s.raised_at or s.created_at) <= at
            and (s.status == StepStatus.open
                 or (s.completed_at is not None and policy.stored_utc(s.completed_at) > at))]
    if not owed:
        return
    names = ", ".join(sorted({s.code for s in owed}))
    raise Conflict(
        f"Cannot {what} before {names} is done: the policy asks for it first. Record it done "
        f"(dated before this act), then {what}.",
        slug="steps-first",
        errors=[{"loc": "body.occurred_at",
                 "msg": f"{names} was not done by then"}],
        extra={"steps": [{"id": str(s.id), "code": s.code, "title": s.title,
                          "status": str(s.status)} for s in owed]})


def _refuse_decided(referral: Referral, action: str) -> None:
    """409 ``referral-heard`` for withdrawing or declining a referral a panel's decision
    accepted (:func:`accept_heard`; its history's last move names the item)."""
    last = (referral.history or [{}])[-1]
    if referral.status != ReferralStatus.accepted or not last.get("panel_item_id"):
        return
    raise Conflict(
        f"Cannot {action} the referral: the panel decided on it (item "
        f"{last['panel_item_id']}, {last.get('at')}), which accepted it.",
        slug="referral-heard",
        extra={"panel_item_id": str(last["panel_item_id"]), "current_status": "accepted"})


async def _refuse_once_heard(
    session: AsyncSession, pack: Pack, referral: Referral, action: str, at: datetime
) -> None:
    """409 ``referral-heard`` for withdrawing or declining a panel referral at ``at`` when a
    panel had already sat on it then, its decision not yet recorded: an item of the case still
    on the agenda of a panel that sat at or before ``at``, carrying this referral (or naming
    none, the referral made by the sitting). The panel heard it (Somerset 3.2.3, 7.1.6):
    undoing it would re-open S7/S8 for a sitting that happened, and the decision typed up
    afterwards would then find it withdrawn (attack 26b, ATTACK26B-6: raced, both won).
    Checked under the case's lock. A decided item's referral is ``accepted``
    (:func:`accept_heard`): the transition check refuses that."""
    row = (await session.exec(
        select(PanelItem.id, Panel.kind, Panel.scheduled_for)
        .join(Panel, col(Panel.id) == col(PanelItem.panel_id))
        .where(PanelItem.case_id == referral.case_id, col(PanelItem.decided_at).is_(None),
               col(PanelItem.withdrawn_at).is_(None), col(Panel.scheduled_for) <= at,
               sa.or_(col(PanelItem.referral_id) == referral.id, sa.and_(
                   col(PanelItem.referral_id).is_(None),
                   col(Panel.scheduled_for) >= referral.occurred_at)))
        .order_by(col(Panel.scheduled_for)).limit(1))).first()
    if row is None:
        return
    item_id, kind, sat = row
    raise Conflict(
        f"Cannot {action} the referral: the {pack.panel(kind).title} sat on the case at "
        f"{iso_utc(policy.stored_utc(sat))} (item {item_id}) and its decision is not yet recorded. "
        "Record the panel's decision, or take the item off the agenda first.",
        slug="referral-heard",
        extra={"panel_item_id": str(item_id), "sat_at": iso_utc(policy.stored_utc(sat))})


# A panel referral the panel has heard is answered: it stands no more to be withdrawn or
# declined (its steps undone) or accepted again.
HEARD_FROM = frozenset({S.submitted, S.quality_assured, S.sent, S.received})


async def accept_heard(
    wctx: WriteContext, *, item_id: uuid.UUID, referral_id: uuid.UUID | None, panel_name: str,
) -> list[Referral]:
    """The panel decided on the case: the panel referral it heard is accepted, as part of the
    decision (the caller holds the case's lock). Somerset 3.2.3 "refer the case to the next
    YJT MARP": the MARP discussed the case, agreed its plan and booked its review (7.1.6), so
    the referral's purpose is fulfilled; Wokingham's High-Risk Panel request the same. The
    referral heard is the one the agenda item carries (``referral_id``); an item that names
    none heard the case's standing panel referrals made by the decision's date.

    Before, the referral stayed ``sent`` after the decision: withdrawing or declining it then
    re-opened S7's referral to the next MARP and S8's views, due at the MARP that had already
    sat, overdue at once (attack 26b, ATTACK26B-6), and a withdrawal raced with the decision
    both won. Now either act after the decision is 409 ``conflicting-transition`` (the
    referral is ``accepted``, by the panel's decision, in its history), checked under the
    case's lock as every referral move is. Each acceptance is audited (``referral.accept``)
    and announced (``referral.accepted``) in the decision's transaction."""
    session, case = wctx.session, wctx.case
    query = select(Referral).where(Referral.case_id == case.id,
                                   Referral.kind == ReferralKind.panel,
                                   col(Referral.status).in_(sorted(HEARD_FROM)))
    if referral_id is not None:
        query = query.where(Referral.id == referral_id)
    else:
        query = query.where(col(Referral.occurred_at) <= wctx.occurred_at)
    heard = list((await session.exec(query.order_by(col(Referral.created_at),
                                                     col(Referral.id)))).all())
    note = f"Heard: the {panel_name} decided on the case (item {item_id})."
    for referral in heard:
        previous = referral.status
        referral.status = ReferralStatus.accepted
        referral.history = [*referral.history, {
            "action": "accept", "from": previous.value, "to": ReferralStatus.accepted.value,
            "by": wctx.principal.sub, "role": wctx.role, "at": iso_utc(wctx.occurred_at),
            "note": note, "panel_item_id": str(item_id)}]
        referral.updated_at = utcnow()
        session.add(referral)
        await wctx.audit(
            "referral.accept", entity_type="referral", entity_id=referral.id, reason=note,
            change={"from": previous.value, "to": ReferralStatus.accepted.value, "note": note,
                    "panel_item_id": str(item_id)})
        await emit(session, "referral.accepted", referral.id, service_id=wctx.service.id,
                   payload={"case_id": str(case.id), "kind": referral.kind,
                            "occurred_at": iso_utc(wctx.occurred_at)})
    if heard:
        await session.flush()
    return heard
