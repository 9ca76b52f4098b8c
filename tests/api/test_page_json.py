"""The list pages' JSON (app.domain.page_json) is byte for byte what the pydantic models made.

The reference path is kept here: the same rows shaped through ``CaseOut`` / ``StepOut`` and
``Page``, written as FastAPI writes a ``response_model`` (``TypeAdapter(...).dump_json``). Every
page of the register, the case list and the next-steps list is compared with it, for each role
that may read it, page by page, with restricted cases (access lists), unicode names, ratings,
facts, closed and completed steps, and empty pages; then the shaping functions alone on rows the
app never writes (untrimmed names, odd reasons, numbers in facts), where the models' own
validation must decide."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Annotated, Any

import httpx
import pytest
import sqlalchemy as sa
from pydantic import StringConstraints, TypeAdapter, ValidationError
from sqlmodel import col, select

from app.core.config import Settings
from app.core.security import Principal
from app.domain import cases as case_svc
from app.domain import cursors, page_json, policy
from app.domain import next_steps as step_svc
from app.domain.access import service_of, visible_cases_clause
from app.domain.cases_table import Case
from app.domain.restriction import AccessOut, access_views
from app.domain.steps import Step, StepOut, StepRow, step_json, step_out, steps_out
from app.main import build_policy_context
from app.routers.envelopes import Page
from tests.api.support import Factory, db, restrict  # noqa: F401 - db is a fixture
from tests.api.test_events import judge, patch
from tests.conftest import Tenant, make_tenant

AT = "2026-04-15T10:00:00Z"
CASE_PAGE: TypeAdapter[Page[case_svc.CaseOut]] = TypeAdapter(Page[case_svc.CaseOut])
STEP_PAGE: TypeAdapter[Page[StepOut]] = TypeAdapter(Page[StepOut])
NAMES = [("Zoë", "O'Brien-Łukasz"), ("名前", "Ñandú \"quoted\" \\ back"), ("Sam", "😀 Emoji"),
         ("Åsa", "Ünal\u00a0Nbsp"), ("Jo", "Line\u2028Sep")]


def dump(adapter: TypeAdapter[Any], page: Any) -> bytes:
    """As FastAPI writes a response model (validated, then ``dump_json`` by alias)."""
    return adapter.dump_json(adapter.validate_python(page), by_alias=True)


def as_reader(session: Any, who: Principal) -> None:
    """The reference reads as the request's reader: a list's cursors are bound to it (A20-14)."""
    session.info["request_state"] = SimpleNamespace(principal_sub=who.sub,
                                                    principal_service=who.service)


def same_page(got: bytes, expected: bytes) -> None:
    """The same page bytes but for ``next_cursor``: each cursor is sealed with a fresh nonce
    (A20-14), so two cursors for one position differ; both null or both a cursor."""
    def split(page: bytes) -> tuple[bytes, bytes | None]:
        head, sep, tail = page.rpartition(b',"next_cursor":')
        assert sep, page[-80:]
        return head, None if tail == b"null}" else b"cursor"
    assert split(got) == split(expected)


def principal_of(t: Tenant, role: str, sub: str | None = None) -> Principal:
    return Principal(sub=sub or f"{role}-1", roles=frozenset({role}), service=t.slug)


async def reference_cases(factory: Factory, who: Principal, params: dict[str, Any], *,
                          register: bool) -> bytes:
    """The case list or register page as the models made it, from ORM objects chosen by the
    statement the list built for each request before it was cached per shape (the visibility
    clause of ``app.domain.access`` and the filters; the cursor as the list reads it), and
    their open steps read as ORM rows: the list's cached statement and plain rows must give
    the same page."""
    async with factory() as session:
        as_reader(session, who)
        filters = case_svc.CaseFilters.model_validate(
            {**params, **({"on_register": True} if register else {})})
        service = await service_of(session, who)
        query = select(Case).where(visible_cases_clause(who, service.id, panel_view=register))
        if filters.case_holder_id is not None:
            query = query.where(col(Case.case_holder_id) == filters.case_holder_id)
        if filters.on_register is not None:
            query = query.where(col(Case.on_register) == filters.on_register)
        if filters.external_system is not None:
            query = query.where(col(Case.external_system) == filters.external_system,
                                col(Case.external_id) == filters.external_id)
        await cursors.ready(session)
        key = case_svc._query_key(filters, register)
        if filters.cursor:
            at, ident = case_svc._decode_cursor(filters.cursor, key)
            query = query.where(sa.or_(col(Case.created_at) > at, sa.and_(
                col(Case.created_at) == at, col(Case.id) > ident)))
        limit = filters.limit
        found = list((await session.exec(
            query.order_by(col(Case.created_at), col(Case.id)).limit(limit + 1))).all())
        cursor = case_svc._encode_cursor(found[limit - 1], key) if len(found) > limit else None
        cases = found[:limit]
        steps = await policy.open_steps_by_case(session, [c.id for c in cases])
        access = await access_views(session, who, cases)
        return dump(CASE_PAGE, Page(data=case_svc.cases_out(cases, service, steps, access),
                                    next_cursor=cursor))


_POLICY: dict[int, policy.PolicyContext] = {}


def _policy(settings: Settings) -> policy.PolicyContext:
    """The packs and calendar, as the app loads them (once per settings object)."""
    if id(settings) not in _POLICY:
        _POLICY[id(settings)] = build_policy_context(settings)
    return _POLICY[id(settings)]


async def reference_steps(factory: Factory, who: Principal, params: dict[str, Any],
                          settings: Settings) -> bytes:
    """The next-steps page as the models made it, from the ORM objects of the steps the list
    chose (read as plain rows)."""
    async with factory() as session:
        as_reader(session, who)
        steps, cursor = await step_svc.list_steps(session, who, step_svc.StepFilters(**params),
                                                  ctx=_policy(settings))
        by_id = {s.id: s for s in (await session.exec(
            select(Step).where(col(Step.id).in_([s.id for s in steps])))).all()}
        return dump(STEP_PAGE, Page(data=[step_out(by_id[s.id]) for s in steps],
                                    next_cursor=cursor))


async def compare_walk(t: Tenant, factory: Factory, path: str, role: str, params: dict[str, Any],
                       sub: str | None = None) -> int:
    """Walk every page of ``path`` as ``role``, comparing each with the reference; the number
    of items seen."""
    who = principal_of(t, role, sub)
    cursor, seen = None, 0
    for _ in range(30):
        query = {**params, **({"cursor": cursor} if cursor else {})}
        r = await t.client.get(path, params=query, headers=t.auth(role, sub))
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/json"
        if path == "/v1/next-steps":
            expected = await reference_steps(factory, who, query, t.settings)
        else:
            expected = await reference_cases(factory, who, query, register=path == "/v1/register")
        same_page(r.content, expected)
        body = r.json()
        seen += len(body["data"])
        cursor = body["next_cursor"]
        if cursor is None:
            return seen
    raise AssertionError("too many pages")


async def populate(t: Tenant) -> list[str]:
    """Cases of every shape a page shows: unicode names, an external ref, ratings (two on the
    register), MAPPA and a release date, a restricted one with an access list, one held by
    another team, a closed one, completed and open steps."""
    ids = []
    for i, (given, family) in enumerate(NAMES):
        extra: dict[str, Any] = {"child": {"given_name": given, "family_name": family,
                                           "date_of_birth": "2010-05-01"}}
        if i == 1:
            extra.update(external_ref={"system": "IYSS", "id": f"ÆØ-{uuid.uuid4().hex[:6]}"},
                         mappa_category=2, mappa_level=1, expected_release_date="2027-01-31")
        if i == 3:
            extra.update(case_holder_id="case_holder-2", line_manager_id="line_manager-2")
        ids.append((await t.open_case(**extra))["data"]["id"])
    await judge(t, ids[0], "rosh", "high", AT)
    await judge(t, ids[1], "swb", "very_high", AT)
    await judge(t, ids[2], "rosh", "medium", AT)
    r = await restrict(t.client, t, ids[1], {"excluded_staff": ["case_holder-9"]})
    assert r.status_code == 200, r.text
    r = await restrict(t.client, t, ids[0], {"allowed_staff": [
        "case_holder-1", "line_manager-1", "chair-1", "Zoë"]})
    assert r.status_code == 200, r.text
    steps = (await t.client.get("/v1/next-steps", params={"case_id": ids[2]},
                                headers=t.auth("case_holder"))).json()["data"]
    # S13's plan update: done by hand (S1's AssetPlus is done only by submitting it, A9-13).
    plan = next(s for s in steps if s["code"] == "update_intervention_plan")
    done = await t.client.post(f"/v1/next-steps/{plan['id']}/complete",
                               json={"note": "fait — ✓"}, headers=t.auth("case_holder"))
    assert done.status_code == 200, done.text
    await patch(t, ids[4], {"closed_at": "2026-06-01T12:00:00Z",
                            "closure_reason": "Order ended"})
    return ids


async def test_register_and_case_list_pages_are_the_models_bytes(
    somerset: Tenant, wokingham: Tenant, db: Factory  # noqa: F811
) -> None:
    """Every page, for every role that may read it, in pages of 2 and of the default size."""
    ids = await populate(somerset)
    ref = (await somerset.client.get(f"/v1/cases/{ids[1]}", headers=somerset.auth("chair"))
           ).json()["data"]["external_ref"]
    for role in ("chair", "panel_admin", "line_manager", "duty_manager"):
        for params in ({}, {"limit": 1}):
            assert await compare_walk(somerset, db, "/v1/register", role, params) >= 1, role
    for role in ("case_holder", "line_manager", "duty_manager", "chair", "panel_admin"):
        for params in ({}, {"limit": 2}, {"case_holder_id": "case_holder-2"},
                       {"on_register": "true", "limit": 1}, {"on_register": "false"},
                       {"external_system": ref["system"], "external_id": ref["id"]}):
            await compare_walk(somerset, db, "/v1/cases", role, params)
    assert await compare_walk(somerset, db, "/v1/cases", "chair", {}) == len(NAMES)
    # another team's line manager, a holder shut out by the access list: fewer cases
    await compare_walk(somerset, db, "/v1/cases", "line_manager", {}, sub="line_manager-2")
    await compare_walk(somerset, db, "/v1/cases", "case_holder", {}, sub="case_holder-9")
    # a service with nothing yet: empty pages
    for path in ("/v1/register", "/v1/cases"):
        assert await compare_walk(wokingham, db, path, "chair", {}) == 0


async def test_facts_and_other_packs_are_the_models_bytes(
    client: httpx.AsyncClient, settings: Settings, wokingham: Tenant, db: Factory  # noqa: F811
) -> None:
    """A Wokingham case on the register with its pack's steps; a case of the example pack with
    typed facts (a list) and the step they raise."""
    case = (await wokingham.open_case())["data"]
    await judge(wokingham, case["id"], "rosh", "high", AT)
    example = await make_tenant(client, settings, "example-yjs")
    other = (await example.open_case())["data"]
    await patch(example, other["id"], {"facts": {"offence_category": ["robbery", "sexual"]},
                                       "occurred_at": "2026-03-06T10:00:00Z"})
    for tenant in (wokingham, example):
        for role in ("chair", "line_manager"):
            await compare_walk(tenant, db, "/v1/register", role, {})
            await compare_walk(tenant, db, "/v1/cases", role, {"limit": 1})
            await compare_walk(tenant, db, "/v1/next-steps", role, {})


async def test_next_steps_pages_are_the_models_bytes(
    somerset: Tenant, db: Factory  # noqa: F811
) -> None:
    """The queues and the service's lists, every filter, in pages of 1, 3 and the default."""
    ids = await populate(somerset)
    filters: list[dict[str, Any]] = [
        {}, {"overdue": "true"}, {"assignee": "me"}, {"assignee": "me", "overdue": "true"},
        {"status": "done"}, {"status": "superseded"}, {"case_id": ids[0]},
        {"actor": "line_manager"}, {"limit": 3}, {"overdue": "true", "limit": 1},
    ]
    for role in ("case_holder", "line_manager", "duty_manager", "chair", "panel_admin"):
        for params in filters:
            await compare_walk(somerset, db, "/v1/next-steps", role, params)
    assert await compare_walk(somerset, db, "/v1/next-steps", "chair", {"limit": 1}) > 3
    assert await compare_walk(somerset, db, "/v1/next-steps", "chair",
                              {"case_id": str(uuid.uuid4())}) == 0


# --- the shaping functions alone, on rows the app does not write -------------------------

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def step_row(**over: Any) -> Any:
    """A row of STEP_OUT_COLUMNS as a list read gives it."""
    fields = dict(
        id=uuid.uuid4(), case_id=uuid.uuid4(), code="complete_assessment", title="Complete",
        actor="case_holder", assignee_id="cw-1", due_at=NOW - timedelta(days=1), urgent=False,
        priority=False,
        awaiting_panel_date=False, status="open", policy_pack="somerset-yjt-2023",
        policy_version=None, policy_ref="4.1", rule_id="S3", subject_id=uuid.uuid4(),
        note=None, created_at=NOW - timedelta(days=3, microseconds=1),
        raised_at=NOW - timedelta(days=3), overdue_at=None, completed_at=None,
        completed_by=None, completion_note=None, satisfied_by_type=None, satisfied_by_id=None,
        reasons=[], deadline_form=None)
    fields.update(over)
    return StepRow(**fields)


def same_step(row: Any) -> None:
    expected = STEP_PAGE.dump_json(Page(data=steps_out([row], NOW)))
    assert page_json.page_response(page_json.steps_json([row], NOW), None).body == expected


@pytest.mark.parametrize("reasons", [
    [],
    [{"rule": "S3", "pack": "p", "ref": "4.1"}],
    [{"rule": "S3", "pack": "p", "ref": "4.1", "trigger": "case_opened",
      "record": {"type": "case", "id": "x", "extra": 1}, "at": "2026-03-02T09:00:00+00:00",
      "counted_from": "2026-03-02T09:00:00+00:00"}],
    [{"rule": "S3", "pack": "p", "ref": "4.1", "at": "2026-03-02T09:00:00.120+01:00"},
     {"rule": "S4", "pack": "p", "ref": "4.3", "at": "2026-03-02T09:00:00Z", "trigger": None,
      "record": None}],
    [{"rule": "S3", "pack": "p", "ref": "4.1", "at": "2026-03-02T09:00:00"}],
    [{"rule": "S3", "pack": "p", "ref": "4.1", "at": "2026-03-02"}],
    [{"rule": "S3", "pack": "p", "ref": "4.1", "at": 1700000000}],
    [{"rule": "S3", "pack": "p", "ref": "4.1", "record": {"type": "case", "id": "y"},
      "trigger": "judgement_recorded"}],
])
def test_step_reasons_are_shown_as_the_model_shows_them(reasons: list[Any]) -> None:
    same_step(step_row(reasons=reasons))


@pytest.mark.parametrize("reasons", [
    [{"rule": "S3", "pack": "p"}],
    [{"rule": 3, "pack": "p", "ref": "4.1"}],
    [{"rule": "S3", "pack": "p", "ref": "4.1", "record": {"type": "case"}}],
    [{"rule": "S3", "pack": "p", "ref": "4.1", "at": "not a time"}],
    ["S3"],
])
def test_step_reasons_the_model_refuses_are_refused(reasons: list[Any]) -> None:
    with pytest.raises(ValidationError):
        steps_out([step_row(reasons=reasons)], NOW)
    with pytest.raises(ValidationError):
        step_json(step_row(reasons=reasons), NOW)


@pytest.mark.parametrize("over", [
    {}, {"due_at": None}, {"overdue_at": NOW + timedelta(hours=1)},
    {"due_at": NOW - timedelta(hours=1), "deadline_form": "immediately"},
    {"due_at": datetime(2026, 11, 29, 23, 0, tzinfo=timezone(timedelta(hours=-5)))},
    {"status": "done", "completed_at": NOW, "completed_by": "cw-2",
     "completion_note": "ok\n\t\x01\x7f\u2028 ✓", "satisfied_by_type": "assessment",
     "satisfied_by_id": uuid.uuid4()},
    {"policy_version": "2024.1", "note": "", "assignee_id": None, "urgent": True,
     "awaiting_panel_date": True},
    {"created_at": datetime(2026, 1, 1, tzinfo=UTC), "raised_at": datetime(2026, 1, 1)},
])
def test_step_fields_are_shown_as_the_model_shows_them(over: dict[str, Any]) -> None:
    same_step(step_row(**over))


def case_row(**over: Any) -> Any:
    """A row of a case list (the attributes case_fields reads)."""
    fields = dict(
        id=uuid.uuid4(), external_system=None, external_id=None, given_name="Sam",
        family_name="Taylor", date_of_birth=date(2010, 5, 1), case_holder_id="cw-1",
        line_manager_id="lm-1", intervention="court_order", statutory=True, csc_status="none",
        weapon_related=False, mappa_category=None, mappa_level=None,
        expected_release_date=None, in_custody=False, volunteer_attached=False,
        opened_at=NOW - timedelta(days=30), closed_at=None, ratings={}, facts={}, scores={},
        on_register=False, contact_level=None, priority=False, priority_raised=False,
        access_mode=None, version=1)
    fields.update(over)
    return SimpleNamespace(**fields)


SERVICE = SimpleNamespace(slug="nat-001")


def same_case(case: Any, access: AccessOut | None = None) -> None:
    steps = [step_row(case_id=case.id)]
    expected = CASE_PAGE.dump_json(Page(data=case_svc.cases_out(
        [case], SERVICE, {case.id: steps_out(steps, NOW)},  # type: ignore[arg-type]
        {case.id: access} if access else {})))
    got = page_json.page_response(page_json.cases_json(
        [case], SERVICE, {case.id: page_json.steps_json(steps, NOW)},  # type: ignore[arg-type]
        {case.id: access} if access else {}), None).body
    assert got == expected


RATING = {"level": "high", "recorded_at": "2026-04-15T10:00:00+00:00",
          "judgement_id": str(uuid.uuid4())}


@pytest.mark.parametrize("over", [
    {},
    {"given_name": " Sam", "family_name": "Taylor\u3000"},
    {"given_name": "\u200bSam", "family_name": "Ta\u00a0"},
    {"external_system": "IYSS", "external_id": "42"},
    {"external_system": " IYSS ", "external_id": "42\n"},
    {"external_system": "IYSS", "external_id": None},
    {"date_of_birth": date(1950, 1, 1), "expected_release_date": date(2027, 2, 28)},
    {"intervention": "bail", "csc_status": "cp", "contact_level": "weekly"},
    {"ratings": {"rosh": RATING, "swb": None, "lor": {**RATING, "judgement_id": None},
                 "other": RATING}},
    {"ratings": {"swb": {**RATING, "recorded_at": "2026-04-15T11:00:00+01:00",
                         "judgement_id": RATING["judgement_id"].upper(), "extra": 1}}},
    {"facts": {"n": 1e16, "f": 0.1, "z": -0.0, "big": 2**70, "neg": -1.5e-7, "list": [1, 2.5],
               "s": "é\"\\/\u0000"},
     "scores": {"asset": 12, "w": 1.0}},
    {"ratings": None, "facts": None, "scores": None},
    {"closed_at": NOW, "opened_at": datetime(2026, 1, 1, 0, 0, 0, 500000, tzinfo=UTC)},
    {"mappa_category": 1, "mappa_level": 3, "in_custody": True, "volunteer_attached": True,
     "weapon_related": True, "on_register": True, "version": 12},
])
def test_case_fields_are_shown_as_the_model_shows_them(over: dict[str, Any]) -> None:
    same_case(case_row(**over))


def test_a_restricted_case_shows_its_access_list_as_the_model() -> None:
    access = AccessOut(mode="allowed", staff=["cw-1", "lm-1", "Zoë"])  # type: ignore[arg-type]
    same_case(case_row(access_mode="allowed"), access)


@pytest.mark.parametrize("over", [
    {"given_name": "  "}, {"family_name": "x" * 101}, {"date_of_birth": date(1899, 12, 31)},
    {"intervention": "unknown"}, {"csc_status": None}, {"external_id": " " * 3,
                                                        "external_system": "IYSS"},
    {"ratings": {"rosh": {"level": "high"}}},
])
def test_cases_the_model_refuses_are_refused(over: dict[str, Any]) -> None:
    case = case_row(**over)
    with pytest.raises(ValidationError):
        case_svc.cases_out([case], SERVICE, {case.id: []})  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        page_json.cases_json([case], SERVICE, {case.id: []})  # type: ignore[arg-type]


def test_python_strip_covers_what_pydantic_trims() -> None:
    """``_trimmed`` takes a name as it is when Python's ``strip`` leaves it unchanged: so must
    pydantic's ``strip_whitespace``, for every code point (leading and trailing)."""
    name: TypeAdapter[list[Any]] = TypeAdapter(
        list[Annotated[str, StringConstraints(strip_whitespace=True)]])
    kept = [chr(c) for c in range(0x110000)
            if not 0xD800 <= c <= 0xDFFF and not chr(c).isspace()]
    assert name.validate_python([f"{c}a{c}" for c in kept]) == [f"{c}a{c}" for c in kept]


def test_a_reasons_time_is_read_as_the_model_reads_it_every_time() -> None:
    """A reason's ``at`` is the model's reading of that text, the first time and the next,
    whatever its offset or precision; nothing of it is kept in the process (issue 15: a table
    of them kept each write's instant, and the allocator's arenas with it)."""
    from app.domain import steps

    texts = ["2026-12-02T05:24:37.639700+00:00", "2026-12-02T05:24:37Z",
             "2026-08-28T10:00:00+01:00", "2026-03-29T00:59:59.5-03:30", "2026-12-02"]
    adapter = TypeAdapter(datetime)
    for text in texts * 2:
        row = step_row(reasons=[{"rule": "W12", "pack": "p", "ref": "r", "trigger": "t",
                                 "record": None, "at": text}])
        same_step(row)  # the whole step, as StepOut shows it
        shown = step_json(row, NOW)["reasons"][0]["at"]
        assert shown == adapter.validate_python(text)
        assert shown.utcoffset() == adapter.validate_python(text).utcoffset()
        assert TypeAdapter(Any).dump_json(shown) == adapter.dump_json(
            adapter.validate_python(text))
    assert not hasattr(steps, "_REASON_AT")
