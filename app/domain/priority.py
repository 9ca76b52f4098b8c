"""A manager raises (or clears) the priority of a High/Very High case (Somerset 3.2.4).

3.2.4: "'Very High' judgements will trigger the case being dealt with as a priority at all
stages" (the derived marker, the pack's ``[priority] when``) and "The urgency of oversight by
the MARP will be agreed with a manager, (High/Very High cases) who will act to raise the
priority if necessary" (attack pass 20, A20-16): the manager's act. ``POST
/v1/cases/{id}/priority`` ``{raised, reason}``: the case's line manager, a duty manager (cover) or
a chair (the operational/YJT manager); 403 for anyone else before the body is read. One
transaction under the case's lock: the case's ``priority_raised`` and ``priority`` and its open
steps' ``priority``, the audit entry (``case.priority_raise`` / ``case.priority_clear``, with
the reason) and the outbox's ``case.updated``; an ``If-Match`` sent is checked against the case
(412), as on the other case writes. Raising is 409 ``priority-not-raisable`` unless the pack's
``[priority] raisable`` holds (ROSH or SWB high or very high); a service whose policy has no
such act (Wokingham) answers 422 ``priority-not-in-policy``; a closed case 409 ``case-closed``.
The raised priority lapses when ROSH and SWB are both below high, at closure and at a recorded
death, as the Very High marker does (:func:`app.domain.policy.apply_derived`); a reopening
does not bring it back (a manager decides again). Raising or clearing what already stands
changes nothing and records nothing."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict
from pydantic import Field as PField
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.errors import Conflict, Unprocessable
from app.core.security import Principal
from app.domain import policy
from app.domain.access import (
    MANAGERS,
    case_role_for,
    get_visible_case,
    require_open_case,
    require_roles,
)
from app.domain.cases_table import Case
from app.domain.common import Reason, iso_utc, utcnow
from app.domain.final_events import require_before_final_event
from app.domain.outbox import emit
from app.domain.services import Service
from app.domain.write_context import WriteContext
from app.workflows.packs import is_raisable

# Who raise a case's priority: "a manager" (3.2.4): the case's line manager, a duty manager
# standing in (3.1), the operational/YJT manager (the chair role).
PRIORITY_SETTERS = (*MANAGERS, "chair")



class PriorityChange(BaseModel):
    """Body of ``POST /v1/cases/{id}/priority``."""

    model_config = ConfigDict(extra="forbid")
    raised: bool = PField(description="true: raise the case's priority (a High/Very High case, "
                                      "Somerset 3.2.4); false: clear a raised priority")
    reason: Reason = PField(description="why (kept in the audit trail)")


async def change_priority(
    session: AsyncSession, principal: Principal, case_id: uuid.UUID, body: PriorityChange,
    ctx: policy.PolicyContext,
) -> tuple[Service, Case, policy.PolicyResult]:
    """Raise or clear the case's priority (see the module); the case, its service and the
    case's open steps."""
    what = "raise or clear a case's priority"
    require_roles(principal, PRIORITY_SETTERS, what)
    service, case = await get_visible_case(session, principal, case_id)
    role = case_role_for(principal, case, PRIORITY_SETTERS, what)
    require_open_case(case, "raise or clear its priority")
    now = utcnow()
    pack = ctx.pack_for(service, at=now)
    if pack.priority is None or pack.priority.raisable is None:
        raise Unprocessable(
            "This service's policy has no priority a manager raises.",
            slug="priority-not-in-policy",
            errors=[{"loc": "body.raised", "msg": f"{pack.id} has no [priority] raisable"}])
    if body.raised:
        # A death ends the acts about the living child and takes the case off priority
        # (integrating.md §2; attack 22, A22-1: a raise after it marked the deceased child's
        # case and its CSPPI steps priority). Clearing stays allowed.
        await require_before_final_event(session, pack, case, now,
                                         what="raise the case's priority")
    if body.raised and not is_raisable(pack, policy.snapshot(case, ())):
        raise Conflict(
            f"A manager raises the priority of a High/Very High case ({pack.id} "
            f"{pack.priority.raise_ref or pack.priority.ref}): ROSH and safety and well-being "
            "are both below high.", slug="priority-not-raisable")
    if case.priority_raised == body.raised:
        return service, case, await policy.current(session, case)
    wctx = WriteContext(session=session, policy=ctx, service=service, case=case,
                        principal=principal, role=role, occurred_at=now)
    was = case.priority
    await policy.set_priority_raised(wctx, raised=body.raised, pack=pack)
    await wctx.audit(
        "case.priority_raise" if body.raised else "case.priority_clear",
        entity_type="case", entity_id=case.id,
        change={"priority_raised": [not body.raised, body.raised],
                "priority": [was, case.priority]},
        reason=body.reason)
    # As every case.updated: the case, the fields changed and the act's time (ATTACK35A-5),
    # with what this one always said.
    await emit(session, "case.updated", case.id, service_id=service.id,
               payload={"case_id": str(case.id),
                        "fields": sorted({"priority_raised"} | (
                            {"priority"} if was != case.priority else set())),
                        "occurred_at": iso_utc(now),
                        "priority_raised": body.raised, "priority": case.priority})
    return service, case, await policy.current(session, case)
