"""Reading and completing next steps, under the same access policy as cases."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Collection, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.db import PlainSelect
from app.core.errors import Conflict, DomainError, Forbidden, NotFound, Unprocessable
from app.core.security import STAFF_ROLES, Principal
from app.domain import cursors, policy
from app.domain.absences import absences_of
from app.domain.access import (
    ROLE_DUTY_ACTORS,
    lets_in,
    load_case,
    lock_case,
    note_case_reads,
    note_duty_read,
    outside_allow_list,
    require_not_case_holder,
    service_of,
    visibility_flags,
    visible_cases_clause,
    visible_clause_of,
)
from app.domain.cases_table import Case
from app.domain.common import (
    ActTime,
    StaffId,
    iso_utc,
    require_unchanged,
    resolve_occurred_at,
    state_etag,
    stored_instant,
    utcnow,
)
from app.domain.history import note_step_act
from app.domain.judgements_table import Judgement
from app.domain.outbox import emit
from app.domain.services import Service
from app.domain.steps import (
    ESCALATION_CODE,
    RESTRICTED_ACTION_ESCALATION,
    STEP_OUT_COLUMNS,
    Step,
    StepOut,
    StepReason,
    StepRow,
    StepStatus,
    append_note,
    reasons_of,
    step_out,
)
from app.domain.timing import require_not_before, require_outside_closed_periods
from app.domain.transitions import conflicting
from app.domain.write_context import WriteContext
from app.workflows.calendar import london_date, london_text, start_of_day
from app.workflows.deadlines import add_period
from app.workflows.instant_order import act_rank, reason_before
from app.workflows.packs import Pack
from app.workflows.vocabulary import ACTORS

# Who may stand in for whom when completing a step: a duty manager covers a line manager; a
# panel action's owner (``action_owner``, often a partner agency's professional with no access
# here) has the act recorded by the case's holder or managers, who see the case (Wokingham, High
# Risk Panel: "The case worker must ensure that ... the intervention plan and Asset+ risk
# management plan are updated with any actions resulting from the High Risk Panel meeting").
# Visibility is checked first: only someone who may see the case completes its steps (issue 8).
COVER = {"line_manager": ("duty_manager",),
         "action_owner": ("case_holder", "line_manager", "duty_manager")}
MAX_PAGE = 200

# What each act that alone does a step (``Pack.done_only_by``) is, and the route that records it
# (``{id}`` the record the step is about when it names it: ``subject_id``).
_ACTS: Mapping[str, tuple[str, str]] = {
    "assessment_submit": ("submit the assessment", "POST /v1/assessments/{id}/submit"),
    "assessment_countersign": ("countersign the assessment",
                               "POST /v1/assessments/{id}/countersign"),
    "assessment_submit_review": ("submit a Review Stage assessment",
                                 "POST /v1/assessments/{id}/submit"),
    "referral_quality_assure": ("quality-assure the referral",
                                "POST /v1/referrals/{id}/quality-assure"),
    "referral_views": ("make the panel referral carrying the child's and carer's views",
                       "POST /v1/cases/{case_id}/referrals"),
    "panel_item_added": ("put the case on a panel's agenda", "POST /v1/panels/{panel_id}/items"),
    "panel_decision": ("record the panel's decision on the case",
                       "POST /v1/panels/{panel_id}/items/{item_id}/decision"),
    "panel_decision_then": ("hold the panel: record its decision on the case",
                            "POST /v1/panels/{panel_id}/items/{item_id}/decision"),
    "panel_decision_mappa": ("record the panel's decision setting the MAPPA level",
                             "POST /v1/panels/{panel_id}/items/{item_id}/decision"),
    "panel_decision_presenter": ("bring the case to the panel review: its decision",
                                 "POST /v1/panels/{panel_id}/items/{item_id}/decision"),
    "rating_replaced": ("record the next judgement in the domain",
                        "POST /v1/cases/{case_id}/judgements"),
}


# What an unknown step id answers, and so a step of a case the caller may not see (A26a-10).
NO_SUCH_STEP = "No such step."


def done_by_act(pack: Pack, step: Step) -> list[dict[str, str]]:
    """The acts that alone do the step (``Pack.done_only_by``), each as ``{act, does, route}``
    (empty: the step may be completed by hand)."""
    found = []
    for act in pack.done_only_by(step.code):
        if act not in _ACTS and act.startswith("referral_") and ":" in act:
            # ``referral_<made_by>:<kind>``, a referral kind's ``closes`` (Pack.done_only_by);
            # ``referral_quality_assure`` and the other named acts are in _ACTS (attack 11, A11-1)
            made_by, kind = act.removeprefix("referral_").split(":", 1)
            found.append({"act": act, "does": f"make the {kind} referral ({made_by} it)",
                          "route": f"POST /v1/cases/{{case_id}}/referrals, then "
                                   f"POST /v1/referrals/{{id}}/{made_by}"})
        else:
            does, route = _ACTS.get(act, (act.replace("_", " "), ""))
            found.append({"act": act, "does": does, "route": route})
    return found


class DoneByAct(Conflict):
    """409: the step is a record's duty; only recording the act closes it."""

    slug = "step-done-by-act"


def require_hand_completable(pack: Pack, step: Step, *, bare: bool) -> None:
    """409 ``step-done-by-act`` for a step only an act closes (countersigning an assessment,
    holding a panel, sending a referral: ``Pack.done_only_by``), naming the act and its route:
    completing it by hand would record the duty done while the record (the assessment still
    ``submitted``, no decision, no referral) says it was not, and skip what the act triggers
    (the 12-weekly review after a countersignature, S3). A bare duty's holder (the case's
    access list shuts them out) is told the act needs the case, which only staff on its access
    list can open (attack pass 9, A9-13)."""
    acts = done_by_act(pack, step)
    if not acts:
        return
    said = "; or ".join(f"{a['does']} ({a['route']})" if a["route"] else a["does"]
                        for a in acts)
    detail = f"This step is done only by recording the act it asks for: {said}."
    if bare:
        detail += (" That act needs the case, and the case's access list does not include you:"
                   " the case's line manager, or staff on its access list, do it.")
    raise DoneByAct(detail, extra={"acts": acts})


class StepFilters(BaseModel):
    """Query filters of ``GET /v1/next-steps``."""

    case_id: uuid.UUID | None = None
    assignee: str | None = None
    actor: str | None = None
    status: StepStatus | None = StepStatus.open
    overdue: bool = False
    # Only the steps of cases dealt with as a priority (Somerset 3.2.4; A19-2).
    priority: bool = False
    cursor: str | None = None
    limit: int = 50


class StepComplete(BaseModel):
    """Body of ``POST /v1/next-steps/{id}/complete``."""

    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(default=None, max_length=4000)
    occurred_at: ActTime = None
    done_by: StaffId | None = Field(default=None, description=(
        "who did it, when it is not the person recording it: the one who held the step's role "
        "on the case (its case holder or line manager) at `occurred_at`, e.g. a former case "
        "holder's work typed up after a handover; the step is completed in their name and the "
        "recorder is in its audit entry. 422 `occurred-before-bound` when they did not hold the "
        "role then"))


def visible_steps_clause(
    principal: Principal, service_id: uuid.UUID, *, closed_duties: bool = False
) -> Any:
    """Steps the principal may see: the steps of the cases whose file they may see now, and for
    a panel administrator, on the cases the panel handles (the register, agendas, panel
    referrals), their own to-do list: the steps for the panel administrator (api-v1:
    panel_admin may "complete `record_panel_contact`"), not the case holder's and managers'
    duties, as the case file itself is closed to them (403).

    And the panel actions the caller owns, case file or not (:func:`_own_actions`, A16-12).

    And the open role-addressed duties of the caller's roles on cases an allow-list keeps
    them out of (:func:`_role_duties`); ``closed_duties``: those duties closed too (a
    completion that lost a race answers 409, not 404)."""
    return _steps_visible(principal.sub, service_id, step_visibility_flags(principal),
                          closed_duties=closed_duties)


def step_visibility_flags(principal: Principal) -> dict[str, bool]:
    """:func:`~app.domain.access.visibility_flags` in a panel view, and ``duty:<role>`` for
    each role of :data:`~app.domain.access.ROLE_DUTY_ACTORS` the principal holds (whose
    role-addressed duties reach them on cases an allow-list keeps them out of)."""
    return {**visibility_flags(principal, panel_view=True),
            **{f"duty:{role}": principal.has(role) for role in ROLE_DUTY_ACTORS}}


def _steps_visible(
    staff_id: Any, service_id: Any, flags: Mapping[str, bool], *, closed_duties: bool = False
) -> Any:
    """:func:`visible_steps_clause` for a staff id and service id given as values or bound
    parameters and the caller's :func:`step_visibility_flags`."""
    roles = {k: v for k, v in flags.items() if not k.startswith("duty:")}
    # A step is the case's business: whoever may not see the case now (reassigned away, another
    # team) neither lists nor completes its steps, even one still naming them.
    of_case_file = col(Step.case_id).in_(select(Case.id).where(
        visible_clause_of(staff_id, service_id, {**roles, "panel_admin": False})))
    shown: list[Any] = [of_case_file]
    if roles.get("panel_admin"):
        shown.append(sa.and_(
            col(Step.case_id).in_(select(Case.id).where(
                visible_clause_of(staff_id, service_id, roles))),
            col(Step.actor) == "panel_admin"))
    duties = _role_duties(staff_id, service_id,
                          [r for r in ROLE_DUTY_ACTORS if flags.get(f"duty:{r}")],
                          closed_too=closed_duties)
    if duties is not None:
        shown.append(duties)
    shown.append(_own_actions(staff_id, service_id))
    return sa.and_(col(Step.service_id) == service_id,
                   shown[0] if len(shown) == 1 else sa.or_(*shown))


def _own_actions(staff_id: Any, service_id: Any) -> Any:
    """The panel actions the staff member owns (``action_owner``, ``assignee_id`` theirs) on
    the service's cases whose restriction does not shut them out (attack pass 16, A16-12):
    "Every action of the risk management plan should include a timescale for completion and
    the professional responsible for it" (Wokingham, Internal and External Controls). The
    responsible professional need not see the case (a colleague outside its team): they see
    and complete their own action alone, as a bare step (:func:`shown_step`: the step, never
    the case; noted in the case's access log under ``action_owner``)."""
    return sa.and_(col(Step.actor) == "action_owner", col(Step.assignee_id) == staff_id,
                   col(Step.case_id).in_(select(Case.id).where(
                       col(Case.service_id) == service_id, lets_in(staff_id))))


# An escalation's title quotes the step it chases; a panel action's title is the panel's free
# text (it may say anything about the child), so its escalation is not a bare duty unless its
# title leaves that text out (on an allow-listed case: RESTRICTED_ACTION_ESCALATION).
_SUBJECT = Step.__table__.alias("duty_subject")  # type: ignore[attr-defined]


def _role_duties(staff_id: Any, service_id: Any, roles: list[str], *, closed_too: bool
                 ) -> Any | None:
    """Role-addressed duties reaching holders of ``roles`` whom an allow-list keeps out of the
    case (:func:`~app.domain.access.outside_allow_list`; None without such a role): open steps
    with no assignee whose actor is one of ``roles`` (a panel administrator's only on the cases
    the panel handles), escalations included (a panel action's only when its title leaves the
    panel's text out: :data:`~app.domain.steps.RESTRICTED_ACTION_ESCALATION`). The caller sees the
    step alone: its own fields carry no case data beyond the case id (its title and note
    come from the policy pack and the system); the case, its records and every other route
    stay 404 to them (app.domain.access), and they may not waive it (that needs the case)."""
    if not roles:
        return None
    of_cases = []
    wide = [r for r in roles if r != "panel_admin"]
    if wide:
        of_cases.append(sa.and_(
            col(Step.actor).in_(wide),
            col(Step.case_id).in_(select(Case.id).where(
                outside_allow_list(staff_id, service_id)))))
    if "panel_admin" in roles:
        of_cases.append(sa.and_(
            col(Step.actor) == "panel_admin",
            col(Step.case_id).in_(select(Case.id).where(
                outside_allow_list(staff_id, service_id, panel_handled=True)))))
    not_a_panel_action = sa.or_(
        col(Step.code) != ESCALATION_CODE,
        col(Step.title) == RESTRICTED_ACTION_ESCALATION,  # the panel's text left out
        ~sa.exists().where(_SUBJECT.c.id == col(Step.subject_id),
                           _SUBJECT.c.actor == "action_owner"))
    clause = sa.and_(col(Step.assignee_id).is_(None), sa.or_(*of_cases), not_a_panel_action)
    return clause if closed_too else sa.and_(clause, col(Step.status) == StepStatus.open)


async def _bare_duty_cases(
    session: AsyncSession, principal: Principal, service_id: uuid.UUID, steps: list[Any]
) -> dict[uuid.UUID, str]:
    """case id → step role, for the cases whose role-addressed duties among ``steps`` reach the
    caller only as bare duties (:func:`_role_duties`: the allow-list leaves them out), and
    whose panel actions the caller owns without seeing the case (:func:`_own_actions`:
    ``action_owner``)."""
    bare: dict[uuid.UUID, str] = {}
    roles = [r for r in ROLE_DUTY_ACTORS if principal.has(r)]
    actors = {s.case_id: s.actor for s in steps
              if s.assignee_id is None and s.actor in roles}
    if actors:
        found = await session.exec(select(Case.id).where(
            col(Case.id).in_(list(actors)), outside_allow_list(principal.sub, service_id)))
        bare = {case_id: actors[case_id] for case_id in found.all()}
    owned = {s.case_id for s in steps if _owns(principal, s) and s.case_id not in bare}
    if owned:
        found = await session.exec(select(Case.id).where(
            col(Case.id).in_(list(owned)), ~visible_cases_clause(principal, service_id)))
        bare.update({case_id: "action_owner" for case_id in found.all()})
    return bare


def _owns(principal: Principal, step: Any) -> bool:
    """The step is a panel action the caller owns."""
    return bool(step.actor == "action_owner" and step.assignee_id == principal.sub)


def _is_bare(principal: Principal, step: Any, bare_cases: Mapping[uuid.UUID, str]) -> bool:
    if step.case_id not in bare_cases:
        return False
    return _owns(principal, step) or (step.assignee_id is None
                                      and step.actor in ROLE_DUTY_ACTORS
                                      and principal.has(step.actor))


def _note_duty_reads(
    session: AsyncSession, principal: Principal, service_id: uuid.UUID,
    bare_cases: Mapping[uuid.UUID, str],
) -> None:
    """Note in the access log each case whose role-addressed duty the caller reads without
    access to the case (the only way such a step reaches them: :func:`_role_duties`)."""
    for case_id, role in bare_cases.items():
        note_duty_read(session, principal, service_id, case_id, role)


# A bare duty's note (attack pass 9, A9-18): what the step asks and why it reached the role,
# never who (the case's line manager, holder, an assignee) or when they are away. The stored
# note's stand-in lines (app.domain.stand_ins, app.domain.policy.stand_in_if_away) and an
# escalation's (app.domain.escalation) name the line manager and their leave dates.
BARE_ESCALATION_NOTE = "A step of this case is overdue and still open; your role is asked to act."
BARE_LEAVE_NOTE = "The line manager is on recorded leave."
_MOVES = ("Stood in:", "Given back:", "Moved:")


def bare_note(step: Any, ctx: policy.PolicyContext) -> str | None:
    """The note a bare duty shows: the policy pack's note for its line (an escalation: that a
    step is overdue), and whether it reached the role because the line manager is on recorded
    leave; no staff id, name or date from the case."""
    stored = step.note or ""
    moves = [line for line in stored.split("\n") if line.startswith(_MOVES)]
    # The last move says where the step is now and why (an escalation given back after the
    # leave its first line names: not on leave; ATTACK35B-7's twin); with no move, an
    # escalation raised while the line manager was away says so on its first line.
    on_leave = moves[-1].startswith("Stood in:") if moves else (
        step.code == ESCALATION_CODE and "is on recorded leave" in stored)
    notes: list[str | None] = []
    if step.code == ESCALATION_CODE:
        notes.append(BARE_ESCALATION_NOTE)
    else:
        pack = next((p for p in ctx.versions_of(step.policy_pack)
                     if p.version == step.policy_version), ctx.packs.get(step.policy_pack))
        lines = pack.lines(step.rule_id) if pack is not None else ()
        notes.append(next((r.note for r in lines if r.code == step.code and r.note), None))
    if on_leave:
        notes.append(BARE_LEAVE_NOTE)
    return "\n".join(n for n in notes if n) or None


def bare_reasons(step: Any) -> list[dict[str, Any]]:
    """A bare duty's reasons: the policy's rule and paragraph of each, the step itself as its
    record, no instant (as an escalation's are): not the kind or id of the child's record that
    triggered it, nor when that happened (attack pass 16, A16-17: a stand-in duty told a duty
    manager outside the list when the child entered the secure estate; attack 30b, ATTACK30B-8:
    the record's id was still given, as the step's ``subject_id``)."""
    subject = {"type": "step", "id": str(step.id)}
    seen: dict[tuple[str, str, str], dict[str, Any]] = {}
    for reason in reasons_of(step):
        key = (str(reason.get("rule")), str(reason.get("pack")), str(reason.get("ref")))
        seen.setdefault(key, {"rule": key[0], "pack": key[1], "ref": key[2], "trigger": None,
                              "record": subject, "at": None})
    return list(seen.values())


def bare_times(step: Any) -> dict[str, Any]:
    """A bare duty's own fields that would name the child's records or their times: no
    ``raised_at`` (the instant of the child's record that asked for it, which its reasons are
    stripped of: attack pass 18, A18-11), ``created_at`` only as the (London) day it was raised,
    00:00 (the write that recorded the child's record, to the microsecond, would give it too),
    the step itself as its ``subject_id`` (not the id of the child's record: attack 30b,
    ATTACK30B-8); ``priority`` withheld (false: it would say the case's rating is very high;
    A20-6). ``due_at`` and ``overdue_at`` are the duty, exactly as the escalation pass counts
    them: the holder must act by them (attack 30b, ATTACK30B-12: moved to the end of the London
    day (A20-12), they showed the duty manager standing in a later deadline than the one they
    were escalated at)."""
    return {"raised_at": None, "priority": False, "subject_id": step.id,
            "created_at": start_of_day(london_date(policy.stored_utc(step.created_at)))}


# A bare step's completion fields left out, as columns (STEP_OUT_COLUMNS' names); the step's
# answer (StepOut) shows the satisfying record's two columns as one ``satisfied_by``.
BARE_COMPLETION_HIDDEN = ("completed_by", "completion_note", "satisfied_by_type",
                          "satisfied_by_id")


def _out_name(column: str) -> str:
    """The StepOut field that shows a step column (``satisfied_by_*``: ``satisfied_by``)."""
    return "satisfied_by" if column.startswith("satisfied_by_") else column


def bare_completion(principal: Principal, step: Any, *, out: bool = False) -> dict[str, Any]:
    """A bare step's completion (the fields of :data:`~app.domain.steps.STEP_OUT_COLUMNS`, or,
    with ``out``, of :class:`StepOut`): that it is done and when (its ``status`` and
    ``completed_at``), not who recorded it, their note or the record that satisfied it, unless
    the caller recorded it themselves. A panel action's owner outside the case read the case's
    line manager's note on their action, written by someone who sees the case (attack 22,
    A22-7); as a bare step's note and reasons leave the case's people and records out
    (:func:`bare_note`, :func:`bare_reasons`)."""
    if step.completed_by is not None and step.completed_by == principal.sub:
        return {}
    return {(_out_name(c) if out else c): None for c in BARE_COMPLETION_HIDDEN}


async def is_bare_duty(
    session: AsyncSession, principal: Principal, service_id: uuid.UUID, step: Step
) -> bool:
    """Whether the step reaches the caller only as a role-addressed duty (they hold its role
    and the case's allow-list leaves them out) or as a panel action they own on a case they
    may not see (:func:`_own_actions`)."""
    if _owns(principal, step):
        found = await session.exec(select(Case.id).where(
            col(Case.id) == step.case_id, ~visible_cases_clause(principal, service_id)))
        return found.first() is not None
    if step.assignee_id is not None or step.actor not in ROLE_DUTY_ACTORS \
            or not principal.has(step.actor):
        return False
    found = await session.exec(select(Case.id).where(
        col(Case.id) == step.case_id, outside_allow_list(principal.sub, service_id)))
    return found.first() is not None


async def list_steps(
    session: AsyncSession, principal: Principal, filters: StepFilters, now: datetime | None = None,
    *, ctx: policy.PolicyContext,
) -> tuple[list[Any], str | None]:
    """Steps the caller may see, filtered, soonest due first (undated last), up to
    ``filters.limit`` after ``filters.cursor``, and the next page's cursor (None on the last);
    422 ``invalid-cursor`` for a cursor not made for this list with these filters
    (:mod:`app.domain.cursors`). The steps are read-only rows of
    :data:`~app.domain.steps.STEP_OUT_COLUMNS` (named tuples with a :class:`Step`'s attributes:
    no ORM object per step; on PostgreSQL the driver's values, ``status`` a string). A bare
    duty's note is :func:`bare_note`."""
    if not principal.roles & STAFF_ROLES:
        raise Forbidden("Your role cannot read next steps.")
    service = await service_of(session, principal)
    if filters.assignee is not None and filters.assignee != "me":
        raise Unprocessable("assignee accepts only 'me'.",
                            errors=[{"loc": "query.assignee", "msg": "only 'me'"}])
    if filters.actor is not None and filters.actor not in ACTORS:
        raise Unprocessable(
            "actor must be one of the actors steps are given to.",
            errors=[{"loc": "query.actor", "msg": "one of " + ", ".join(ACTORS)}])
    await cursors.ready(session)
    key = _query_key(filters)
    params: dict[str, Any] = {"yj_service": service.id, "yj_sub": principal.sub,
                              "yj_limit": filters.limit + 1}
    after = None
    if filters.cursor:
        due, params["yj_created"], params["yj_id"] = _decode_cursor(filters.cursor, key)
        after = "undated" if due is None else "dated"
        if due is not None:
            params["yj_due"] = due
    if filters.case_id is not None:
        params["yj_case_id"] = filters.case_id
    if filters.actor is not None:
        params["yj_actor"] = filters.actor
    if filters.status is not None:
        params["yj_status"] = filters.status
    if filters.overdue:
        params["yj_now"] = now or utcnow()
    flags = step_visibility_flags(principal)
    query = _list_query(
        tuple(sorted(flags.items())), case=filters.case_id is not None,
        assignee=filters.assignee is not None, actor=filters.actor is not None,
        status=filters.status is not None, overdue=filters.overdue, after=after,
        priority=filters.priority)
    rows = [StepRow._make(row) for row in await query.rows(session, params)]
    more = len(rows) > filters.limit
    page = rows[: filters.limit]
    bare = await _bare_duty_cases(session, principal, service.id, page)
    _note_duty_reads(session, principal, service.id, bare)
    # Each case the page shows steps of is read (attack pass 16, A16-3), bare duties above
    # under the step's role.
    shown: list[Any] = page
    await note_case_reads(session, principal, (row.case_id for row in shown))
    if bare:
        page = [row._replace(note=bare_note(row, ctx),  # type: ignore[call-arg]
                             reasons=bare_reasons(row), **bare_times(row),
                             **bare_completion(principal, row))
                if _is_bare(principal, row, bare) else row for row in page]
        if filters.priority:
            # A bare duty's priority is withheld, so the filter does not pick it out (A20-6).
            page = [row for row in page if row.priority]  # type: ignore[attr-defined]
    return page, _encode_cursor(rows[filters.limit - 1], key) if more else None


@functools.lru_cache(maxsize=512)
def _list_query(flags: tuple[tuple[str, bool], ...], *, case: bool, assignee: bool,
                actor: bool, status: bool, overdue: bool, after: str | None,
                priority: bool = False) -> PlainSelect:
    """The statement of :func:`list_steps` for one shape (the caller's role flags, which
    filters are given, the cursor's kind), built once: building and cache-keying it was a
    sixth of a list's CPU. Parameters: ``yj_service``, ``yj_sub`` (the caller), ``yj_limit``,
    and as the shape needs them ``yj_case_id``, ``yj_actor``, ``yj_status``, ``yj_now`` (an
    overdue list's moment) and ``yj_due``, ``yj_created``, ``yj_id`` (the cursor's step).
    Its rows are read as the driver gives them (:class:`~app.core.db.PlainSelect`)."""
    service_id = sa.bindparam("yj_service", type_=Step.__table__.c.service_id.type)  # type: ignore[attr-defined]
    staff_id = sa.bindparam("yj_sub", type_=sa.String())
    # Exactly visible_steps_clause.
    query = sa.select(*STEP_OUT_COLUMNS).where(
        _steps_visible(staff_id, service_id, dict(flags)))
    if case:
        query = query.where(col(Step.case_id) == sa.bindparam("yj_case_id"))
    if assignee:
        query = query.where(col(Step.assignee_id) == staff_id)
    if actor:
        query = query.where(col(Step.actor) == sa.bindparam("yj_actor"))
    if status:
        query = query.where(col(Step.status) == sa.bindparam("yj_status"))
    if priority:
        query = query.where(col(Step.priority).is_(True))
    if overdue:
        moment: Any = sa.bindparam("yj_now")
        # overdue_at is never before due_at, so ``due_at < now`` only restates the condition:
        # it makes it an index range (ix_step_service_status_due) rather than a filter over
        # every open step of the service.
        query = query.where(col(Step.status) == StepStatus.open, col(Step.due_at) < moment,
                            sa.func.coalesce(col(Step.overdue_at), col(Step.due_at)) < moment)
    # Soonest due first, undated last. An overdue list has no undated step, so it leaves out
    # the ``due_at IS NULL`` key (same order): the index on (service, status, due) then
    # yields the rows in order and the page stops after ``limit`` of them, instead of sorting
    # every overdue step of the service (tens of thousands nationally).
    undated_last = () if overdue else (col(Step.due_at).is_(None),)
    if after is not None:
        query = query.where(_after(None if after == "undated" else sa.bindparam("yj_due"),
                                   sa.bindparam("yj_created"), sa.bindparam("yj_id"),
                                   undated_follow=not overdue))
    return PlainSelect(query.order_by(
        *undated_last, col(Step.due_at), col(Step.created_at), col(Step.id)
    ).limit(sa.bindparam("yj_limit", type_=sa.Integer())))


def _query_key(filters: StepFilters) -> str:
    """The fingerprint of the list a cursor belongs to (every filter but cursor and limit)."""
    # ``priority`` only when asked for: the lists without it keep the cursors they had.
    unset = {"priority"} if not filters.priority else set()
    return cursors.query_key({"list": "next-steps",
                              **filters.model_dump(exclude={"cursor", "limit", *unset})})


def _encode_cursor(step: Any, key: str) -> str:
    """The keyset cursor after ``step``: its due time (``-`` if undated), creation, id."""
    due = step.due_at.isoformat() if step.due_at is not None else cursors.NONE
    return cursors.encode((due, step.created_at.isoformat(), str(step.id)), key)


def _decode_cursor(cursor: str, key: str) -> tuple[datetime | None, datetime, uuid.UUID]:
    """(due_at or None, created_at, id) of the last step of the previous page; 422
    ``invalid-cursor`` for a cursor not made for this list and these filters."""
    due, created, ident = cursors.decode(cursor, key, 3)
    return (None if due == cursors.NONE else cursors.instant(due), cursors.instant(created),
            cursors.identifier(ident))


def _after(due: Any, created: Any, ident: Any, *, undated_follow: bool) -> Any:
    """Steps after (due, created, id) in the list's order: soonest due first, then (unless
    ``undated_follow`` is false: an overdue list has none) the undated ones."""
    later_same_due = sa.or_(col(Step.created_at) > created,
                            sa.and_(col(Step.created_at) == created, col(Step.id) > ident))
    if due is None:
        return sa.and_(col(Step.due_at).is_(None), later_same_due)
    dated = sa.and_(col(Step.due_at) >= due,  # a range the (service, status, due) index serves
                    sa.or_(col(Step.due_at) > due, later_same_due))
    return sa.or_(dated, col(Step.due_at).is_(None)) if undated_follow else dated


def shown_step(principal: Principal, step: Step, bare: bool, ctx: policy.PolicyContext
               ) -> StepOut:
    """A step as the caller is shown it: a bare duty with :func:`bare_note` for its note,
    :func:`bare_reasons` for its reasons and :func:`bare_completion` for who completed it."""
    out = step_out(step)
    if not bare:
        return out
    return out.model_copy(update={
        "note": bare_note(step, ctx), **bare_times(step),
        **bare_completion(principal, step, out=True),
        "reasons": [StepReason.model_validate(r) for r in bare_reasons(step)]})


async def read_step(
    session: AsyncSession, principal: Principal, step_id: uuid.UUID, ctx: policy.PolicyContext
) -> tuple[StepOut, str]:
    """A step the caller may see (a bare duty's note: :func:`bare_note`) and its ETag
    (:func:`~app.domain.common.state_etag`); 404 otherwise (as for an unknown id)."""
    if not principal.roles & STAFF_ROLES:
        raise Forbidden("Your role cannot read next steps.")
    service = await service_of(session, principal)
    step = (await session.exec(
        select(Step).where(Step.id == step_id, visible_steps_clause(principal, service.id))
    )).first()
    if step is None:
        raise NotFound(NO_SUCH_STEP)
    bare = await _bare_duty_cases(session, principal, service.id, [step])
    _note_duty_reads(session, principal, service.id, bare)
    await note_case_reads(session, principal, [step.case_id])  # A16-3
    return shown_step(principal, step, _is_bare(principal, step, bare), ctx), state_etag(step)


def may_complete(principal: Principal, step: Step) -> str:
    """The role under which the principal may complete the step, else 403."""
    if step.assignee_id is not None and step.assignee_id == principal.sub:
        return step.actor if principal.has(step.actor) else next(iter(sorted(principal.roles)))
    if step.assignee_id is None and principal.has(step.actor):
        return step.actor
    for cover in COVER.get(step.actor, ()):
        if principal.has(cover):
            return cover
    raise Forbidden("Only the assignee, or a holder of the step's role, may complete it.")


async def _may_complete_here(
    session: AsyncSession, ctx: policy.PolicyContext, service: Service, principal: Principal,
    step: Step,
) -> str:
    """:func:`may_complete`, and also the case's line manager for a step that stood in from
    them to the duty manager while they were away (Somerset 3.1: discussed "with the relevant
    line manager or duty manager"; attack pass 8, N6/N9: back early, or the case's new line
    manager, they were refused a step they could otherwise countersign); 403 otherwise."""
    try:
        return may_complete(principal, step)
    except Forbidden:
        lines = [rule for rule in ctx.pack_now(service).lines(step.rule_id)
                 if rule.code == step.code]
        if step.assignee_id is None and principal.has("line_manager"):
            case = await load_case(session, step.case_id, lock=False)
            if case is not None and case.line_manager_id == principal.sub and any(
                    rule.actor == "line_manager" and rule.stand_in == step.actor
                    for rule in lines):
                return "line_manager"
        also = {role for rule in lines for role in rule.also_done_by if principal.has(role)}
        if also:
            role = await _also_done_by(session, principal, step, also)
            if role is not None:
                return role
        stands = {(share, stand) for rule in lines
                  for share, stand in rule.also_stand_in.items() if principal.has(stand)}
        if stands:
            role = await _standing_in_for_share(session, step, stands)
            if role is not None:
                return role
        raise


async def _also_done_by(
    session: AsyncSession, principal: Principal, step: Step, roles: set[str]
) -> str | None:
    """The role of ``roles`` (the step's line's ``also_done_by`` that the principal holds)
    under which they may do the step: the case's own holder or line manager for
    ``case_holder`` / ``line_manager``, any holder of another role; None if none applies."""
    case = await load_case(session, step.case_id, lock=False)
    if case is None:
        return None
    own = {"case_holder": case.case_holder_id, "line_manager": case.line_manager_id}
    for role in sorted(roles):
        if role not in own or own[role] == principal.sub:
            return role
    return None


async def _standing_in_for_share(
    session: AsyncSession, step: Step, stands: set[tuple[str, str]]
) -> str | None:
    """The stand-in role (of ``stands``: (share, stand-in role) pairs of the step's line's
    ``also_stand_in`` whose role the principal holds) under which they may do the share the
    line gives the case's holder of ``share`` while that holder is away today (a recorded
    absence; Somerset 3.1 "If the line manager is unavailable, the duty manager will undertake
    these functions", A10-17); None if none applies."""
    case = await load_case(session, step.case_id, lock=False)
    if case is None:
        return None
    today = london_date(utcnow())
    for share, stand in sorted(stands):
        holder = getattr(case, policy.ACTOR_FIELDS[share], None)
        if holder is not None and any(
                s <= today <= e for s, e in await absences_of(
                    session, case.service_id, holder, today)):
            return stand
    return None


async def complete_step(
    session: AsyncSession,
    principal: Principal,
    step_id: uuid.UUID,
    body: StepComplete,
    ctx: policy.PolicyContext,
) -> tuple[StepOut, policy.PolicyResult]:
    """Mark a step done (with its note) and run what completion triggers (S16, W8, recurrence);
    the step as the caller is shown it (:func:`shown_step`).

    A role-addressed duty on a case whose allow-list leaves the caller out (a bare duty,
    :func:`_role_duties`) is completed like any other; its answer carries the step alone (no
    ``next_steps``: they are the case's), and a completion that lost the race to another is
    409 with the step's status only."""
    service = await service_of(session, principal)
    # Closed role-addressed duties too: a completion that lost the race is 409, not 404.
    visible = visible_steps_clause(principal, service.id, closed_duties=True)
    step = (await session.exec(select(Step).where(Step.id == step_id, visible))).first()
    if step is None:
        raise NotFound(NO_SUCH_STEP)
    await _may_complete_here(session, ctx, service, principal, step)  # 403 before the lock
    await lock_case(session, step.case_id)
    # Re-checked under the lock: another write may have closed the step, or moved it or the
    # case to someone else (reassignment), while we waited.
    step = (await session.exec(
        select(Step).where(Step.id == step_id, visible)
        .execution_options(populate_existing=True)
    )).first()
    if step is None:
        raise NotFound(NO_SUCH_STEP)
    require_unchanged(session, "step", step, "step")  # If-Match: A16-8
    role = await _may_complete_here(session, ctx, service, principal, step)
    bare = await is_bare_duty(session, principal, service.id, step)
    if bare and step.status != StepStatus.open:
        raise conflicting("step", "complete", str(step.status))
    missed = await missed_until(session, step, body.occurred_at, "complete")
    case = await load_case(session, step.case_id, lock=False)  # locked above
    assert case is not None
    occurred_at = resolve_occurred_at(body.occurred_at)
    pack = ctx.pack_for(service, at=occurred_at)
    await require_not_own_check(session, principal, step, case=case, pack=pack)
    await require_not_own_escalation(session, principal, step)
    require_hand_completable(pack, step, bare=bare)
    # A review dated before this occurrence arose, typed after a later-dated one that did the
    # occurrence open then: it does that occurrence, and the chain is planned again
    # (ATTACK26B-5's twin: Somerset S11, S41; Wokingham W30, completed by hand).
    if not bare:
        earlier = await earlier_occurrence(session, principal, step, case=case, pack=pack,
                                           occurred_at=occurred_at)
        if earlier is not None and body.done_by not in (None, principal.sub):
            raise Unprocessable(
                "done_by is not taken for a review of an earlier occurrence; record it as "
                "its doer.", errors=[{"loc": "body.done_by", "msg": "not taken here"}])
        if earlier is not None:
            await policy.require_held_role_then(session, principal, case, role, occurred_at)
            wctx = WriteContext(session=session, policy=ctx, service=service, case=case,
                                principal=principal, role=role, occurred_at=occurred_at)
            if await replan_occurrence(wctx, code=step.code, act=None, note=body.note):
                return shown_step(principal, earlier, bare, ctx), await policy.current(
                    session, case)
    try:
        # The step's own raised_at, shown with it; to a bare duty's holder not (A18-11).
        require_step_act_time(step, occurred_at)
        require_outside_closed_periods(case, occurred_at)  # A9-7
    except DomainError as exc:  # when the case was closed is not a bare duty's to know
        raise (exc.withheld() if bare else exc) from None
    credited = await _done_by(session, principal, step, case, body.done_by, occurred_at)
    if credited is None:
        await policy.require_held_role_then(session, principal, case, role, occurred_at)
    wctx = WriteContext(session=session, policy=ctx, service=service, case=case,
                        principal=principal, role=role, occurred_at=occurred_at)
    # Done before its need ended, typed in after the step was recorded missed: in time order
    # it was done, on time if by its deadline (ATTACK36-6).
    result = await close_step(wctx, step=step, note=body.note, credited_to=credited,
                              need_ended_at=missed)
    if bare:  # the case's other steps are not theirs to see
        result = result.without_next_steps()
    return shown_step(principal, step, bare, ctx), result


async def _done_by(
    session: AsyncSession, principal: Principal, step: Step, case: Case, done_by: str | None,
    at: datetime,
) -> str | None:
    """Who a completion is credited to when the recorder names another (``done_by``): a
    step's work done by the one who held its role on the case at ``at`` and typed up by
    another (attack pass 30, A30a-12: a former case holder's plan written the day before a
    handover could be recorded only as the new holder's, dated now, or waived). Taken for a
    step addressed to the case's holder of a role (its case holder or line manager), from
    the one who may complete it now; 422 ``occurred-before-bound`` naming who held the role
    then when ``done_by`` did not. None when the recorder is the doer."""
    if done_by is None or done_by == principal.sub:
        return None
    if step.actor not in policy.ACTOR_FIELDS:
        raise Unprocessable(
            f"done_by is taken only for a step of the case's case holder or line manager; "
            f"this one is the {step.actor.replace('_', ' ')}'s.",
            errors=[{"loc": "body.done_by", "msg": "not taken for this step"}])
    holder, _ = await policy.role_holder_at(session, case, step.actor, at, done_by)
    if holder != done_by:
        raise Unprocessable(
            f"done_by did not hold the case's {step.actor.replace('_', ' ')} role at "
            f"occurred_at; {holder or 'nobody'} held it then.",
            slug="occurred-before-bound",
            errors=[{"loc": "body.done_by", "msg": "did not hold the step's role then"}])
    return done_by


# The roles whose steps on a case are a manager's check on, or oversight of, its holder's work;
# and a chair's (a serious incident's notification, Somerset 12; the escalation of an overdue
# manager's step, 3.3; a panel's review): senior management's, never the holder's own, even when
# the holder also chairs panels (attack pass 13, A13-11).
_MANAGERS_OF_CASE = ("line_manager", "duty_manager")
_SENIORS_OF_CASE = ("chair",)


async def require_not_own_check(
    session: AsyncSession, principal: Principal, step: Step, *, case: Case, pack: Pack
) -> None:
    """403 for checking one's own work, whatever roles the token carries (separation of duties;
    completing, waiving, or recording oversight that stands for the step).

    - **The case's holder** does not do a line or duty manager's step, nor a chair's, on their
      own case, nor waive one (a chair's: Somerset 12 "The operational or YJT manager will be
      responsible for completing and submitting the notification"; 3.3's escalation; A13-11):
      the discussion of a high rating, the countersignature, S11's monthly review and
      S24's escalation are a manager's check on the case holder's work (Somerset 3.1 "discussed
      ... with the relevant line manager or duty manager ... countersigned by line manager. If
      the line manager is unavailable, the duty manager will undertake these functions"; 4.5).
      A case holder who is also on the duty rota has the case's other managers do them (attack
      pass 11, A11-9). Nor does a **former holder** who held the case during the period the
      step checks (since it was raised: :func:`app.domain.policy.held_by`): reassigned away,
      then on the duty rota, they would review their own month of work (S11's monthly review,
      4.5; Wokingham W19's monthly High-Risk Panel review; attack pass 21, A21a-8).
    - **The author of a record** does not do the one-off check a line manager's step asks on it
      (a high rating's discussion, the plan's countersignature; Wokingham: the line manager's
      sign-off "will effectively endorse the judgement"), under any role, the duty manager's
      stand-in included: another manager (a duty manager) does it. A recurring review (S11 "at
      least monthly") is ongoing oversight, not a check on one record, and is not refused on
      this ground."""
    if step.actor in _MANAGERS_OF_CASE and step.assignee_id != principal.sub:
        require_not_case_holder(principal, case, who_does_it=(
            "a manager's step on it is done by another member of staff (its line manager or "
            "a duty manager)."))
    if step.actor in _SENIORS_OF_CASE and step.assignee_id != principal.sub:
        require_not_case_holder(principal, case, who_does_it=(
            "a chair's step on it is done by another chair."))
    if not policy.for_case_holder(pack, step) \
            and await held_the_case(session, principal, step, case=case):
        raise Forbidden("You held this case during the period this step checks: another "
                        "manager does it (a duty manager, or another chair for a chair's "
                        "step, who did not hold the case then).")
    if not policy.recorder_check(pack, step):
        return
    # The records such a check is on, and their authors: policy.recorded_by (a judgement only;
    # the line manager's steps a case event raises are their own acts: A19-18 follow-up).
    if principal.sub in await policy.recorded_by(session, step):
        raise Forbidden("You recorded what this step asks a manager to check: another "
                        "manager (a duty manager) does it.")


async def held_the_case(
    session: AsyncSession, principal: Principal, step: Step, *, case: Case
) -> bool:
    """Whether ``step`` is a manager's or a chair's check on the case's holder's work that
    ``principal`` may not do because they held the case during the period it checks
    (:func:`app.domain.policy.held_by`; attack pass 21, A21a-8), its named assignee included:
    a former holder made the case's line manager does not sign off the month they held it
    (attack 24a, A24a-5)."""
    return step.actor in (*_MANAGERS_OF_CASE, *_SENIORS_OF_CASE) \
        and principal.sub in await policy.held_by(session, case, step)


def panel_decision_codes(pack: Pack, *, mappa: bool) -> tuple[str, ...]:
    """Every step code a panel's decision does under ``pack``: the ``[closures]`` acts of the
    decision (``panel_decision*``: done, then done, overtaken, the presenter's review, the MAPPA
    level when it sets one), read from the pack rather than listed here (attack 24a, A24a-1:
    Somerset's S20 review was not in the Wokingham codes)."""
    return tuple(code for act, codes in pack.closures.items()
                 if act.startswith("panel_decision")
                 and (mappa or act != "panel_decision_mappa") for code in codes)


async def require_chair_held_nothing_reviewed(
    session: AsyncSession, principal: Principal, *, case: Case, pack: Pack,
    occurred_at: datetime, domains: Collection[str], mappa: bool,
    others: Collection[uuid.UUID] = (), slug: str | None = None, who_does_it: str,
) -> None:
    """403 when the chair of a panel's decision held the case at any time during the period
    the decision reviews (nobody checks their own work, Somerset 3.1/4.5; 7.1.5 "another panel
    member will act as chair for that case"; 7.2.1 a reduction "must be approved by the
    panel"), whatever the step's actor and whoever it is assigned to:

    - since any open step the decision does (:func:`panel_decision_codes`, those about another
      undecided item excepted) was raised: the booked review (Somerset S20, Wokingham W22),
      W19's monthly review, W8's hold, the referral it overtakes;
    - at the decision's own date (``occurred_at``), not only when it is recorded;
    - since the current rating the decision confirms or changes (each domain it sets) was
      judged: a chair who held the case when, or since, that rating was made reviews their
      own judgement even when no step is open (attack 24a, A24a-1)."""
    starts = [occurred_at]
    rows = await session.exec(select(Step).where(
        col(Step.case_id) == case.id, col(Step.status) == StepStatus.open,
        col(Step.code).in_(list(panel_decision_codes(pack, mappa=mappa)))))
    starts += [min(step.raised_at, step.created_at) for step in rows.all()
               if step.subject_id not in others]
    for domain in domains:
        judged = (await session.exec(select(sa.func.max(col(Judgement.occurred_at))).where(
            col(Judgement.case_id) == case.id, col(Judgement.domain) == domain,
            col(Judgement.occurred_at) <= occurred_at))).first()
        if judged is not None:
            starts.append(judged)
    start = min(policy.stored_utc(moment) for moment in starts)
    if principal.sub in await policy.held_since(session, case, start):
        raise Forbidden("You held this case during the period this panel decision reviews: "
                        f"{who_does_it}", slug=slug)


async def require_not_own_escalation(
    session: AsyncSession, principal: Principal, step: Step
) -> None:
    """403 for completing the escalation of one's own overdue step (whoever holds the role it
    is addressed to, a two-role token included): the escalation asks someone else to chase
    the person who is late, and once completed the step is not escalated again."""
    if step.code != ESCALATION_CODE or step.subject_id is None:
        return
    owner = (await session.exec(select(Step.assignee_id).where(
        col(Step.id) == step.subject_id))).first()
    if owner is not None and owner == principal.sub:
        raise Forbidden("This escalates your own overdue step: the manager it is addressed to "
                        "completes it.")


async def missed_until(session: AsyncSession, step: Step, sent: datetime | None,
                       action: str) -> datetime | None:
    """For an act closing a step recorded missed (its need ended after its deadline: Somerset
    6.2's views when the MARP sat without them, a review when the rating was lowered), when
    its need ended, if the act (a completion, waiver or oversight entry, ``sent``: its
    ``occurred_at``) is dated before that: in time order the step was closed by it, and the
    record is corrected (:func:`close_step`'s ``need_ended_at``). 409 ``step-missed`` for one
    dated then or after (not the racing acts' ``conflicting-transition``: nothing raced;
    ATTACK36-6). None for an open step; any other status is the race's 409."""
    if step.status != StepStatus.missed:
        require_open_step(step, action)
        return None
    ended = await policy.need_ended_at(session, step)
    if ended is not None and resolve_occurred_at(sent) < ended:
        return ended
    raise Conflict(
        f"Cannot {action} the step: it was recorded missed, its need having ended after its "
        "deadline had passed with it undone. An act dated before its need ended (occurred_at: "
        "when it was done) corrects that; one dated then or later cannot.",
        slug="step-missed",
        extra={"current_status": str(step.status),
               "need_ended_at": iso_utc(ended) if ended is not None else None})


def _correct_missed(session: AsyncSession, step: Step, *, ended: datetime,
                    at: datetime) -> None:
    """Ready a step recorded missed at ``ended`` to be closed by an act at ``at`` dated before
    that (:func:`missed_until`): its note says so, its status change is dated at ``at``, and
    it is no longer linked to the act that ended its need (the panel that sat without it, the
    closure that set it aside). The missed entry stays in the audit trail."""
    step.note = append_note(step.note, (
        f"Corrected: recorded missed at {london_text(ended)}; closed by an act of "
        f"{london_text(at)}, before its need ended (recorded later)"))
    note_step_act(session, step.id, at)
    step.satisfied_by_type = step.satisfied_by_id = None


def require_open_step(step: Step, action: str) -> None:
    """409 ``conflicting-transition`` unless the step is still open (it was open once)."""
    if step.status != StepStatus.open:
        raise conflicting("step", action, str(step.status), step_out(step).model_dump(mode="json"))


def reason_act(reason: Mapping[str, Any]) -> datetime | None:
    """When a step's reason asks for it: its act (``at``), or ``counted_from`` when later (an
    event that became known after it happened); None if it says neither (packs/README "What a
    completion answers")."""
    moments = [m for m in (stored_instant(reason.get("at")),
                           stored_instant(reason.get("counted_from"))) if m is not None]
    return max(moments, default=None)


def act_answers(pack: Pack, step: Step, at: datetime, *, kind: str | None = None) -> bool:
    """Whether an act at ``at`` can be what the step asks for: not one dated before the step
    arose, nor before every reason it answers (a Review Stage submitted the day before the
    MARP that asks for one is not that Review Stage, Somerset 7.1.3; a review before a change
    became known does not evidence it, 4.2; fid5 N4), as a completion before the step arose is
    refused (:func:`require_step_act_time`) and a completion answers only the reasons asked
    by then (the engine asks again for the rest, ``carry_over``). Unless the pack says a
    completion of the code answers what is asked after it (``completion_covers_later``:
    Wokingham W8's panel held for a request recorded after it sat).

    ``kind``: the act's kind in the one order of an instant
    (:data:`app.workflows.instant_order.SAME_INSTANT`; None: an act that order does not rank). A
    reason dated at the act's own instant by an act ranked after it came after it, whatever
    the typing order: a MARP decision does not answer the S10 a plain Very High judgement of
    its instant raised (fix36a, ATTACK35B-6)."""
    if any(line.completion_covers_later for line in pack.lines_for_code(step.code)):
        return True
    raised = step.raised_at or step.created_at
    if at < raised:
        return False
    rank = act_rank(kind)
    reasons = step.reasons or ()
    acts = [(m, r) for r, m in ((r, reason_act(r)) for r in reasons) if m is not None]
    if not acts:  # no reason dated: the step's first reason, at the moment it arose
        return at > raised or not reasons or reason_before(reasons[0], rank)
    return any(m < at or (m == at and reason_before(r, rank)) for m, r in acts)


def require_step_act_time(step: Step, at: datetime) -> None:
    """422 for a completion or waiver dated before the step arose."""
    require_not_before(at, step.raised_at or step.created_at, "the step's raised_at")


async def close_step(
    wctx: WriteContext,
    *,
    step: Step,
    note: str | None = None,
    status: StepStatus = StepStatus.done,
    satisfied_by: tuple[str, uuid.UUID] | None = None,
    credited_to: str | None = None,
    kind: str | None = None,
    need_ended_at: datetime | None = None,
) -> policy.PolicyResult:
    """Close a step of the write's case at ``wctx.occurred_at`` and feed ``step_completed`` to
    the engine, all in this unit of work.

    ``need_ended_at``: for a step recorded missed, when its need ended (the answer of
    :func:`missed_until`, checked before the act's other checks): the act, dated before that,
    corrects the record (:func:`_correct_missed`) and closes it (a completion, waiver or
    oversight entry typed in after the closure, death or lowering that left it missed).

    ``kind``: the closing act's kind in the one order of an instant (app.workflows.instant_order):
    a reason of its instant given by an act ranked after it stays owed (the engine asks for it
    again, as for a reason dated after the act).

    ``credited_to`` names who did the act that closes it when that is not the person recording
    it (an assessment's author when a manager's countersignature completes it): a step is never
    closed in someone else's name."""
    session, case = wctx.session, wctx.case
    assert step.case_id == case.id
    was = step.status  # missed: a completion dated before its need ended (ATTACK36-6)
    if need_ended_at is not None:
        _correct_missed(session, step, ended=need_ended_at, at=wctx.occurred_at)
    if status == StepStatus.missed:
        # Left undone for good by the act (a MARP sat before the views it was owed were
        # sought): missed, done by nobody (fix36e).
        policy.missed_by_act(session, step, at=wctx.occurred_at, why=note or "")
    else:
        step.status = status
        step.completed_at = wctx.occurred_at
        step.completed_by = credited_to or wctx.principal.sub
    step.completion_note = note
    if satisfied_by:
        step.satisfied_by_type, step.satisfied_by_id = satisfied_by
    session.add(step)
    await session.flush()
    if status in (StepStatus.superseded, StepStatus.missed):
        # Overtaken (a panel discussed the case, an assessment sent back): audited and
        # announced as superseded, not as completed (attack 30a, A30a-9); missed (the panel
        # sat before the step owed before it was done): audited and announced missed.
        await policy.record_superseded(
            wctx, [step], action="step.superseded", reason=note,
            change=lambda step: {"code": step.code, "note": note})
    else:
        change: dict[str, Any] = {"code": step.code, "note": note}
        if credited_to is not None and credited_to != wctx.principal.sub:
            change["done_by"] = credited_to  # the recorder is the entry's actor
        if was != StepStatus.open:
            change["was"] = str(was)  # the record corrected
        await wctx.audit(f"step.{status}", entity_type="step", entity_id=step.id,
                         change=change, reason=note)
        await emit(session, "step.completed", step.id, service_id=wctx.service.id,
                   payload={"case_id": str(case.id), "code": step.code, "status": str(status),
                            "occurred_at": iso_utc(wctx.occurred_at)})
        await policy.retire_escalations(wctx, closed=[step])
    if status != StepStatus.done and not step.recurrence:
        return await policy.current(session, case)
    # A recurring step ("every 1m") comes round again whether this occurrence was done or
    # waived, for as long as its condition holds.
    # Its reasons, and how it closed: reasons whose act came after the completion stay owed
    # (the engine asks for them again, ``_Plan.carry_over``).
    data = {"code": step.code, "rule_id": step.rule_id, "step_id": str(step.id),
            "record_id": str(step.id),
            "due_at": step.due_at, "completed_by_role": wctx.role, "actor": step.actor,
            "reasons": [dict(r) for r in step.reasons or ()], "status": status.value,
            "waived": status == StepStatus.waived}
    if kind is not None:
        data["act_kind"] = kind
    result = await policy.run(wctx, event=wctx.event("step_completed", data))
    if need_ended_at is not None:  # the next occurrence owed until the lapse (ATTACK38)
        result = await policy.owed_until_lapse(wctx, step, result)
    return result


async def satisfy_open_steps(
    wctx: WriteContext,
    *,
    codes: tuple[str, ...],
    act: tuple[str, uuid.UUID],
    note: str,
    credited_to: str | None = None,
    status: StepStatus = StepStatus.done,
    own_subject: Collection[str] = (),
    others: Collection[uuid.UUID] = (),
    only_subject: bool = False,
    accepts: Callable[[Step], bool] | None = None,
    kind: str | None = None,
    missed_too: bool = False,
) -> policy.PolicyResult | None:
    """Close the case's open steps of ``codes`` that this act is the very thing for, linked
    (``done``, credited to whoever did the act; ``superseded`` where the act made the step
    moot without doing it). A step of an ``own_subject`` code about one of the ``others``
    records (countersign *that* assessment) is a duty about that record: an act on another
    record never closes it; with ``only_subject`` every step closed must be about the act's
    record; ``accepts`` (if given) must accept the step (an assessment of the type it asks).
    A step that arose after the act (a back-dated act) is not closed by it, nor one raised at its
    instant by an act the one order of an instant puts after an act of ``kind``
    (:func:`act_answers`). With ``missed_too``, also a step recorded missed whose need ended
    after the act (typed in after that end): in time order the act did it, and the record is
    corrected as a completion dated then corrects it (:func:`missed_until`; Wokingham W19's
    monthly review, done only by the High-Risk Panel's decision; fix41d)."""
    if not codes:
        return None
    # Also a step a later event ended (a death dated after the act, typed in before it): in
    # time order the act did it (fix43c, ATTACK41-8/-10).
    rows = await wctx.session.exec(
        select(Step).where(Step.case_id == wctx.case.id, col(Step.code).in_(codes),
                           sa.or_(col(Step.status) == StepStatus.open,
                                  sa.and_(col(Step.status).in_(policy.NEED_ENDED),
                                          col(Step.satisfied_by_type) == "event"),
                                  sa.and_(sa.true() if missed_too else sa.false(),
                                          col(Step.status) == StepStatus.missed)))
    )
    result = None
    closed: set[str] = set()
    for step in rows.all():
        ended = later = None
        if step.status != StepStatus.open:
            later = await policy.ended_by_later_event(wctx.session, wctx.pack, step,
                                                      wctx.occurred_at)
        if later is None and step.status == StepStatus.missed and missed_too:
            ended = await policy.need_ended_at(wctx.session, step)
            if ended is None or ended <= wctx.occurred_at:
                continue
        elif later is None and step.status != StepStatus.open:
            continue
        if only_subject and step.subject_id != act[1]:
            continue
        if step.code in own_subject and step.subject_id in others:
            continue
        if accepts is not None and not accepts(step):
            continue
        if not act_answers(wctx.pack, step, wctx.occurred_at, kind=kind):
            continue
        if later is not None:
            policy.undo_later_end(wctx.session, step, wctx.occurred_at)
        more = await close_step(wctx, step=step, note=note, satisfied_by=act,
                                credited_to=credited_to, status=status, kind=kind,
                                need_ended_at=ended)
        closed.add(step.code)
        result = more if result is None else result.merge(more)
    if status == StepStatus.done and not only_subject and accepts is None:
        for code in sorted(set(codes) - closed):
            if await replan_occurrence(wctx, code=code, act=act, note=note,
                                       credited_to=credited_to, kind=kind):
                now = await policy.current(wctx.session, wctx.case)
                result = now if result is None else result.merge(now)
    return result


async def earlier_occurrence(
    session: AsyncSession, principal: Principal, step: Step, *, case: Case, pack: Pack,
    occurred_at: datetime,
) -> Step | None:
    """For an act doing the recurring ``step`` dated before it arose (typed in after a
    later-dated act that did the occurrence open at its date): that occurrence
    (:func:`_occurrence_open_at`), checked for the act as the step itself would be (not the
    caller's own check; not dated while the case was closed). The act does it and the chain is
    planned again (:func:`replan_occurrence`): a step completed by hand (ATTACK26B-5's twin)
    or an oversight entry (ATTACK27-3). None for a step not recurring, an act not dated
    before it arose, or no such occurrence."""
    if not step.recurrence or occurred_at >= (step.raised_at or step.created_at):
        return None
    earlier = await _occurrence_open_at(session, case.id, step.code, occurred_at)
    if earlier is not None:
        await require_not_own_check(session, principal, earlier, case=case, pack=pack)
        require_outside_closed_periods(case, occurred_at)
    return earlier


async def _occurrence_open_at(
    session: AsyncSession, case_id: uuid.UUID, code: str, at: datetime
) -> Step | None:
    """The done occurrence of a recurring step of ``code`` that was open at ``at``: raised at
    or before it and completed after it (by a later-dated act recorded first)."""
    return (await session.exec(select(Step).where(
        Step.case_id == case_id, Step.code == code, Step.status == StepStatus.done,
        col(Step.recurrence).is_not(None), col(Step.raised_at) <= at,
        col(Step.completed_at) > at).order_by(col(Step.completed_at)).limit(1))).first()


async def replan_occurrence(
    wctx: WriteContext, *, code: str, act: tuple[str, uuid.UUID] | None, note: str | None,
    credited_to: str | None = None, kind: str | None = None,
) -> bool:
    """A back-dated act that does a recurring step (``every 1m``) completes the occurrence
    that was open at its ``occurred_at`` (raised at or before it, completed after it by a
    later-dated act typed in first), and the chain is planned again from it: that occurrence
    done by this act, then the next one, raised at this act and due one period after it
    (policy-rules ``every 1m``: "the next is due one month after the act that completed it"),
    done by the act that had done the first. The occurrences after it stand as they were
    (they count from that later act). Typing order then makes no difference (attack 26b,
    ATTACK26B-5: Wokingham W19's High-Risk Panel of 26 February, typed after the one of 29
    March, completed nothing, and the February review was reported a month late). A waived
    occurrence is not re-planned (a waiver is not the act the next counts from). Each change
    audited (``step.done`` for the occurrence, ``step.create`` for the one inserted). Whether
    it re-planned."""
    session, at = wctx.session, wctx.occurred_at
    done = await _occurrence_open_at(session, wctx.case.id, code, at)
    if done is None or done.recurrence is None or done.completed_at is None \
            or (act is not None and done.satisfied_by_id == act[1]) \
            or not act_answers(wctx.pack, done, at, kind=kind):
        return False
    was = (policy.stored_utc(done.completed_at), done.completed_by, done.completion_note,
           done.satisfied_by_type, done.satisfied_by_id)
    due = add_period(at, done.recurrence)
    following = policy.owed_again(done, note=(
        f"Re-planned: the occurrence after the act of {london_text(at)}, recorded after the "
        f"act of {london_text(was[0])} that did the one before it; that act does this one."))
    following.raised_at, following.due_at, following.urgent = at, due, False
    following.overdue_at = policy.step_overdue_at(wctx.pack, code, due, False,
                                                  wctx.policy.calendar)
    following.status = StepStatus.done
    (following.completed_at, following.completed_by, following.completion_note,
     following.satisfied_by_type, following.satisfied_by_id) = was
    done.completed_at, done.completed_by = at, credited_to or wctx.principal.sub
    done.completion_note = note
    done.satisfied_by_type, done.satisfied_by_id = act if act is not None else (None, None)
    session.add(done)
    session.add(following)
    await session.flush()
    await wctx.audit("step.done", entity_type="step", entity_id=done.id, reason=note,
                     change={"code": code, "note": note, "completed_at": {
                         "from": iso_utc(was[0]), "to": iso_utc(at)}})
    await wctx.audit("step.create", entity_type="step", entity_id=following.id,
                     reason=following.note,
                     change={"code": code, "rule": following.rule_id, "status": "done",
                             "due_at": iso_utc(due)})
    await emit(session, "step.completed", done.id, service_id=wctx.service.id,
               payload={"case_id": str(wctx.case.id), "code": code, "status": "done",
                        "occurred_at": iso_utc(at)})
    return True
