"""Staff: absences that end a worker's working week early (Wokingham in-week deadlines) and
make a line manager unavailable (Somerset 3.1: the duty manager stands in)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Header, Path, Query, Request, Response
from pydantic import AfterValidator

from app.core.deps import CurrentPrincipal, Session
from app.core.http import PathFilteredRouter
from app.core.identifiers import check_staff_id
from app.core.problems import problem_responses
from app.domain import absences as svc
from app.domain.staff import cancel_staff_absence, change_staff_absence, record_staff_absence
from app.routers.envelopes import Page, Read, Written
from app.routers.gates import GatedRoute, authority, gate

router = PathFilteredRouter(route_class=GatedRoute, prefix="/v1/staff", tags=["staff"])
StaffId = Annotated[str, Path(min_length=1, max_length=128), AfterValidator(check_staff_id)]


@router.get("/{staff_id}/absences", response_model=Page[svc.AbsenceOut],
            dependencies=[gate("absence.read")])
async def list_absences(
    staff_id: StaffId, session: Session, principal: CurrentPrincipal,
    cursor: Annotated[str | None, Query(max_length=512, description=(
        "the `next_cursor` of the previous page"))] = None,
    limit: Annotated[int, Query(ge=1, le=svc.ABSENCE_PAGE,
                                description="absences per page")] = 50,
) -> Page[svc.AbsenceOut]:
    """The worker's recorded absences, earliest first (by first day), a page at a time
    (`next_cursor` null on the last page): for those who may record them (a line manager
    their own and their case holders', a duty manager anyone's; 403 otherwise). Each carries
    its `version`, the ETag a PATCH of it sends in `If-Match`."""
    rows, following = await svc.list_absences(session, principal, staff_id, limit, cursor)
    return Page(data=[svc.absence_out(a) for a in rows], next_cursor=following)


@router.get("/{staff_id}/absences/{absence_id}", response_model=Read[svc.AbsenceOut],
            dependencies=[gate("absence.read")])
async def read_absence(
    staff_id: StaffId, absence_id: uuid.UUID, response: Response, session: Session,
    principal: CurrentPrincipal,
) -> Read[svc.AbsenceOut]:
    """One recorded absence, with its `ETag` (for `If-Match` on its PATCH); who may list the
    worker's absences may read it."""
    absence = await svc.read_absence(session, principal, staff_id, absence_id)
    response.headers["ETag"] = svc.etag_of(absence)
    return Read(data=svc.absence_out(absence))


@router.post("/{staff_id}/absences", status_code=201, response_model=Written[svc.AbsenceOut],
             responses=problem_responses(409),
             dependencies=[gate("absence.record"), authority(svc.require_absence_authority)])
async def record_absence(
    staff_id: StaffId, body: svc.AbsenceCreate, request: Request, response: Response,
    session: Session, principal: CurrentPrincipal,
) -> Written[svc.AbsenceOut]:
    """Record a staff absence (managers); in-week deadlines end on the last working day
    before it, including those of the worker's steps already open (brought forward). The
    `ETag` is what a PATCH of it sends in `If-Match`. 409 `absence-overlaps` when the worker
    already has an absence on one of its days (its `absence_id` in the problem)."""
    absence, _ = await record_staff_absence(session, principal, staff_id, body,
                                            request.app.state.policy)
    response.headers["ETag"] = svc.etag_of(absence)
    return Written(data=svc.absence_out(absence), next_steps=[])


@router.patch("/{staff_id}/absences/{absence_id}", response_model=Written[svc.AbsenceOut],
              responses=problem_responses(409, 412, 428),
              dependencies=[gate("absence.record"), authority(svc.require_absence_authority)])
async def change_absence(
    staff_id: StaffId, absence_id: uuid.UUID, body: svc.AbsenceChange, request: Request,
    response: Response, session: Session, principal: CurrentPrincipal,
    if_match: Annotated[str | None, Header(max_length=200)] = None,
) -> Written[svc.AbsenceOut]:
    """Change an absence's dates (back early, leave moved; If-Match required: 428 without,
    412 when it changed since it was read; 409 `absence-overlaps` when the new dates meet
    another of the worker's absences); steps the duty manager stood in for that no
    longer fall in it go back to the line manager, steps it now covers stand in."""
    absence, _ = await change_staff_absence(session, principal, staff_id, absence_id, body,
                                            if_match, request.app.state.policy)
    response.headers["ETag"] = svc.etag_of(absence)
    return Written(data=svc.absence_out(absence), next_steps=[])


@router.delete("/{staff_id}/absences/{absence_id}", status_code=204,
               responses=problem_responses(412, 428), dependencies=[gate("absence.record")])
async def cancel_absence(
    staff_id: StaffId, absence_id: uuid.UUID, request: Request, session: Session,
    principal: CurrentPrincipal,
    if_match: Annotated[str | None, Header(max_length=200)] = None,
) -> Response:
    """Cancel an absence (If-Match required, as for its PATCH: 428 without, 412 when it
    changed since it was read); steps the duty manager stood in for because of it go back."""
    await cancel_staff_absence(session, principal, staff_id, absence_id, if_match,
                               request.app.state.policy)
    return Response(status_code=204)
