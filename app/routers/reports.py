"""Management reports: timeliness against the service's own policy."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from app.core.deps import CurrentPrincipal, Session
from app.core.http import PathFilteredRouter
from app.domain import reports as svc
from app.routers.envelopes import Read
from app.routers.gates import GatedRoute, gate
from app.workflows.calendar import IsoDate

router = PathFilteredRouter(route_class=GatedRoute, prefix="/v1/reports", tags=["reports"])


@router.get("/timeliness", response_model=Read[svc.TimelinessReport],
            dependencies=[gate("report.timeliness")],
            summary="Timeliness against the policy, and overdue ageing",
            description=svc.TIMELINESS_DEFINITIONS)
async def timeliness(
    session: Session,
    principal: CurrentPrincipal,
    date_from: Annotated[IsoDate, Query(alias="from", description="First London date (inclusive)")],
    date_to: Annotated[IsoDate, Query(alias="to", description="Last London date (inclusive)")],
    group_by: Annotated[list[svc.GroupBy] | None, Query(max_length=3)] = None,
) -> Read[svc.TimelinessReport]:
    """On-time rates per rule, team and month, and the ageing of overdue steps."""
    query = svc.check_query(date_from, date_to, group_by or [])
    return Read(data=await svc.timeliness(session, principal, query))
