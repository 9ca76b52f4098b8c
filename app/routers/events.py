"""Case events: incidents, charges, custody, transfers and other things that happened."""

from __future__ import annotations

import uuid

from fastapi import Request, Response

from app.core.deps import CurrentPrincipal, Session
from app.core.http import PathFilteredRouter
from app.domain import etags
from app.domain import events as svc
from app.routers.conditional import CASE_IF_MATCH
from app.routers.envelopes import Page, PageQuery, Written
from app.routers.gates import GatedRoute, gate

router = PathFilteredRouter(route_class=GatedRoute, prefix="/v1/cases/{case_id}/events",
                   tags=["case events"])


@router.post("", status_code=201, response_model=Written[svc.CaseEventOut],
             responses={200: {"model": Written[svc.CaseEventOut],
                              "description": "The same event was already recorded (same "
                                             "type and occurred_at, no detail differing): "
                                             "the event first recorded, with what this "
                                             "report adds to it (details, transfer date or "
                                             "flag it lacked), nothing raised again but "
                                             "what the additions ask (to a machine client, "
                                             "of an event someone else recorded or added "
                                             "to: its ids and type with what the client "
                                             "sent, author and recording time null, "
                                             "next_steps [])"}},
             dependencies=[gate("event.record"), CASE_IF_MATCH])
async def record(
    case_id: uuid.UUID, body: svc.CaseEventCreate, request: Request, response: Response,
    session: Session, principal: CurrentPrincipal,
) -> Written[svc.CaseEventOut]:
    """Record an event on the case (201); answers the next steps it mandates. The same event
    reported again (another channel: the case holder and the IYSS feed) is 200 with the event
    first recorded and the case's open steps: its steps are raised once. The answer's `ETag`
    is the case's as the event leaves it."""
    event, result, recorded, shown = await svc.record_event(
        session, principal, case_id, body, request.app.state.policy
    )
    if not recorded:
        response.status_code = 200
    response.headers["ETag"] = await etags.of_case(session, event.case_id)
    return Written(data=shown, next_steps=result.next_steps)


@router.get("", response_model=Page[svc.CaseEventOut],
             dependencies=[gate("event.read")])
async def history(
    case_id: uuid.UUID, session: Session, principal: CurrentPrincipal, page: PageQuery
) -> Page[svc.CaseEventOut]:
    """The case's events, newest first, a page at a time."""
    rows, following = await svc.list_events(session, principal, case_id, page)
    return Page(data=[svc.case_event_out(e) for e in rows], next_cursor=following)
