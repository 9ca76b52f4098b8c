"""Cases: create, read (with ratings and open steps), list the caseload, change with ETags."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import date, datetime
from typing import Annotated, Any

import sqlalchemy as sa
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.errors import (
    Conflict,
    Forbidden,
    PreconditionFailed,
    PreconditionRequired,
    Unprocessable,
)
from app.core.security import Principal
from app.domain import policy
from app.domain.access import (
    MANAGERS,
    case_role_for,
    get_visible_case,
    service_of,
    visible_cases_clause,
)
from app.domain.audit import record_audit
from app.domain.cases_table import (
    STATUTORY_INTERVENTIONS,
    Case,
    ContactLevel,
    CscStatus,
    Intervention,
)
from app.domain.common import PlausibleDate, require_mappa_category, resolve_occurred_at, utcnow
from app.domain.outbox import emit
from app.domain.restriction import (
    AccessOut,
    CaseAccess,
    check_holders_keep_access,
    set_access,
    staff_of,
)
from app.domain.services import Service
from app.domain.steps import StepOut
from app.workflows.packs import Pack

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
StaffId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
RefPart = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
MAX_PAGE = 200


class ExternalRef(BaseModel):
    """A case's id in another system (e.g. IYSS)."""

    model_config = ConfigDict(extra="forbid")
    system: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    id: RefPart


class Child(BaseModel):
    """The child the case is about."""

    model_config = ConfigDict(extra="forbid")
    given_name: Name
    family_name: Name
    date_of_birth: PlausibleDate


class CaseCreate(BaseModel):
    """Body of ``POST /v1/cases``."""

    model_config = ConfigDict(extra="forbid")
    external_ref: ExternalRef | None = None
    child: Child
    case_holder_id: StaffId
    line_manager_id: StaffId
    intervention: Intervention
    statutory: bool | None = None
    csc_status: CscStatus
    weapon_related: bool = False
    mappa_category: Annotated[int, Field(ge=1, le=3)] | None = None
    mappa_level: Annotated[int, Field(ge=1, le=3)] | None = None
    expected_release_date: PlausibleDate | None = None
    in_custody: bool = False
    volunteer_attached: bool = False
    opened_at: AwareDatetime | None = None


class CasePatch(BaseModel):
    """Body of ``PATCH /v1/cases/{id}``: only the fields sent are changed."""

    model_config = ConfigDict(extra="forbid")
    csc_status: CscStatus | None = None
    mappa_category: Annotated[int, Field(ge=1, le=3)] | None = None
    mappa_level: Annotated[int, Field(ge=1, le=3)] | None = None
    expected_release_date: PlausibleDate | None = None
    in_custody: bool | None = None
    volunteer_attached: bool | None = None
    weapon_related: bool | None = None
    case_holder_id: StaffId | None = None
    line_manager_id: StaffId | None = None
    closed_at: AwareDatetime | None = None
    facts: dict[Annotated[str, StringConstraints(max_length=32)], Any] | None = Field(
        default=None, max_length=50,
        description="case facts the service's pack declares (GET /v1/policy-packs/{id}: facts),"
                    " by name; null unsets one; facts not sent are kept")
    occurred_at: AwareDatetime | None = None
    access: CaseAccess | None = None


NOT_NULLABLE = {"csc_status", "in_custody", "volunteer_attached", "weapon_related",
                "case_holder_id", "line_manager_id"}
REASSIGNMENT = {"case_holder_id", "line_manager_id"}


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
    external_ref: ExternalRef | None
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


def etag_of(case: Case) -> str:
    """The strong ETag of a case: its version."""
    return f'"{case.version}"'


def case_out(
    case: Case, service: Service, open_steps: list[StepOut], access: AccessOut | None = None
) -> CaseOut:
    """Shape a case for the API (``access`` only for callers who may see the list)."""
    ext = (
        ExternalRef(system=case.external_system, id=case.external_id)
        if case.external_system and case.external_id else None
    )
    ratings = {d: RatingOut(**v) for d, v in (case.ratings or {}).items() if v}
    return CaseOut(
        id=case.id, service=service.slug, external_ref=ext,
        child=Child(given_name=case.given_name, family_name=case.family_name,
                    date_of_birth=case.date_of_birth),
        case_holder_id=case.case_holder_id, line_manager_id=case.line_manager_id,
        intervention=case.intervention, statutory=case.statutory, csc_status=case.csc_status,
        weapon_related=case.weapon_related, mappa_category=case.mappa_category,
        mappa_level=case.mappa_level, expected_release_date=case.expected_release_date,
        in_custody=case.in_custody, volunteer_attached=case.volunteer_attached,
        opened_at=case.opened_at, closed_at=case.closed_at, ratings=RatingsOut(**ratings),
        facts=dict(case.facts or {}), scores=dict(case.scores or {}),
        on_register=case.on_register, contact_level=case.contact_level,
        open_steps=open_steps, restricted=case.access_mode is not None, access=access,
        version=case.version,
    )


def _check_child(body: CaseCreate, now: datetime) -> None:
    if body.child.date_of_birth > now.date():
        raise Unprocessable(
            "The child's date of birth is in the future.",
            errors=[{"loc": "body.child.date_of_birth", "msg": "must not be in the future"}],
        )
    require_mappa_category(body.mappa_category, body.mappa_level)


async def create_case(
    session: AsyncSession, principal: Principal, body: CaseCreate, ctx: policy.PolicyContext
) -> tuple[Service, Case, policy.PolicyResult]:
    """Open a case; answer with the steps its opening mandates (S1/S2, W1)."""
    service = await service_of(session, principal)
    now = utcnow()
    opened_at = resolve_occurred_at(body.opened_at, now, "opened_at")
    _check_child(body, now)
    if principal.has("case_holder") and not principal.has("line_manager", "duty_manager", "feed"):
        if body.case_holder_id != principal.sub:
            raise Forbidden("A case holder can only open cases they hold.")
    if body.external_ref is not None:
        await _refuse_duplicate_ref(session, service.id, body.external_ref)
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
        expected_release_date=body.expected_release_date, in_custody=body.in_custody,
        volunteer_attached=body.volunteer_attached, opened_at=opened_at,
    )
    session.add(case)
    await session.flush()
    result = await policy.run(
        session, ctx, service, case, principal,
        policy.event("case_opened", opened_at, case.id, principal, {}),
    )
    if case.mappa_category is not None:
        changes = {"mappa_category": [None, case.mappa_category]}
        if case.mappa_level is not None:
            changes["mappa_level"] = [None, case.mappa_level]
        more = await policy.run(
            session, ctx, service, case, principal,
            policy.event("case_changed", opened_at, case.id, principal, {"changes": changes}),
        )
        result = result.merge(more)
    await record_audit(
        session, principal, "case.create", "case", case.id, service_id=service.id,
        case_id=case.id, change=body.model_dump(mode="json"),
    )
    await emit(session, "case.opened", case.id, service_id=service.id,
               payload={"case_id": str(case.id)})
    return service, case, result


async def _refuse_duplicate_ref(
    session: AsyncSession, service_id: uuid.UUID, ref: ExternalRef
) -> None:
    existing = await session.exec(
        select(Case.id).where(
            Case.service_id == service_id,
            Case.external_system == ref.system,
            Case.external_id == ref.id,
        )
    )
    if existing.first() is not None:
        raise Conflict(
            f"A case with external reference {ref.system}/{ref.id} already exists.",
            slug="duplicate-external-ref",
        )


async def read_case(
    session: AsyncSession, principal: Principal, case_id: uuid.UUID
) -> tuple[Service, Case, list[StepOut]]:
    """A case the caller may see, with its open steps."""
    service, case = await get_visible_case(session, principal, case_id)
    return service, case, await policy.open_steps_out(session, case.id)


def _decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor.encode() + b"==").decode()
        at, _, ident = raw.partition("|")
        return datetime.fromisoformat(at), uuid.UUID(ident)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise Unprocessable(
            "The cursor is not valid.", errors=[{"loc": "query.cursor", "msg": "invalid cursor"}]
        ) from exc


def _encode_cursor(case: Case) -> str:
    raw = f"{case.created_at.isoformat()}|{case.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


async def list_cases(
    session: AsyncSession, principal: Principal, filters: CaseFilters
) -> tuple[Service, list[Case], str | None]:
    """The caller's visible caseload, filtered, oldest first, cursor-paginated."""
    service = await service_of(session, principal)
    query = select(Case).where(visible_cases_clause(principal, service.id))
    if filters.case_holder_id is not None:
        query = query.where(Case.case_holder_id == filters.case_holder_id)
    if filters.on_register is not None:
        query = query.where(Case.on_register == filters.on_register)
    if (filters.external_system is None) != (filters.external_id is None):
        raise Unprocessable(
            "external_system and external_id go together.",
            errors=[{"loc": "query.external_id", "msg": "give both or neither"}],
        )
    if filters.external_system is not None:
        query = query.where(
            Case.external_system == filters.external_system,
            Case.external_id == filters.external_id,
        )
    if filters.cursor:
        at, ident = _decode_cursor(filters.cursor)
        query = query.where(
            sa.or_(
                col(Case.created_at) > at,
                sa.and_(col(Case.created_at) == at, col(Case.id) > ident),
            )
        )
    limit = max(1, min(filters.limit, MAX_PAGE))
    query = query.order_by(Case.created_at, Case.id).limit(limit + 1)  # type: ignore[arg-type]
    rows = list((await session.exec(query)).all())
    next_cursor = _encode_cursor(rows[limit - 1]) if len(rows) > limit else None
    return service, rows[:limit], next_cursor


def _check_if_match(case: Case, if_match: str | None) -> None:
    if if_match is None:
        raise PreconditionRequired("Send If-Match with the case's ETag to change it.")
    tags = [t.strip().removeprefix("W/") for t in if_match.split(",")]
    if "*" in tags:  # would skip the lost-update check this header exists for
        raise PreconditionRequired("Send the case's ETag in If-Match, not '*'.")
    if etag_of(case) not in tags:
        raise PreconditionFailed(
            "The case has changed since you read it; fetch it again and retry.",
            extra={"current_etag": etag_of(case)},
        )


async def patch_case(
    session: AsyncSession,
    principal: Principal,
    case_id: uuid.UUID,
    body: CasePatch,
    if_match: str | None,
    ctx: policy.PolicyContext,
) -> tuple[Service, Case, policy.PolicyResult]:
    """Change a case under optimistic locking; the change re-runs the policy rules."""
    service, case = await get_visible_case(session, principal, case_id)
    role = case_role_for(principal, case, ("case_holder", *MANAGERS), "change the case")
    _check_if_match(case, if_match)
    sent = body.model_dump(exclude_unset=True)
    occurred_at = resolve_occurred_at(sent.pop("occurred_at", None))
    access_sent = "access" in sent
    sent.pop("access", None)
    if REASSIGNMENT & sent.keys() and role not in MANAGERS:
        raise Forbidden("Only a manager can reassign a case.")
    if access_sent and role not in MANAGERS:
        raise Forbidden("Only a manager can restrict a case.")
    bad = sorted(k for k in NOT_NULLABLE & sent.keys() if sent[k] is None)
    if bad:
        raise Unprocessable(
            "These fields cannot be null.",
            errors=[{"loc": f"body.{k}", "msg": "may not be null"} for k in bad],
        )
    if sent.get("closed_at") is not None:
        sent["closed_at"] = _closing_time(case, sent["closed_at"])
    fact_changes = _apply_facts(case, ctx.pack_for(service), sent.pop("facts", None) or {})
    changes = {**_apply_changes(case, sent), **fact_changes}
    if access_sent:
        restriction_changed = await set_access(session, case, body.access)
    else:
        restriction_changed = False
        if case.access_mode is not None and REASSIGNMENT & changes.keys():
            check_holders_keep_access(case.access_mode, await staff_of(session, case), case,
                                      "body.case_holder_id")
    if not changes and not restriction_changed:
        return service, case, await policy.current(session, case)
    case.updated_at = utcnow()
    session.add(case)
    await session.flush()
    if restriction_changed:
        await _record_restriction(session, principal, service, case, role)
    if not changes:
        return service, case, await policy.current(session, case)
    result = await policy.run(
        session, ctx, service, case, principal,
        policy.event("case_changed", occurred_at, case.id, principal, {"changes": changes}),
        role=role,
    )
    if "closed_at" in changes and case.closed_at is not None:
        result = result.merge(await policy.supersede_all_open(
            session, service, case, principal, role, "the case was closed"))
    await record_audit(
        session, principal, "case.update", "case", case.id, service_id=service.id,
        case_id=case.id, change={k: v[1] for k, v in _json_changes(changes).items()}, role=role,
    )
    await emit(session, "case.updated", case.id, service_id=service.id,
               payload={"case_id": str(case.id), "fields": sorted(changes)})
    return service, case, result


async def _record_restriction(
    session: AsyncSession, principal: Principal, service: Service, case: Case, role: str
) -> None:
    """Audit and announce setting or lifting a restriction (no names in the outgoing event)."""
    restricted = case.access_mode is not None
    staff = await staff_of(session, case)
    await record_audit(
        session, principal, "case.restrict" if restricted else "case.unrestrict", "case",
        case.id, service_id=service.id, case_id=case.id, role=role,
        change={"access": {"mode": case.access_mode, "staff": staff} if restricted else None},
    )
    await emit(session, "case.access_changed", case.id, service_id=service.id,
               payload={"case_id": str(case.id), "restricted": restricted})


def _closing_time(case: Case, closed_at: datetime) -> datetime:
    """A closure time that is not in the future and not before the case opened."""
    closed_at = resolve_occurred_at(closed_at, field="closed_at")
    if closed_at < case.opened_at:
        raise Unprocessable(
            "A case cannot close before it opened.",
            errors=[{"loc": "body.closed_at", "msg": f"before opened_at {case.opened_at}"}],
        )
    return closed_at


def _apply_facts(case: Case, pack: Pack, sent: dict[str, Any]) -> dict[str, list[Any]]:
    """Set the case facts sent (each declared by the pack, of its type); 422 listing the allowed
    facts or values. Changes are keyed ``facts.<name>`` (the engine's ``changed`` atoms)."""
    errors, parsed = [], {}
    for name, value in sent.items():
        fact = pack.fact(name)
        if fact is None:
            allowed = ", ".join(f.id for f in pack.facts) or "none"
            errors.append({"loc": f"body.facts.{name}",
                           "msg": f"not a case fact of this service's policy (allowed: {allowed})"})
            continue
        try:
            parsed[name] = fact.parse(value)
        except ValueError as exc:
            errors.append({"loc": f"body.facts.{name}", "msg": str(exc)})
    if errors:
        raise Unprocessable("The case facts do not match the service's policy.",
                            slug="invalid-facts", errors=errors)
    facts = dict(case.facts or {})
    changes = {}
    for name, value in parsed.items():
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
    for field, new in sent.items():
        old = getattr(case, field)
        if old != new:
            changes[field] = [old, new]
            setattr(case, field, new)
    require_mappa_category(case.mappa_category, case.mappa_level)
    return changes


def _json_changes(changes: dict[str, list[Any]]) -> dict[str, list[Any]]:
    return {k: [str(v[0]) if v[0] is not None else None, str(v[1]) if v[1] is not None else None]
            for k, v in changes.items()}

