"""FastAPI dependencies: the unit of work, the verified principal, role gates."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.config import Settings
from app.core.db import unit_of_work
from app.core.errors import Forbidden, NotAuthenticated
from app.core.security import Principal, TokenVerifier

_bearer = HTTPBearer(auto_error=False, description="A JWT issued for yjrisk (see api-v1.md)")


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    async for session in unit_of_work(request.app.state.session_factory):
        # Writes lock the case they touch (app.domain.access.lock_case) before reading it.
        session.info["write"] = request.method in {"POST", "PUT", "PATCH", "DELETE"}
        yield session


# scope="function": the commit runs before the response is sent, so a failed commit is an
# error answer, never a 2xx for a write that did not happen.
Session = Annotated[AsyncSession, Depends(_session, scope="function")]


def settings_of(request: Request) -> Settings:
    """The app's settings."""
    return request.app.state.settings  # type: ignore[no-any-return]


async def _principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise NotAuthenticated("Send a bearer token in the Authorization header.")
    token = credentials.credentials
    if len(token) > 8192:
        raise NotAuthenticated("The bearer token is too long.")
    verifier: TokenVerifier = request.app.state.verifier
    return await verifier.verify(token)


CurrentPrincipal = Annotated[Principal, Depends(_principal)]


def require_any_role(*roles: str) -> Callable[[Principal], Principal]:
    """A dependency that admits only tokens carrying one of ``roles`` (403 otherwise)."""

    async def gate(principal: CurrentPrincipal) -> Principal:
        if not principal.has(*roles):
            raise Forbidden(f"This needs one of the roles: {', '.join(roles)}.")
        return principal

    return gate  # type: ignore[return-value]
