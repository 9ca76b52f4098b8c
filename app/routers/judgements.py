"""Risk judgements on a case."""

from __future__ import annotations

import uuid

from fastapi import Request, Response

from app.core.deps import CurrentPrincipal, Session
from app.core.http import PathFilteredRouter
from app.core.problems import problem_responses
from app.domain import etags
from app.domain import judgements as svc
from app.domain.page_json import written_response
from app.routers.conditional import CASE_IF_MATCH
from app.routers.envelopes import Page, PageQuery, Written
from app.routers.gates import GatedRoute, gate

router = PathFilteredRouter(route_class=GatedRoute, prefix="/v1/cases/{case_id}/judgements",
                   tags=["judgements"])


@router.post("", status_code=201, response_model=Written[svc.JudgementOut],
             responses=problem_responses(412),
             dependencies=[gate("judgement.record"), CASE_IF_MATCH])
async def record(
    case_id: uuid.UUID,
    body: svc.JudgementCreate,
    request: Request,
    session: Session,
    principal: CurrentPrincipal,
) -> Response:
    """Record a judgement; answers it with `matrix_level` and the mandated next steps, and the
    case's `ETag` as the judgement leaves it."""
    judgement, result = await svc.record_judgement(
        session, principal, case_id, body, request.app.state.policy
    )
    # The Written model's JSON, written without a StepOut per open step (issue 15).
    answer = written_response(judgement, result.next_steps_json())
    answer.headers["ETag"] = await etags.of_case(session, judgement.case_id)
    return answer


@router.get("", response_model=Page[svc.JudgementOut],
             dependencies=[gate("judgement.read")])
async def history(
    case_id: uuid.UUID, session: Session, principal: CurrentPrincipal, page: PageQuery
) -> Page[svc.JudgementOut]:
    """The case's judgement history, newest first, a page at a time."""
    rows, following = await svc.list_judgements(session, principal, case_id, page)
    return Page(data=[svc.judgement_out(j) for j in rows], next_cursor=following)
