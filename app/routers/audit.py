"""The write audit's integrity: verify the hash chains."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from app.core.deps import CurrentPrincipal, Session
from app.core.http import PathFilteredRouter
from app.domain.access import audit_chains_for
from app.domain.audit import VerifyOut, verify_chains
from app.routers.envelopes import Read
from app.routers.gates import GatedRoute, gate

router = PathFilteredRouter(route_class=GatedRoute, prefix="/v1/audit", tags=["audit"])


@router.get("/verify", response_model=Read[VerifyOut], dependencies=[gate("audit.verify")])
async def verify(
    session: Session,
    principal: CurrentPrincipal,
    service: Annotated[str | None, Query(max_length=64, description="admin: one service")] = None,
) -> Read[VerifyOut]:
    """Recompute the audit hash chain: a chair checks their service's, an admin every chain
    (or one, with `service`).

    `ok` is false when an entry was edited, inserted or removed (all but the newest: anchor
    the latest hash outside the database for those); `first_broken_id` names the first entry
    whose hash, predecessor or position does not match."""
    chains = await audit_chains_for(session, principal, service)
    return Read(data=await verify_chains(session, chains))
