"""Cases: open, read, list the caseload, change under If-Match."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Path, Query, Request, Response
from fastapi.responses import HTMLResponse

from app.core.deps import CurrentPrincipal, Session
from app.core.problems import problem_responses
from app.domain import cases as svc
from app.domain.access import MANAGERS, case_role_for, get_visible_case, require_roles
from app.domain.access_log import AccessLogOut, case_access_log
from app.domain.audit import AuditOut, case_audit
from app.domain.duplicates import PossibleDuplicate
from app.domain.restriction import access_view
from app.domain.subject_access import EXPORTERS, SubjectAccessExport, export, to_html
from app.routers.envelopes import Page, Read, Written

router = APIRouter(prefix="/v1/cases", tags=["cases"])
NO_EDGE_SPACE = r"^\S(?:.*\S)?$"
SystemPart = Annotated[str, Path(min_length=1, max_length=64, pattern=NO_EDGE_SPACE)]
IdPart = Annotated[str, Path(min_length=1, max_length=128, pattern=NO_EDGE_SPACE)]


class CaseWritten(Written[svc.CaseOut]):
    """A case write; on a create, other cases that may be about the same child (a warning)."""

    possible_duplicates: list[PossibleDuplicate] = []


@router.post("", status_code=201, response_model=CaseWritten)
async def open_case(
    body: svc.CaseCreate, request: Request, response: Response, session: Session,
    principal: CurrentPrincipal,
) -> CaseWritten:
    """Open a case; answers the steps its opening mandates, and `possible_duplicates`: cases
    you may see with the same date of birth and a similar name (409 names `existing_case_id`
    for a taken external reference)."""
    require_roles(principal, ("case_holder", *MANAGERS, "feed"), "open cases")
    service, case, result = await svc.create_case(
        session, principal, body, request.app.state.policy
    )
    response.headers["ETag"] = svc.etag_of(case)
    response.headers["Location"] = f"/v1/cases/{case.id}"
    return CaseWritten(data=svc.case_out(case, service, result.next_steps),
                       next_steps=result.next_steps,
                       possible_duplicates=await svc.duplicates_of(session, principal, case))


@router.put("/by-external-ref/{system}/{external_id}", response_model=CaseWritten,
            responses={201: {"model": CaseWritten, "description": "Created"}})
async def upsert_case(
    system: SystemPart, external_id: IdPart, body: svc.CaseUpsert, request: Request,
    response: Response, session: Session, principal: CurrentPrincipal,
) -> CaseWritten:
    """Create (201) or update (200) the case a case management system knows by this reference;
    the same body again is 200 and writes nothing (no step, no audit entry)."""
    require_roles(principal, ("case_holder", *MANAGERS, "feed"), "open or change cases")
    ref = svc.ExternalRef(system=system, id=external_id)
    done = await svc.upsert_case(session, principal, ref, body, request.app.state.policy)
    response.status_code = 201 if done.created else 200
    response.headers["ETag"] = svc.etag_of(done.case)
    response.headers["Location"] = f"/v1/cases/{done.case.id}"
    return CaseWritten(data=svc.case_out(done.case, done.service, done.result.next_steps),
                       next_steps=done.result.next_steps,
                       possible_duplicates=done.possible_duplicates)


@router.get("", response_model=Page[svc.CaseOut])
async def list_cases(
    session: Session,
    principal: CurrentPrincipal,
    case_holder_id: Annotated[str | None, Query(max_length=128)] = None,
    on_register: bool | None = None,
    external_system: Annotated[str | None, Query(max_length=64)] = None,
    external_id: Annotated[str | None, Query(max_length=128)] = None,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    limit: Annotated[int, Query(ge=1, le=svc.MAX_PAGE)] = 50,
) -> Page[svc.CaseOut]:
    """The caller's visible caseload (filters: holder, register, external ref)."""
    filters = svc.CaseFilters(
        case_holder_id=case_holder_id, on_register=on_register, external_system=external_system,
        external_id=external_id, cursor=cursor, limit=limit,
    )
    service, cases, next_cursor = await svc.list_cases(session, principal, filters)
    steps = await svc.policy.open_steps_by_case(session, [c.id for c in cases])
    out = [svc.case_out(c, service, steps[c.id]) for c in cases]
    return Page(data=out, next_cursor=next_cursor)


@router.get("/{case_id}", response_model=Read[svc.CaseOut])
async def read_case(
    case_id: uuid.UUID, response: Response, session: Session, principal: CurrentPrincipal
) -> Read[svc.CaseOut]:
    """A case with its current ratings, register state, contact level and open steps."""
    service, case, steps = await svc.read_case(session, principal, case_id)
    response.headers["ETag"] = svc.etag_of(case)
    access = await access_view(session, principal, case)
    return Read(data=svc.case_out(case, service, steps, access))


@router.patch("/{case_id}", response_model=Written[svc.CaseOut],
              responses=problem_responses(412, 428))
async def patch_case(
    case_id: uuid.UUID,
    body: svc.CasePatch,
    request: Request,
    response: Response,
    session: Session,
    principal: CurrentPrincipal,
    if_match: Annotated[str | None, Header(max_length=200)] = None,
) -> Written[svc.CaseOut]:
    """Change a case (If-Match required); the change re-runs the policy rules.

    Managers may restrict the case with `access: {allowed_staff: [...]}` or
    `{excluded_staff: [...]}` (`access: null` lifts it): staff without access then get 404
    everywhere, as if the case did not exist."""
    service, case, result = await svc.patch_case(
        session, principal, case_id, body, if_match, request.app.state.policy
    )
    response.headers["ETag"] = svc.etag_of(case)
    access = await access_view(session, principal, case)
    return Written(data=svc.case_out(case, service, result.next_steps, access),
                   next_steps=result.next_steps)


@router.get("/{case_id}/audit", response_model=Read[list[AuditOut]])
async def audit(
    case_id: uuid.UUID, session: Session, principal: CurrentPrincipal
) -> Read[list[AuditOut]]:
    """Every write on the case: who, role, what, when (managers and chairs)."""
    require_roles(principal, (*MANAGERS, "chair"), "read the audit trail")
    _, case = await get_visible_case(session, principal, case_id)
    return Read(data=await case_audit(session, case.id))


@router.get("/{case_id}/access-log", response_model=Read[list[AccessLogOut]])
async def access_log(
    case_id: uuid.UUID, request: Request, session: Session, principal: CurrentPrincipal
) -> Read[list[AccessLogOut]]:
    """Reads of the case, newest first: who, role, what, when, request id (the case's line
    manager, duty managers, chairs)."""
    readers = (*MANAGERS, "chair")
    require_roles(principal, readers, "read the access log")
    _, case = await get_visible_case(session, principal, case_id)
    case_role_for(principal, case, readers, "read the access log")
    await request.app.state.access_log.flush()  # this process's latest reads too
    return Read(data=await case_access_log(session, case.id))


@router.get("/{case_id}/subject-access-export", response_model=Read[SubjectAccessExport],
            responses={200: {"content": {"text/html": {}}}})
async def subject_access_export(
    case_id: uuid.UUID, session: Session, principal: CurrentPrincipal,
    format: Annotated[Literal["json", "html"], Query()] = "json",
    redact: bool = True,
) -> Read[SubjectAccessExport] | HTMLResponse:
    """Everything held about the child across their cases (managers, chairs): records,
    judgements, assessments, events, referrals, panels, steps, audit; third-party personal
    data redacted and listed unless `redact=false`. The export itself is audited;
    `format=html` prints cleanly."""
    require_roles(principal, EXPORTERS, "export the case file")
    doc = await export(session, principal, case_id, redact=redact)
    if format == "html":
        return HTMLResponse(to_html(doc))
    return Read(data=doc)
