"""The day's stand-ins settled before steps are shown (Somerset 3.1: leave that starts or ends
today moves steps between the line manager and the duty manager; no write marks that moment)."""

from __future__ import annotations

from fastapi import Depends, Request

from app.core.deps import CurrentPrincipal
from app.domain.stand_ins import settle_today


async def _stand_ins_settled(request: Request, principal: CurrentPrincipal) -> None:
    """Sweep the caller's service for today before its steps are read (a dictionary look-up
    once swept today in this process: :func:`app.domain.stand_ins.settle_today`)."""
    if principal.service is not None:
        await settle_today(request.app.state.session_factory, request.app.state.policy,
                           principal.service)


settled = Depends(_stand_ins_settled)
