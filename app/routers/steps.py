"""Next steps: the caller's to-do list across cases, and completing a step."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query, Request, Response

from app.core.deps import CurrentPrincipal, Session
from app.core.http import PathFilteredRouter
from app.core.problems import problem_responses
from app.domain import etags
from app.domain import next_steps as svc
from app.domain.common import utcnow
from app.domain.page_json import page_response
from app.domain.steps import StepOut, StepStatus, steps_json
from app.routers.conditional import if_match
from app.routers.envelopes import Page, Read, Written
from app.routers.gates import GatedRoute, gate
from app.routers.settled import settled

router = PathFilteredRouter(route_class=GatedRoute, prefix="/v1/next-steps", tags=["next steps"])



@router.get("", response_model=Page[StepOut],
             dependencies=[gate("step.list"), settled])
async def list_next_steps(
    request: Request,
    session: Session,
    principal: CurrentPrincipal,
    case_id: uuid.UUID | None = None,
    assignee: Annotated[str | None, Query(pattern="^me$")] = None,
    actor: Annotated[str | None, Query(max_length=32)] = None,
    status: StepStatus | None = StepStatus.open,
    overdue: bool = False,
    priority: Annotated[bool, Query(description=(
        "only the steps of cases dealt with as a priority (`priority: true`: Somerset 3.2.4, "
        "ROSH or SWB very high); the order is the same"))] = False,
    cursor: Annotated[str | None, Query(max_length=512, description=(
        "the `next_cursor` of the previous page (valid for the same filters only)"))] = None,
    limit: Annotated[int, Query(ge=1, le=svc.MAX_PAGE)] = 50,
) -> Response:
    """Steps the caller may see (filters: case, assignee=me, actor, status, overdue, priority),
    soonest due first and undated last, paged by a keyset cursor (`limit` 1-200, default 50;
    `next_cursor` null on the last page; a cursor of other filters, or not made here, is 422
    `invalid-cursor`)."""
    filters = svc.StepFilters(case_id=case_id, assignee=assignee, actor=actor, status=status,
                              overdue=overdue, priority=priority, cursor=cursor, limit=limit)
    steps, next_cursor = await svc.list_steps(session, principal, filters,
                                              ctx=request.app.state.policy)
    return page_response(steps_json(steps, utcnow()), next_cursor)


@router.get("/{step_id}", response_model=Read[StepOut], dependencies=[gate("step.read"), settled])
async def read_step(step_id: uuid.UUID, request: Request, session: Session,
                    principal: CurrentPrincipal, response: Response) -> Read[StepOut]:
    """One step the caller may see (calendar entries link here), and its `ETag` (completing or
    waiving it may send it in `If-Match`: 412 when the step has changed since); 404 otherwise."""
    step, response.headers["ETag"] = await svc.read_step(session, principal, step_id,
                                                         request.app.state.policy)
    return Read(data=step)


@router.post("/{step_id}/complete", response_model=Written[StepOut],
             responses=problem_responses(412),
             dependencies=[gate("step.complete"), settled, if_match("step", "step_id")])
async def complete(
    step_id: uuid.UUID,
    request: Request,
    response: Response,
    session: Session,
    principal: CurrentPrincipal,
    body: svc.StepComplete | None = None,
) -> Written[StepOut]:
    """Complete a step (its assignee, or a holder of its role); a note is kept.

    A step that a recorded act closes (the pack's `[closures]` and referral kinds' `closes`:
    countersigning or submitting an assessment, a referral's submit/send/quality-assure, a
    panel agenda item or decision, the next judgement in a domain) is done only by that act:
    completing it here is `409` `step-done-by-act`, whose `acts` name each act and its route.
    A pack may list codes that may also be completed by hand (`completable`), and an act that
    only makes a step moot, or is one way among others of doing it (a panel sitting overtakes a
    referral still open; a countersignature endorses a rating's rationale, which the line
    manager may also acknowledge directly), leaves it completable by hand:
    `GET /v1/policy-packs/{id}` lists in `done_only_by_act` each code only an act does.

    A step recorded `missed` (its need ended after its deadline had passed undone) completed
    with an `occurred_at` before its need ended is corrected to `done` at that time (on time
    if by its deadline); one dated when its need ended or later is `409` `step-missed` with
    `need_ended_at`. Another closed step is `409` `conflicting-transition`."""
    shown, result = await svc.complete_step(
        session, principal, step_id, body or svc.StepComplete(), request.app.state.policy
    )
    response.headers["ETag"] = await etags.of_step(session, shown.id)
    return Written(data=shown, next_steps=result.next_steps)
