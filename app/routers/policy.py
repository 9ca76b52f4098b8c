"""Policy packs as data, the workflow preview, and the register."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Query, Request, Response

from app.core.deps import CurrentPrincipal, Session, reads_only
from app.core.errors import NotFound
from app.core.http import PathFilteredRouter
from app.domain import policy
from app.domain.cases import MAX_PAGE, CaseFilters, CaseOut, list_cases
from app.domain.page_json import cases_json, page_response
from app.domain.preview import PreviewOut, PreviewRequest, preview
from app.domain.restriction import access_views
from app.routers.envelopes import Page, Read
from app.routers.gates import GatedRoute, gate

router = PathFilteredRouter(route_class=GatedRoute, tags=["policy"])


@router.get("/v1/policy-packs", response_model=Read[list[dict[str, Any]]],
             dependencies=[gate("policy.read")])
async def list_packs(request: Request, principal: CurrentPrincipal) -> Read[list[dict[str, Any]]]:
    """Every policy pack the service knows, as data (rules, matrix, floors)."""
    packs = request.app.state.policy.packs
    return Read(data=[packs[k].model_dump(mode="json") for k in sorted(packs)])


@router.get("/v1/policy-packs/{pack_id}", response_model=Read[dict[str, Any]],
             dependencies=[gate("policy.read")])
async def read_pack(
    pack_id: Annotated[str, Path(max_length=64)], request: Request, principal: CurrentPrincipal,
    version: Annotated[str | None, Query(max_length=16, description="a version of the pack "
                                                                   "(default: the newest)")] = None,
) -> Read[dict[str, Any]]:
    """One policy pack (its newest version, or ``version``), rule by rule, with the paragraph
    each rule comes from, its vocabulary (the words writes may use: core and the pack's own),
    the check's warnings, every version with the date it comes into force, and
    ``done_only_by_act``: each step code that only a recorded act does (``{code: [act, ...]}``;
    `POST /v1/next-steps/{id}/complete` on such a step is `409 step-done-by-act`; every other
    code may be completed by hand, `completable` and the steps an act only makes moot
    included)."""
    found = request.app.state.policy.versions_of(pack_id)
    if not found:
        raise NotFound("No such policy pack.")
    pack = found[-1] if version is None else next((v for v in found if v.version == version), None)
    if pack is None:
        raise NotFound("No such version of this policy pack.")
    return Read(data={
        **pack.model_dump(mode="json"), "vocabulary": pack.vocabulary(),
        "done_only_by_act": {code: list(acts) for code in pack.step_codes()
                             if (acts := pack.done_only_by(code))},
        "warnings": [{"rule": w.rule, "field": w.field, "message": w.message}
                     for w in pack.warnings],
        "versions": [{"version": v.version, "title": v.title,
                      "effective_from": v.effective_from.isoformat() if v.effective_from
                      else None} for v in found],
    })


@router.post("/v1/workflow/preview", response_model=Read[PreviewOut],
             dependencies=[gate("workflow.preview")])
@reads_only
async def workflow_preview(
    body: PreviewRequest, request: Request, session: Session, principal: CurrentPrincipal
) -> Read[PreviewOut]:
    """What a judgement or event would produce (steps, refusals); writes nothing."""
    return Read(data=await preview(session, principal, body, request.app.state.policy))


@router.get("/v1/register", response_model=Page[CaseOut],
             dependencies=[gate("register.read")])
async def register(
    session: Session,
    principal: CurrentPrincipal,
    cursor: Annotated[str | None, Query(max_length=512, description=(
        "the `next_cursor` of the previous page"))] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="cases per page")] = 50,
) -> Response:
    """Cases with ROSH or SWB high/very high (Somerset 9), for chairs, panel admins, managers:
    each with its open steps, oldest first, paged like `GET /v1/cases` (keyset cursor on
    creation time then id; `limit` 1-200, default 50; `next_cursor` null on the last page;
    an invalid cursor is 422)."""
    filters = CaseFilters(on_register=True, cursor=cursor, limit=limit)
    service, cases, next_cursor = await list_cases(session, principal, filters, panel_view=True)
    steps = await policy.open_steps_json_by_case(session, [c.id for c in cases])
    access = await access_views(session, principal, cases)
    return page_response(cases_json(cases, service, steps, access), next_cursor)
