"""Route gates: who may call a route, declared on the route from the one role table
(:data:`app.domain.access.ROLE_TABLE`, and for machine clients the scope table
:data:`app.domain.access.FEED_SCOPES`). A gate runs before the body is validated, so a role or
a machine client's scope that may never act gets 403, not 422."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Annotated, Any

from fastapi import Depends, Path, Request, Response, routing
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.core.deps import (
    SESSION_SCOPE_KEY,
    VerifiedPrincipal,
    _session,
    gated_session,
    refuse_too_deep_json,
    verified_principal_of,
)
from app.core.edge import BODY_REFUSAL_KEY
from app.core.errors import Forbidden
from app.core.security import Principal
from app.domain.access import ROLE_TABLE, admit, roles_for
from app.domain.pack_versions import check_served_once
from app.domain.services import service_found_before, service_is_known
from app.domain.stand_ins import settle_today

REFERRAL_ACTION_PATTERN = "^(submit|quality-assure|send|accept|decline|withdraw)$"


def gate(act: str) -> Any:
    """``Depends`` admitting only the roles :data:`ROLE_TABLE` gives ``act`` (and a machine
    client only with one of the act's scopes); 403 otherwise."""
    roles_for(act)  # KeyError now for an unknown act: a route cannot silently go ungated

    async def _gate(request: Request, principal: VerifiedPrincipal) -> Principal:
        admit(principal, act, request.path_params)
        return principal

    # Read by GatedRoute, which applies the same check before the body is read (and then
    # does not run the dependency again: it only repeats that check).
    _gate.check_request = lambda request, principal: admit(  # type: ignore[attr-defined]
        principal, act, request.path_params)
    _gate.only_the_check = True  # type: ignore[attr-defined]
    return Depends(_gate)


def rule(check: Callable[[Principal, Mapping[str, Any]], None]) -> Any:
    """``Depends`` for a rule that the token and the route's path values decide alone, with
    nothing stored (an admin token bound to a service creates no service and manages no other
    service's webhooks): :class:`GatedRoute` checks it after the role gate, before the body is
    read, so a caller it refuses is refused whatever they send (attack pass 28a, ATK28A-3's
    kind); the domain service asks it again."""
    async def _rule(request: Request, principal: VerifiedPrincipal) -> None:
        check(principal, request.path_params)

    _rule.check_request = lambda request, principal: check(  # type: ignore[attr-defined]
        principal, request.path_params)
    _rule.only_the_check = True  # type: ignore[attr-defined]
    return Depends(_rule)


def authority(
    check: Callable[[AsyncSession, Principal, Mapping[str, Any]], Awaitable[None]],
) -> Any:
    """``Depends`` for an object-level rule that the token and the route's path values decide
    with what is stored, none of the body (a line manager's authority over a worker's absences:
    A13-4): :class:`GatedRoute` asks it after the role gate and before the body is read, in a
    session of its own that writes nothing, so a caller without it gets 403 whatever they send,
    as from the role gate (attack pass 28a, ATK28A-3: a malformed or oversized body was 400 or
    413 on POST and PATCH where GET and DELETE of the same path were 403). The domain service
    asks again in the write's own unit of work, under its lock: that answer decides the write."""
    async def _authority(request: Request, principal: VerifiedPrincipal) -> None:
        async with request.app.state.session_factory() as session:
            await check(session, principal, request.path_params)

    _authority.check_authority = check  # type: ignore[attr-defined]
    _authority.only_the_check = True  # type: ignore[attr-defined]
    return Depends(_authority)


def _as_run(dependant: Dependant) -> Dependant:
    """A gated route's dependencies as its handler runs them (the route's own ``dependant``,
    which the OpenAPI document is built from, is left as it is): without the role gates, whose
    check :class:`GatedRoute` has just made with the same principal and path parameters, and
    with the verified principal read from the request's scope, where the gate put it, instead
    of solving the bearer scheme again (issue 15: FastAPI solves every dependant of the tree
    on each request, cached or not); a dependency with a ``run_as`` (the verified principal,
    the principal with its input checks) is run as that, without dependencies of its own."""
    subs = []
    for sub in dependant.dependencies:
        if getattr(sub.call, "only_the_check", False):
            continue
        run_as = getattr(sub.call, "run_as", None)
        if run_as is not None:
            subs.append(dataclasses.replace(sub, call=run_as, dependencies=[]))
        else:
            subs.append(_as_run(sub))
    return dataclasses.replace(dependant, dependencies=subs)


def _calls(dependant: Dependant, call: Any) -> bool:
    """Whether ``call`` is a dependency anywhere in ``dependant``'s tree."""
    return any(sub.call is call or _calls(sub, call) for sub in dependant.dependencies)


def _check_referral_action(request: Request, principal: Principal) -> None:
    act = f"referral.{request.path_params.get('action')}"
    # An unknown action is not a gate question: the route answers it (404/422) as before.
    if act in ROLE_TABLE:
        admit(principal, act, request.path_params)


async def _referral_action_gate(
    request: Request, action: Annotated[str, Path(pattern=REFERRAL_ACTION_PATTERN)],
    principal: VerifiedPrincipal,
) -> None:
    _check_referral_action(request, principal)


_referral_action_gate.check_request = _check_referral_action  # type: ignore[attr-defined]
referral_action_gate: Any = Depends(_referral_action_gate)


class GatedRoute(APIRoute):
    """A route whose role gate runs before FastAPI reads the body.

    FastAPI reads and parses a JSON body before it solves any dependency, so a gate declared
    as a dependency alone would let a caller whose token lacks the role learn about the body
    (400 for malformed JSON). This route class verifies the bearer token (401), checks the
    gate's roles (403), the route's rules (:func:`rule`), that the token's service exists
    (403) and the route's authorities (:func:`authority`) first, then hands over to FastAPI's
    handler; the gate dependency still runs there (it reuses the verified principal), so the
    OpenAPI document is unchanged.
    Routes without a gate are untouched. Every router under ``/v1`` uses this class."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        checks = [rule for rule in (getattr(d.dependency, "check_request", None)
                                    for d in self.dependencies) if rule is not None]
        authorities = [rule for rule in (getattr(d.dependency, "check_authority", None)
                                         for d in self.dependencies) if rule is not None]
        if not checks and not authorities:
            return super().get_route_handler()
        handler = self._handler_as_run()
        opens_session = _calls(self.dependant, _session)

        async def gated(request: Request) -> Response:
            principal = await verified_principal_of(request)
            for check_request in checks:
                check_request(request, principal)  # 403 for a role or scope that may not
            if principal.service is not None and not service_found_before(principal.service):
                # A token of a service this database does not hold is refused here too, before
                # the body is read (the same answer the case file gives it later); a service
                # once found needs no session to be known again.
                async with request.app.state.session_factory() as session:
                    if not await service_is_known(session, principal.service):
                        raise Forbidden("Your token's service is not known here.")
            if authorities:  # what the token may do to the path's object: 403 before the body
                async with request.app.state.session_factory() as session:
                    for check_authority in authorities:
                        await check_authority(session, principal, request.path_params)
            refusal = request.scope.get(BODY_REFUSAL_KEY)
            if refusal is not None:  # 413/415 from the headers, now that the gate has passed
                raise StarletteHTTPException(status_code=refusal[0], detail=refusal[1])
            # Before FastAPI parses the body: nesting past the limit has one answer at every
            # depth, also where the parser itself would give up (ATTACK33-3).
            await refuse_too_deep_json(request)
            if request.method != "GET" and principal.service is not None:
                # The versions of their packs services have been served with, read at start-up;
                # by the first write when the database was not there then (ATTACK27-1).
                await check_served_once(request.app.state.session_factory,
                                        request.app.state.policy)
                # A write answers the case's open steps: the day's stand-ins are settled first,
                # as before a read (Somerset 3.1; attack pass 11, A11-11: the first write after
                # leave started overnight answered steps owed to the absent line manager). A
                # dictionary look-up once this process has swept the service today.
                await settle_today(request.app.state.session_factory, request.app.state.policy,
                                   principal.service)
            if not opens_session:
                return await handler(request)
            # The request's unit of work, as the Session dependency would open it: committed
            # when the handler (the endpoint and its answer's serialisation) returns, before
            # the answer is sent; rolled back if anything raises.
            async with gated_session(request) as session:
                request.scope[SESSION_SCOPE_KEY] = session
                return await handler(request)

        return gated

    def _handler_as_run(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """FastAPI's handler built on :func:`_as_run` of the route's dependant (the route
        object FastAPI builds it from: this route, or the context of the router including
        it, whichever holds the ``dependant`` it reads)."""
        targets = [self]
        context = getattr(routing, "_effective_route_context_var", None)
        effective = context.get() if context is not None else None
        if effective is not None and getattr(effective, "original_route", None) is self:
            targets.append(effective)
        documented = [target.dependant for target in targets]
        try:
            for target, dependant in zip(targets, documented, strict=True):
                target.dependant = _as_run(dependant)
            return super().get_route_handler()
        finally:
            for target, dependant in zip(targets, documented, strict=True):
                target.dependant = dependant
