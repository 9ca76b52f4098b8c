"""Case events: incidents, charges, custody, transfers and other things that happened."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request

from app.core.deps import CurrentPrincipal, Session
from app.domain import events as svc
from app.routers.envelopes import Read, Written
from app.routers.gates import GatedRoute, gate

router = APIRouter(route_class=GatedRoute, prefix="/v1/cases/{case_id}/events",
                   tags=["case events"])


@router.post("", status_code=201, response_model=Written[svc.CaseEventOut],
             dependencies=[gate("event.record")])
async def record(
    case_id: uuid.UUID, body: svc.CaseEventCreate, request: Request, session: Session,
    principal: CurrentPrincipal,
) -> Written[svc.CaseEventOut]:
    """Record an event on the case; answers the next steps it mandates."""
    event, result = await svc.record_event(
        session, principal, case_id, body, request.app.state.policy
    )
    return Written(data=svc.case_event_out(event), next_steps=result.next_steps)


@router.get("", response_model=Read[list[svc.CaseEventOut]],
             dependencies=[gate("event.read")])
async def history(
    case_id: uuid.UUID, session: Session, principal: CurrentPrincipal
) -> Read[list[svc.CaseEventOut]]:
    """The case's events, newest first."""
    rows = await svc.list_events(session, principal, case_id)
    return Read(data=[svc.case_event_out(e) for e in rows])
