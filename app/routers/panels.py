"""Panels: schedule, agenda items, decisions."""

from __future__ import annotations

import uuid

from fastapi import Request, Response

from app.core.deps import CurrentPrincipal, Session
from app.core.http import PathFilteredRouter
from app.core.problems import problem_responses
from app.domain import etags
from app.domain import panels as svc
from app.routers.conditional import if_match
from app.routers.envelopes import Page, PageQuery, Read, Written
from app.routers.gates import GatedRoute, gate

router = PathFilteredRouter(route_class=GatedRoute, prefix="/v1/panels", tags=["panels"])
PANEL_IF_MATCH = if_match("panel", "panel_id")


@router.post("", status_code=201, response_model=Written[svc.PanelOut],
             dependencies=[gate("panel.schedule")])
async def create(
    body: svc.PanelCreate, request: Request, response: Response, session: Session,
    principal: CurrentPrincipal,
) -> Written[svc.PanelOut]:
    """Schedule a panel (chair, panel admin; 422 `scheduled-too-far-ahead` more than a year
    ahead, `not-a-working-day` on a weekend, bank holiday or closure day); waiting
    `next-panel` steps get its date. `chair_id` is not checked against a staff directory
    (the service keeps none): any chair of the service records the decision."""
    panel = await svc.create_panel(session, principal, body, request.app.state.policy)
    response.headers["ETag"] = await etags.of_panel(session, panel.id, principal)
    return Written(data=svc.panel_out(panel, []))


@router.post("/{panel_id}/reschedule", response_model=Written[svc.PanelOut],
             responses=problem_responses(412),
             dependencies=[gate("panel.schedule"), PANEL_IF_MATCH])
async def reschedule(
    panel_id: uuid.UUID, body: svc.PanelMove, request: Request, response: Response,
    session: Session, principal: CurrentPrincipal,
) -> Written[svc.PanelOut]:
    """Move a panel to another time (chair, panel admin; 409 `panel-has-sat` once its time has
    passed, `panel-decided` once a decision is recorded on it; 422 `moved-into-past` for a time
    already past, `scheduled-too-far-ahead` more than a year ahead, `not-a-working-day` on a
    weekend, bank holiday or closure day); `next-panel` steps whose
    date that changes, sooner or later, are re-dated."""
    await svc.reschedule_panel(session, principal, panel_id, body, request.app.state.policy)
    panel, items, visible = await svc.read_panel(session, principal, panel_id)
    response.headers["ETag"] = await etags.of_panel(session, panel.id, principal)
    return Written(data=svc.panel_out(panel, items, visible))


@router.delete("/{panel_id}", status_code=204,
                responses=problem_responses(412),
                dependencies=[gate("panel.schedule"), PANEL_IF_MATCH])
async def cancel(
    panel_id: uuid.UUID, request: Request, session: Session, principal: CurrentPrincipal
) -> Response:
    """Cancel a panel (chair, panel admin; 409 `panel-has-items` while cases stand on its
    agenda (withdraw them first; withdrawn items go with it), `panel-decided` once a decision
    is recorded, `panel-has-sat` once its time has passed, unless it was booked after its own
    time and no `next-panel` step is due at it: a booking made in the past by mistake);
    `next-panel` steps that were due at it take the next panel of its kind, or wait for one."""
    await svc.cancel_panel(session, principal, panel_id, request.app.state.policy)
    return Response(status_code=204)


@router.get("", response_model=Page[svc.PanelOut],
             dependencies=[gate("panel.read")])
async def list_panels(
    session: Session, principal: CurrentPrincipal, page: PageQuery, upcoming: bool = True
) -> Page[svc.PanelOut]:
    """The service's panels, soonest first (upcoming only unless `upcoming=false`), a page
    at a time (keyset cursor on the panel's time then id)."""
    rows, visible, following = await svc.list_panels(session, principal, upcoming, page)
    return Page(data=[svc.panel_out(p, items, visible) for p, items in rows],
                next_cursor=following)


@router.get("/{panel_id}", response_model=Read[svc.PanelOut],
             dependencies=[gate("panel.read")])
async def read(
    panel_id: uuid.UUID, session: Session, principal: CurrentPrincipal, response: Response
) -> Read[svc.PanelOut]:
    """A panel and its agenda (without the items of restricted cases that shut you out), and
    its `ETag` over what you are shown (a move, a cancellation or an act on its agenda may send
    it in `If-Match`: 412 when the panel or its agenda as you see it has changed since)."""
    panel, items, visible = await svc.read_panel(session, principal, panel_id)
    response.headers["ETag"] = await svc.panel_etag(session, panel, principal)
    return Read(data=svc.panel_out(panel, items, visible))


@router.post("/{panel_id}/items", status_code=201, response_model=Written[svc.PanelItemOut],
             responses=problem_responses(412),
             dependencies=[gate("panel.add_item"), PANEL_IF_MATCH])
async def add_item(
    panel_id: uuid.UUID, body: svc.PanelItemCreate, request: Request, response: Response,
    session: Session, principal: CurrentPrincipal,
) -> Written[svc.PanelItemOut]:
    """Put a case on the agenda with its presenter (and optionally its referral); answers the
    case's open steps. One item per case per panel: 409 `already-on-agenda` (naming the
    existing item) when the case is on it already; 422 `panel-before-case` or
    `panel-while-case-closed` for a panel that sat before the case opened or while it was
    closed (it could not have heard the case)."""
    item, result = await svc.add_item(session, principal, panel_id, body,
                                      request.app.state.policy)
    response.headers["ETag"] = await etags.of_panel(session, item.panel_id, principal)
    return Written(data=svc.item_out(item), next_steps=result.next_steps)


@router.post("/{panel_id}/items/{item_id}/withdraw", response_model=Written[svc.PanelItemOut],
             responses=problem_responses(412),
             dependencies=[gate("panel.withdraw_item"), PANEL_IF_MATCH])
async def withdraw_item(
    panel_id: uuid.UUID, item_id: uuid.UUID, body: svc.PanelItemWithdraw, request: Request,
    response: Response, session: Session, principal: CurrentPrincipal,
) -> Written[svc.PanelItemOut]:
    """Take a case off the agenda before its decision (chair, panel admin; `reason`
    required; `occurred_at` optional, 422 in the future or before the item's adding): the item
    is kept, marked withdrawn (who, when, why, audited), the chair's `record_panel_decision`
    for it is superseded with the reason, and the case's `next-panel` steps due at this sitting
    take the next of its kind, or wait for one, as if it were cancelled for this case. 409
    `conflicting-transition` once it is decided or withdrawn (`current_status`). Like the
    panel's other acts, a POST without If-Match: the item's state is re-read under the case's
    lock."""
    item, result = await svc.withdraw_item(session, principal, panel_id, item_id, body,
                                           request.app.state.policy)
    response.headers["ETag"] = await etags.of_panel(session, item.panel_id, principal)
    return Written(data=svc.item_out(item), next_steps=result.next_steps)


@router.post("/{panel_id}/items/{item_id}/decision", response_model=Written[svc.PanelItemOut],
             responses=problem_responses(412),
             dependencies=[gate("panel.decide"), PANEL_IF_MATCH])
async def decide(
    panel_id: uuid.UUID, item_id: uuid.UUID, body: svc.PanelDecisionCreate, request: Request,
    response: Response, session: Session, principal: CurrentPrincipal,
) -> Written[svc.PanelItemOut]:
    """Record the decision (chair; not the item's presenter): ratings, actions, review date."""
    item, result = await svc.decide(
        session, principal, panel_id, item_id, body, request.app.state.policy
    )
    response.headers["ETag"] = await etags.of_panel(session, item.panel_id, principal)
    return Written(data=svc.item_out(item), next_steps=result.next_steps)
