"""The application factory: settings, lifespan (engine, packs, keys), middleware, routers."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from functools import partial
from typing import TYPE_CHECKING, Any

import structlog
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi_offline import FastAPIOffline
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import BaseRoute

from app.core import clock
from app.core.config import Settings, get_settings
from app.core.db import build_engine, session_factory
from app.core.edge import EdgeMiddleware
from app.core.logging import configure_logging
from app.core.metrics import metrics
from app.core.problems import (
    Problem,
    database_unavailable,
    install_problem_handlers,
    problem_response,
    problem_responses,
)
from app.core.security import JWKSCache, TokenVerifier
from app.domain.access_log import AccessLogWriter
from app.domain.history import RecordedSession
from app.domain.pack_versions import check_served
from app.domain.policy import PolicyContext
from app.domain.services import services_without_pack, unloaded_packs_message
from app.routers import (
    assessments,
    audit,
    calendar,
    cases,
    events,
    health,
    judgements,
    oversight,
    panels,
    referrals,
    reports,
    services,
    staff,
    steps,
    ui,
    webhooks,
)
from app.routers import policy as policy_routes
from app.workflows.calendar import WorkingCalendar, london_date
from app.workflows.engine import load_service_packs
from app.workflows.packs import latest, not_in_force_yet

if TYPE_CHECKING:
    import httpx

API_DESCRIPTION = """Risk management policy of youth justice teams in England and Wales.

Every write answers `{data, next_steps}`: the mandated next steps (who must do what, by when,
and which paragraph of the team's written policy says so). Authenticate with
`Authorization: Bearer <JWT>`; a machine client's token (role `feed`) names what it is for in
its `scope` claim: `cms` (case upsert and events) or `feed:emrac` / `feed:mappa` (that feed's
deliveries only).

**Times.** Send RFC 3339 date-times with an offset (`2026-08-28T15:30:00+01:00`; a time without
one is refused). Every time in an answer is in UTC with `Z` (`2026-08-28T14:30:00Z`), whether it
echoes the request or is read back; dates are ISO dates (`2026-08-28`).

**Errors** are RFC 9457 `application/problem+json` with `type` (what went wrong: tell problems
apart by it), `title` (always the RFC 9110 reason phrase of the status, e.g. `Unprocessable
Content` for every 422), `status`, `detail`, `instance` (`urn:uuid:` of the answer's
`X-Request-ID`: this occurrence, as the logs know it) and, for 422, `errors` (`[{loc, msg}]`). No
error carries a value of the request back, not even the path: a field the contract does not
know is placed by position (`{"loc": "body", "msg": "... (at key 2 of this object)"}`), with the
contract's own field it is close to when there is one (`...; did you mean 'policy_pack'?)`); a
value the contract refuses is answered with the contract's rule (`does not satisfy the
contract's 'pattern': "^[a-z0-9]..."`).

A guide for integrators (identity provider, case upsert, feeds, webhooks, pagination, errors,
versioning) is `docs/integrating.md` in the repository.
"""


DOCS_ASSETS_URL = "/docs-assets"


def build_policy_context(settings: Settings) -> PolicyContext:
    """Load and check every pack, bundled and in ``YJ_PACKS_DIR`` (PackError, so no start-up,
    on an invalid one; warnings are logged), and the working calendar."""
    versions = load_service_packs(settings.packs_dir)  # as `yjrisk pack test` loads them
    log = structlog.get_logger("yjrisk.packs")
    for found in versions.values():
        for pack in found:
            for problem in pack.warnings:
                log.warning("pack.warning", pack=pack.id, version=pack.version,
                            rule=problem.rule, field=problem.field, message=problem.message)
        early = not_in_force_yet(found, london_date(clock.now()))
        if early is not None:  # A26a-6: a pack none of whose versions is in force today
            log.warning("pack.warning", pack=found[0].id, version=found[0].version,
                        rule=early.rule, field=early.field, message=early.message)
    return PolicyContext(
        packs=latest(versions), versions=versions,
        calendar=WorkingCalendar(extra_closures=settings.extra_closure_days),
    )


def create_app(
    settings: Settings | None = None,
    *,
    jwks_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """Build the ASGI app; nothing touches the database until the lifespan starts."""
    settings = settings or get_settings()
    configure_logging(settings.log_level, settings.log_json)
    clock.configure(settings)
    policy_ctx = build_policy_context(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = build_engine(settings)
        app.state.engine = engine
        app.state.session_factory = session_factory(engine, RecordedSession)
        # A stored service whose pack is not loaded: no start (however the app is served;
        # `yjrisk serve` says so in one line before it gets here; A26a-17). A database not
        # there yet does not stop the start (`/readyz` says not ready, A21a-3): that service's
        # acts are then 503 (`PolicyContext.pack_for`), never judged by another pack.
        # So is a service served with a version of its pack no longer loaded (ATTACK27-1);
        # where the start-up could not look, the first write looks (check_served_once).
        try:
            async with app.state.session_factory() as session:
                missing = await services_without_pack(
                    session, policy_ctx.versions or policy_ctx.packs)
                refusal = None if missing else await check_served(session, policy_ctx)
        except Exception as exc:
            if not database_unavailable(exc):
                raise
            missing, refusal = [], None
            structlog.get_logger("yjrisk.packs").warning("pack.services_unchecked")
        if missing or refusal:
            await engine.dispose()
            raise RuntimeError(unloaded_packs_message(missing) if missing else refusal)
        app.state.access_log = AccessLogWriter(app.state.session_factory,
                                               settings.access_log_flush_seconds,
                                               settings.access_log_batch)
        app.state.access_log.start()
        try:
            yield
        finally:
            await app.state.access_log.stop()  # reads noted so far are written, not lost
            await engine.dispose()

    # Swagger UI (/docs) and ReDoc (/redoc) with their assets served by the service itself
    # (fastapi-offline bundles them), so the docs work on networks without a CDN.
    app = FastAPIOffline(
        title="yjrisk",
        version="1.1.0",  # docs/integrating.md §8, Changelog (attack 20, A20-8)
        description=API_DESCRIPTION,
        lifespan=lifespan,
        static_url=DOCS_ASSETS_URL,
        # The service's own observability is structlog's lines and Prometheus (app.core.edge,
        # app.core.metrics); FastAPI's native OpenTelemetry spans, metrics and logs (0.165),
        # which no deployment here configures, are switched off with FastAPI's own option, so
        # a request no longer asks OpenTelemetry's three global providers whether one was set
        # up (~15 us a request; issue 15).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    # No trailing-slash redirects: Starlette answered ``/v1/cases/`` with a 307 to a URL built
    # from the request's Host header and scheme (a host and scheme the client or a proxy
    # chose, ignoring YJ_PUBLIC_BASE_URL), before authentication, and for writes too: a client
    # following it could resend its token and body over plain http or to another host (attack
    # 32b, ATTACK32B-8). A path with a trailing slash is a route like any other: 404 problem.
    app.router.redirect_slashes = False
    app.state.settings = settings
    app.state.policy = policy_ctx
    jwks = None
    if settings.jwks_url:
        jwks = JWKSCache(
            settings.jwks_url, settings.jwks_cache_seconds, settings.jwks_timeout_seconds,
            transport=jwks_transport, min_refresh_seconds=settings.jwks_min_refresh_seconds,
        )
    app.state.verifier = TokenVerifier(settings, jwks)
    install_problem_handlers(app)
    for router in (
        health.router, services.router, cases.router, judgements.router, steps.router,
        policy_routes.router, referrals.router, panels.router,
        assessments.router, events.router, oversight.router, webhooks.router, audit.router,
        reports.router, calendar.router, staff.router,
    ):
        # Every /v1 route documents its problem+json errors (health has none).
        responses = {} if router is health.router else problem_responses()
        app.include_router(router, responses=responses)
    app.include_router(ui.router)
    app.mount("/ui/static", ui.static_files, name="ui-static")
    _document_problems(app)
    app.add_api_route("/metrics", metrics, methods=["GET"], include_in_schema=False)
    # One pure-ASGI layer: request id, HEAD/OPTIONS, the request guard (401/413/415 before any
    # handler), unhandled errors, docs pages' headers, access log and metrics (app.core.edge).
    app.add_middleware(EdgeMiddleware, router=app.router, max_body_bytes=settings.max_body_bytes,
                       max_header_bytes=settings.max_header_bytes)
    if settings.cors_origins:
        # Browser front ends: only the configured origins; bearer tokens, never cookies.
        app.add_middleware(
            ProblemCORSMiddleware, allow_origins=settings.cors_origins, allow_credentials=False,
            allow_methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "If-Match", "Idempotency-Key",
                           "X-Request-ID"],
            expose_headers=["ETag", "Location", "Retry-After", "X-Request-ID",
                            "Idempotent-Replayed"],
            max_age=600,
        )
    return app


class ProblemCORSMiddleware(CORSMiddleware):
    """Starlette's CORS middleware, with a refused preflight (an origin, method or header not
    allowed) answered as an RFC 9457 problem (400 ``cors-preflight-refused``, naming what was
    refused by kind, never echoing the request's values) instead of Starlette's plain text."""

    def preflight_response(self, request_headers: Any) -> Any:
        """Starlette's answer; a 400 becomes a problem with the same status and no grant."""
        answer = super().preflight_response(request_headers)
        if answer.status_code != 400:
            return answer
        refused = bytes(answer.body).decode("utf-8", "replace").removeprefix("Disallowed CORS ")
        detail = f"This cross-origin request is not allowed here (its {refused})."

        async def refuse(scope: Any, receive: Any, send: Any) -> None:
            response = problem_response(400, detail, slug="cors-preflight-refused")
            response.headers["Vary"] = "Origin"  # the answer depends on the origin asking
            await response(scope, receive, send)

        return refuse


def openapi_of(app: FastAPI, routes: Sequence[BaseRoute]) -> dict[str, Any]:
    """The OpenAPI document of ``routes`` only, as ``app.openapi()`` documents them (same
    generator and options, the Problem schema added), not cached: what the request guard reads
    the contract's body schemas and names from (``app.state.openapi_of``), one route or router
    at a time, rather than building and keeping the whole document (~8 MB of every API process,
    issue 15 goal 5) when no one has asked for it."""
    return _with_problem(get_openapi(
        title=app.title, version=app.version, openapi_version=app.openapi_version,
        routes=routes, separate_input_output_schemas=app.separate_input_output_schemas))


def _with_problem(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with the Problem schema the error responses refer to in its components."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    if "Problem" not in components:
        problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(problem.pop("$defs", {}))
        components["Problem"] = problem
    return schema


def _document_problems(app: FastAPI) -> None:
    """Put the Problem schema the error responses refer to into the OpenAPI components."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        return _with_problem(generate())

    app.openapi = openapi  # type: ignore[method-assign]
    app.state.openapi_of = partial(openapi_of, app)


def app_factory() -> FastAPI:
    """Entry point for ``uvicorn --factory app.main:app_factory``.

    The objects that live as long as the process (modules, the app, its routes, models and
    packs: ~190,000 that the garbage collector tracks) are moved out of its reach once built
    (``gc.freeze``): a full collection otherwise walks them all, and a list page's ~5,000 new
    objects set one off every hundred pages or so (measured in process on the small national
    preset: 2 full collections in 200 register pages took 1.06 s in all, 4 after freezing took
    0.01 s), each in some request's response time. They are never freed anyway; what a
    request allocates is collected as before."""
    app = create_app()
    gc.collect()
    gc.freeze()
    return app
