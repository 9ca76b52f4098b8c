"""Assessments: draft, submit, countersign, return for changes."""

from __future__ import annotations

import uuid

from fastapi import Request, Response

from app.core.deps import CurrentPrincipal, Session
from app.core.http import PathFilteredRouter
from app.core.problems import problem_responses
from app.domain import assessments as svc
from app.domain import etags
from app.domain.common import state_etag
from app.routers.conditional import CASE_IF_MATCH, if_match
from app.routers.envelopes import Page, PageQuery, Read, Written
from app.routers.gates import GatedRoute, gate

router = PathFilteredRouter(route_class=GatedRoute, tags=["assessments"])
ASSESSMENT_IF_MATCH = if_match("assessment", "assessment_id")


@router.post("/v1/cases/{case_id}/assessments", status_code=201,
             response_model=Written[svc.AssessmentOut], responses=problem_responses(412),
             dependencies=[gate("assessment.write"), CASE_IF_MATCH])
async def create(
    case_id: uuid.UUID, body: svc.AssessmentCreate, request: Request, response: Response,
    session: Session, principal: CurrentPrincipal,
) -> Written[svc.AssessmentOut]:
    """Start a draft assessment on a case you hold (`If-Match`, optional, is the case's
    ETag); the answer's `ETag` is the new assessment's."""
    assessment, result = await svc.create_assessment(
        session, principal, case_id, body, request.app.state.policy)
    response.headers["ETag"] = await etags.of_record(session, assessment)
    return Written(data=svc.assessment_out(assessment), next_steps=result.next_steps)


@router.get("/v1/cases/{case_id}/assessments", response_model=Page[svc.AssessmentOut],
             dependencies=[gate("assessment.read")])
async def list_for_case(
    case_id: uuid.UUID, session: Session, principal: CurrentPrincipal, page: PageQuery
) -> Page[svc.AssessmentOut]:
    """The case's assessments, newest first, a page at a time."""
    rows, following = await svc.list_case_assessments(session, principal, case_id, page)
    return Page(data=[svc.assessment_out(a) for a in rows], next_cursor=following)


@router.get("/v1/assessments/{assessment_id}", response_model=Read[svc.AssessmentOut],
             dependencies=[gate("assessment.read")])
async def read(
    assessment_id: uuid.UUID, session: Session, principal: CurrentPrincipal, response: Response
) -> Read[svc.AssessmentOut]:
    """One assessment with its history, and its `ETag` (an act on it may send it in
    `If-Match`: 412 when the assessment has changed since)."""
    _, _, assessment = await svc.load_assessment(session, principal, assessment_id)
    response.headers["ETag"] = state_etag(assessment)
    return Read(data=svc.assessment_out(assessment))


@router.post("/v1/assessments/{assessment_id}/submit", response_model=Written[svc.AssessmentOut],
             responses=problem_responses(412),
             dependencies=[gate("assessment.write"), ASSESSMENT_IF_MATCH])
async def submit(
    assessment_id: uuid.UUID, request: Request, response: Response, session: Session,
    principal: CurrentPrincipal, body: svc.AssessmentSubmit | None = None,
) -> Written[svc.AssessmentOut]:
    """Submit an assessment for countersignature (twice: 409)."""
    assessment, result = await svc.submit_assessment(
        session, principal, assessment_id, body or svc.AssessmentSubmit(),
        request.app.state.policy,
    )
    response.headers["ETag"] = await etags.of_record(session, assessment)
    return Written(data=svc.assessment_out(assessment), next_steps=result.next_steps)


@router.post("/v1/assessments/{assessment_id}/countersign",
             response_model=Written[svc.AssessmentOut],
             responses=problem_responses(412),
             dependencies=[gate("assessment.review"), ASSESSMENT_IF_MATCH])
async def countersign(
    assessment_id: uuid.UUID, body: svc.AssessmentFeedback, request: Request,
    response: Response, session: Session, principal: CurrentPrincipal,
) -> Written[svc.AssessmentOut]:
    """Countersign with feedback (the case's line manager or a duty manager; not the author)."""
    assessment, result = await svc.countersign_assessment(
        session, principal, assessment_id, body, request.app.state.policy
    )
    response.headers["ETag"] = await etags.of_record(session, assessment)
    return Written(data=svc.assessment_out(assessment), next_steps=result.next_steps)


@router.post("/v1/assessments/{assessment_id}/return", response_model=Written[svc.AssessmentOut],
             responses=problem_responses(412),
             dependencies=[gate("assessment.review"), ASSESSMENT_IF_MATCH])
async def return_for_changes(
    assessment_id: uuid.UUID, body: svc.AssessmentFeedback, request: Request,
    response: Response, session: Session, principal: CurrentPrincipal,
) -> Written[svc.AssessmentOut]:
    """Send back to the author for changes with feedback (required); resubmission needed."""
    assessment, result = await svc.return_assessment(
        session, principal, assessment_id, body, request.app.state.policy
    )
    response.headers["ETag"] = await etags.of_record(session, assessment)
    return Written(data=svc.assessment_out(assessment), next_steps=result.next_steps)
