"""The panel tables (kept apart from the panel services, so that access and policy can read them
without importing the services that import access and policy)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.domain.common import JSONType, new_id, utcnow
from app.workflows.types import ScheduledPanel


class Panel(SQLModel, table=True):
    """A scheduled panel meeting of one of the kinds the service's pack declares."""

    __tablename__ = "panel"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    service_id: uuid.UUID = Field(foreign_key="service.id", index=True)
    # A panel kind of the service's pack (``[[panel_kinds]]``), checked on write.
    kind: str = Field(max_length=32)
    scheduled_for: datetime = Field(index=True)
    chair_id: str = Field(max_length=128)
    created_by: str = Field(max_length=128)
    created_at: datetime = Field(default_factory=utcnow)


class PanelItem(SQLModel, table=True):
    """A case on a panel's agenda, with its presenter and, once made, the decision. One item per
    case per panel (attack pass 11, A11-8): a second line for the same child invited two
    contradicting decisions at one sitting."""

    __tablename__ = "panel_item"
    # The database's guarantee of one item per case per panel, whatever races (migration 0020).
    __table_args__ = (sa.Index("uq_panel_item_panel_case", "panel_id", "case_id",
                               "duplicate_rank", unique=True),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    service_id: uuid.UUID = Field(foreign_key="service.id")
    panel_id: uuid.UUID = Field(foreign_key="panel.id", index=True)
    case_id: uuid.UUID = Field(foreign_key="case.id", index=True)
    presenter_id: str = Field(max_length=128)
    referral_id: uuid.UUID | None = Field(default=None, foreign_key="referral.id")
    created_at: datetime = Field(default_factory=utcnow)
    decided_at: datetime | None = None
    decided_by: str | None = Field(default=None, max_length=128)
    decision: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    # Taken off the agenda before a decision (migration 0022; attack pass 11, A11-16): by the
    # panel's keepers (POST .../withdraw), or by the act that ended the need for the panel
    # (the case closed, its panel referral withdrawn or declined). Kept for the audit trail;
    # its ``duplicate_rank`` is then negative, so the case may come back onto the agenda.
    withdrawn_at: datetime | None = None
    withdrawn_by: str | None = Field(default=None, max_length=128)
    withdrawal_reason: str | None = Field(default=None, max_length=500)
    # Taken off by the panel's keepers (migration 0036; ATTACK36-3): the case is not heard at
    # that sitting, so its ``next-panel`` steps take the next one (``left_panel_ids``).
    withdrawn_by_keepers: bool = Field(default=False,
                                       sa_column_kwargs={"server_default": sa.false()})
    # 0 for every item stored since migration 0020. Before it a case could be put on one panel
    # twice: the migration kept those extra items (and any decision on them) and numbered them
    # 1, 2, ... in the order they were added, so that (panel, case, rank) is unique and no new
    # item can join a case already on the agenda.
    duplicate_rank: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


async def load_scheduled_panels(
    session: AsyncSession, service_id: uuid.UUID
) -> list[ScheduledPanel]:
    """The service's panels, soonest first, for ``next-panel`` deadlines."""
    rows = await session.exec(select(Panel).where(Panel.service_id == service_id)
                              .order_by(col(Panel.scheduled_for)))
    return [ScheduledPanel(id=p.id, kind=p.kind, scheduled_for=p.scheduled_for)
            for p in rows.all()]


async def undecided_agenda(
    session: AsyncSession, case_id: uuid.UUID
) -> list[tuple[uuid.UUID, str]]:
    """The case's agenda items no panel has decided yet (nor withdrawn, A11-16), each as (item
    id, its panel's chair), in the order they were added; empty when the case waits on no
    panel. The one query for "is the case going to a panel" (a panel referral it answers,
    A11-7) and "who owes its decision" (a restriction may not shut that chair out, A12-7)."""
    rows = await session.exec(
        select(PanelItem.id, Panel.chair_id)
        .join(Panel, col(Panel.id) == col(PanelItem.panel_id))
        .where(PanelItem.case_id == case_id, col(PanelItem.decided_at).is_(None),
               col(PanelItem.withdrawn_at).is_(None))
        .order_by(col(PanelItem.created_at), col(PanelItem.id)))
    return [(item_id, chair_id) for item_id, chair_id in rows.all()]
