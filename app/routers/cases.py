"""Cases: open, read, list the caseload, change under If-Match."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import Header, Path, Query, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import AfterValidator, AwareDatetime

from app.core.deps import CurrentPrincipal, Session
from app.core.http import PathFilteredRouter
from app.core.identifiers import check_reference, nfc, optional_staff_id
from app.core.problems import problem_responses
from app.domain import case_history as history
from app.domain import cases as svc
from app.domain import etags
from app.domain import priority as prio
from app.domain.access import MANAGERS, case_role_for, get_visible_case
from app.domain.access_log import ACCESS_LOG_PAGE, AccessLogOut, case_access_log
from app.domain.audit import AuditOut, case_audit_page
from app.domain.cases_table import case_etag
from app.domain.duplicates import PossibleDuplicate
from app.domain.page_json import cases_json, page_response
from app.domain.restriction import access_view, access_views
from app.domain.steps import step_out
from app.domain.subject_access import SubjectAccessExport, export, to_html
from app.routers.conditional import CASE_IF_MATCH
from app.routers.envelopes import CaseWritten, Page, PageQuery, Read, Written
from app.routers.gates import GatedRoute, gate
from app.routers.settled import settled

router = PathFilteredRouter(route_class=GatedRoute, prefix="/v1/cases", tags=["cases"])
NO_EDGE_SPACE = r"^\S(?:.*\S)?$"
SystemPart = Annotated[str, Path(min_length=1, max_length=64, pattern=NO_EDGE_SPACE),
                      AfterValidator(check_reference)]
IdPart = Annotated[str, Path(min_length=1, max_length=128, pattern=NO_EDGE_SPACE),
                  AfterValidator(check_reference)]


class CaseOpened(Written[svc.CaseOut]):
    """A case opened (or upserted): on a create, other cases that may be about the same child
    (a warning, the case is opened all the same)."""

    possible_duplicates: list[PossibleDuplicate] = []


@router.post("", status_code=201, response_model=CaseOpened,
             dependencies=[gate("case.create")])
async def open_case(
    body: svc.CaseCreate, request: Request, response: Response, session: Session,
    principal: CurrentPrincipal,
) -> CaseOpened:
    """Open a case; answers the steps its opening mandates, and `possible_duplicates`: cases
    you may see with the same date of birth and a similar name (409 names `existing_case_id`
    for a taken external reference)."""
    service, case, result = await svc.create_case(
        session, principal, body, request.app.state.policy
    )
    response.headers["ETag"] = case_etag(case)
    response.headers["Location"] = f"/v1/cases/{case.id}"
    return CaseOpened(data=svc.case_out(case, service, result.next_steps),
                      next_steps=result.next_steps,
                      possible_duplicates=await svc.duplicates_of(session, principal, case))


class CaseWithheldAnswer(Written[svc.CaseWithheld]):
    """The upsert's answer to a machine client for a restricted case: its ids and version,
    ``next_steps`` empty."""


@router.put("/by-external-ref/{system}/{external_id}",
            response_model=CaseOpened | CaseWithheldAnswer,
            responses={201: {"model": CaseOpened, "description": "Created"}},
            dependencies=[gate("case.upsert")])
async def upsert_case(
    system: SystemPart, external_id: IdPart, body: svc.CaseUpsert, request: Request,
    response: Response, session: Session, principal: CurrentPrincipal,
    if_match: Annotated[str | None, Header(max_length=200, description=(
        "Optional: the case's ETag as you read it. When sent, the update is made only if the "
        "case is still as you read it: 412 `precondition-failed` (with `current_etag`) when "
        "it has changed since, and 412 when no case has this reference (`*` holds for any "
        "case that exists)."))] = None,
    if_none_match: Annotated[str | None, Header(max_length=200, description=(
        "Optional: `*` to create only (412 `precondition-failed` when a case already has "
        "this reference, nothing changed), or ETags the update must not match (RFC 9110 "
        "§13.1.2)."))] = None,
) -> CaseOpened | CaseWithheldAnswer:
    """Create (201) or update (200) the case a case management system knows by this reference;
    the same body again is 200 and writes nothing (no step, no audit entry). A restricted case
    is answered to a machine client (role `feed`, scope `cms`) as its ids and version only
    (`restricted: true`, `next_steps: []`); a staff token that may not see the case gets the
    same `409 duplicate-external-ref` as `POST /v1/cases`. `If-Match` (optional) is the
    case's ETag: 412 and nothing changed when it does not hold (attack 20, A20-4);
    `If-None-Match: *` creates only: 412 when the reference is taken (A20-19)."""
    ref = svc.ExternalRef(system=system, id=external_id)
    done = await svc.upsert_case(session, principal, ref, body, request.app.state.policy,
                                 if_match=if_match, if_none_match=if_none_match)
    response.status_code = 201 if done.created else 200
    response.headers["ETag"] = case_etag(done.case)
    response.headers["Location"] = f"/v1/cases/{done.case.id}"
    if done.withheld:
        return CaseWithheldAnswer(data=svc.case_withheld(done.case, done.service),
                                  next_steps=[])
    return CaseOpened(data=svc.case_out(done.case, done.service, done.result.next_steps),
                      next_steps=done.result.next_steps,
                      possible_duplicates=done.possible_duplicates)


@router.get("", response_model=Page[svc.CaseOut],
             dependencies=[gate("case.list")])
async def list_cases(
    session: Session,
    principal: CurrentPrincipal,
    case_holder_id: Annotated[str | None, Query(max_length=128),
                              AfterValidator(optional_staff_id)] = None,
    on_register: bool | None = None,
    external_system: Annotated[str | None, Query(max_length=64), AfterValidator(nfc)] = None,
    external_id: Annotated[str | None, Query(max_length=128), AfterValidator(nfc)] = None,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    limit: Annotated[int, Query(ge=1, le=svc.MAX_PAGE)] = 50,
) -> Response:
    """The caller's visible caseload (filters: holder, register, external ref)."""
    filters = svc.CaseFilters(
        case_holder_id=case_holder_id, on_register=on_register, external_system=external_system,
        external_id=external_id, cursor=cursor, limit=limit,
    )
    service, cases, next_cursor = await svc.list_cases(session, principal, filters)
    steps = await svc.policy.open_steps_json_by_case(session, [c.id for c in cases])
    access = await access_views(session, principal, cases)
    return page_response(cases_json(cases, service, steps, access), next_cursor)


@router.get("/{case_id}", response_model=Read[history.CaseAsOf],
            dependencies=[gate("case.read"), settled])
async def read_case(
    case_id: uuid.UUID, response: Response, session: Session, principal: CurrentPrincipal,
    as_of: Annotated[AwareDatetime | None, Query(
        description="RFC 3339 instant: the case as this service held it then (record time)",
    )] = None,
) -> Read[history.CaseAsOf]:
    """A case with its ratings, register state, contact level and open steps (now, or as of
    an instant: `as_of` in the answer)."""
    if as_of is not None:
        return Read(data=await history.case_as_of(session, principal, case_id, as_of))
    service, case, steps = await svc.read_case(session, principal, case_id)
    response.headers["ETag"] = case_etag(case)
    access = await access_view(session, principal, case)
    return Read(data=history.CaseAsOf(
        **svc.case_out(case, service, steps, access).model_dump()))


@router.get("/{case_id}/timeline", response_model=Page[history.TimelineEntry],
            dependencies=[gate("case.timeline")])
async def timeline(
    case_id: uuid.UUID, session: Session, principal: CurrentPrincipal, page: PageQuery
) -> Page[history.TimelineEntry]:
    """Everything that happened on the case in time order: judgements, events, assessment and
    referral transitions, oversight, panel decisions, field changes, steps created and closed,
    each with who and why; a page at a time."""
    rows, following = await history.timeline(session, principal, case_id, page)
    return Page(data=rows, next_cursor=following)


@router.patch("/{case_id}", response_model=CaseWritten[svc.CaseOut],
              responses=problem_responses(412, 428), dependencies=[gate("case.change")])
async def patch_case(
    case_id: uuid.UUID,
    body: svc.CasePatch,
    request: Request,
    response: Response,
    session: Session,
    principal: CurrentPrincipal,
    if_match: Annotated[str | None, Header(max_length=200)] = None,
) -> CaseWritten[svc.CaseOut]:
    """Change a case (If-Match required); the change re-runs the policy rules. Reassigning
    moves the role's open steps (listed in ``reassigned_steps``); closing (``closure_reason``)
    and reopening (``reopen_reason``) are the line manager's, a duty manager's or a chair's.

    Managers may restrict the case with `access: {allowed_staff: [...]}` or
    `{excluded_staff: [...]}` (`access: null` lifts it): staff without access then get 404
    everywhere, as if the case did not exist."""
    service, case, patched = await svc.patch_case(
        session, principal, case_id, body, if_match, request.app.state.policy
    )
    response.headers["ETag"] = case_etag(case)
    access = await access_view(session, principal, case)
    steps = patched.result.next_steps
    return CaseWritten(data=svc.case_out(case, service, steps, access), next_steps=steps,
                       reassigned_steps=[step_out(s) for s in patched.reassigned])


@router.post("/{case_id}/priority", response_model=Written[svc.CaseOut],
             responses=problem_responses(412),
             dependencies=[gate("case.priority"), CASE_IF_MATCH])
async def change_priority(
    case_id: uuid.UUID, body: prio.PriorityChange, request: Request, response: Response,
    session: Session, principal: CurrentPrincipal,
) -> Written[svc.CaseOut]:
    """Raise (`raised: true`) or clear the priority of a High/Very High case (Somerset 3.2.4:
    "The urgency of oversight by the MARP will be agreed with a manager, (High/Very High cases)
    who will act to raise the priority if necessary"): the case's line manager, a duty manager
    or a chair; 403 for other roles before the body is read; an `If-Match` sent must match the
    case (412). 409 `priority-not-raisable` to raise a case neither high nor very high in ROSH
    or SWB; 409 `case-closed`; 422 `priority-not-in-policy` where the service's pack has no such
    act (Wokingham). The case then and its open steps carry `priority: true`; the raised
    priority lapses when ROSH and SWB are both below high, at closure and at a recorded death.
    Audited with the reason; the answer's `ETag` is the case's."""
    service, case, result = await prio.change_priority(
        session, principal, case_id, body, request.app.state.policy)
    response.headers["ETag"] = await etags.of_case(session, case.id)
    access = await access_view(session, principal, case)
    return Written(data=svc.case_out(case, service, result.next_steps, access),
                   next_steps=result.next_steps)


@router.get("/{case_id}/audit", response_model=Page[AuditOut],
             dependencies=[gate("case.audit")])
async def audit(
    case_id: uuid.UUID, session: Session, principal: CurrentPrincipal, page: PageQuery
) -> Page[AuditOut]:
    """Every write on the case, oldest first, a page at a time: who, role, what, when
    (managers and chairs)."""
    _, case = await get_visible_case(session, principal, case_id)
    rows, following = await case_audit_page(session, case.id, page)
    return Page(data=rows, next_cursor=following)


@router.get("/{case_id}/access-log", response_model=Page[AccessLogOut],
            dependencies=[gate("case.access_log")])
async def access_log(
    case_id: uuid.UUID, request: Request, session: Session, principal: CurrentPrincipal,
    cursor: Annotated[str | None, Query(max_length=512, description=(
        "the previous page's next_cursor"))] = None,
    limit: Annotated[int, Query(ge=1, le=ACCESS_LOG_PAGE, description="reads per page")] = 100,
) -> Page[AccessLogOut]:
    """Reads of the case, newest first, a page at a time (``next_cursor`` until the last): who,
    role, what, when, request id (the case's line manager, duty managers, chairs)."""
    _, case = await get_visible_case(session, principal, case_id)
    case_role_for(principal, case, (*MANAGERS, "chair"), "read the access log")
    await request.app.state.access_log.flush()  # this process's latest reads too
    data, following = await case_access_log(session, case.id, limit, cursor)
    return Page(data=data, next_cursor=following)


@router.get("/{case_id}/subject-access-export", response_model=Read[SubjectAccessExport],
            responses={200: {"content": {"text/html": {}}}},
            dependencies=[gate("case.subject_access_export")])
async def subject_access_export(
    case_id: uuid.UUID, request: Request, session: Session, principal: CurrentPrincipal,
    format: Annotated[Literal["json", "html"], Query()] = "json",
    redact: bool = True,
    include: Annotated[list[uuid.UUID] | None, Query(max_length=50)] = None,
) -> Read[SubjectAccessExport] | HTMLResponse:
    """Everything held about the child across their cases (managers, chairs): records,
    judgements, assessments, events, referrals, panels, steps, audit; third-party personal
    data redacted and listed unless `redact=false`. Cases of the same date of birth and
    recorded name (letter case and spaces aside) are included; those whose name only
    resembles (accents, punctuation, swapped names, a similar spelling) are listed in
    `possible_matches` and included only when named in `include` (repeatable; 422
    `not-a-possible-match` for another id). The export itself is audited; `format=html`
    prints cleanly (sent with a strict Content-Security-Policy, never cached)."""
    doc = await export(session, principal, case_id, request.app.state.policy, redact=redact,
                       include=frozenset(include or ()))
    if format == "html":
        return HTMLResponse(to_html(doc), headers=EXPORT_PAGE_HEADERS)
    return Read(data=doc)


# The printable export: styles inline in the page, nothing else loaded, never cached.
EXPORT_PAGE_HEADERS = {
    "Content-Security-Policy": ("default-src 'none'; style-src 'unsafe-inline'; "
                                "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
