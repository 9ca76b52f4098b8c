"""Cases: create, read (with ratings and open steps), list the caseload, change with ETags."""

from __future__ import annotations

import dataclasses
import functools
import uuid
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Annotated, Any

import sqlalchemy as sa
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
)
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.db import PlainSelect
from app.core.errors import (
    Conflict,
    Forbidden,
    PreconditionFailed,
    Unprocessable,
)
from app.core.identifiers import check_reference, visible_text
from app.core.security import STAFF_ROLES, Principal
from app.domain import agenda, cursors, policy, staff, stand_ins, transfers
from app.domain.access import (
    MANAGERS,
    case_role_for,
    get_case_file_for_write,
    get_case_in_service,
    get_visible_case,
    lock_external_ref,
    may_see_case,
    note_read,
    require_machine_scope,
    require_may_open,
    require_not_case_holder,
    service_of,
    visibility_flags,
    visible_clause_of,
    withheld_from,
)
from app.domain.acts import require_after_latest_act
from app.domain.answered import answer_from_record
from app.domain.assessments_table import Assessment, AssessmentStatus
from app.domain.audit import AuditEntry
from app.domain.cases_table import (
    STATUTORY_INTERVENTIONS,
    Case,
    ContactLevel,
    CscStatus,
    Intervention,
    case_etag,
    mark_changed,
)
from app.domain.common import (
    ActTime,
    IfMatch,
    MappaNumber,
    PlausibleDate,
    Reason,
    StaffId,
    UtcDatetime,
    iso_utc,
    parse_declared,
    peek_now,
    require_if_match,
    require_mappa_category,
    resolve_occurred_at,
    utcnow,
)
from app.domain.duplicates import PossibleDuplicate, possible_duplicates
from app.domain.events import (
    IN_CUSTODY_AFTER,
    CaseEvent,
    EventAround,
    events_around_column,
    events_around_of,
    events_around_params,
    require_no_custody_rival,
)
from app.domain.final_events import (
    ADMINISTRATIVE_FIELDS,
    IDENTITY_FIELDS,
    final_events_column,
    final_events_of,
    final_events_params,
    require_before_final_event,
)
from app.domain.history import (
    ASSERTED_FIELDS_SET,
    ChangeAround,
    RecordChange,
    actor_of,
    case_fields_changed,
    changes_around_column,
    changes_around_of,
    field_history,
    first_change_after,
    json_value_at,
    note_case_act,
    note_derived_at,
    timeline_history,
    to_json,
)
from app.domain.judgements_table import Judgement
from app.domain.outbox import emit
from app.domain.panels_table import PanelItem
from app.domain.policy_lock import lock_policy_shared
from app.domain.replay import (
    LaterActs,
    dated_before_a_rating,
    later_acts_columns,
    owed_by_following,
    rating_history,
    ratings_after,
    ratings_at,
    replay_later_acts,
)
from app.domain.restriction import (
    AccessOut,
    CaseAccess,
    check_holders_keep_access,
    set_access,
    shuts_out,
    staff_of,
)
from app.domain.services import Service
from app.domain.steps import (
    ESCALATION_CODE,
    RESTRICTED_ACTION_ESCALATION,
    Step,
    StepOut,
    StepStatus,
)
from app.domain.timing import (
    closed_period,
    require_after_birth,
    require_child_age_at_opening,
    require_not_before,
    require_opening_within,
    require_release_within_case,
    require_ten_at_opening,
    require_within_case,
)
from app.domain.transitions import ConflictingTransition
from app.domain.write_context import WriteContext
from app.workflows.calendar import london_date, start_of_day
from app.workflows.packs import CaseClosure, Pack
from app.workflows.types import ScheduledPanel

# A child's name: required, so it must show (attack 20, A20-13: zero-width names were taken).
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
                 AfterValidator(visible_text)]
# A case's reference in another system, each part (the system, its id): surrounding spaces
# dropped, in NFC, nothing invisible and no '/' (app.core.identifiers.check_reference).
RefPart = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128),
                    AfterValidator(check_reference)]
RefSystem = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
                      AfterValidator(check_reference)]
MAX_PAGE = 200


class ExternalRef(BaseModel):
    """A case's id in another system (e.g. IYSS)."""

    model_config = ConfigDict(extra="forbid")
    system: RefSystem
    id: RefPart


class StoredRef(BaseModel):
    """A case's id in another system (e.g. IYSS), as the service holds it."""

    system: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]


class Child(BaseModel):
    """The child the case is about."""

    model_config = ConfigDict(extra="forbid")
    given_name: Name
    family_name: Name
    date_of_birth: PlausibleDate


class CaseUpsert(BaseModel):
    """Body of ``PUT /v1/cases/by-external-ref/{system}/{id}``: the case as the case
    management system holds it (the reference comes from the path)."""

    model_config = ConfigDict(extra="forbid")
    child: Child
    case_holder_id: StaffId
    line_manager_id: StaffId
    intervention: Intervention
    statutory: bool | None = None
    csc_status: CscStatus
    weapon_related: bool = False
    mappa_category: MappaNumber | None = None
    mappa_level: MappaNumber | None = None
    expected_release_date: PlausibleDate | None = None
    in_custody: bool | None = Field(
        default=None, description="default: true when expected_release_date is after the "
                                  "opening date (a future release date means custody)")
    volunteer_attached: bool = False
    opened_at: UtcDatetime | None = Field(
        default=None, description="when the case opened (default: now); not before the child's "
                                  "10th birthday nor more than 15 years before today (422 "
                                  "occurred-before-bound naming the bound); up to 5 minutes "
                                  "ahead is recorded as now, more is 422")


class CaseCreate(CaseUpsert):
    """Body of ``POST /v1/cases``."""

    external_ref: ExternalRef | None = None


class CasePatch(BaseModel):
    """Body of ``PATCH /v1/cases/{id}``: only the fields sent are changed."""

    model_config = ConfigDict(extra="forbid")
    csc_status: CscStatus | None = None
    mappa_category: MappaNumber | None = None
    mappa_level: MappaNumber | None = None
    expected_release_date: PlausibleDate | None = None
    in_custody: bool | None = None
    volunteer_attached: bool | None = None
    weapon_related: bool | None = None
    case_holder_id: StaffId | None = None
    line_manager_id: StaffId | None = None
    closed_at: UtcDatetime | None = None
    closure_reason: Reason | None = None
    reopen_reason: Reason | None = None
    facts: dict[Annotated[str, StringConstraints(max_length=32)], Any] | None = Field(
        default=None, max_length=50,
        description="case facts the service's pack declares (GET /v1/policy-packs/{id}: facts),"
                    " by name; null unsets one; facts not sent are kept")
    occurred_at: ActTime = None
    access: CaseAccess | None = None


NOT_NULLABLE = {"csc_status", "in_custody", "volunteer_attached", "weapon_related",
                "case_holder_id", "line_manager_id"}
# What the court or the service decided the work with the child is (A9-8): like a reassignment,
# a manager's or the case management system's change (``PUT`` upsert; ``PATCH`` does not take
# it), never the case holder's. The change re-runs the policy (``case_changed``: the start's
# assessment the new intervention asks for, the statutory reviews that lapse) and is audited
# (``case.update``) with the case's former interventions kept (``past_interventions``): an
# order's closure rule (Wokingham W3) still holds after the order became a prevention case.
INTERVENTION_FIELDS = frozenset({"intervention", "statutory"})
# Reassignment: the field, and the actor whose steps follow it to the new person.
REASSIGNMENT = {"case_holder_id": "case_holder", "line_manager_id": "line_manager"}
# Closing and reopening a case are managers' acts (the case's line manager, a duty manager, a
# chair); a case holder may not close their own case.
CLOSERS = ("line_manager", "duty_manager", "chair")
EDITORS = ("case_holder", *MANAGERS)
REASONS = ("closure_reason", "reopen_reason")


class RatingOut(BaseModel):
    """A current rating: level, when it was recorded, and by which judgement."""

    level: str
    recorded_at: datetime
    judgement_id: uuid.UUID | None


class RatingsOut(BaseModel):
    """Current ratings; null means unknown (never shown as low)."""

    rosh: RatingOut | None = None
    swb: RatingOut | None = None
    lor: RatingOut | None = None


class CaseOut(BaseModel):
    """A case as the API shows it."""

    id: uuid.UUID
    service: str
    external_ref: StoredRef | None
    child: Child
    case_holder_id: str
    line_manager_id: str
    intervention: Intervention
    statutory: bool
    csc_status: CscStatus
    weapon_related: bool
    mappa_category: int | None
    mappa_level: int | None
    expected_release_date: date | None
    in_custody: bool
    volunteer_attached: bool
    opened_at: datetime
    closed_at: datetime | None
    ratings: RatingsOut
    facts: dict[str, Any] = Field(default_factory=dict, description="the pack's case facts")
    scores: dict[str, Any] = Field(default_factory=dict,
                                   description="the latest assessment score of each name")
    on_register: bool
    contact_level: ContactLevel | None
    priority: bool = Field(default=False, description=(
        "dealt with as a priority at all stages (the pack's `[priority]`: Somerset 3.2.4, ROSH "
        "or SWB very high); its open steps carry `priority` too"))
    priority_raised: bool = Field(default=False, description=(
        "a manager raised the priority of this High/Very High case (Somerset 3.2.4, "
        "`POST /v1/cases/{id}/priority`); lapses when ROSH and SWB are both below high and at "
        "closure"))
    open_steps: list[StepOut]
    restricted: bool
    access: AccessOut | None = Field(
        default=None, description="The access list of a restricted case (managers and chairs)")
    version: int


class CaseFilters(BaseModel):
    """Query filters of ``GET /v1/cases``."""

    case_holder_id: str | None = None
    on_register: bool | None = None
    external_system: str | None = None
    external_id: str | None = None
    cursor: str | None = None
    limit: int = 50


def case_fields(
    case: Any, service: Service, open_steps: list[StepOut], access: AccessOut | None = None
) -> dict[str, Any]:
    """A case's fields as the API shows them (``CaseOut``'s input), from a :class:`Case` or a
    row of a case list (:func:`list_cases`)."""
    ext = (
        {"system": case.external_system, "id": case.external_id}
        if case.external_system and case.external_id else None
    )
    return {
        "id": case.id, "service": service.slug, "external_ref": ext,
        "child": {"given_name": case.given_name, "family_name": case.family_name,
                  "date_of_birth": case.date_of_birth},
        "case_holder_id": case.case_holder_id, "line_manager_id": case.line_manager_id,
        "intervention": case.intervention, "statutory": case.statutory,
        "csc_status": case.csc_status, "weapon_related": case.weapon_related,
        "mappa_category": case.mappa_category, "mappa_level": case.mappa_level,
        "expected_release_date": case.expected_release_date, "in_custody": case.in_custody,
        "volunteer_attached": case.volunteer_attached, "opened_at": case.opened_at,
        "closed_at": case.closed_at,
        "ratings": {d: v for d, v in (case.ratings or {}).items() if v},
        "facts": dict(case.facts or {}), "scores": dict(case.scores or {}),
        "on_register": case.on_register, "contact_level": case.contact_level,
        "priority": case.priority, "priority_raised": case.priority_raised,
        "open_steps": open_steps,
        "restricted": case.access_mode is not None,
        "access": access, "version": case.version,
    }


def case_out(
    case: Case, service: Service, open_steps: list[StepOut], access: AccessOut | None = None
) -> CaseOut:
    """Shape a case for the API (``access`` only for callers who may see the list)."""
    return CaseOut.model_validate(case_fields(case, service, open_steps, access))


_CASES_OUT: TypeAdapter[list[CaseOut]] = TypeAdapter(list[CaseOut])


def cases_out(
    cases: Sequence[Any], service: Service, steps: dict[uuid.UUID, list[StepOut]],
    access: Mapping[uuid.UUID, AccessOut] | None = None,
) -> list[CaseOut]:
    """Shape a page of cases (rows of :func:`list_cases`) with their open steps and, for those
    who may see it, their access lists (:func:`~app.domain.restriction.access_views`) for the
    API, in one validator call."""
    access = access or {}
    return _CASES_OUT.validate_python(
        [case_fields(c, service, steps[c.id], access.get(c.id)) for c in cases])


def _check_child(body: CaseUpsert, now: datetime) -> None:
    if body.child.date_of_birth > now.date():
        raise Unprocessable(
            "The child's date of birth is in the future.",
            errors=[{"loc": "body.child.date_of_birth", "msg": "must not be in the future"}],
        )
    require_mappa_category(body.mappa_category, body.mappa_level)
    require_separate_manager(body.case_holder_id, body.line_manager_id, "body.line_manager_id")


def require_separate_manager(case_holder_id: str, line_manager_id: str, loc: str) -> None:
    """422 ``manager-is-case-holder`` when one person would be both the case's holder and its
    line manager: the manager's oversight (Somerset 3.1: the case holder "must discuss" a high
    rating "with their line manager"; 4.5: line managers "review all cases" with High or Very
    High ROSH/SWB "with case holders"; Wokingham's management oversight) would be the holder
    checking their own work."""
    if case_holder_id == line_manager_id:
        raise Unprocessable(
            "The case's line manager must be someone other than its case holder.",
            slug="manager-is-case-holder",
            errors=[{"loc": loc, "msg": "is the case holder: name their line manager"}])


def _opening_checks(principal: Principal, body: CaseCreate, now: datetime) -> datetime:
    """422 for an opening the service refuses at ``now``; its ``opened_at`` (default ``now``)."""
    opened_at = resolve_occurred_at(body.opened_at, now, "opened_at")
    _check_child(body, now)
    require_after_birth(opened_at, body.child.date_of_birth, "opened_at")
    require_child_age_at_opening(body.child.date_of_birth, opened_at)
    require_opening_within(opened_at, body.child.date_of_birth)
    require_release_within_case(body.expected_release_date, opened_at)
    require_may_open(principal, body.case_holder_id, body.line_manager_id)
    return opened_at


async def create_case(
    session: AsyncSession, principal: Principal, body: CaseCreate, ctx: policy.PolicyContext
) -> tuple[Service, Case, policy.PolicyResult]:
    """Open a case; answer with the steps its opening mandates (S1/S2, W1)."""
    service = await service_of(session, principal)
    # Checked before the locks by the clock (422 before 409), and again at the write's
    # instant, taken once the locks are held: an opening that waited for another write (an
    # absence, a panel, the same reference) is dated after it (A23a-1).
    _opening_checks(principal, body, peek_now())
    if body.external_ref is not None:
        # Serialised with every create and upsert of this reference (as PUT is): of two racing
        # creates the second sees the first and is the documented 409 duplicate-external-ref.
        await lock_external_ref(session, service.id, body.external_ref.system,
                                body.external_ref.id)
        await _refuse_duplicate_ref(session, principal, service.id, body.external_ref)
    else:
        # The opening's steps read absences and panels: serialised with the writes that change
        # them (app.domain.policy_lock; lock_external_ref takes it with a reference).
        await lock_policy_shared(session, service.id)
    opened_at = _opening_checks(principal, body, utcnow())
    statutory = (
        body.statutory if body.statutory is not None
        else body.intervention in STATUTORY_INTERVENTIONS
    )
    case = Case(
        service_id=service.id,
        external_system=body.external_ref.system if body.external_ref else None,
        external_id=body.external_ref.id if body.external_ref else None,
        given_name=body.child.given_name, family_name=body.child.family_name,
        date_of_birth=body.child.date_of_birth, case_holder_id=body.case_holder_id,
        line_manager_id=body.line_manager_id, intervention=body.intervention,
        statutory=statutory, csc_status=body.csc_status, weapon_related=body.weapon_related,
        mappa_category=body.mappa_category, mappa_level=body.mappa_level,
        expected_release_date=body.expected_release_date,
        in_custody=custody_implied(body.in_custody, body.expected_release_date, opened_at),
        volunteer_attached=body.volunteer_attached, opened_at=opened_at,
    )
    session.add(case)
    await session.flush()
    # A new case needs no lock: no other write can know it yet. No single role opens it. Its
    # steps read absences and panels under the service's policy lock (taken above).
    wctx = WriteContext(session=session, policy=ctx, service=service, case=case,
                        principal=principal, role=None, occurred_at=opened_at)
    result = await policy.run(wctx, event=wctx.event("case_opened", {}))
    if case.mappa_category is not None:
        changes = {"mappa_category": [None, case.mappa_category]}
        if case.mappa_level is not None:
            changes["mappa_level"] = [None, case.mappa_level]
        more = await policy.run(wctx, event=wctx.event("case_changed", {"changes": changes}))
        result = result.merge(more)
    await wctx.audit("case.create", entity_type="case", entity_id=case.id,
                     change=body.model_dump(mode="json"))
    await emit(session, "case.opened", case.id, service_id=service.id,
               payload={"case_id": str(case.id)})
    return service, case, result


async def _case_id_by_ref(
    session: AsyncSession, service_id: uuid.UUID, ref: ExternalRef
) -> uuid.UUID | None:
    existing = await session.exec(
        select(Case.id).where(
            Case.service_id == service_id,
            Case.external_system == ref.system,
            Case.external_id == ref.id,
        )
    )
    return existing.first()


async def _refuse_duplicate_ref(
    session: AsyncSession, principal: Principal, service_id: uuid.UUID, ref: ExternalRef
) -> None:
    """409 naming ``existing_case_id`` (only to a caller who may see that case)."""
    existing = await _case_id_by_ref(session, service_id, ref)
    if existing is None:
        return
    raise await _duplicate_ref(session, principal, service_id, existing)


async def _duplicate_ref(
    session: AsyncSession, principal: Principal, service_id: uuid.UUID, existing: uuid.UUID
) -> Conflict:
    """The 409 ``duplicate-external-ref`` of a taken reference, from POST and PUT alike: it
    names ``existing_case_id`` only to a caller who may see that case, and never the
    reference itself (the request's value, attack pass 9, A9-17). Uniqueness needs the 409,
    so a caller who may not see the case still learns that the reference is taken (README,
    restricted cases)."""
    extra = ({"existing_case_id": str(existing)}
             if await may_see_case(session, principal, service_id, existing) else {})
    return Conflict("A case with this external reference already exists.",
                    slug="duplicate-external-ref", extra=extra)


@dataclass(frozen=True)
class Upserted:
    """What an upsert did: created (201) or updated (200), and the warnings for a create;
    ``withheld``: the case is restricted and the caller a machine client, who is answered
    :class:`CaseWithheld` (its ids and version), never the case."""

    created: bool
    service: Service
    case: Case
    result: policy.PolicyResult
    possible_duplicates: list[PossibleDuplicate] = dataclasses.field(default_factory=list)
    withheld: bool = False


class CaseWithheld(BaseModel):
    """A restricted case as a machine client is answered it (the upsert of the case management
    system): its id, reference and version (for ``If-Match`` and the next delivery), nothing of
    the child, the ratings, the steps or who holds it."""

    id: uuid.UUID
    service: str
    external_ref: StoredRef | None
    restricted: bool = True
    version: int


def case_withheld(case: Case, service: Service) -> CaseWithheld:
    """Shape a restricted case for a machine client (:class:`CaseWithheld`)."""
    ref = (StoredRef(system=case.external_system, id=case.external_id)
           if case.external_system and case.external_id else None)
    return CaseWithheld(id=case.id, service=service.slug, external_ref=ref,
                        version=case.version)


async def upsert_case(
    session: AsyncSession, principal: Principal, ref: ExternalRef, body: CaseUpsert,
    ctx: policy.PolicyContext, *, if_match: str | None = None,
    if_none_match: str | None = None,
) -> Upserted:
    """Create (201) or update (200) the case with this external reference, serialised per
    reference; an update runs the policy on what changed and, when nothing did, writes
    nothing (no step, no audit entry, no event). An If-Match sent is about the case the
    reference names (RFC 9110 §13.1.1, A20-4): checked under the case's lock as a record
    made under it is (412, nothing changed); false when there is no such case yet.
    If-None-Match (RFC 9110 §13.1.2), checked under the reference's lock so that of two
    racing create-only PUTs exactly one creates: ``*`` is false when a case has this
    reference, a list of entity tags when one of them matches the case's (weak comparison):
    412 and nothing changed (attack pass 20, A20-19)."""
    service = await service_of(session, principal)
    await lock_external_ref(session, service.id, ref.system, ref.id)
    existing = await _case_id_by_ref(session, service.id, ref)
    if if_none_match is not None and existing is not None:
        _require_none_match(if_none_match, await get_case_in_service(session, service.id, existing))
    if if_match is not None:
        if existing is None:
            raise PreconditionFailed(
                "No case has this reference: a conditional update needs the case to exist.")
        session.info["if_match"] = IfMatch("case", str(existing), if_match)
    if existing is None:
        create = CaseCreate(external_ref=ref, **body.model_dump())
        service, case, result = await create_case(session, principal, create, ctx)
        return Upserted(created=True, service=service, case=case, result=result,
                        possible_duplicates=await duplicates_of(session, principal, case))
    if principal.roles & STAFF_ROLES:
        if not await may_see_case(session, principal, service.id, existing):
            # As POST answers the same reference (A9-17): taken, and not theirs to see.
            raise await _duplicate_ref(session, principal, service.id, existing)
        service, case = await get_visible_case(session, principal, existing, for_update=True)
        role = case_role_for(principal, case, ("case_holder", *MANAGERS), "change the case")
    else:
        # The case management system (the system of record) updates any case of its service,
        # restricted ones included; it is answered a restricted case's ids only (A9-19).
        require_machine_scope(principal, "cms")
        case, role = await get_case_in_service(session, service.id, existing), "feed"
    result = await _update_from_system(session, principal, service=service, case=case,
                                       role=role, body=body, ctx=ctx)
    withheld = withheld_from(principal, case)
    if withheld:
        result = result.without_next_steps()
    return Upserted(created=False, service=service, case=case, result=result,
                    withheld=withheld)


def _require_none_match(if_none_match: str, case: Case) -> None:
    """412 when an If-None-Match does not hold for the existing ``case``: ``*`` (any current
    representation) or one of its entity tags equal to the case's ETag, compared weakly as RFC
    9110 §13.1.2 says (``W/"3"`` matches ``"3"``). The problem names no stored value."""
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    if "*" in tags or case_etag(case) in tags:
        raise PreconditionFailed(
            "A case already has this reference: a create-only PUT (If-None-Match) changes "
            "nothing; read the case and send If-Match to update it.")


def _upsert_fields(body: CaseUpsert) -> dict[str, Any]:
    sent = body.model_dump(exclude={"child", "opened_at", "statutory"})
    sent.update(given_name=body.child.given_name, family_name=body.child.family_name,
                date_of_birth=body.child.date_of_birth)
    sent["statutory"] = (body.statutory if body.statutory is not None
                         else body.intervention in STATUTORY_INTERVENTIONS)
    # Unstated (null) required facts such as in_custody stay as the case has them.
    return {k: v for k, v in sent.items() if v is not None or k not in NOT_NULLABLE}


def _refuse_machine_reassignment(fields: list[str]) -> None:
    """422 ``restricted-case-reassignment`` naming each field sent: a machine client does not
    reassign a restricted case. Whether a staff id is on the access list is not its to learn
    (a restricted case is answered its ids only, A9-19), and applying a reassignment to
    someone on the list while refusing one to someone off it answered exactly that (attack
    22, A22-8): one answer whoever is named. A manager, who sees the list, reassigns it
    (PATCH); the system's later PUT naming the same holders then changes nothing."""
    raise Unprocessable(
        "A restricted case's case holder and line manager are reassigned by a manager of the "
        "case, not by the case management system.",
        slug="restricted-case-reassignment",
        errors=[{"loc": f"body.{f}", "msg": "differs from the case's: a manager reassigns a "
                                            "restricted case"} for f in fields])


async def _update_from_system(
    session: AsyncSession, principal: Principal, *, service: Service, case: Case, role: str,
    body: CaseUpsert, ctx: policy.PolicyContext,
) -> policy.PolicyResult:
    """Apply the fields that differ, then the policy on exactly those changes."""
    _check_child(body, utcnow())
    require_release_within_case(body.expected_release_date, case.opened_at)
    if body.opened_at is not None and body.opened_at != case.opened_at:
        raise Unprocessable("opened_at cannot change once the case is open.",
                            errors=[{"loc": "body.opened_at", "msg": "differs from the case"}])
    sent = {k: v for k, v in _upsert_fields(body).items() if getattr(case, k) != v}
    if "date_of_birth" in sent:
        require_child_age_at_opening(sent["date_of_birth"], case.opened_at)
    if "date_of_birth" in sent and case.opened_at < start_of_day(sent["date_of_birth"]):
        # The case would have opened before the child was born (issue 8, item 5).
        raise Unprocessable(
            "The child's date of birth would fall after the case opened.",
            slug="occurred-before-bound",
            errors=[{"loc": "body.child.date_of_birth",
                     "msg": f"must not be after the case's opened_at ({case.opened_at})"}],
            extra={"bound": {"field": "child.date_of_birth", "name": "the case's opened_at",
                             "value": case.opened_at.isoformat()}},
            withheld=Unprocessable(
                "The child's date of birth would fall after the case opened.",
                slug="occurred-before-bound",
                errors=[{"loc": "body.child.date_of_birth",
                         "msg": "must not be after the case's opened_at"}],
                extra={"bound": {"field": "child.date_of_birth",
                                 "name": "the case's opened_at"}}))
    if "date_of_birth" in sent:
        require_ten_at_opening(sent["date_of_birth"], case.opened_at)
    if REASSIGNMENT.keys() & sent.keys() and role not in (*MANAGERS, "feed"):
        raise Forbidden("Only a manager can reassign a case.")
    if REASSIGNMENT.keys() & sent.keys() and withheld_from(principal, case):
        _refuse_machine_reassignment(sorted(REASSIGNMENT.keys() & sent.keys()))
    if INTERVENTION_FIELDS & sent.keys() and role not in (*MANAGERS, "feed"):
        raise Forbidden("Only a manager (or the case management system) can change the "
                        "case's intervention.")
    if sent.keys() - ADMINISTRATIVE_FIELDS - IDENTITY_FIELDS:
        # Received now: after a recorded death, no change of the child's circumstances (A19-17).
        await require_before_final_event(session, ctx.pack_for(service, at=utcnow()), case,
                                         utcnow(), what="change the child's circumstances")
    changes = _apply_changes(case, sent)
    if not changes:
        return await policy.current(session, case)
    if "intervention" in changes:
        # Kept, so that a rule about the order still holds after it became something else.
        case.past_interventions = [*(case.past_interventions or ()),
                                   str(changes["intervention"][0])]
    if case.access_mode is not None and REASSIGNMENT.keys() & changes.keys():
        check_holders_keep_access(case.access_mode, await staff_of(session, case), case)
    # A system's update carries no act time: the change happens as it is received, and a later
    # closure may not predate it, as with a PATCH.
    now = case.updated_at = utcnow()
    mark_changed(case, now)
    note_case_act(session, case.id, now, role=role)
    session.add(case)
    await session.flush()
    moves = {REASSIGNMENT[f]: (str(changes[f][0]), str(changes[f][1]))
             for f in REASSIGNMENT if f in changes}
    wctx = WriteContext(session=session, policy=ctx, service=service, case=case,
                        principal=principal, role=role, occurred_at=now)
    await _reassign(wctx, moves=moves)
    if moves:
        await agenda.follow_holders(wctx, moves=moves)
    result = await _leave_unowed_agendas(wctx, await _run_case_changed(wctx, changes))
    await wctx.audit("case.update", entity_type="case", entity_id=case.id,
                     change={k: v[1] for k, v in _json_changes(changes).items()})
    await announce_changed(wctx, changes)
    return result


async def duplicates_of(
    session: AsyncSession, principal: Principal, case: Case
) -> list[PossibleDuplicate]:
    """Other cases the caller may see that may be about the same child (a warning)."""
    return await possible_duplicates(session, principal, case.service_id, case.given_name,
                                     case.family_name, case.date_of_birth, exclude=case.id)


async def read_case(
    session: AsyncSession, principal: Principal, case_id: uuid.UUID
) -> tuple[Service, Case, list[StepOut]]:
    """A case the caller may see, with its open steps."""
    service, case = await get_visible_case(session, principal, case_id)
    return service, case, await policy.open_steps_out(session, case.id)


def _query_key(filters: CaseFilters, panel_view: bool) -> str:
    """A short fingerprint of the query a cursor belongs to (every filter but the cursor and
    the page size, and whether it is the register's view): a cursor is valid for that query only
    (docs/integrating.md), so one page's cursor cannot be replayed against another list."""
    shape = filters.model_dump(exclude={"cursor", "limit"})
    shape["panel_view"] = panel_view
    return cursors.query_key(shape)


def _decode_cursor(cursor: str, query_key: str) -> tuple[datetime, uuid.UUID]:
    """The (created_at in UTC, case id) a caseload cursor stands for (:mod:`app.domain.cursors`:
    ``<RFC 3339 with offset>|<uuid>|<query key>``, within 2000..2200, made for this same query);
    422 ``invalid-cursor`` for anything else."""
    at, ident = cursors.decode(cursor, query_key, 2)
    return cursors.instant(at), cursors.identifier(ident)


def _encode_cursor(case: Any, query_key: str) -> str:
    return cursors.encode((case.created_at.isoformat(), str(case.id)), query_key)


# A case list reads plain rows of every case column (no ORM object per case), as named
# tuples: what :func:`case_fields` and the access log read of a case, by attribute.
# (The mapped attributes, not the table's columns: an ORM select autoflushes the session first.)
_CASE_NAMES = tuple(c.name for c in Case.__table__.columns)  # type: ignore[attr-defined]
_CASE_COLUMNS = tuple(getattr(Case, name) for name in _CASE_NAMES)
_CaseRow = namedtuple("_CaseRow", _CASE_NAMES)  # type: ignore[misc]


async def list_cases(
    session: AsyncSession, principal: Principal, filters: CaseFilters, *, panel_view: bool = False
) -> tuple[Service, list[Any], str | None]:
    """The caller's visible caseload, filtered, oldest first, cursor-paginated: up to
    ``filters.limit`` (1-200) cases in ``(created_at, id)`` order after ``filters.cursor``, and
    the cursor of the next page (None on the last); 422 ``invalid-cursor`` for a cursor this
    function did not make. ``panel_view`` widens visibility as for the register (see
    :func:`~app.domain.access.visible_cases_clause`). The cases are read-only rows with the
    attributes of a :class:`Case` (for :func:`cases_out`); on PostgreSQL their values are as
    the driver gives them (:class:`~app.core.db.PlainSelect`: enum columns as strings)."""
    service = await service_of(session, principal)
    if (filters.external_system is None) != (filters.external_id is None):
        raise Unprocessable(
            "external_system and external_id go together.",
            errors=[{"loc": "query.external_id", "msg": "give both or neither"}],
        )
    limit = max(1, min(filters.limit, MAX_PAGE))
    params: dict[str, Any] = {"yj_service": service.id, "yj_sub": principal.sub,
                              "yj_limit": limit + 1}
    if filters.case_holder_id is not None:
        params["yj_holder"] = filters.case_holder_id
    if filters.external_system is not None:
        params["yj_system"], params["yj_external_id"] = filters.external_system, \
            filters.external_id
    await cursors.ready(session)
    query_key = _query_key(filters, panel_view)
    if filters.cursor:
        params["yj_created"], params["yj_id"] = _decode_cursor(filters.cursor, query_key)
    query = _list_query(
        tuple(sorted(visibility_flags(principal, panel_view).items())),
        holder=filters.case_holder_id is not None, on_register=filters.on_register,
        external=filters.external_system is not None, after=bool(filters.cursor))
    rows = [_CaseRow._make(row) for row in await query.rows(session, params)]
    next_cursor = _encode_cursor(rows[limit - 1], query_key) if len(rows) > limit else None
    for case in rows[:limit]:
        note_read(session, principal, case)
    return service, rows[:limit], next_cursor


@functools.lru_cache(maxsize=256)
def _list_query(flags: tuple[tuple[str, bool], ...], *, holder: bool, on_register: bool | None,
                external: bool, after: bool) -> PlainSelect:
    """The statement of :func:`list_cases` for one shape (the caller's role flags, which
    filters are given, the register filter's value, whether a cursor is), built once:
    building it and its cache key was a tenth of a list's CPU. Parameters: ``yj_service``,
    ``yj_sub`` (the caller), ``yj_limit``, and as the shape needs them ``yj_holder``,
    ``yj_system`` and ``yj_external_id``, ``yj_created`` and ``yj_id`` (the cursor's case).
    ``on_register`` stays a literal: the register's partial index needs it in the plan."""
    service_id = sa.bindparam("yj_service", type_=Case.__table__.c.service_id.type)  # type: ignore[attr-defined]
    staff_id = sa.bindparam("yj_sub", type_=sa.String())
    # Exactly visible_cases_clause.
    query = sa.select(*_CASE_COLUMNS).where(visible_clause_of(staff_id, service_id, dict(flags)))
    if holder:
        query = query.where(col(Case.case_holder_id) == sa.bindparam("yj_holder"))
    if on_register is not None:
        query = query.where(col(Case.on_register) == on_register)
    if external:
        query = query.where(col(Case.external_system) == sa.bindparam("yj_system"),
                            col(Case.external_id) == sa.bindparam("yj_external_id"))
    if after:
        at: Any = sa.bindparam("yj_created")
        ident: Any = sa.bindparam("yj_id")
        query = query.where(sa.or_(col(Case.created_at) > at,
                                   sa.and_(col(Case.created_at) == at, col(Case.id) > ident)))
    return PlainSelect(query.order_by(col(Case.created_at), col(Case.id))
                       .limit(sa.bindparam("yj_limit", type_=sa.Integer())))


def _check_if_match(case: Case, if_match: str | None) -> None:
    require_if_match(case_etag(case), if_match, "case")


def custody_implied(
    stated: bool | None, release_date: date | None, at: datetime
) -> bool:
    """``in_custody`` as stated, else whether the expected release date is after ``at``'s
    Europe/London date (a child with a future release date is in custody)."""
    if stated is not None:
        return stated
    return release_date is not None and release_date > london_date(at)


@dataclass
class CasePatched:
    """What a PATCH did: the policy result and the open steps it moved to new holders."""

    result: policy.PolicyResult
    reassigned: list[Step] = field(default_factory=list)


def _patch_role(principal: Principal, case: Case, sent: dict[str, Any]) -> str:
    """The role the PATCH is made under; 403 for a field the caller's role may not change."""
    role = None
    if "closed_at" in sent:
        role = case_role_for(principal, case, CLOSERS, "close or reopen the case")
    if REASSIGNMENT.keys() & sent.keys():
        role = case_role_for(principal, case, MANAGERS, "reassign the case")
    if "access" in sent:
        role = case_role_for(principal, case, MANAGERS, "restrict the case")
    if role is not None:
        # Closing, reassigning and restricting are a manager's acts on the case holder's work
        # (A12-1: a holder on the duty rota named their own countersigner, or hid their very
        # high case from the chairs' register).
        require_not_case_holder(principal, case, who_does_it=(
            "closing, reassigning or restricting it is for its line manager or a duty manager."))
    if sent.keys() - {"closed_at", "occurred_at", "access", *REASONS, *REASSIGNMENT} \
            or role is None:
        role = case_role_for(principal, case, EDITORS, "change the case")
    return role


def _check_reasons(case: Case, sent: dict[str, Any]) -> None:
    """A closure needs ``closure_reason``, a reopening ``reopen_reason``; neither goes alone,
    and a reason sent without ``closed_at`` is refused naming ``closed_at`` (the missing half).
    Closing a closed case, or reopening an open one, is 409 ``conflicting-transition`` with the
    case's state (reopen first to correct a closure: the steps it set aside come back, and the
    closure is then dated afresh)."""
    closing = "closed_at" in sent and sent["closed_at"] is not None
    reopening = "closed_at" in sent and sent["closed_at"] is None and case.closed_at is not None
    if closing and case.closed_at is not None:
        raise ConflictingTransition(
            "The case is already closed: reopen it first to close it on another date.",
            extra={"current_status": "closed",
                   "current": {"closed_at": iso_utc(case.closed_at)}})
    if "closure_reason" in sent and "closed_at" not in sent and case.closed_at is not None:
        raise ConflictingTransition(
            "The case is already closed: closure_reason goes with closing it.",
            extra={"current_status": "closed",
                   "current": {"closed_at": iso_utc(case.closed_at)}})
    if "reopen_reason" in sent and case.closed_at is None:
        raise ConflictingTransition("The case is open: there is nothing to reopen.",
                                    extra={"current_status": "open",
                                           "current": {"closed_at": None}})
    errors = []
    for name, needed in (("closure_reason", closing), ("reopen_reason", reopening)):
        if needed and not sent.get(name):
            errors.append(_reason_error(f"body.{name}", "required",
                                        f"{_ACT[name]} a case needs {name}."))
        elif not needed and name in sent and "closed_at" not in sent:
            # The reason was given and the act's other half is what is missing (ATTACK27-6):
            # name closed_at, not the reason.
            wanted = "a time" if name == "closure_reason" else "null"
            errors.append(_reason_error(
                "body.closed_at", f"required with {name}",
                f"{_ACT[name]} a case takes closed_at ({wanted}) with {name}: closed_at is "
                "missing."))
        elif not needed and name in sent:
            act = _ACT[name].lower()
            errors.append(_reason_error(f"body.{name}", f"only with {act} the case",
                                        f"{name} goes only with {act} the case."))
    if errors:
        raise Unprocessable(" ".join(e.pop("sentence") for e in errors), errors=errors)


_ACT = {"closure_reason": "Closing", "reopen_reason": "Reopening"}


def _reason_error(loc: str, msg: str, sentence: str) -> dict[str, str]:
    return {"loc": loc, "msg": msg, "sentence": sentence}


async def patch_case(
    session: AsyncSession,
    principal: Principal,
    case_id: uuid.UUID,
    body: CasePatch,
    if_match: str | None,
    ctx: policy.PolicyContext,
) -> tuple[Service, Case, CasePatched]:
    """Change a case under optimistic locking (the case is locked first); the change re-runs
    the policy. Reassigning moves the open steps of that role; closing supersedes every open
    step but those the pack's ``survives_closure`` keeps (duties owed past the end of the
    work); reopening re-runs the policy for the case's current state."""
    sent = body.model_dump(exclude_unset=True)
    # A change of the child's circumstances that moves no step and no one (no closure,
    # reopening, reassignment or restriction) runs the policy on the case's open steps, panels
    # and absences as they stand under the lock: read with the case, by the same statement on
    # PostgreSQL, with the case's final events before the change (issue 15: three round trips
    # fewer), as a judgement's are (app.domain.judgements.record_judgement).
    plain = not sent.keys() & {"closed_at", "access", *REASSIGNMENT}
    # And its checks' reads, for a dated change or one of custody: the case's custody and
    # final events at or after its time, its field changes around it (two round trips fewer,
    # and one a field sent).
    around = plain and (body.occurred_at is not None
                        or bool(sent.keys() & {"in_custody", "expected_release_date"}))
    also = (policy.inputs_column(), final_events_column(), *(
        (events_around_column(), changes_around_column(), *later_acts_columns())
        if around else ()))
    resolved: list[datetime] = []

    def params() -> dict[str, Any]:
        # Called once the case is locked: the write's instant is taken then (A23a-1). A date
        # it refuses is refused below, after the checks that come first (404, 403, 412).
        try:
            at = resolve_occurred_at(body.occurred_at)
        except Unprocessable:
            at = utcnow()
        else:
            resolved.append(at)
        return {**policy.inputs_params(at), **final_events_params(ctx.final_types, at),
                **(events_around_params(at) if around else {})}

    service, case, open_steps, columns = await get_case_file_for_write(
        session, principal, case_id, also=also, params=params)
    sent.pop("occurred_at", None)
    role = _patch_role(principal, case, sent)
    _check_if_match(case, if_match)
    occurred_at = resolved[0] if resolved else resolve_occurred_at(body.occurred_at)
    require_within_case(case, occurred_at)
    finals = final_events_of(columns[1]) if resolved and columns is not None else None
    known = (events_around_of(columns[2]), changes_around_of(columns[3])) \
        if around and resolved and columns is not None else None
    later = LaterActs(
        bool(columns[4]), bool(columns[5]), bool(columns[6]),
        stated=any(c.act_at > occurred_at and (pair := c.changes.get("in_custody")) is not None
                   and pair[0] == pair[1] for c in known[1])) \
        if known is not None and columns is not None else None
    if sent.keys() - ADMINISTRATIVE_FIELDS:
        await require_before_final_event(session, ctx.pack_for(service, at=occurred_at), case,
                                         occurred_at, what="change the child's circumstances",
                                         known=finals)
    access_sent = "access" in sent
    sent.pop("access", None)
    bad = sorted(k for k in NOT_NULLABLE & sent.keys() if sent[k] is None)
    if bad:
        raise Unprocessable(
            "These fields cannot be null.",
            errors=[{"loc": f"body.{k}", "msg": "may not be null"} for k in bad],
        )
    _check_reasons(case, sent)
    reasons = {k: sent.pop(k) for k in REASONS if k in sent}
    was_closed_at = case.closed_at
    if sent.get("closed_at") is not None:
        sent["closed_at"] = await _closing_time(session, case, sent["closed_at"])
        closing_pack = ctx.pack_for(service, at=sent["closed_at"])
        await require_closure_assessment(session, case, closing_pack.case_closure)
        await require_no_mandatory_steps_open(session, case, closing_pack,
                                              closing_at=sent["closed_at"])
        if body.occurred_at is None:
            # A closure happens at its closed_at: the write's field changes (the register it
            # takes the case off), its events and timeline entries carry that time, not the
            # recording time (ATTACK35A-5).
            occurred_at = sent["closed_at"]
    elif "closed_at" in sent and was_closed_at is not None:
        require_not_before(occurred_at, was_closed_at, "the case's closed_at")
        # Nor before what was recorded while it was closed (a withdrawal, a serious incident
        # within Somerset 12's 20 days), nor at its instant: the reopening comes after them (an
        # act at the reopening's instant is on the open case, A25-2).
        await require_after_latest_act(session, case.id, occurred_at, "occurred_at",
                                       strictly=True)
        # A reopening takes up work with the child again (a new order): not after their
        # recorded death, as no other act about the living child is (attack 32c, ATTACK32C-9).
        await require_before_final_event(session, ctx.pack_for(service, at=occurred_at), case,
                                         occurred_at, what="reopen the case")
    if sent.get("expected_release_date") is not None and "in_custody" not in sent:
        # A future release date means the child is in custody unless the request says otherwise.
        if custody_implied(None, sent["expected_release_date"], occurred_at):
            sent["in_custody"] = True
    if sent.get("in_custody") is not None:
        # A custody move as a custody event is: not at the instant of one the other way
        # (fix38a, ATTACK37-3; docs/integrating.md §7).
        await require_no_custody_rival(session, case, bool(sent["in_custody"]), occurred_at,
                                       ctx.pack_for(service, at=occurred_at), known=known)
    if any(k in sent and sent[k] != getattr(case, k) for k in REASSIGNMENT):
        # A reassignment is dated no earlier than the latest act recorded on the case, as a
        # closure is: a back-dated handover would rewrite who held the case when those acts
        # were done, and the former-holder checks read that history (attack 24a, A24a-8).
        await require_after_latest_act(session, case.id, occurred_at, "occurred_at")
    if REASSIGNMENT.keys() & sent.keys():
        require_separate_manager(
            sent.get("case_holder_id") or case.case_holder_id,
            sent.get("line_manager_id") or case.line_manager_id,
            "body.line_manager_id" if "line_manager_id" in sent else "body.case_holder_id")
    require_release_within_case(sent.get("expected_release_date"), case.opened_at)
    pack = ctx.pack_for(service, at=occurred_at)
    waited: policy.PolicyResult | None = None
    if body.occurred_at is not None and sent.get("mappa_level") is not None and not (
            sent.keys() & {"mappa_category", "closed_at"}):
        # A level dated before the child had a category, one on file after it: it waits for
        # the category as a MAPPA message's does (ATTACK40-7), sent alone or with other
        # fields (fix42c: sent with a release date it took effect at its own date); the
        # other fields are then taken at their date as a PATCH of them alone typed after it.
        from app.domain import feeds  # noqa: PLC0415 (feeds imports this module)
        waited = await feeds.wait_level(WriteContext(
            session=session, policy=ctx, service=service, case=case, principal=principal,
            role=role, occurred_at=occurred_at), sent["mappa_level"])
        if waited is not None:
            if sent.keys() == {"mappa_level"}:
                return service, case, CasePatched(waited)
            del sent["mappa_level"]
    facts_sent = sent.pop("facts", None) or {}
    # A dated change of a field whose later change is on file (ATTACK35A-18): at its date only.
    overtaken = (await _overtaken(session, case, sent, facts_sent, occurred_at, known)
                 if body.occurred_at is not None else {})
    if body.occurred_at is not None:
        overtaken.update(await _level_before_clearing(session, case, sent, overtaken,
                                                      occurred_at))
    fact_changes = _apply_facts(case, pack, facts_sent,
                                skip={f.removeprefix("facts.") for f in overtaken})
    earlier = {f: sent.pop(f) for f in list(sent) if f in overtaken}
    earlier.update({f"facts.{k}": v for k, v in facts_sent.items() if f"facts.{k}" in overtaken})
    changes = {**_apply_changes(case, sent), **fact_changes}
    if earlier:
        await _record_overtaken(session, case, earlier, overtaken, occurred_at, role=role)
    stated = {f: to_json(getattr(case, f)) for f in sent.keys() - changes.keys()
              - {"closed_at", *REASSIGNMENT}} if body.occurred_at is not None else {}
    if stated:
        # What the field was at this date, though it changes nothing now: a change dated
        # before it, typed in after it, stands only until then (README: "a custody move typed
        # in after ... a later PATCH of in_custody, at its date"; ATTACK35A-18: a volunteer
        # left on 15 August, typed in before the attachment of the 10th). Recorded as the
        # field's own row, old and new alike (no change: app.domain.history.changes_after).
        session.add(RecordChange(
            service_id=case.service_id, case_id=case.id, entity_type="case",
            entity_id=case.id, recorded_at=utcnow(), actor_sub=actor_of(session.sync_session),
            created=False, occurred_at=occurred_at, actor_role=role,
            changes={f: [v, v] for f, v in sorted(stated.items())}))
    if access_sent:
        restriction_changed = await set_access(session, case, body.access)
    else:
        restriction_changed = False
        if case.access_mode is not None and REASSIGNMENT.keys() & changes.keys():
            check_holders_keep_access(case.access_mode, await staff_of(session, case), case)
    if not changes and not restriction_changed and not earlier:
        return service, case, CasePatched(_after(waited, await policy.current(session, case)))
    case.updated_at = utcnow()
    if "closed_at" in changes and case.closed_at is None and was_closed_at is not None:
        # Reopened: no later act may be dated while it was closed (A9-7). A reopening dated
        # a little ahead (the 5 minutes' tolerance) ends the period when it is recorded: an act
        # recorded after it, dated now, is on the reopened case.
        case.closed_periods = [*(case.closed_periods or ()),
                               closed_period(was_closed_at, min(occurred_at, case.updated_at))]
    # The change is an act on the case at its own time (a closure at its closed_at): a later
    # closure may not predate it. A restriction alone is not: who may see the record is not
    # something that happened to the child, and a closure dated at the order's end may come
    # after it (attack pass 13, A13-7).
    if changes:
        mark_changed(case, case.closed_at if "closed_at" in changes and case.closed_at
                     else occurred_at)
        note_case_act(session, case.id, occurred_at, role=role)
    session.add(case)
    await session.flush()
    wctx = WriteContext(session=session, policy=ctx, service=service, case=case,
                        principal=principal, role=role, occurred_at=occurred_at)
    rehomed: list[Step] = []
    if restriction_changed:
        await _record_restriction(wctx)
        # No open step stays with someone the restriction now shuts out (M2), nor an agenda
        # item's presenting (A15-11).
        shut_out = await _shut_out(session, case)
        rehomed = await policy.rehome_shut_out_steps(wctx, shut_out=shut_out)
        if not REASSIGNMENT.keys() & changes.keys():
            await agenda.follow_holders(wctx, moves={}, shut_out=shut_out)
    if not changes:
        if earlier:
            # Only history before a later change: the case's fields stay as that later change
            # left them; the write is audited and announced.
            await _overtaken_only(wctx, earlier, occurred_at)
            owed = await _owed_by_following(wctx, earlier, overtaken)
            if owed is not None:
                return service, case, CasePatched(_after(waited, owed), rehomed)
        return service, case, CasePatched(
            _after(waited, await policy.current(session, case)), rehomed)
    moves = {REASSIGNMENT[f]: (str(changes[f][0]), str(changes[f][1]))
             for f in REASSIGNMENT if f in changes}
    moved = rehomed + await _reassign(wctx, moves=moves)
    if moves:
        await agenda.follow_holders(
            wctx, moves=moves,
            shut_out=await _shut_out(session, case) if case.access_mode is not None else None)
    # The engine sees the change made under the role that authorised the PATCH (as the audit
    # entry records it), not the token's alphabetically first role: for a duty manager who
    # also line-manages, the policy's actor-dependent rules (S16) follow the role acting.
    # Nothing written since the case was read but the case itself: its open steps, panels
    # and absences read with it hold.
    prefetched = (plain and not rehomed and columns is not None and bool(resolved)
                  and waited is None)
    result = await _leave_unowed_agendas(
        wctx, await _run_case_changed(
            wctx, changes, dated=body.occurred_at is not None,
            open_steps=open_steps if prefetched else None,
            inputs=policy.inputs_from_column(columns[0], case)
            if prefetched and columns is not None else None,
            later=later if prefetched else None))
    if "closed_at" in changes:
        result = result.merge(await _close_or_reopen(wctx, reasons=reasons))
    if earlier:
        owed = await _owed_by_following(wctx, earlier, overtaken)
        if owed is not None:
            result = result.merge(owed)
    await wctx.audit("case.update", entity_type="case", entity_id=case.id,
                     change={**{k: v[1] for k, v in _json_changes(changes).items()},
                             **_overtaken_audit(earlier, occurred_at)})
    await announce_changed(wctx, {**changes, **dict.fromkeys(earlier)})
    return service, case, CasePatched(_after(waited, result), moved)


def _after(waited: policy.PolicyResult | None,
           result: policy.PolicyResult) -> policy.PolicyResult:
    """``result`` after a level of the same ``PATCH`` that waited for the category."""
    return result if waited is None else waited.merge(result)


async def _overtaken(session: AsyncSession, case: Case, sent: dict[str, Any],
                     facts_sent: dict[str, Any], at: datetime,
                     known: tuple[list[EventAround], list[ChangeAround]] | None = None,
                     ) -> dict[str, datetime]:
    """The fields of a dated ``PATCH`` (``facts.<name>`` for a fact) whose later change, by
    an act dated after ``at``, is on file, with that change's time: a PATCH, an upsert, a
    MAPPA message, a panel, or for ``in_custody`` a custody event (ATTACK35A-18). Dates
    count, not the order acts are typed in (docs/integrating.md): such a change is history at
    its date, not the case's current value. Reassignment and closure are refused when dated
    before the latest act (:func:`patch_case`), so never here. ``known``: the case's events
    and field changes around ``at`` as read with the case under its lock
    (:func:`~app.domain.events.events_around_column`,
    :func:`~app.domain.history.changes_around_column`): no statement of their own."""
    later: dict[str, datetime] = {}
    for name in sent.keys() - {"closed_at", *REASSIGNMENT}:
        found = await first_change_after(session, case.id, name, at,
                                         known=None if known is None else known[1])
        if name == "in_custody":
            moved: datetime | None
            if known is not None:
                moved = min((e.occurred_at for e in known[0]
                             if e.type in IN_CUSTODY_AFTER and e.occurred_at > at), default=None)
            else:
                moved = (await session.exec(select(CaseEvent.occurred_at).where(
                    col(CaseEvent.case_id) == case.id,
                    col(CaseEvent.type).in_(list(IN_CUSTODY_AFTER)),
                    col(CaseEvent.occurred_at) > at)
                    .order_by(col(CaseEvent.occurred_at)).limit(1))).first()
            if moved is not None:
                moved = _aware(moved)
                found = moved if found is None else min(found, moved)
        if found is not None:
            later[name] = found
    if facts_sent:
        for change in await field_history(session, case.id):
            if change.created or change.occurred_at <= at or "facts" not in change.changes:
                continue
            old, new = (v or {} for v in change.changes["facts"])
            for name in facts_sent:
                if old.get(name) != new.get(name):
                    later.setdefault(f"facts.{name}", change.occurred_at)
    return later


async def _level_before_clearing(session: AsyncSession, case: Case, sent: dict[str, Any],
                                 overtaken: dict[str, datetime],
                                 at: datetime) -> dict[str, datetime]:
    """A dated level for a case whose category was cleared since, judged against the category
    at its date or on file after it, as the MAPPA feed judges a message at its
    ``received_at`` (:func:`app.domain.feeds.category_from`; ATTACK37-2: the same level was
    refused by ``PATCH`` against the category now and taken by the feed): history at its
    date only, overtaken by the clearing (``{"mappa_level": when}``); else nothing, and the
    level is judged on the case now (:func:`_apply_changes`)."""
    if sent.get("mappa_level") is None or "mappa_level" in overtaken or (
            "mappa_category" in sent) or case.mappa_category is not None:
        return {}
    history = [c for c in await field_history(session, case.id)
               if "mappa_category" in c.changes]
    held = None
    for change in history:
        if not change.created and change.occurred_at > at:
            break
        held = change.changes["mappa_category"][1]
    if held is None and all(c.changes["mappa_category"][1] is None for c in history
                            if not c.created and c.occurred_at > at):
        return {}
    return {"mappa_level": history[-1].occurred_at}


async def _record_overtaken(session: AsyncSession, case: Case, earlier: dict[str, Any],
                            overtaken: dict[str, datetime], at: datetime, *,
                            role: str) -> None:
    """Record ``earlier`` (field -> value, each overtaken by a later change on file) in the
    case's history at ``at`` only: a MAPPA field or release date as a MAPPA message delivered
    late is (a row of the case at its date, read forwards: app.domain.feeds), any other as a
    back-dated act's derived value (the timeline's, at its date until the later change). The
    case's fields are not changed."""
    asserted = {f: v for f, v in earlier.items() if f in ASSERTED_FIELDS_SET}
    if asserted:
        session.add(RecordChange(
            service_id=case.service_id, case_id=case.id, entity_type="case",
            entity_id=case.id, recorded_at=utcnow(), actor_sub=actor_of(session.sync_session),
            created=False, occurred_at=at, actor_role=role,
            changes={f: [to_json(getattr(case, f)), to_json(v)] for f, v in asserted.items()}))
    facts = {f.removeprefix("facts."): v for f, v in earlier.items() if f.startswith("facts.")}
    if facts:
        held = json_value_at(await timeline_history(session, case.id), "facts", at) or {}
        merged = {k: v for k, v in {**held, **facts}.items() if v is not None}
        await note_derived_at(session, case, at, {"facts": merged},
                              until=min(overtaken[f"facts.{k}"] for k in facts))
    for name, value in earlier.items():
        if name not in asserted and not name.startswith("facts."):
            await note_derived_at(session, case, at, {name: value}, until=overtaken[name])
            await session.flush()


async def _overtaken_only(wctx: WriteContext, earlier: dict[str, Any],
                          at: datetime) -> None:
    """Audit and announce a ``PATCH`` that only recorded history before later changes."""
    case = wctx.case
    note_case_act(wctx.session, case.id, at, role=wctx.event_role)
    case.updated_at = utcnow()
    wctx.session.add(case)
    await wctx.session.flush()
    await wctx.audit("case.update", entity_type="case", entity_id=case.id,
                     change=_overtaken_audit(earlier, at))
    await policy.announce_case_fields(wctx, set(earlier))


async def _owed_by_following(wctx: WriteContext, earlier: dict[str, Any],
                             overtaken: dict[str, datetime]) -> policy.PolicyResult | None:
    """The duties owed now by the later change that overtook ``earlier``
    (:func:`~app.domain.replay.owed_by_following`),
    answered from the record."""
    result = await owed_by_following(wctx, {
        name: (value, overtaken[name]) for name, value in earlier.items()
        if not name.startswith("facts.") and name not in ASSERTED_FIELDS_SET})
    return None if result is None else await answer_from_record(wctx, result=result)


def _overtaken_audit(earlier: dict[str, Any], at: datetime) -> dict[str, Any]:
    """The audit's ``change`` of history recorded at ``at`` (``field@instant``, as the MAPPA
    feed's)."""
    return {f"{f}@{iso_utc(at)}": None if v is None else str(v) for f, v in earlier.items()}


async def announce_changed(wctx: WriteContext, changes: dict[str, Any]) -> None:
    """Announce (``case.updated``) a change of the case's fields: those the write was asked
    to change and those it derived from them (a closure takes the case off the register), with
    the act's ``occurred_at`` (ATTACK35A-5: a closure named ``closed_at`` only, with no time)."""
    await policy.announce_case_fields(
        wctx, set(changes) | case_fields_changed(wctx.session, wctx.case))


async def _run_case_changed(
    wctx: WriteContext, changes: dict[str, list[Any]], *, dated: bool = False,
    open_steps: Sequence[Step] | None = None,
    inputs: tuple[list[ScheduledPanel], dict[str, Any]] | None = None,
    later: LaterActs | None = None,
) -> policy.PolicyResult:
    """Run the policy on a change of the case's fields (``case_changed``), under the acting
    role of ``wctx`` (the one that authorised the change). A correction to a case that stays
    closed is recorded by the caller but raises no duty: closure superseded every step and
    nobody holds the case; reopening runs the policy for the state the case is in then (MAPPA
    fields, facts and ratings changed meanwhile included).

    ``dated``: the change carries its own ``occurred_at``. Dated before a judgement already
    recorded, what it asks for is asked on the ratings of its date (a volunteer attached before
    the high: no risk to plan for yet, Somerset S35), what no longer holds today goes as
    usual, and the later acts are replayed after it (the high then tells the volunteer, S28;
    attack pass 15, A15-9), as a back-dated event is.

    ``open_steps`` and ``inputs``: as :func:`policy.run` takes them (the case's open steps,
    panels and absences for ``wctx.occurred_at`` as read with the case under its lock, nothing
    of them changed since); ``later``: as :func:`replay_later_acts` takes it."""
    if wctx.case.closed_at is not None and "closed_at" not in changes:
        return await policy.current(wctx.session, wctx.case)
    event = wctx.event("case_changed", {"changes": changes})
    if not dated or "closed_at" in changes:
        return await policy.run(wctx, event=event, open_steps=open_steps, inputs=inputs)
    # A change of the case's fields comes before the judgements of its instant, as a case
    # event does (app.domain.replay.SAME_INSTANT; fix36d: a release PATCHed after a ROSH high of
    # its instant re-dated S14's review that, released first, the high had found undated).
    if not dated_before_a_rating(wctx.case, wctx.occurred_at, or_at=True):
        result = await policy.run(wctx, event=event, open_steps=open_steps, inputs=inputs)
    else:
        history = await rating_history(wctx)
        result = (await policy.run(wctx, event=event, creates=False, redates=False,
                                   open_steps=open_steps, inputs=inputs)).merge(
            await policy.run_backfill(
                wctx, event=event, ratings=ratings_at(history, wctx.occurred_at, before=True),
                later=ratings_after(history, wctx.occurred_at, before=True), strict=True))
    replayed = await replay_later_acts(wctx, since=wctx.occurred_at, judgements_at_since=True,
                                       known=later)
    if replayed is not None:
        result = result.merge(replayed)
    return await answer_from_record(wctx, result=result)


async def _leave_unowed_agendas(
    wctx: WriteContext, result: policy.PolicyResult
) -> policy.PolicyResult:
    """A change that ended the panel the case was owed (Wokingham W19's monthly review of a
    MAPPA level 1 child, its category and level cleared) takes it off the agendas of panels
    to come, kept withdrawn for audit, when nothing else brings it there (attack pass 15,
    A15-6, agenda half)."""
    if not result.superseded:
        return result
    gone = await agenda.withdraw_unowed(wctx, superseded=result.superseded)
    return result.merge(await policy.current(wctx.session, wctx.case)) if gone else result


async def _shut_out(
    session: AsyncSession, case: Case, gone: frozenset[str] = frozenset()
) -> Callable[[str], bool]:
    """Whether a staff member may no longer see the case: no longer its holder (``gone``)
    or shut out by its restriction (not allowed, or excluded)."""
    mode, staff = case.access_mode, set(await staff_of(session, case))

    def shut_out(who: str) -> bool:
        if who in gone:
            return True
        return shuts_out(mode, staff, who)
    return shut_out


async def _reassign(wctx: WriteContext, *, moves: dict[str, tuple[str, str]]) -> list[Step]:
    """Move the role's open steps to the new holders, then any other open step still with a
    former holder who may no longer see the case (M2); the moved steps."""
    case = wctx.case
    moved = await policy.reassign_open_steps(wctx, moves=moves)
    gone = frozenset(old for old, _ in moves.values()) - {case.case_holder_id,
                                                           case.line_manager_id}
    if gone:
        moved += await policy.rehome_shut_out_steps(
            wctx, shut_out=await _shut_out(wctx.session, case, gone))
    if moves:
        # Somerset 3.1 (attack pass 8, N6): the reason a step stood in was its old holder's
        # leave: it goes to the new holder unless they are away too, and a step that moved to
        # a new holder who is away stands in.
        held = {s.id for s in moved}
        changed = ", ".join(f"{actor} changed from {old} to {new}"
                            for actor, (old, new) in moves.items())
        moved += [s for s in await stand_ins.settle_case(
            wctx.session, wctx.principal, wctx.role, wctx.policy, wctx.service, case,
            today=london_date(utcnow()), why=changed) if s.id not in held]
        # Wokingham W4: an in-week deadline is its worker's ("the last day before a prolonged
        # absence"): a step that moved to another worker is counted again against theirs.
        await staff.follow_absences(wctx.session, wctx.principal, wctx.policy, moved,
                                    why=changed, at=wctx.occurred_at)
    return moved


async def _close_or_reopen(wctx: WriteContext, *, reasons: dict[str, str]) -> policy.PolicyResult:
    """Closing supersedes every open step (but the pack's ``survives_closure``: still owed,
    listed in the answer); reopening opens what the current state mandates.
    Either is audited with its reason and announced (``case.closed`` / ``case.reopened``)."""
    session, case = wctx.session, wctx.case
    if case.closed_at is not None:
        # Off the agendas of panels after the closure (a panel does not act on a closed case:
        # the item could never be decided), with the chair's duty about each; kept for the
        # audit, and not reinstated by a reopening (attack pass 11, A11-16). A panel at the
        # closure's very instant sits on the closed case too (panels.sat_while_open; A25-2).
        closing = dataclasses.replace(wctx, occurred_at=case.closed_at)
        for item, panel in await agenda.standing_items(closing, after=case.closed_at,
                                                       at_too=True):
            await agenda.withdraw_item(
                closing, item=item, panel=panel, redate=False,
                reason=f"the case was closed: {reasons['closure_reason']}")
        result = await policy.supersede_all_open(
            wctx, reason="the case was closed", closure=True)
        action, reason = "close", reasons["closure_reason"]
    else:
        # The duties open at the closure come back as they were (original due dates: an
        # overdue step is not laundered by a close and reopen), then the policy adds what
        # the case's current state mandates and is not open (never a duplicate).
        # The clock of a step not yet overdue stood still while the case was closed (A17-1):
        # the period just ended (recorded by the change above), from the closure's closed_at
        # (attack 23b, A23b-9). A step overdue when the closure was recorded stays overdue: a
        # closure dated back launders nothing (attack pass 16, A16-20: closed "a month ago"
        # and reopened at once, an AssetPlus 25 days overdue came back due next week).
        periods = case.closed_periods or []
        paused = None
        if periods:
            start = datetime.fromisoformat(periods[-1][0])
            made = await _closure_recorded_at(session, case.id)
            paused = (start, max(start, made) if made else start,
                      datetime.fromisoformat(periods[-1][1]))
        reinstated = await policy.reinstate_closed_steps(
            wctx, reason="the case was reopened", paused=paused)
        # ... except a next-panel date: the panels may have been booked, moved or cancelled
        # while the case was closed (A10-26), and one that sat then could not hear the case: a
        # step not overdue at the closure is due at the next panel from the reopening
        # (ATTACK32C-4); redate() keeps one that had passed before.
        await policy.redate_returning_next_panel_steps(
            wctx, steps=reinstated, why="the case was reopened",
            resumed=None if paused is None else (paused[1], paused[2]))
        await policy.rehome_shut_out_steps(wctx, shut_out=await _shut_out(session, case))
        # A reinstated step follows the case's line manager as they are now: away, it stands
        # in (Somerset 3.1); back, one that stood in at the closure is theirs again.
        await stand_ins.settle_case(session, wctx.principal, wctx.role, wctx.policy,
                                    wctx.service, case, today=london_date(utcnow()),
                                    why="the case was reopened")
        result = await policy.rerun_for_current_state(
            wctx, untouched=frozenset(s.id for s in reinstated))
        result = policy.PolicyResult(
            next_steps=result.next_steps, created=reinstated + result.created,
            superseded=result.superseded, evaluation=result.evaluation)
        action, reason = "reopen", reasons["reopen_reason"]
    at = case.closed_at or wctx.occurred_at
    await wctx.audit(
        f"case.{action}", entity_type="case", entity_id=case.id, reason=reason,
        change={"at": iso_utc(at), "reason": reason,
                "steps": [str(s.id) for s in result.created + result.superseded]},
    )
    event_type = {"close": "case.closed", "reopen": "case.reopened"}[action]
    # Ids and codes only, as every webhook: the reason is a manager's free text (it may name
    # anyone, on a restricted case too) and stays in the audit (attack pass 9, A9-23).
    await emit(session, event_type, case.id, service_id=wctx.service.id,
               payload={"case_id": str(case.id), "at": iso_utc(at), "role": wctx.role})
    return result


async def _record_restriction(wctx: WriteContext) -> None:
    """Audit and announce setting or lifting a restriction (no names in the outgoing event)."""
    session, case = wctx.session, wctx.case
    restricted = case.access_mode is not None
    staff = await staff_of(session, case)
    await wctx.audit(
        "case.restrict" if restricted else "case.unrestrict", entity_type="case",
        entity_id=case.id,
        change={"access": {"mode": case.access_mode, "staff": staff} if restricted else None},
    )
    await emit(session, "case.access_changed", case.id, service_id=wctx.service.id,
               payload={"case_id": str(case.id), "restricted": restricted})
    if case.access_mode is not None:  # an excluded list too (ATTACK30B-15)
        await _redact_action_escalations(wctx)


async def _redact_action_escalations(wctx: WriteContext) -> None:
    """An allow-list now restricts the case: the open escalations of its panel actions leave
    the panel's text out of their title (as :mod:`app.domain.escalation` makes them on such a
    case), so that holders of the escalation's role whom the list leaves out see it as a bare
    duty: it reaches someone who may act even when none of them is on the list."""
    subject = aliased(Step)
    rows = await wctx.session.exec(
        select(Step).join(subject, col(subject.id) == col(Step.subject_id)).where(
            Step.case_id == wctx.case.id, Step.code == ESCALATION_CODE,
            Step.status == StepStatus.open, subject.actor == "action_owner",
            Step.title != RESTRICTED_ACTION_ESCALATION))
    for step in rows.all():
        step.title = RESTRICTED_ACTION_ESCALATION
        wctx.session.add(step)
        await wctx.audit("step.retitle", entity_type="step", entity_id=step.id,
                         reason="an allow-list restricts the case: the panel's text stays on it",
                         change={"code": step.code, "title": step.title})


async def _closing_time(session: AsyncSession, case: Case, closed_at: datetime) -> datetime:
    """A closure time that is not in the future, not before the case opened and after the
    latest act already recorded on the case (:func:`app.domain.acts.latest_act_at`; not at its
    instant either: the case is closed from its closure's, A25-2); 422
    ``occurred-before-bound`` naming the bound otherwise."""
    closed_at = resolve_occurred_at(closed_at, field="closed_at")
    require_within_case(case, closed_at, "closed_at")
    await require_after_latest_act(session, case.id, closed_at, "closed_at", strictly=True)
    return closed_at


async def require_closure_assessment(
    session: AsyncSession, case: Case, rule: CaseClosure | None
) -> None:
    """422 ``closure-assessment-required`` unless the case has the complete (countersigned)
    closing assessment its pack requires before closure (Wokingham: a closure or Transfer to
    Probation Asset+ for statutory Orders, bail and remand), or an event that lifts it (a
    death). The problem names what is missing and the closing assessments not yet complete.

    The rule holds for a case that is, or ever was, of one of the rule's interventions
    (:func:`ever_of`): an order turned into a prevention case still had its order (A9-8). The
    closing assessment must also be the case's last word on risk: submitted no earlier than its
    latest judgement (other than those recorded with it), event or panel decision (A9-3:
    a closure Asset+ countersigned on 1 September let the case close after a very high ROSH on
    2 October that it never assessed). A stale one is named with the act it predates."""
    if rule is None or not ever_of(case, rule.interventions):
        return
    rows = (await session.exec(select(
        Assessment.id, Assessment.status, Assessment.submitted_at, Assessment.occurred_at,
    ).where(
        Assessment.case_id == case.id, col(Assessment.type).in_(rule.assessment_types),
        col(Assessment.stage).in_(rule.assessment_stages)))).all()
    complete = [r for r in rows if r[1] == AssessmentStatus.countersigned]
    stale: list[dict[str, Any]] = []
    for ident, _, submitted_at, occurred_at in complete:
        later = await _latest_risk_act(session, case.id, ident)
        if later is None or _aware(submitted_at or occurred_at) >= later:
            return
        stale.append({"id": str(ident), "status": "countersigned",
                      "predates": iso_utc(later)})
    if rule.unless_event_types and (await session.exec(select(CaseEvent.id).where(
            CaseEvent.case_id == case.id,
            col(CaseEvent.type).in_(rule.unless_event_types)).limit(1))).first():
        return
    pending = [{"id": str(ident), "status": str(status)} for ident, status, _, _ in rows
               if status != AssessmentStatus.countersigned]
    wanted = f"a countersigned {' or '.join(rule.assessment_types)} assessment at stage " \
             f"{' or '.join(rule.assessment_stages)}"
    if stale:
        msg = f"missing: {wanted} submitted after the case's latest judgement, event or " \
              "panel decision; the case's predate it"
    else:
        msg = f"missing: {wanted}" + ("; the case's are not yet countersigned" if pending
                                      else "")
    raise Unprocessable(
        rule.detail, slug="closure-assessment-required",
        errors=[{"loc": "body.closed_at", "msg": msg}],
        extra={"rule": rule.rule_id, "policy_ref": rule.ref, "required": {
            "assessment_types": list(rule.assessment_types),
            "assessment_stages": list(rule.assessment_stages),
            "status": "countersigned"}, "closing_assessments": stale + pending})


async def _latest_risk_act(
    session: AsyncSession, case_id: uuid.UUID, assessment_id: uuid.UUID
) -> datetime | None:
    """When the case's risk picture last moved (aware UTC): its latest judgement not recorded
    with ``assessment_id``, event (``occurred_at``) or panel decision; None for none."""
    columns: list[Any] = [
        sa.select(sa.func.max(col(Judgement.occurred_at))).where(
            col(Judgement.case_id) == case_id,
            sa.or_(col(Judgement.assessment_id).is_(None),
                   col(Judgement.assessment_id) != assessment_id)),
        sa.select(sa.func.max(col(CaseEvent.occurred_at))).where(
            col(CaseEvent.case_id) == case_id),
        sa.select(sa.func.max(col(PanelItem.decided_at))).where(
            col(PanelItem.case_id) == case_id),
    ]
    found = (await session.exec(select(*(c.scalar_subquery() for c in columns)))).one()
    return max((_aware(m) for m in found if m is not None), default=None)


def _aware(moment: datetime) -> datetime:
    """SQLite may give naive UTC back from an aggregate; PostgreSQL aware."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


async def _closure_recorded_at(session: AsyncSession, case_id: uuid.UUID) -> datetime | None:
    """When the case's latest closure was recorded (its ``case.close`` audit entry, aware
    UTC); None for none."""
    found = (await session.exec(select(sa.func.max(col(AuditEntry.at))).where(
        col(AuditEntry.case_id) == case_id, col(AuditEntry.action) == "case.close"))).one()
    return _aware(found) if found is not None else None


def ever_of(case: Case, interventions: Sequence[str]) -> bool:
    """Whether the case is, or was at any time, of one of ``interventions``: its intervention
    now, or one it had before a change (``case.past_interventions``)."""
    return any(str(i) in interventions
               for i in (case.intervention, *(case.past_interventions or ())))


async def require_no_mandatory_steps_open(
    session: AsyncSession, case: Case, pack: Pack, *, closing_at: datetime | None = None
) -> None:
    """409 ``mandatory-steps-open`` while the case has an open step the pack declares
    ``not_waivable``, naming those steps (id, code, rule, paragraph; no request value).

    Closure supersedes the open steps (but ``survives_closure``), so closing a case with such
    a step open would set aside a duty no manager may waive (attack pass 9, A9-9): Somerset
    3.2.4's child protection referral after a very high SWB ("Immediate actions are needed ...
    which will include (or has already included) a referral to statutory child protection
    services"), 3.2.3's MARP referral, 7.2.3's booked MARP review ("the case will remain
    relevant to ongoing MARP oversight"), Wokingham's High-Risk Panel request "within two
    working days". The duties are refused closure rather than
    kept open past it: a closed case takes no act that could do them (only what a pack reaches
    past closure: Somerset 12's notification "up to 20 days following the end of supervision"),
    and the seeds ask a closing duty to be done before the case closes (Wokingham's closure
    Asset+, W3). Do the duty, or record the act that answers it, then close. A recorded death
    ends these steps (the pack's ``ends_steps``), so a case closes after a death as before.

    A case closed (``closing_at``) on or after the transfer date of a recorded event whose
    type declares ``closure_sets_aside`` (a transfer out: Somerset 13.4, the receiving service
    supervises the child) closes with those steps open, setting them aside with the others: a
    MARP review booked here does not keep a transferred child's case open (A19-21).

    A step of the pack's ``closure_ends_booked`` (a panel review) booked for after the closure
    and not overdue when it is recorded does not block it: the closure ends it, with its reason
    (:func:`app.domain.policy.booked_after_closure`; attack 24b, A24b-4: a child who stays High
    could never be closed at the end of the order)."""
    if not pack.not_waivable:
        return
    codes = set(pack.not_waivable)
    if closing_at is not None:
        codes -= await _set_aside_by_transfer(session, case, pack, closing_at)
    rows = [s for s in (await session.exec(select(Step).where(
        Step.case_id == case.id, Step.status == StepStatus.open,
        col(Step.code).in_(sorted(codes)),
    ).order_by(col(Step.created_at), col(Step.id)))).all()
        if not (closing_at is not None and policy.booked_after_closure(pack, s, closing_at))]
    if not rows:
        return
    raise Conflict(
        "The case has open duties its policy mandates without exception: do them (or record "
        "the act that answers them) before closing the case.",
        slug="mandatory-steps-open",
        extra={"steps": [{"id": str(s.id), "code": s.code, "rule": s.rule_id,
                          "policy_ref": s.policy_ref} for s in rows]})


async def _set_aside_by_transfer(
    session: AsyncSession, case: Case, pack: Pack, closing_at: datetime
) -> set[str]:
    """The step codes a closure at ``closing_at`` may set aside although ``not_waivable``: the
    ``closure_sets_aside`` of each declared type's event that stands (the latest of the type
    recorded, not followed by a transfer in: :func:`app.domain.transfers.standing`) whose
    ``transfer_date`` is on or before the closure's London date (the transfer has happened).
    A postponed transfer's first date, or a transfer reversed by the child's transfer back in,
    sets nothing aside: the child is still this service's (attack pass 21, A21a-6)."""
    declared = {e.id: e.closure_sets_aside for e in pack.event_types if e.closure_sets_aside}
    aside: set[str] = set()
    for kind, codes in declared.items():
        row = await transfers.standing(session, case.id, kind)
        on = row.transfer_date if row is not None else None
        if on is not None and on <= london_date(closing_at):
            aside.update(codes)
    return aside


def _apply_facts(case: Case, pack: Pack, sent: dict[str, Any],
                 skip: set[str] | frozenset[str] = frozenset()) -> dict[str, list[Any]]:
    """Set the case facts sent (each declared by the pack, of its type); 422 listing the allowed
    facts or values. Changes are keyed ``facts.<name>`` (the engine's ``changed`` atoms).
    ``skip``: facts checked but not set (a later change of theirs is on file), their parsed
    values left in ``sent``."""
    parsed, errors = parse_declared(sent, pack.fact, (f.id for f in pack.facts),
                                    loc="body.facts", what="a case fact")
    if errors:
        raise Unprocessable("The case facts do not match the service's policy.",
                            slug="invalid-facts", errors=errors)
    facts = dict(case.facts or {})
    changes = {}
    for name, value in parsed.items():
        if name in skip:
            sent[name] = value
            continue
        if facts.get(name) != value:
            changes[f"facts.{name}"] = [facts.get(name), value]
        if value is None:
            facts.pop(name, None)
        else:
            facts[name] = value
    if changes:
        case.facts = facts  # reassigned, so the JSON column change is tracked
    return changes


def _apply_changes(case: Case, sent: dict[str, Any]) -> dict[str, list[Any]]:
    changes: dict[str, list[Any]] = {}
    for name, new in sent.items():
        old = getattr(case, name)
        if old != new:
            changes[name] = [old, new]
            setattr(case, name, new)
    require_mappa_category(case.mappa_category, case.mappa_level)
    return changes


def _json_changes(changes: dict[str, list[Any]]) -> dict[str, list[Any]]:
    return {k: [str(v[0]) if v[0] is not None else None, str(v[1]) if v[1] is not None else None]
            for k, v in changes.items()}

