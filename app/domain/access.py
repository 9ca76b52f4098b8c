"""The one place that decides what a principal may see and do on a case.

Three layers, each in one place:

* :data:`ROLE_TABLE`: which token roles may call which route at all (routers declare it as a
  dependency, so a role that may never act gets 403 before its body is validated);
* :func:`visible_cases_clause`: the one query deciding which cases a principal may see;
* :func:`case_role_for`: the role under which the principal acts on one case.

Records of another service, and cases the caller may not see, are indistinguishable from
unknown ids (404).

Restricted cases (issue 13): a manager may limit a case to named staff (``allowed``) or shut named
staff out (``excluded``). :func:`restriction_clause` applies that on top of the role rules, for
every staff role including chairs, so every route that reaches a case through this module (the
case, lists, the register, steps, panels, audit, previews) answers 404 to staff without access.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any, NoReturn

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core import clock
from app.core.db import DriverStatement
from app.core.errors import Conflict, Forbidden, NotFound
from app.core.security import MACHINE_SCOPES, STAFF_ROLES, Principal
from app.domain.audit import chain_of
from app.domain.cases_table import AccessMode, Case, CaseAccessStaff, case_etag
from app.domain.common import advisory_key, iso_utc, require_current
from app.domain.panels_table import PanelItem
from app.domain.policy_lock import lock_case_statement, shared_lock_of
from app.domain.services import Service, get_service_by_slug
from app.domain.steps import Step, StepStatus
from app.workflows.packs import Pack
from app.workflows.vocabulary import ReferralKind

SERVICE_WIDE_READERS = ("duty_manager", "chair")
MANAGERS = ("line_manager", "duty_manager")
HOLDER_AND_MANAGERS = ("case_holder", *MANAGERS)
STAFF = ("case_holder", "line_manager", "duty_manager", "chair", "panel_admin")
# The case file (the case, its judgements, assessments, events, referrals, oversight): staff
# who hold, manage or chair. A panel administrator sees the panel-facing summary only: the
# register and the panels' agendas (api-v1: "read the register and panel lists").
CASE_FILE_READERS = ("case_holder", "line_manager", "duty_manager", "chair")
PANEL_SCHEDULERS = ("chair", "panel_admin")
EVERY_ROLE = (*STAFF, "admin", "feed")
# Who may make a referral (create, submit, send, withdraw it): the case's holder and managers
# for every kind; a chair for the kinds the service's pack names them for (``also_made_by``).
KIND_SCOPED_MAKERS = ("chair",)
REFERRAL_MAKERS = (*HOLDER_AND_MANAGERS, *KIND_SCOPED_MAKERS)

# Who may call each route at all: one row per act. Object-level rules (whose case, which
# referral kind, who authored what) are checked after the case is loaded.
ROLE_TABLE: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "service.create": ("admin",),
    "service.read": ("admin", *STAFF),
    "webhook.manage": ("admin",),
    "case.create": (*HOLDER_AND_MANAGERS, "feed"),
    "case.list": STAFF,
    "case.read": CASE_FILE_READERS,
    "case.change": (*HOLDER_AND_MANAGERS, "chair"),
    # Somerset 3.2.4: "a manager ... will act to raise the priority" (app.domain.priority).
    "case.priority": (*MANAGERS, "chair"),
    "case.audit": (*MANAGERS, "chair"),
    "case.upsert": (*HOLDER_AND_MANAGERS, "feed"),
    "case.access_log": (*MANAGERS, "chair"),
    "case.subject_access_export": (*MANAGERS, "chair"),
    "audit.verify": ("chair", "admin"),
    "assessment.write": ("case_holder",),
    "assessment.review": MANAGERS,
    "assessment.read": CASE_FILE_READERS,
    "judgement.record": HOLDER_AND_MANAGERS,
    "judgement.read": CASE_FILE_READERS,
    "event.record": (*HOLDER_AND_MANAGERS, "feed"),
    "event.read": CASE_FILE_READERS,
    "oversight.record": MANAGERS,
    "oversight.read": CASE_FILE_READERS,
    "step.waive": MANAGERS,
    "step.list": STAFF,
    "calendar.manage": STAFF,
    # A person's calendar feeds, by staff id (a leaver's: A26a-8).
    "calendar.administer": ("admin", "duty_manager"),
    "report.timeliness": (*SERVICE_WIDE_READERS, "line_manager"),
    "absence.record": MANAGERS,
    "absence.read": MANAGERS,
    "case.timeline": CASE_FILE_READERS,
    "step.read": STAFF,
    "step.complete": STAFF,
    # A chair makes only the kinds its pack names them for (``also_made_by``, checked on the
    # case by :func:`referral_roles`): Somerset 12's CSPPI notification to the YJB, which "The
    # operational or YJT manager will be responsible for completing and submitting" (attack
    # 34b, ATTACK34B-8: the chair owned the step and got 403 making the referral).
    "referral.create": REFERRAL_MAKERS,
    "referral.read": STAFF,
    "referral.transitions": (*STAFF, "feed"),
    "referral.submit": REFERRAL_MAKERS,
    "referral.quality-assure": MANAGERS,
    "referral.send": REFERRAL_MAKERS,
    "referral.accept": (*MANAGERS, "chair", "panel_admin"),
    "referral.decline": (*MANAGERS, "chair", "panel_admin"),
    "referral.withdraw": REFERRAL_MAKERS,
    "feed.deliver": ("feed",),
    "panel.schedule": PANEL_SCHEDULERS,
    "panel.read": (*PANEL_SCHEDULERS, *MANAGERS),
    "panel.add_item": PANEL_SCHEDULERS,
    # Who keep the agenda take a case off it, as they put it on (Somerset 3.2.3 the MARP's
    # administrator, 7.1.2 its chair; Wokingham's Team Manager schedules the panel).
    "panel.withdraw_item": PANEL_SCHEDULERS,
    "panel.decide": ("chair",),
    "register.read": (*PANEL_SCHEDULERS, *MANAGERS),
    "policy.read": EVERY_ROLE,
    "workflow.preview": (*HOLDER_AND_MANAGERS, "chair"),
})


# The acts of :data:`ROLE_TABLE` that record each closing act a pack may name (``[closures]``,
# app.workflows.vocabulary.CLOSING_ACTS), so that the role owning a step and the roles that
# may do the act completing it can be checked against each other (:func:`roles_doing`;
# tests/api/test_step_owner_acts.py walks every step of every pack). A referral kind's
# ``closes`` is ``referral_<made_by>:<kind>`` (:func:`referral_roles`).
CLOSING_ACT_GATES: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "assessment_submit": ("assessment.write",),
    "assessment_submit_review": ("assessment.write",),
    "assessment_countersign": ("assessment.review",),
    "assessment_countersign_endorses": ("assessment.review",),
    "referral_quality_assure": ("referral.quality-assure",),
    "panel_item_added": ("panel.add_item",),
    "panel_decision": ("panel.decide",),
    "panel_decision_then": ("panel.decide",),
    "panel_decision_mappa": ("panel.decide",),
    "panel_decision_overtakes": ("panel.decide",),
    "panel_decision_misses": ("panel.decide",),
    "rating_replaced": ("judgement.record",),
})


# The acts of :data:`ROLE_TABLE` whose write runs the policy on each trigger, with the role
# the act is done under (the event's ``actor_role``): a pack line naming a role as the one who
# did the act (``actor_role_in``) can only be met if that role may do one of these
# (tests/api/test_recorder_acts.py walks every line of every pack; attack 35b, ATTACK35B-2: a
# Somerset line for an event "recorded by the chair", who may record no case event). A step
# completed is completed by hand or by the act closing it, so by any staff role completing it.
TRIGGER_GATES: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "case_opened": ("case.create", "case.upsert"),
    "assessment_created": ("assessment.write",),
    # A panel's decision records its ratings as judgements (its chair's).
    "judgement_recorded": ("judgement.record", "panel.decide"),
    # A custody event moves ``in_custody``; the MAPPA feed sets the MAPPA fields.
    "case_changed": ("case.change", "case.upsert", "event.record", "feed.deliver"),
    "assessment_submitted": ("assessment.write",),
    "assessment_countersigned": ("assessment.review",),
    "assessment_returned": ("assessment.review",),
    "case_event": ("event.record",),
    "referral_created": ("referral.create", "feed.deliver"),
    "referral_transition": ("referral.submit", "referral.quality-assure", "referral.send",
                            "referral.accept", "referral.decline", "referral.withdraw"),
    "panel_item_added": ("panel.add_item",),
    "panel_decision": ("panel.decide",),
    "panel_scheduled": ("panel.schedule",),
    "step_completed": ("step.complete",),
})


# What a machine client (role ``feed``) must be for to attempt an act its role row allows: one
# of these scopes in its token (app.core.security.MACHINE_SCOPES). ``{source}`` stands for the
# route's ``source`` path value, so a feed posts only its own source's referrals. The CMS
# integration (``cms``) opens, upserts and records events on cases; a referral feed only
# delivers. Every act whose row names ``feed`` has a line here (a test checks).
FEED_SCOPES: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "case.create": ("cms",),
    "case.upsert": ("cms",),
    "event.record": ("cms",),
    "feed.deliver": ("feed:{source}",),
    "referral.transitions": tuple(sorted(MACHINE_SCOPES)),
    "policy.read": tuple(sorted(MACHINE_SCOPES)),
})


def is_machine(principal: Principal) -> bool:
    """Whether the caller is a machine client (a ``feed`` token with no staff role)."""
    return principal.is_machine


def admit(principal: Principal, act: str, path: Mapping[str, Any]) -> None:
    """403 unless the token may attempt ``act`` (a key of :data:`ROLE_TABLE`): one of its
    roles, and for a machine client one of the act's :data:`FEED_SCOPES` (``path``: the
    route's path values). Run by every gated route before the body is read."""
    roles = ROLE_TABLE[act]
    if principal.has(*(r for r in roles if r != "feed")):
        return
    if "feed" not in roles or not principal.has("feed"):
        raise Forbidden(f"This needs one of the roles: {', '.join(roles)}.")
    source = str(path.get("source", ""))
    if not principal.scopes.intersection(s.replace("{source}", source)
                                         for s in FEED_SCOPES[act]):
        # The path's value is not named (it is the request's): only that the scope is missing.
        raise Forbidden("Your machine client's token is not scoped for this route (its "
                        "'scope' claim: cms, feed:emrac or feed:mappa).", slug="feed-scope")


def withheld_from(principal: Principal, case: Case) -> bool:
    """Whether the case is restricted and the caller a machine client: answered the act it
    made (its ids), never the case's data or its steps (``next_steps: []``; A9-19)."""
    return case.access_mode is not None and is_machine(principal)


def require_machine_scope(principal: Principal, scope: str) -> None:
    """403 for a machine client whose token lacks ``scope`` (the domain's own check behind the
    route gate's, for the writes a machine client may make)."""
    if is_machine(principal) and scope not in principal.scopes:
        raise Forbidden("Your machine client's token is not scoped for this route (its "
                        "'scope' claim: cms, feed:emrac or feed:mappa).", slug="feed-scope")


def referral_roles(act: str, kind: ReferralKind) -> tuple[str, ...]:
    """The roles that may do ``act`` (``referral.create`` or ``referral.<action>``) on a
    referral of this kind: the act's :data:`ROLE_TABLE` roles, a chair
    (:data:`KIND_SCOPED_MAKERS`) only where the kind's ``also_made_by`` names them, for the
    acts that make the referral (create, submit, send, withdraw: :data:`REFERRAL_MAKERS`'
    rows); an act whose row names a chair of its own (accept, decline: a panel's chair answers
    a referral to it) is not narrowed (fix35c's narrowing refused a chair's decline of an NRM
    referral, 403, which the referral races had it do)."""
    if ROLE_TABLE[act] != REFERRAL_MAKERS:
        return ROLE_TABLE[act]
    return tuple(role for role in ROLE_TABLE[act]
                 if role not in KIND_SCOPED_MAKERS or role in kind.also_made_by)


def roles_doing(pack: Pack, act: str) -> tuple[str, ...]:
    """The staff roles that may do a closing act under this pack (an act of
    ``Pack.done_only_by``, a ``[closures]`` key or ``referral_<made_by>:<kind>``), from the
    tables the routes and services check: making a referral is creating it, submitting it and,
    made by sending, sending it; ``referral_views`` is making the panel referral that carries
    them; ``panel_decision_presenter`` is presenting the case, credited to whoever the agenda
    names as presenter (who must see the case: 7.1.1's case holder, or line manager)."""
    if act == "panel_decision_presenter":
        return CASE_FILE_READERS
    if act == "referral_views":
        act = f"referral_{pack.referral_kind('panel').made_by}:panel"
    if act.startswith("referral_") and ":" in act:
        made_by, kind_id = act.removeprefix("referral_").split(":", 1)
        kind = pack.referral_kind(kind_id)
        acts = ("referral.create", "referral.submit", f"referral.{made_by}")
        return tuple(role for role in STAFF
                     if all(role in referral_roles(a, kind) for a in acts))
    return tuple(role for role in STAFF
                 if all(role in ROLE_TABLE[gate] for gate in CLOSING_ACT_GATES[act]))


def roles_for(act: str) -> tuple[str, ...]:
    """The token roles that may attempt ``act`` (a key of :data:`ROLE_TABLE`); KeyError if
    the act is unknown, so a route cannot silently go ungated."""
    return ROLE_TABLE[act]


async def service_of(session: AsyncSession, principal: Principal) -> Service:
    """The service the token belongs to; 403 for a token of an unknown service."""
    if principal.service is None:
        raise Forbidden("Your token is not bound to a service.")
    service = await get_service_by_slug(session, principal.service)
    if service is None:
        raise Forbidden("Your token's service is not known here.")
    return service


def require_roles(principal: Principal, roles: Iterable[str], what: str) -> None:
    """403 unless the token carries one of ``roles``."""
    if not principal.has(*roles):
        raise Forbidden(f"Your role may not {what}.")


def restriction_clause(principal: Principal) -> Any:
    """A WHERE clause on ``case``: the case is unrestricted, or its access list lets this staff
    member in (named in ``allowed``, not named in ``excluded``)."""
    return _restriction(principal.sub)


def lets_in(staff_id: Any) -> Any:
    """:func:`restriction_clause` for a staff id given as a value or a bound parameter."""
    return _restriction(staff_id)


def _named(staff_id: Any) -> Any:
    """Whether the case's access list names the staff member (a value or a bound parameter)."""
    return sa.exists().where(
        col(CaseAccessStaff.case_id) == col(Case.id),
        col(CaseAccessStaff.staff_id) == staff_id,
    )


def _restriction(staff_id: Any) -> Any:
    """:func:`restriction_clause` for a staff id given as a value or a bound parameter."""
    named = _named(staff_id)
    return sa.or_(
        col(Case.access_mode).is_(None),
        sa.and_(col(Case.access_mode) == AccessMode.allowed, named),
        sa.and_(col(Case.access_mode) == AccessMode.excluded, ~named),
    )


# The roles a step may be addressed to as a role (``assignee_id`` null: any holder of the role
# does it) whose holders are not tied to the case: role-addressed duties of these reach holders
# an allow-list leaves out (see :func:`outside_allow_list`).
ROLE_DUTY_ACTORS = ("duty_manager", "chair", "panel_admin")


def outside_allow_list(staff_id: Any, service_id: Any, *, panel_handled: bool = False) -> Any:
    """A WHERE clause on ``case``: the service's cases whose restriction shuts the staff member
    out (a value or a bound parameter): an ``allowed`` list that does not name them, or an
    ``excluded`` list that does. On these, and only these,
    a holder of a :data:`ROLE_DUTY_ACTORS` role is shown the steps addressed to that role as
    bare duties (the step, never the case: app.domain.next_steps), so that a duty addressed to
    a role, such as the escalation of the line manager's own overdue step (Somerset 3.1: "If
    the line manager is unavailable, the duty manager will undertake these functions") or a
    chair's serious-incident notification (Somerset 12), always reaches someone who may do it.
    An ``excluded`` list too (attack 30b, ATTACK30B-15): the case's own line manager may set
    one, and naming the duty managers and chairs above them would have the escalations over
    them and the chair's notification reach nobody (Somerset 3.1, 3.3, 12: those roles oversee
    the line manager); the named still see nothing of the case but the bare duty. The name is
    historical. ``panel_handled``: only cases the panel handles (the
    register, a panel's agenda, a live panel referral), as for a panel administrator's to-do
    list."""
    named = _named(staff_id)
    clause = sa.and_(col(Case.service_id) == service_id, sa.or_(
        sa.and_(col(Case.access_mode) == AccessMode.allowed, ~named),
        sa.and_(col(Case.access_mode) == AccessMode.excluded, named)))
    if panel_handled:
        clause = sa.and_(clause, sa.or_(col(Case.on_register).is_(True),
                                        col(Case.id).in_(_panel_case_ids(service_id))))
    return clause


def note_duty_read(
    session: AsyncSession, principal: Principal, service_id: uuid.UUID, case_id: uuid.UUID,
    role: str,
) -> None:
    """Note a read request's access to a role-addressed step of a case the caller may not
    otherwise see (:func:`outside_allow_list`) in the case's access log, under the step's
    role, once per case and request (no I/O)."""
    read = session.info.get("read_log")
    noted: set[uuid.UUID] = session.info.setdefault("read_log_cases", set())
    if read is None or case_id in noted:
        return
    noted.add(case_id)
    read.writer.record(principal, service_id, case_id, read.what, read.request_id, role)


def accessible_case_ids(principal: Principal, service_id: uuid.UUID) -> Any:
    """A subquery of the service's case ids whose restriction does not shut the principal out
    (for records reached other than through a caseload: steps, panel items)."""
    return select(Case.id).where(col(Case.service_id) == service_id,
                                 restriction_clause(principal))


def visible_cases_clause(
    principal: Principal, service_id: uuid.UUID, *, panel_view: bool = False
) -> Any:
    """A WHERE clause selecting exactly the cases the principal may read (role and restriction).

    The case file by default; ``panel_view=True`` adds what a panel administrator handles (the
    register, cases on a panel's agenda, cases with a live panel referral) for the
    panel-facing reads (register, panels, panel referrals, to-do steps).
    """
    return _visible(principal.sub, service_id, **visibility_flags(principal, panel_view))


def visibility_flags(principal: Principal, panel_view: bool = False) -> dict[str, bool]:
    """The role flags :func:`visible_cases_clause` builds its clause from (a statement built
    once per shape takes them with the staff and service ids as bound parameters)."""
    return {"service_wide": principal.has(*SERVICE_WIDE_READERS),
            "case_holder": principal.has("case_holder"),
            "line_manager": principal.has("line_manager"),
            "panel_admin": panel_view and principal.has("panel_admin")}


def visible_clause_of(staff_id: Any, service_id: Any, flags: dict[str, bool]) -> Any:
    """:func:`visible_cases_clause` for the role flags of :func:`visibility_flags`, with the
    staff and service ids as values or bound parameters."""
    return _visible(staff_id, service_id, **flags)


def _visible(
    staff_id: Any, service_id: Any, *, service_wide: bool, case_holder: bool,
    line_manager: bool, panel_admin: bool,
) -> Any:
    """:func:`visible_cases_clause` for a staff id and service id given as values or bound
    parameters and the principal's roles as flags (``panel_admin``: in a panel view)."""
    same_service = sa.and_(col(Case.service_id) == service_id, _restriction(staff_id))
    if service_wide:
        return same_service
    ors = []
    if case_holder:
        ors.append(col(Case.case_holder_id) == staff_id)
    if line_manager:
        ors.append(col(Case.line_manager_id) == staff_id)
    if panel_admin:
        ors.append(col(Case.on_register).is_(True))
        ors.append(col(Case.id).in_(_panel_case_ids(service_id)))
    if not ors:
        return sa.false()
    return sa.and_(same_service, sa.or_(*ors))


@functools.lru_cache(maxsize=16)
def _case_file_query(service_wide: bool, case_holder: bool, line_manager: bool) -> Any:
    """The case and its service, if the case is in the service of the token (by slug) and
    visible to the staff member: one statement per role shape, built once (building and
    cache-keying a statement per request was a tenth of a write's CPU). Parameters:
    ``yj_case`` (the case id), ``yj_slug`` (the token's service), ``yj_sub`` (the staff id)."""
    staff_id = sa.bindparam("yj_sub", type_=sa.String())
    same_service: Any = col(Case.service_id)  # the token's service is joined by its slug
    return (
        select(Case, Service)
        .join(Service, col(Service.id) == col(Case.service_id))
        .where(col(Case.id) == _CASE_ID,
               col(Service.slug) == sa.bindparam("yj_slug", type_=sa.String()),
               _visible(staff_id, same_service, service_wide=service_wide,
                        case_holder=case_holder, line_manager=line_manager,
                        panel_admin=False))
        .execution_options(populate_existing=True)
    )


# A panel referral that has been made (submitted to the panel administrator, 3.2.3) and is
# neither withdrawn nor declined brings its case to the panel administrator.
LIVE_PANEL_REFERRAL_STATES = ("submitted", "quality_assured", "sent", "received", "accepted")
# The same states as literal SQL, for ``IN``: a constant list in the statement's text, not an
# expanding parameter, which SQLAlchemy renders into the cached statement's text again on
# every execution (issue 15: ~3% of a judgement write's instructions, the case file's inputs).
_LIVE_PANEL_REFERRAL_SQL: tuple[Any, ...] = tuple(
    sa.literal_column(f"'{state}'") for state in LIVE_PANEL_REFERRAL_STATES)


def live_panel_referral(status: Any) -> Any:
    """``status IN ('submitted', ...)``: a referral column's status is a live panel
    referral's (:data:`LIVE_PANEL_REFERRAL_STATES`, as literal SQL)."""
    return status.in_(_LIVE_PANEL_REFERRAL_SQL)


def _panel_case_ids(service_id: uuid.UUID) -> Any:
    """Ids of the service's cases on a panel's agenda or with a live panel referral."""
    # The referral table's module imports this one, so its columns are named here.
    referral = sa.table("referral", sa.column("case_id"), sa.column("service_id"),
                        sa.column("kind"), sa.column("status"))
    on_a_panel = select(PanelItem.case_id).where(PanelItem.service_id == service_id)
    referred = sa.select(referral.c.case_id).where(
        referral.c.service_id == service_id, referral.c.kind == "panel",
        live_panel_referral(referral.c.status))
    return sa.union(on_a_panel, referred)


def require_may_open(principal: Principal, case_holder_id: str, line_manager_id: str) -> None:
    """403 unless the principal may open a case with these holders: a case holder only a case
    they hold, a line manager only for their team (they manage it), duty managers and feeds
    any case of the service (a machine client only the case management system's)."""
    if principal.has("duty_manager"):
        return
    if is_machine(principal):
        require_machine_scope(principal, "cms")
        return
    if principal.has("line_manager") and line_manager_id == principal.sub:
        return
    if principal.has("case_holder") and case_holder_id == principal.sub:
        return
    raise Forbidden("You may open only cases you hold (or, as a line manager, that you manage).",
                    slug="not-your-case")


def require_open_case(case: Case, what: str) -> None:
    """409 for a write on a closed case (only what the policy reaches past closure is allowed)."""
    if case.closed_at is not None:
        raise Conflict(f"The case is closed: cannot {what}.", slug="case-closed",
                       extra={"closed_at": iso_utc(case.closed_at)},
                       withheld=Conflict(f"The case is closed: cannot {what}.",
                                         slug="case-closed"))


def require_not_case_holder(
    principal: Principal, case: Case, *, who_does_it: str, slug: str | None = None
) -> None:
    """403 when the principal holds the case: a manager's (or a chair's) act on the case is a
    check on its holder's work, never the holder's own, whatever other roles their token
    carries (a case holder on the duty rota, or who also chairs panels).

    Shape: ``case.case_holder_id == principal.sub`` (the roles are not consulted: the refusal
    is about the person). Raises :class:`~app.core.errors.Forbidden`, problem type
    ``forbidden`` unless ``slug`` names another (a panel decision's ``case-holder-cannot-chair``),
    with the detail "You hold this case: <who_does_it>". Used by every such act: completing or
    waiving a line or duty manager's step and recording oversight (Somerset 3.1, 4.5; attack
    pass 11, A11-9), closing, reassigning or restricting the case (A12-1), countersigning or
    returning an assessment (Somerset 3.1, 5; Wokingham "Management oversight"), chairing a
    panel decision on it (Somerset 7.1.5, 4.3, 7.2.1; A12-3) and quality-assuring its MAPPA
    forms (Wokingham "Referrals into MAPPA"; A12-12)."""
    if case.case_holder_id == principal.sub:
        raise Forbidden(f"You hold this case: {who_does_it}", slug=slug)


def case_relations(principal: Principal, case: Case) -> set[str]:
    """The roles by which the principal stands in relation to this case."""
    relations: set[str] = set()
    if principal.has("case_holder") and case.case_holder_id == principal.sub:
        relations.add("case_holder")
    if principal.has("line_manager") and case.line_manager_id == principal.sub:
        relations.add("line_manager")
    for role in ("duty_manager", "chair", "panel_admin"):
        if principal.has(role):
            relations.add(role)
    return relations


def case_role_for(principal: Principal, case: Case, allowed: Iterable[str], what: str) -> str:
    """The role under which the principal may act on the case (first allowed wins), or 403."""
    relations = case_relations(principal, case)
    for role in allowed:
        if role in relations:
            return role
    raise Forbidden(f"You may not {what} on this case.")


_CASE_ID = sa.bindparam("yj_case", type_=Case.__table__.c.id.type)  # type: ignore[attr-defined]
# The case's row lock, after its service's policy lock (shared): app.domain.policy_lock.
# Compiled once; run for its locks alone, so the first of a transaction goes with its BEGIN
# (issue 15: a round trip fewer a write).
_LOCK_CASE = DriverStatement(lock_case_statement(_CASE_ID), lock_only=True)
_SQLITE_LOCK_CASE = sa.update(Case).where(col(Case.id) == _CASE_ID).values(
    id=Case.id)  # type: ignore[arg-type]


async def lock_case(session: AsyncSession, case_id: uuid.UUID) -> None:
    """Serialise writes on one case for the rest of this unit of work.

    Two writes on a case (a judgement and an event, say) must not both read the same version and
    then race: PostgreSQL takes a row lock (``SELECT ... FOR UPDATE``); SQLite, which has no row
    locks, takes its database write lock now with a no-op UPDATE, before the case is read.
    PostgreSQL takes the case's service's policy lock SHARED first, in the same statement, so
    the write reads absences and scheduled panels either before or after a write that changes
    them, never half-way (:mod:`app.domain.policy_lock`). On PostgreSQL the lock, when it
    opens the unit of work's transaction, is sent with its BEGIN (:data:`app.core.db.LOCK_ONLY`).
    """
    sqlite = session.get_bind().dialect.name == "sqlite"
    if not sqlite and (session.new or session.dirty or session.deleted):
        await session.flush()  # what the ORM statement's autoflush did: pending changes first
    # A Core statement on the session's connection (issue 15: the ORM's execution path around
    # this plain SELECT cost more than the statement itself), as driver SQL on PostgreSQL.
    conn = await session.connection()
    if sqlite:
        await conn.execute(_SQLITE_LOCK_CASE, {"yj_case": case_id})
    else:
        await _LOCK_CASE.execute_async(conn, {"yj_case": case_id})
    clock.locked(("case", case_id))


async def _sqlite_write_lock(session: AsyncSession, service_id: uuid.UUID) -> bool:
    """On SQLite, take the database's write lock now (a no-op UPDATE of the service row) and
    say so; on PostgreSQL do nothing and return False."""
    if session.get_bind().dialect.name != "sqlite":
        return False
    conn = await session.connection()
    await conn.execute(sa.update(Service).where(col(Service.id) == service_id)
                       .values(id=Service.id))  # type: ignore[arg-type]
    return True


async def lock_external_ref(
    session: AsyncSession, service_id: uuid.UUID, system: str, external_id: str
) -> None:
    """Serialise creates and updates by one external reference for this unit of work, so two
    deliveries of a new case cannot both create it: PostgreSQL takes an advisory lock keyed
    by the reference, then the service's policy lock shared; SQLite takes its database write
    lock now."""
    clock.locked(("case-ref", service_id, system, external_id))
    if await _sqlite_write_lock(session, service_id):
        return
    # Then, in the same statement, the service's policy lock (shared): the create or update
    # that follows reads absences and panels (app.domain.policy_lock; the reference first,
    # always, so the two are taken in one order).
    await session.exec(sa.select(sa.func.pg_advisory_xact_lock(  # type: ignore[call-overload]
        advisory_key(f"case-ref:{service_id}:{system}:{external_id}")),
        shared_lock_of(service_id)))


async def lock_for_person(session: AsyncSession, service_id: uuid.UUID, purpose: str,
                          staff_id: str) -> None:
    """Serialise one person's acts of one kind (``purpose``, e.g. ``"calendar-feeds"``) in a
    service for this unit of work, so a limit read before a write holds against a racing write
    of the same person: PostgreSQL takes an advisory lock keyed by the three (held to the
    commit); SQLite takes its database write lock now (as :func:`lock_external_ref`)."""
    if await _sqlite_write_lock(session, service_id):
        return
    await session.exec(sa.select(sa.func.pg_advisory_xact_lock(  # type: ignore[call-overload]
        advisory_key(f"{purpose}:{service_id}:{staff_id}"))))


async def may_see_case(
    session: AsyncSession, principal: Principal, service_id: uuid.UUID, case_id: uuid.UUID
) -> bool:
    """Whether the principal may know this case exists: staff, if it is visible to them; a
    feed, if it is not restricted."""
    if principal.roles & STAFF_ROLES:
        where = visible_cases_clause(principal, service_id)
    else:
        where = sa.and_(col(Case.service_id) == service_id, col(Case.access_mode).is_(None))
    found = await session.exec(select(Case.id).where(col(Case.id) == case_id, where))
    return found.first() is not None


def is_write(session: AsyncSession) -> bool:
    """Whether the session belongs to a write request (set by the unit of work)."""
    return bool(session.info.get("write"))


async def load_case(
    session: AsyncSession, case_id: uuid.UUID, *where: Any, lock: bool | None = None
) -> Case | None:
    """Load a case (locked for writes), optionally filtered."""
    if lock if lock is not None else is_write(session):
        await lock_case(session, case_id)
    query = select(Case).where(Case.id == case_id, *where)
    return (await session.exec(query.execution_options(populate_existing=True))).first()


async def get_visible_case(
    session: AsyncSession, principal: Principal, case_id: uuid.UUID, *, for_update: bool = False,
    panel_view: bool = False, missing: str = "No such case.",
) -> tuple[Service, Case]:
    """Load a case the principal may read within their service (locked in writes); 404 otherwise.

    ``missing``: the 404's detail, when the case was reached through a record of it (a
    referral, an assessment, a step): the detail an unknown id of that record answers, so that
    a record of a case the caller may not see is answered as one that does not exist, byte for
    byte ("as if the case did not exist": attack 26a, A26a-10)."""
    if not principal.roles & STAFF_ROLES:
        raise Forbidden("Your role cannot read case data.")
    if panel_view or principal.service is None:
        service = await service_of(session, principal)
        clause = visible_cases_clause(principal, service.id, panel_view=panel_view)
        case = await load_case(session, case_id, clause, lock=True if for_update else None)
    else:
        # The case file: the service and the case in one query (the lock, in a write, first).
        if for_update or is_write(session):
            await lock_case(session, case_id)
        query = _case_file_query(principal.has(*SERVICE_WIDE_READERS),
                                 principal.has("case_holder"), principal.has("line_manager"))
        row = (await session.exec(query, params=_case_file_params(principal, case_id))).first()
        if row is None:
            await _no_case_file(session, principal, missing)
        case, service = row
    if case is None:
        raise NotFound(missing)
    require_case_unchanged(session, case)
    note_read(session, principal, case)
    return service, case


def require_case_unchanged(session: AsyncSession, case: Case) -> None:
    """412 when the request's If-Match is about this case (a record made under it: a
    judgement, event, assessment, referral or oversight entry) and does not hold for the case
    as it stands under the write's lock; nothing without one (as on the single resources'
    acts, A16-8)."""
    require_current(session, "case", case.id, case_etag(case), "case")


def _case_file_params(principal: Principal, case_id: uuid.UUID) -> dict[str, Any]:
    return {"yj_case": case_id, "yj_slug": principal.service, "yj_sub": principal.sub}


async def _no_case_file(session: AsyncSession, principal: Principal,
                        missing: str = "No such case.") -> NoReturn:
    await service_of(session, principal)  # 403 for a token of an unknown service
    raise NotFound(missing)


async def get_case_for_write(
    session: AsyncSession, principal: Principal, case_id: uuid.UUID
) -> tuple[Service, Case, list[Step]]:
    """:func:`get_visible_case` for a write (the case locked first), with the case's open
    steps as :func:`app.domain.policy.open_steps_of` reads them (soonest due first, undated
    last), read under the lock by the same statement as the case (issue 15: one round trip
    fewer). Tokens of no one service fall back to two queries."""
    service, case, steps, _ = await get_case_file_for_write(session, principal, case_id)
    return service, case, steps


async def get_case_file_for_write(
    session: AsyncSession, principal: Principal, case_id: uuid.UUID, *,
    also: tuple[Any, ...] = (), params: Callable[[], Mapping[str, Any]] | None = None,
) -> tuple[Service, Case, list[Step], tuple[Any, ...] | None]:
    """:func:`get_case_for_write`, and on PostgreSQL the values of ``also`` (scalar
    subqueries that refer to no table of the case file's statement, only to its parameters
    ``yj_case``, ``yj_slug`` and to those ``params()`` answers: e.g.
    :func:`app.domain.policy.inputs_column`) read by the same statement, under the same lock
    (issue 15: a round trip fewer each), in their order; None where they are not read (SQLite,
    tokens of no one service: the caller reads them itself). ``params`` is called once the
    case is locked, never before: parameters dated by the write's time (its "now") are dated
    when the write holds the case, after every write it waited for (A23a-1)."""
    if not principal.roles & STAFF_ROLES or principal.service is None:
        service, case = await get_visible_case(session, principal, case_id, for_update=True)
        steps = (await session.exec(select(Step).where(
            col(Step.case_id) == case.id, col(Step.status) == StepStatus.open
        ).order_by(*_OPEN_STEP_ORDER))).all()
        return service, case, list(steps), None
    await lock_case(session, case_id)
    if also and session.get_bind().dialect.name != "postgresql":
        also = ()
    query = _case_file_with_open_steps_query(
        principal.has(*SERVICE_WIDE_READERS), principal.has("case_holder"),
        principal.has("line_manager"), also)
    bound = _case_file_params(principal, case_id)
    if also and params is not None:
        bound.update(params())
    rows = (await session.exec(query, params=bound)).all()
    if not rows:
        await _no_case_file(session, principal)
    case, service = rows[0][0], rows[0][1]
    require_case_unchanged(session, case)
    note_read(session, principal, case)
    return (service, case, [row[2] for row in rows if row[2] is not None],
            tuple(rows[0][3:]) if also else None)


_OPEN_STEP_ORDER = (col(Step.due_at).is_(None), col(Step.due_at), col(Step.created_at),
                    col(Step.id))


@functools.lru_cache(maxsize=32)
def _case_file_with_open_steps_query(
    service_wide: bool, case_holder: bool, line_manager: bool, also: tuple[Any, ...] = ()
) -> Any:
    """:func:`_case_file_query` with the case's open steps joined: a row per open step (one
    with no step if none), in the open steps' order; the same parameters. ``also``: further
    columns (uncorrelated scalar subqueries: PostgreSQL computes each once per statement)."""
    query = (
        _case_file_query(service_wide, case_holder, line_manager)
        .add_columns(Step)
        .outerjoin(Step, sa.and_(col(Step.case_id) == col(Case.id),
                                 col(Step.status) == StepStatus.open))
        .order_by(*_OPEN_STEP_ORDER)
    )
    return query.add_columns(*also) if also else query


def note_read(session: AsyncSession, principal: Principal, case: Any) -> None:
    """Note a read request's access to a case (a :class:`Case`, or a row of a case list with
    its attributes) in the access log, once per request (no I/O: the writer buffers it; see
    app.domain.access_log)."""
    read = session.info.get("read_log")
    noted: set[uuid.UUID] = session.info.setdefault("read_log_cases", set())
    if read is None or case.id in noted:
        return
    noted.add(case.id)
    role = ",".join(sorted(case_relations(principal, case))) or None
    read.writer.record(principal, case.service_id, case.id, read.what, read.request_id, role)


# What note_read needs of a case: its id, service and holders (for the reader's role).
NOTED_CASE_COLUMNS = (Case.id, Case.service_id, Case.case_holder_id, Case.line_manager_id)


async def note_case_reads(session: AsyncSession, principal: Principal,
                          case_ids: Iterable[uuid.UUID]) -> None:
    """Note in the access log each case a read request discloses through records of its own
    (steps, panel items: a list may show many cases), once per case and request: one query
    for the cases not noted yet (their holders, for the reader's role), none when the request
    is not a noted read; the writer buffers the entries and inserts them in one batch."""
    read = session.info.get("read_log")
    if read is None:
        return
    noted: set[uuid.UUID] = session.info.setdefault("read_log_cases", set())
    wanted = [case_id for case_id in dict.fromkeys(case_ids) if case_id not in noted]
    if not wanted:
        return
    rows = await session.exec(select(*NOTED_CASE_COLUMNS).where(col(Case.id).in_(wanted)))
    for row in rows.all():
        note_read(session, principal, row)


def note_service_read(session: AsyncSession, principal: Principal, service_id: uuid.UUID
                      ) -> None:
    """Note a read request's service-wide read (a report: no one case) in the access log."""
    read = session.info.get("read_log")
    if read is not None:
        read.writer.record(principal, service_id, None, read.what, read.request_id)


async def get_case_in_service(
    session: AsyncSession, service_id: uuid.UUID, case_id: uuid.UUID
) -> Case:
    """A case of the given service regardless of caseload (for feeds and integrations); in a
    write, checked against the request's If-Match about it (:func:`require_case_unchanged`:
    the case management system's event under a case, as staff's)."""
    case = await load_case(session, case_id, col(Case.service_id) == service_id)
    if case is None:
        raise NotFound("No such case.")
    require_case_unchanged(session, case)
    return case


def admin_of_one_service(principal: Principal) -> bool:
    """Whether the token is an admin's bound to one service (a ``service`` claim beside the
    ``admin`` role): that service's admin, every admin route scoped to it (webhooks, audit
    verification, services, a person's calendar feeds), and no creating services (attack 26a,
    A26a-13: the routes disagreed)."""
    return principal.has("admin") and principal.service is not None


async def audit_chains_for(
    session: AsyncSession, principal: Principal, slug: str | None
) -> list[str] | None:
    """The audit chains a verifier may check: an admin's every chain (None) or the named
    service's; a chair's own service's, and an admin token bound to a service (its ``service``
    claim) that service's (:func:`admin_of_one_service`); 404 for another or an unknown
    slug."""
    if principal.has("admin") and not admin_of_one_service(principal):
        if slug is None:
            return None
        scoped = await get_service_by_slug(session, slug)
    elif principal.has("admin"):
        scoped = (await get_service_by_slug(session, principal.service or "")
                  if slug in (None, principal.service) else None)
    else:
        own = await service_of(session, principal)
        scoped = own if slug in (None, own.slug) else None
    if scoped is None:
        raise NotFound("No such service.")
    return [chain_of(scoped.id)]
