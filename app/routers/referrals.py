"""Referrals: made on a case, moved through their lifecycle, and received from feeds."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Header, Path, Request, Response
from starlette.responses import JSONResponse

from app.core.deps import CurrentPrincipal, Session
from app.core.http import PathFilteredRouter
from app.core.problems import problem_responses
from app.domain import etags, feeds
from app.domain import referrals as svc
from app.domain.access import service_of
from app.domain.common import state_etag
from app.routers.conditional import CASE_IF_MATCH, if_match
from app.routers.envelopes import Page, PageQuery, Read, Written
from app.routers.gates import GatedRoute, gate, referral_action_gate

router = PathFilteredRouter(route_class=GatedRoute, tags=["referrals"])
ACTION_PATTERN = "^(submit|quality-assure|send|accept|decline|withdraw)$"


@router.post("/v1/cases/{case_id}/referrals", status_code=201,
             response_model=Written[svc.ReferralOut], responses=problem_responses(412),
             dependencies=[gate("referral.create"), CASE_IF_MATCH])
async def create(
    case_id: uuid.UUID, body: svc.ReferralCreate, request: Request, response: Response,
    session: Session, principal: CurrentPrincipal,
) -> Written[svc.ReferralOut]:
    """Make a referral (a draft). The draft closes no step: the step that asked for it is
    closed by the act that makes the referral under the service's pack (its kind's `made_by`:
    submitting a panel referral, sending the others, e.g. a child protection referral once
    sent; `GET /v1/referrals/transitions`). `If-Match`, optional, is the case's ETag; the
    answer's `ETag` is the new referral's."""
    referral, result = await svc.create_referral(
        session, principal, case_id, body, request.app.state.policy
    )
    response.headers["ETag"] = await etags.of_row(session, svc.Referral, referral.id)
    return Written(data=referral, next_steps=result.next_steps)


@router.get("/v1/cases/{case_id}/referrals", response_model=Page[svc.ReferralOut],
             dependencies=[gate("referral.read")])
async def list_for_case(
    case_id: uuid.UUID, request: Request, session: Session, principal: CurrentPrincipal,
    page: PageQuery,
) -> Page[svc.ReferralOut]:
    """The case's referrals, newest first, a page at a time."""
    rows, following = await svc.list_case_referrals(session, principal, case_id,
                                                    request.app.state.policy, page)
    return Page(data=rows, next_cursor=following)


@router.get("/v1/referrals/transitions", response_model=Read[list[dict[str, Any]]],
            dependencies=[gate("referral.transitions")])
async def transitions(
    request: Request, session: Session, principal: CurrentPrincipal
) -> Read[list[dict[str, Any]]]:
    """The referral lifecycle as data under the caller's service's pack: actions, from/to
    states, roles, the kinds a gated action applies to, hints."""
    service = await service_of(session, principal)
    pack = request.app.state.policy.pack_now(service)
    return Read(data=[t.as_dict(pack) for t in svc.TRANSITIONS])


@router.get("/v1/referrals/{referral_id}", response_model=Read[svc.ReferralOut],
             dependencies=[gate("referral.read")])
async def read(
    referral_id: uuid.UUID, request: Request, session: Session, principal: CurrentPrincipal,
    response: Response,
) -> Read[svc.ReferralOut]:
    """A referral with the actions now open to it, and its `ETag` (an action on it may send it
    in `If-Match`: 412 when the referral has changed since)."""
    service, _, referral = await svc.load_referral(session, principal, referral_id)
    response.headers["ETag"] = state_etag(referral)
    return Read(data=svc.referral_out(referral, request.app.state.policy.pack_now(service)))


@router.post("/v1/referrals/{referral_id}/{action}", response_model=Written[svc.ReferralOut],
             responses=problem_responses(412),
             dependencies=[referral_action_gate, if_match("referral", "referral_id")])
async def act(
    referral_id: uuid.UUID,
    action: Annotated[str, Path(pattern=ACTION_PATTERN)],
    request: Request,
    response: Response,
    session: Session,
    principal: CurrentPrincipal,
    body: svc.ReferralAction | None = None,
) -> Written[svc.ReferralOut]:
    """Move a referral: submit, quality-assure, send, accept, decline, withdraw (409 if
    illegal); the answer's `ETag` is the referral's as moved."""
    referral, result = await svc.transition(
        session, principal, referral_id, action, body or svc.ReferralAction(),
        request.app.state.policy,
    )
    response.headers["ETag"] = await etags.of_row(session, svc.Referral, referral.id)
    return Written(data=referral, next_steps=result.next_steps)


@router.post(
    "/v1/feeds/{source}/referrals",
    status_code=201,
    dependencies=[gate("feed.deliver")],
    response_model=Written[svc.ReferralOut],
    responses={200: {"description": "A replay: the first delivery's answer, unchanged"}},
)
async def feed_delivery(
    source: feeds.FeedSource,
    body: feeds.FeedReferral,
    request: Request,
    session: Session,
    principal: CurrentPrincipal,
    idempotency_key: Annotated[str | None, Header(
        alias="Idempotency-Key", max_length=feeds.MAX_KEY_LENGTH)] = None,
) -> JSONResponse:
    """Receive a referral from the EMRAC or MAPPA feed; Idempotency-Key required (1 to
    ``feeds.MAX_KEY_LENGTH``, 255, characters: a longer key is 422 at ``header.Idempotency-Key``,
    the one limit the contract publishes; attack 32b, ATTACK32B-7). A MAPPA message that
    cannot be applied as sent is 422 with nothing stored and the key not used up:
    ``mappa-level-without-category`` (a level with no MAPPA category on the case at its
    ``received_at`` nor after it, as ``PATCH`` refuses it), ``mappa-field-cleared-by-feed`` (a
    MAPPA field sent as null: a message sets fields, a person clears them)."""
    settings = request.app.state.settings
    answer = await feeds.receive(
        session, principal, source, idempotency_key, body, request.app.state.policy,
        timedelta(hours=settings.idempotency_key_ttl_hours),
    )
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else {}
    return JSONResponse(answer.body, status_code=answer.status, headers=headers)
