"""The read audit (issue 13, part 2): reads of a case's record in an access log, apart from
the write audit, buffered, and never lost on a clean shutdown."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlmodel import col, select

from app.core.config import Settings
from app.core.security import Principal
from app.domain.access_log import AccessLogEntry, AccessLogWriter
from app.domain.services import Service
from app.main import create_app
from tests.api.fidelity_support import pin, with_matrix
from tests.api.support import Factory, db  # noqa: F401 - fixture
from tests.conftest import Tenant


async def _log(client: httpx.AsyncClient, tenant: Tenant, case_id: str) -> list[dict[str, Any]]:
    r = await client.get(f"/v1/cases/{case_id}/access-log", headers=tenant.auth("line_manager"))
    assert r.status_code == 200, r.text
    return r.json()["data"]  # type: ignore[no-any-return]


async def test_reads_are_logged_with_who_role_what_and_request_id(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """The case holder reads the case and its judgements, a chair reads the audit: each read
    is in the access log with its actor, the role they read under, the route and the request
    id; the write that came before is not."""
    case = (await somerset.open_case())["data"]
    base = f"/v1/cases/{case['id']}"
    r = await client.post(f"{base}/judgements", json={"domain": "lor", "level": "medium"},
                          headers=somerset.auth("case_holder"))
    assert r.status_code == 201
    reads = [
        (f"{base}", somerset.auth("case_holder"), "GET /v1/cases/{case_id}"),
        (f"{base}/judgements", somerset.auth("case_holder"),
         "GET /v1/cases/{case_id}/judgements"),
        (f"{base}/audit", somerset.auth("chair"), "GET /v1/cases/{case_id}/audit"),
    ]
    expected = []
    for url, headers, what in reads:
        r = await client.get(url, headers=headers)
        assert r.status_code == 200
        expected.append((what, r.headers["x-request-id"]))
    log = await _log(client, somerset, case["id"])
    assert log[0]["what"] == "GET /v1/cases/{case_id}/access-log"
    assert [(e["what"], e["request_id"]) for e in log[1:]] == expected[::-1]
    assert [(e["actor"], e["role"]) for e in log[1:]] == [
        ("chair-1", "chair"), ("case_holder-1", "case_holder"), ("case_holder-1", "case_holder")]
    assert all(e["what"].startswith("GET ") for e in log)


async def test_access_log_is_for_the_cases_managers_and_chairs(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """The case holder gets 403; another team's line manager 404 (cannot see the case); a
    duty manager and a chair may read it."""
    case = (await somerset.open_case())["data"]
    url = f"/v1/cases/{case['id']}/access-log"
    assert (await client.get(url, headers=somerset.auth("case_holder"))).status_code == 403
    other = somerset.auth("line_manager", "line_manager-2")
    assert (await client.get(url, headers=other)).status_code == 404
    for role in ("duty_manager", "chair"):
        assert (await client.get(url, headers=somerset.auth(role))).status_code == 200


async def test_buffered_reads_are_written_on_a_clean_shutdown(
    client: httpx.AsyncClient, db: Factory, somerset: Tenant, settings: Settings  # noqa: F811
) -> None:
    """A second API process with a one-minute flush interval: its reads are only buffered
    until it shuts down cleanly, and then they are all in the database."""
    case = (await somerset.open_case())["data"]
    slow = create_app(settings.model_copy(update={"access_log_flush_seconds": 60}))
    rids = []
    async with LifespanManager(slow, startup_timeout=60, shutdown_timeout=60) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://p2.test") as c2:
            for _ in range(3):
                r = await c2.get(f"/v1/cases/{case['id']}", headers=somerset.auth("case_holder"))
                assert r.status_code == 200
                rids.append(r.headers["x-request-id"])
        assert slow.state.access_log.pending == 3
        async with db() as session:
            written = (await session.exec(select(AccessLogEntry).where(
                AccessLogEntry.case_id == uuid.UUID(case["id"])))).all()
        assert written == []
    async with db() as session:
        rows = (await session.exec(select(AccessLogEntry.request_id).where(
            AccessLogEntry.case_id == uuid.UUID(case["id"]))
            .order_by(col(AccessLogEntry.at)))).all()
    assert list(rows) == rids


async def test_caseload_register_and_report_reads_are_logged(
    client: httpx.AsyncClient, db: Factory, somerset: Tenant  # noqa: F811
) -> None:
    """A case shown in the caseload or on the register is a read of that case; the timeliness
    report is a service-wide read (no case)."""
    case = (await somerset.open_case())["data"]
    r = await client.post(f"/v1/cases/{case['id']}/judgements", headers=somerset.auth(
        "case_holder"), json={"domain": "rosh", "level": "high"})
    assert r.status_code == 201
    assert (await client.get("/v1/cases", headers=somerset.auth("case_holder"))).status_code \
        == 200
    assert (await client.get("/v1/register", headers=somerset.auth("chair"))).status_code == 200
    r = await client.get("/v1/reports/timeliness", params={"from": "2026-01-01",
                                                           "to": "2026-01-31"},
                         headers=somerset.auth("chair"))
    assert r.status_code == 200
    rid = r.headers["x-request-id"]
    log = await _log(client, somerset, case["id"])
    assert [e["what"] for e in log[1:]] == ["GET /v1/register", "GET /v1/cases"]
    async with db() as session:
        report = (await session.exec(select(AccessLogEntry).where(
            AccessLogEntry.request_id == rid))).one()
    assert (report.case_id, report.what) == (None, "GET /v1/reports/timeliness")


async def test_the_background_writer_flushes_on_its_interval_and_at_its_batch_size(
    db: Factory, somerset: Tenant  # noqa: F811
) -> None:
    """Without any request asking, buffered reads reach the table within the interval, or as
    soon as a batch is full."""
    async with db() as session:
        service_id = (await session.exec(select(Service.id).where(
            Service.slug == somerset.slug))).one()
    reader = Principal(sub="case_holder-1", roles=frozenset({"case_holder"}),
                       service=somerset.slug)
    for interval, batch in ((0.05, 1000), (3600, 2)):
        writer = AccessLogWriter(db, interval, batch)
        writer.start()
        rid = uuid.uuid4().hex
        try:
            for _ in range(2):
                writer.record(reader, service_id, None, "GET /test", rid)
            rows: list[Any] = []
            for _ in range(100):
                async with db() as session:
                    rows = list((await session.exec(select(AccessLogEntry).where(
                        AccessLogEntry.request_id == rid))).all())
                if rows:
                    break
                await asyncio.sleep(0.02)
        finally:
            await writer.stop()
        assert len(rows) == 2, (interval, batch)


async def test_the_access_log_is_read_a_page_at_a_time_to_the_oldest_read(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """Attack pass 9, A9-23: a busy case's log is paged (newest first, ``next_cursor`` until the
    last page), so no read falls off the end; a cursor made for another case's log, a limit out
    of range and a forged cursor are 422."""
    case = (await somerset.open_case())["data"]["id"]
    other = (await somerset.open_case())["data"]["id"]
    rids = []
    for _ in range(7):
        r = await client.get(f"/v1/cases/{case}", headers=somerset.auth("case_holder"))
        assert r.status_code == 200
        rids.append(r.headers["x-request-id"])
    url = f"/v1/cases/{case}/access-log"
    manager = somerset.auth("line_manager")
    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        r = await client.get(url, params=params, headers=manager)
        assert r.status_code == 200, r.text
        body = r.json()
        seen += body["data"]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
        first = cursor
    reads = [e["request_id"] for e in seen if e["what"] == "GET /v1/cases/{case_id}"]
    assert reads == rids[::-1]
    assert len({e["id"] for e in seen}) == len(seen)
    assert pages == -(-len(seen) // 3)
    assert [e["at"] for e in seen] == sorted((e["at"] for e in seen), reverse=True)
    other_url = f"/v1/cases/{other}/access-log"
    for bad in ({"cursor": first}, {"limit": 0}, {"limit": 201}, {"cursor": "bm90IGEgY3Vyc29y"}):
        target = other_url if "cursor" in bad and bad["cursor"] == first else url
        assert (await client.get(target, params=bad, headers=manager)).status_code == 422


async def test_a_client_chosen_request_id_is_not_the_request_id_of_a_read(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """Attack pass 16, A16-9: lm-sam sent ``X-Request-ID: <the id of dm-jo's earlier read>``
    and the same fixed UUID twice; the access log recorded those as the reads' request ids,
    so one id stood for two people's reads. The README: the access log notes "who, role,
    route, when, request id"; that id is the service's own, a new one for each request, and
    the answer's ``X-Request-ID`` (what a client quotes) is that one."""
    case = (await somerset.open_case())["data"]["id"]
    first = await client.get(f"/v1/cases/{case}", headers=somerset.auth("duty_manager"))
    assert first.status_code == 200
    theirs = first.headers["x-request-id"]
    fixed = "11111111-1111-4111-8111-111111111111"
    answers = []
    for chosen in (theirs, fixed, fixed):
        r = await client.get(f"/v1/cases/{case}",
                             headers={**somerset.auth("case_holder"), "X-Request-ID": chosen})
        assert r.status_code == 200
        answers.append(r.headers["x-request-id"])
    log = await _log(client, somerset, case)
    ids = [e["request_id"] for e in log]
    assert len(ids) == len(set(ids)) == 5, ids
    assert {theirs, *answers} <= set(ids)
    assert not {fixed, uuid.UUID(fixed).hex} & set(ids)
    assert ids.count(theirs) == 1


async def _count(client: httpx.AsyncClient, tenant: Tenant, case_id: str, what: str) -> int:
    return sum(1 for e in await _log(client, tenant, case_id) if e["what"] == what)


async def test_step_panel_and_preview_reads_are_in_the_cases_access_log(
    client: httpx.AsyncClient, somerset: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Attack pass 16, A16-3: ``GET /v1/next-steps/{id}``, ``GET /v1/next-steps?case_id=``
    and ``POST /v1/workflow/preview`` with the case's id added nothing to the case's access
    log, while every other read of the case did. README, "Access log (read audit)": "Every
    read request that loads a case record ... is noted". Each of them, and the twins that
    show a case's records in a list (the caller's whole to-do list, a panel and the panel
    list with the case on the agenda), now notes each case it discloses once per request,
    however many of its records it shows."""
    pin(monkeypatch, 2026, 6, 1, 10, 0)
    case = (await somerset.open_case())["data"]["id"]
    other = (await somerset.open_case())["data"]["id"]
    for cid in (case, other):
        r = await client.post(f"/v1/cases/{cid}/judgements", headers=somerset.auth("case_holder"),
                              json=with_matrix(somerset.pack, {"domain": "rosh", "level": "high"}))
        assert r.status_code == 201, r.text
    r = await client.post("/v1/panels", headers=somerset.auth("panel_admin"), json={
        "kind": "marp", "scheduled_for": "2026-06-10T14:00:00+01:00", "chair_id": "chair-1"})
    assert r.status_code == 201, r.text
    panel = r.json()["data"]["id"]
    r = await client.post(f"/v1/panels/{panel}/items", headers=somerset.auth("panel_admin"),
                          json={"case_id": case, "presenter_id": "case_holder-1"})
    assert r.status_code == 201, r.text
    steps = (await client.get("/v1/next-steps", params={"case_id": case},
                              headers=somerset.auth("line_manager"))).json()["data"]
    assert len(steps) > 1
    manager = somerset.auth("line_manager")
    reads: list[tuple[str, dict[str, str], Any]] = [
        ("GET /v1/next-steps/{step_id}", manager,
         lambda: client.get(f"/v1/next-steps/{steps[0]['id']}", headers=manager)),
        ("GET /v1/next-steps", manager,
         lambda: client.get("/v1/next-steps", params={"case_id": case}, headers=manager)),
        ("GET /v1/next-steps", somerset.auth("case_holder"),
         lambda: client.get("/v1/next-steps", headers=somerset.auth("case_holder"))),
        ("POST /v1/workflow/preview", manager,
         lambda: client.post("/v1/workflow/preview", headers=manager, json={
             "case_id": case, "trigger": "case_event",
             "data": {"type": "change_of_circumstances"}})),
        ("GET /v1/panels/{panel_id}", somerset.auth("chair"),
         lambda: client.get(f"/v1/panels/{panel}", headers=somerset.auth("chair"))),
        ("GET /v1/panels", somerset.auth("panel_admin"),
         lambda: client.get("/v1/panels", headers=somerset.auth("panel_admin"))),
    ]
    for what, _, read in reads:
        before = await _count(client, somerset, case, what)
        before_other = await _count(client, somerset, other, what)
        r = await read()
        assert r.status_code == 200, (what, r.text)
        log = await _log(client, somerset, case)
        noted = [e for e in log if e["what"] == what]
        assert len(noted) == before + 1, what
        assert r.headers["x-request-id"] in {e["request_id"] for e in noted}, what
        # The other case is noted only by the reads that show it (the holder's to-do list).
        shown = what == "GET /v1/next-steps" and "case_id" not in str(r.request.url)
        assert await _count(client, somerset, other, what) == before_other + shown, what
