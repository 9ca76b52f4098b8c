"""Services (tenants): platform administration."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Request, Response

from app.core.deps import CurrentPrincipal, Session
from app.core.http import PathFilteredRouter
from app.domain import etags
from app.domain.common import state_etag
from app.domain.services import (
    SLUG_PATTERN,
    ServiceCreate,
    ServiceOut,
    create_service,
    require_unbound_admin,
    to_out,
)
from app.domain.services import read_service as read_service_
from app.routers.envelopes import Read, Written
from app.routers.gates import GatedRoute, gate, rule

router = PathFilteredRouter(route_class=GatedRoute, prefix="/v1/services", tags=["services"])


@router.post("", status_code=201, response_model=Written[ServiceOut],
             dependencies=[gate("service.create"), rule(require_unbound_admin)])
async def create(
    body: ServiceCreate,
    request: Request,
    response: Response,
    session: Session,
    principal: CurrentPrincipal,
) -> Written[ServiceOut]:
    """Create a service running one policy pack (admin)."""
    packs = set(request.app.state.policy.packs)
    service = await create_service(session, principal, body, packs)
    response.headers["ETag"] = await etags.of_record(session, service)
    return Written(data=to_out(service))


@router.get("/{slug}", response_model=Read[ServiceOut],
             dependencies=[gate("service.read")])
async def read(
    slug: Annotated[str, Path(pattern=SLUG_PATTERN, max_length=64)],
    session: Session,
    principal: CurrentPrincipal,
    response: Response,
) -> Read[ServiceOut]:
    """A service, for an admin or its own staff, with its `ETag`."""
    service = await read_service_(session, principal, slug)
    response.headers["ETag"] = state_etag(service)
    return Read(data=to_out(service))
