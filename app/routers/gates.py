"""Route gates: who may call a route, declared on the route from the one role table
(:data:`app.domain.access.ROLE_TABLE`). A gate runs before the body is validated, so a role
that may never act gets 403, not 422."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path

from app.core.deps import VerifiedPrincipal, require_any_role
from app.core.errors import Forbidden
from app.domain.access import roles_for

REFERRAL_ACTION_PATTERN = "^(submit|quality-assure|send|accept|decline|withdraw)$"


def gate(act: str) -> Any:
    """``Depends`` admitting only the roles :data:`ROLE_TABLE` gives ``act``; 403 otherwise."""
    return Depends(require_any_role(*roles_for(act)))


async def _referral_action_gate(
    action: Annotated[str, Path(pattern=REFERRAL_ACTION_PATTERN)], principal: VerifiedPrincipal
) -> None:
    roles = roles_for(f"referral.{action}")
    if not principal.has(*roles):
        raise Forbidden(f"This needs one of the roles: {', '.join(roles)}.")


referral_action_gate: Any = Depends(_referral_action_gate)
