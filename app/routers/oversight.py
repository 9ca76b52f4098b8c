"""Management oversight entries, and waiving a step with a reason."""

from __future__ import annotations

import uuid

from fastapi import Request, Response

from app.core.deps import CurrentPrincipal, Session
from app.core.http import PathFilteredRouter
from app.core.problems import problem_responses
from app.domain import etags
from app.domain import oversight as svc
from app.domain.steps import StepOut, step_out
from app.routers.conditional import CASE_IF_MATCH, if_match
from app.routers.envelopes import Page, PageQuery, Written
from app.routers.gates import GatedRoute, gate

router = PathFilteredRouter(route_class=GatedRoute, tags=["management oversight"])


@router.post("/v1/cases/{case_id}/oversight", status_code=201,
             response_model=Written[svc.OversightOut],
             responses=problem_responses(412),
             dependencies=[gate("oversight.record"), CASE_IF_MATCH])
async def record(
    case_id: uuid.UUID, body: svc.OversightCreate, request: Request, response: Response,
    session: Session, principal: CurrentPrincipal,
) -> Written[svc.OversightOut]:
    """Record management oversight (managers); it may satisfy a step the policy allows. On a
    closed case an entry standing for a step answers as a completion of that step does (one
    recorded missed at the closure is corrected by an entry dated before it; `409 step-missed`
    dated then or after); one standing for none is `409 case-closed`. The answer's `ETag` is
    the case's as the entry leaves it."""
    entry, result = await svc.record_oversight(
        session, principal, case_id, body, request.app.state.policy
    )
    response.headers["ETag"] = await etags.of_case(session, entry.case_id)
    return Written(data=svc.oversight_out(entry), next_steps=result.next_steps)


@router.get("/v1/cases/{case_id}/oversight", response_model=Page[svc.OversightOut],
             dependencies=[gate("oversight.read")])
async def history(
    case_id: uuid.UUID, session: Session, principal: CurrentPrincipal, page: PageQuery
) -> Page[svc.OversightOut]:
    """The case's oversight entries, newest first, a page at a time."""
    rows, following = await svc.list_oversight(session, principal, case_id, page)
    return Page(data=[svc.oversight_out(e) for e in rows], next_cursor=following)


@router.post("/v1/next-steps/{step_id}/waive", response_model=Written[StepOut],
             responses=problem_responses(412),
             dependencies=[gate("step.waive"), if_match("step", "step_id")])
async def waive(
    step_id: uuid.UUID, body: svc.StepWaive, request: Request, response: Response,
    session: Session, principal: CurrentPrincipal,
) -> Written[StepOut]:
    """Waive an open step (managers) with a reason, kept in the audit trail; the answer's
    `ETag` is the step's as waived."""
    step, result = await svc.waive_step(
        session, principal, step_id, body, request.app.state.policy
    )
    response.headers["ETag"] = await etags.of_step(session, step.id)
    return Written(data=step_out(step), next_steps=result.next_steps)
