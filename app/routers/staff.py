"""Staff: absences that end a worker's working week early (Wokingham in-week deadlines) and
make a line manager unavailable (Somerset 3.1: the duty manager stands in)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Path, Request, Response
from pydantic import AfterValidator

from app.core.deps import CurrentPrincipal, Session
from app.core.identifiers import check_staff_id
from app.core.problems import problem_responses
from app.domain import absences as svc
from app.domain.staff import cancel_staff_absence, change_staff_absence, record_staff_absence
from app.routers.envelopes import Written
from app.routers.gates import GatedRoute, gate

router = APIRouter(route_class=GatedRoute, prefix="/v1/staff", tags=["staff"])
StaffId = Annotated[str, Path(min_length=1, max_length=128), AfterValidator(check_staff_id)]


@router.post("/{staff_id}/absences", status_code=201, response_model=Written[svc.AbsenceOut],
             dependencies=[gate("absence.record")])
async def record_absence(
    staff_id: StaffId, body: svc.AbsenceCreate, request: Request, response: Response,
    session: Session, principal: CurrentPrincipal,
) -> Written[svc.AbsenceOut]:
    """Record a staff absence (managers); in-week deadlines end on the last working day
    before it, including those of the worker's steps already open (brought forward). The
    `ETag` is what a PATCH of it sends in `If-Match`."""
    absence, _ = await record_staff_absence(session, principal, staff_id, body,
                                            request.app.state.policy)
    response.headers["ETag"] = svc.etag_of(absence)
    return Written(data=svc.absence_out(absence), next_steps=[])


@router.patch("/{staff_id}/absences/{absence_id}", response_model=Written[svc.AbsenceOut],
              responses=problem_responses(412, 428), dependencies=[gate("absence.record")])
async def change_absence(
    staff_id: StaffId, absence_id: uuid.UUID, body: svc.AbsenceChange, request: Request,
    response: Response, session: Session, principal: CurrentPrincipal,
    if_match: Annotated[str | None, Header(max_length=200)] = None,
) -> Written[svc.AbsenceOut]:
    """Change an absence's dates (back early, leave moved; If-Match required: 428 without,
    412 when it changed since it was read); steps the duty manager stood in for that no
    longer fall in it go back to the line manager, steps it now covers stand in."""
    absence, _ = await change_staff_absence(session, principal, staff_id, absence_id, body,
                                            if_match, request.app.state.policy)
    response.headers["ETag"] = svc.etag_of(absence)
    return Written(data=svc.absence_out(absence), next_steps=[])


@router.delete("/{staff_id}/absences/{absence_id}", status_code=204,
               dependencies=[gate("absence.record")])
async def cancel_absence(
    staff_id: StaffId, absence_id: uuid.UUID, request: Request, session: Session,
    principal: CurrentPrincipal,
) -> Response:
    """Cancel an absence; steps the duty manager stood in for because of it go back."""
    await cancel_staff_absence(session, principal, staff_id, absence_id,
                               request.app.state.policy)
    return Response(status_code=204)
