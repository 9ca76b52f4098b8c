"""Restricted cases: a manager limits a case to named staff, or shuts named staff out.

The access list is enforced in :mod:`app.domain.access` (one WHERE clause for every route);
this module validates and stores it, and shows it to those who may know it.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from typing import Annotated, Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.errors import Unprocessable
from app.core.security import Principal
from app.domain.cases_table import AccessMode, Case, CaseAccessStaff
from app.domain.common import StaffId
from app.domain.panels_table import undecided_agenda

StaffList = Annotated[list[StaffId], Field(min_length=1, max_length=200)]
# Who is shown the access list itself (others only see that the case is restricted): the list
# can say who is a relative of the child.
LIST_READERS = ("line_manager", "duty_manager", "chair")


class CaseAccess(BaseModel):
    """``access`` in ``PATCH /v1/cases/{id}``: exactly one of the two lists (null lifts it)."""

    model_config = ConfigDict(extra="forbid")
    allowed_staff: StaffList | None = Field(
        default=None, description="only these staff may see the case (1 to 200 staff ids)")
    excluded_staff: StaffList | None = Field(
        default=None, description="everyone but these staff (1 to 200 staff ids)")

    @model_validator(mode="after")
    def _one_list(self) -> CaseAccess:
        if (self.allowed_staff is None) == (self.excluded_staff is None):
            raise ValueError("give exactly one of allowed_staff or excluded_staff")
        return self

    @property
    def mode(self) -> AccessMode:
        """Which of the two lists this is."""
        return AccessMode.allowed if self.allowed_staff is not None else AccessMode.excluded

    @property
    def staff(self) -> list[str]:
        """The named staff, de-duplicated, sorted."""
        return sorted(set(self.allowed_staff or self.excluded_staff or []))


class AccessOut(BaseModel):
    """A restricted case's access list (shown to managers and chairs)."""

    mode: AccessMode
    staff: list[str]


async def staff_of(session: AsyncSession, case: Case) -> list[str]:
    """The staff ids on the case's access list, sorted (empty when unrestricted)."""
    rows = await session.exec(select(CaseAccessStaff.staff_id)
                              .where(CaseAccessStaff.case_id == case.id)
                              .order_by(col(CaseAccessStaff.staff_id)))
    return list(rows.all())


async def access_view(
    session: AsyncSession, principal: Principal, case: Case
) -> AccessOut | None:
    """The access list for managers and chairs; None when unrestricted or for other roles."""
    if case.access_mode is None or not principal.has(*LIST_READERS):
        return None
    return AccessOut(mode=case.access_mode, staff=await staff_of(session, case))


async def access_views(
    session: AsyncSession, principal: Principal, cases: Sequence[Any]
) -> dict[uuid.UUID, AccessOut]:
    """:func:`access_view` for a page of cases (a :class:`Case` or a list's row each) in one
    query: the restricted ones' access lists, for managers and chairs only."""
    restricted = {c.id: c.access_mode for c in cases if c.access_mode is not None}
    if not restricted or not principal.has(*LIST_READERS):
        return {}
    rows = await session.exec(select(CaseAccessStaff.case_id, CaseAccessStaff.staff_id)
                              .where(col(CaseAccessStaff.case_id).in_(list(restricted)))
                              .order_by(col(CaseAccessStaff.staff_id)))
    staff: dict[uuid.UUID, list[str]] = {case_id: [] for case_id in restricted}
    for case_id, staff_id in rows.all():
        staff[case_id].append(staff_id)
    return {case_id: AccessOut(mode=mode, staff=staff[case_id])
            for case_id, mode in restricted.items()}


def shuts_out(mode: AccessMode | None, staff: Collection[str], who: str) -> bool:
    """Whether a case's access restriction (``mode`` and its ``staff`` list) shuts ``who``
    out: not on an ``allowed`` list, or on an ``excluded`` one; never for an unrestricted case."""
    return mode is not None and (who in staff) != (mode == AccessMode.allowed)


def check_holders_keep_access(
    mode: AccessMode | None, staff: list[str], case: Case, loc: str | None = None
) -> None:
    """422 when the case holder or line manager would lose access to their own case (their
    steps would be owned by someone who cannot see them). ``loc``: the access list sent; none
    for a reassignment, whose error names the field of each holder shut out
    (``body.line_manager_id`` for the line manager; attack 22, A22-8)."""
    holders = {"case_holder_id": case.case_holder_id, "line_manager_id": case.line_manager_id}
    shut_out = sorted(field for field, who in holders.items() if shuts_out(mode, staff, who))
    if shut_out:
        raise Unprocessable(
            "The case holder and line manager must keep access to the case; reassign first.",
            slug="restriction-shuts-out-holder",
            errors=[{"loc": loc or f"body.{f}",
                     "msg": f"would shut out the case's {f.removesuffix('_id')}"}
                    for f in shut_out],
        )


async def check_chairs_keep_access(
    session: AsyncSession, mode: AccessMode | None, staff: Collection[str], case: Case,
    loc: str, chair_id: str | None = None,
) -> None:
    """422 ``restriction-shuts-out-chair`` when the restriction would shut out the chair of a
    panel that is to decide the case: ``chair_id`` (a panel the case is being put on), or the
    chair of any panel with the case's undecided item. The chair owes the decision (Somerset
    7.1.2; Wokingham's High Risk Panel) and only recording it closes that duty: a chair who may
    not see the case could neither record it nor see the item, and the panel could not be
    cancelled while the item stands (attack pass 12, A12-7)."""
    if mode is None:
        return
    chairs = {chair_id} if chair_id is not None else {
        chair for _, chair in await undecided_agenda(session, case.id)}
    if any(shuts_out(mode, staff, chair) for chair in chairs if chair):
        raise Unprocessable(
            "The chair of a panel that is to decide this case must keep access to it: add "
            "them to the access list (or another chair chairs that panel).",
            slug="restriction-shuts-out-chair",
            errors=[{"loc": loc, "msg": "would shut out the chair of a panel deciding the case"}])


async def set_access(session: AsyncSession, case: Case, access: CaseAccess | None) -> bool:
    """Store the access list (None lifts the restriction); whether anything changed."""
    old_mode, old_staff = case.access_mode, await staff_of(session, case)
    new_mode = access.mode if access else None
    new_staff = access.staff if access else []
    check_holders_keep_access(new_mode, new_staff, case, f"body.access.{new_mode}_staff")
    await check_chairs_keep_access(session, new_mode, new_staff, case,
                                   f"body.access.{new_mode}_staff")
    if (old_mode, old_staff) == (new_mode, new_staff):
        return False
    conn = await session.connection()
    await conn.execute(sa.delete(CaseAccessStaff).where(
        col(CaseAccessStaff.case_id) == case.id))
    for staff_id in new_staff:
        session.add(CaseAccessStaff(case_id=case.id, staff_id=staff_id))
    case.access_mode = new_mode
    return True
