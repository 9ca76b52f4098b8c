"""Staff absences as a resource (attack pass 10): optimistic concurrency on their PATCH
(A10-22), a list of a worker's absences and no overlapping duplicate (A10-16).

The contract (spec/api-v1.md, Conventions): "single resources carry an ``ETag``; ``PATCH``
requires ``If-Match`` (428 without, 412 when stale)". Races run with ``asyncio.gather`` (each
request on its own connection), on SQLite and on PostgreSQL (``YJ_TEST_DB=postgres``).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.api.fidelity_support import holder_acts, pin
from tests.conftest import Tenant

ROUNDS = 6


def dm(t: Tenant) -> dict[str, str]:
    return t.auth("duty_manager", "duty_manager-3")


async def record(t: Tenant, staff: str, starts: str, ends: str,
                 headers: dict[str, str] | None = None) -> Any:
    return await t.client.post(f"/v1/staff/{staff}/absences",
                               json={"starts_on": starts, "ends_on": ends},
                               headers=headers or dm(t))


# --- A10-22: If-Match on an absence's PATCH ------------------------------------------------


async def test_absence_patch_needs_if_match_428_and_a_stale_one_is_412(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """A10-22: an absence's PATCH without If-Match is 428 and changes nothing; with the ETag the
    POST answered, 200 and a new ETag (the version moved on); the old ETag again is 412 (the
    current one not echoed back from the request), a weak or ``*`` tag is 428."""
    pin(monkeypatch, 2026, 12, 1, 9, 0)
    r = await record(somerset, "line_manager-1", "2026-12-07", "2026-12-11")
    assert r.status_code == 201, r.text
    first = r.headers["ETag"]
    absence = r.json()["data"]
    assert first == f'"{absence["version"]}"'
    url = f"/v1/staff/line_manager-1/absences/{absence['id']}"
    r = await somerset.client.patch(url, json={"ends_on": "2026-12-09"}, headers=dm(somerset))
    assert r.status_code == 428, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    # "*" would skip the lost-update check (428); a weak tag never matches (412, RFC 9110
    # §13.1.1: If-Match compares strongly).
    for tag, status in (("*", 428), (f"W/{first}", 412)):
        r = await somerset.client.patch(url, json={"ends_on": "2026-12-09"},
                                        headers={**dm(somerset), "If-Match": tag})
        assert r.status_code == status, r.text
    r = await somerset.client.patch(url, json={"ends_on": "2026-12-09"},
                                    headers={**dm(somerset), "If-Match": first})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["ends_on"] == "2026-12-09"
    second = r.headers["ETag"]
    assert second != first
    r = await somerset.client.patch(url, json={"ends_on": "2026-12-08"},
                                    headers={**dm(somerset), "If-Match": first})
    assert r.status_code == 412, r.text
    assert "2026-12-08" not in r.text
    r = await somerset.client.patch(url, json={"ends_on": "2026-12-08"},
                                    headers={**dm(somerset), "If-Match": second})
    assert r.status_code == 200, r.text


async def test_race_two_absence_patches_with_one_etag_exactly_one_wins(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """A10-22 under a race: two managers change the same absence at once with the ETag they
    both read. Exactly one answers 200; the other 412 (it would have overwritten a change it
    never saw); the stored dates are the winner's."""
    pin(monkeypatch, 2026, 12, 1, 9, 0)
    for n in range(ROUNDS):
        r = await record(somerset, f"line_manager-{n + 10}", "2026-12-07", "2026-12-18")
        assert r.status_code == 201, r.text
        tag, absence = r.headers["ETag"], r.json()["data"]
        url = f"/v1/staff/line_manager-{n + 10}/absences/{absence['id']}"
        a, b = await asyncio.gather(
            somerset.client.patch(url, json={"ends_on": "2026-12-09"},
                                  headers={**dm(somerset), "If-Match": tag}),
            somerset.client.patch(url, json={"ends_on": "2026-12-15"},
                                  headers={**somerset.auth("duty_manager", "duty_manager-4"),
                                           "If-Match": tag}))
        assert sorted((a.status_code, b.status_code)) == [200, 412], (a.text, b.text)
        won = a if a.status_code == 200 else b
        r = await somerset.client.patch(url, json={}, headers={**dm(somerset),
                                                                "If-Match": won.headers["ETag"]})
        assert r.status_code == 200, r.text
        assert r.json()["data"]["ends_on"] == won.json()["data"]["ends_on"]


async def test_absence_delete_needs_if_match_428_and_a_stale_one_is_412(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """The contract's conditional write (api-v1 Conventions: "``If-Match`` (428 without, 412
    when stale)") holds for an absence's DELETE as for its PATCH: line_manager-1's leave of
    Monday 7 to Friday 11 December 2026, shortened to Wednesday 9 December by one duty
    manager, is not cancelled by another who sends no If-Match (428
    ``precondition-required``) nor the ETag read before the change (412
    ``precondition-failed``, naming the current one): it stands, as changed; with the
    current ETag it is cancelled (204) and reads 404."""
    pin(monkeypatch, 2026, 12, 1, 9, 0)
    r = await record(somerset, "line_manager-1", "2026-12-07", "2026-12-11")
    assert r.status_code == 201, r.text
    first, absence = r.headers["ETag"], r.json()["data"]
    url = f"/v1/staff/line_manager-1/absences/{absence['id']}"
    r = await somerset.client.patch(url, json={"ends_on": "2026-12-09"},
                                    headers={**dm(somerset), "If-Match": first})
    assert r.status_code == 200, r.text
    second = r.headers["ETag"]
    other = somerset.auth("duty_manager", "duty_manager-4")
    r = await somerset.client.delete(url, headers=other)
    assert (r.status_code, r.json()["type"].rsplit("/", 1)[1], r.json()["detail"]) == (
        428, "precondition-required", "Send If-Match with the absence's ETag to cancel it.")
    r = await somerset.client.delete(url, headers={**other, "If-Match": first})
    assert (r.status_code, r.json()["type"].rsplit("/", 1)[1], r.json()["current_etag"]) == (
        412, "precondition-failed", second)
    r = await somerset.client.get(url, headers=other)
    assert (r.status_code, r.json()["data"]["ends_on"]) == (200, "2026-12-09")
    r = await somerset.client.delete(url, headers={**other, "If-Match": second})
    assert r.status_code == 204, r.text
    r = await somerset.client.get(url, headers=other)
    assert r.status_code == 404, r.text


# --- A10-16: a worker's absences listed; the same leave not recorded twice -------------------


async def test_absences_are_listed_in_pages_to_those_who_may_record_them(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """A10-16: ``GET /v1/staff/{id}/absences`` lists the worker's absences earliest first, a
    page at a time (``next_cursor``), each with its version; ``GET .../{absence_id}`` reads one
    with its ETag. Who may record them may see them: a duty manager anyone's, a line manager
    their own and those of the case holders of the open cases they manage; another line
    manager 403, a case holder 403, even for their own."""
    pin(monkeypatch, 2026, 12, 1, 9, 0)
    case = await somerset.open_case()  # case_holder-1, managed by line_manager-1
    await holder_acts(somerset, case["data"]["id"])
    made = []
    for starts, ends in (("2027-02-01", "2027-02-05"), ("2026-12-21", "2026-12-31"),
                         ("2027-01-11", "2027-01-11")):
        r = await record(somerset, "case_holder-1", starts, ends)
        assert r.status_code == 201, r.text
        made.append(r.json()["data"])
    await record(somerset, "case_holder-2", "2026-12-21", "2026-12-31")
    url = "/v1/staff/case_holder-1/absences"
    for headers in (dm(somerset), somerset.auth("line_manager", "line_manager-1")):
        r = await somerset.client.get(url, params={"limit": 2}, headers=headers)
        assert r.status_code == 200, r.text
        first = r.json()
        assert [a["starts_on"] for a in first["data"]] == ["2026-12-21", "2027-01-11"]
        assert all(a["staff_id"] == "case_holder-1" and a["version"] == 1
                   for a in first["data"])
        r = await somerset.client.get(url, params={"limit": 2, "cursor": first["next_cursor"]},
                                      headers=headers)
        assert r.status_code == 200, r.text
        assert [a["id"] for a in r.json()["data"]] == [made[0]["id"]]
        assert r.json()["next_cursor"] is None
        r = await somerset.client.get(f"{url}/{made[1]['id']}", headers=headers)
        assert r.status_code == 200, r.text
        assert (r.json()["data"]["ends_on"], r.headers["ETag"]) == ("2026-12-31", '"1"')
    r = await somerset.client.get("/v1/staff/case_holder-2/absences",
                                  params={"cursor": first["next_cursor"]}, headers=dm(somerset))
    assert r.status_code == 422, r.text
    for role, sub in (("line_manager", "line_manager-2"), ("case_holder", "case_holder-1"),
                      ("chair", "chair-1")):
        for path in (url, f"{url}/{made[1]['id']}"):
            r = await somerset.client.get(path, headers=somerset.auth(role, sub))
            assert r.status_code == 403, (role, r.text)
    r = await somerset.client.get(f"/v1/staff/case_holder-2/absences/{made[1]['id']}",
                                  headers=dm(somerset))
    assert r.status_code == 404, r.text
    r = await somerset.client.get("/v1/staff/line_manager-2/absences",
                                  headers=somerset.auth("line_manager", "line_manager-2"))
    assert (r.status_code, r.json()["data"]) == (200, [])


async def test_the_same_leave_recorded_twice_is_409_and_no_patch_makes_an_overlap(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """A10-16: an absence whose days meet one already recorded for the same worker is 409
    ``absence-overlaps`` naming the absence already there (not the dates sent), and nothing is
    recorded; so is a PATCH moving an absence onto another. Back to back leave (starting the
    day after) and another worker's same dates are fine."""
    pin(monkeypatch, 2026, 12, 1, 9, 0)
    r = await record(somerset, "line_manager-1", "2026-12-21", "2026-12-31")
    assert r.status_code == 201, r.text
    first = r.json()["data"]
    for starts, ends in (("2026-12-21", "2026-12-31"), ("2026-12-31", "2027-01-04"),
                         ("2026-12-14", "2026-12-21"), ("2026-12-23", "2026-12-24"),
                         ("2026-12-01", "2027-01-31")):
        r = await record(somerset, "line_manager-1", starts, ends)
        assert r.status_code == 409, (starts, ends, r.text)
        problem = r.json()
        assert problem["type"].endswith("/absence-overlaps")
        assert problem["absence_id"] == first["id"]
        assert starts not in r.text
        assert ends not in r.text
    r = await record(somerset, "line_manager-1", "2027-01-01", "2027-01-08")
    assert r.status_code == 201, r.text
    second = r.json()["data"]
    r = await record(somerset, "line_manager-2", "2026-12-21", "2026-12-31")
    assert r.status_code == 201, r.text
    url = f"/v1/staff/line_manager-1/absences/{second['id']}"
    r = await somerset.client.patch(url, json={"starts_on": "2026-12-31"},
                                    headers={**dm(somerset), "If-Match": '"1"'})
    assert r.status_code == 409, r.text
    assert r.json()["absence_id"] == first["id"]
    r = await somerset.client.get("/v1/staff/line_manager-1/absences", headers=dm(somerset))
    assert [(a["starts_on"], a["ends_on"]) for a in r.json()["data"]] == [
        ("2026-12-21", "2026-12-31"), ("2027-01-01", "2027-01-08")]
    r = await somerset.client.patch(url, json={"starts_on": "2027-01-04"},
                                    headers={**dm(somerset), "If-Match": '"1"'})
    assert r.status_code == 200, r.text


async def test_race_the_same_leave_recorded_twice_at_once_one_wins(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """A10-16 under a race: two managers record the same worker's leave at once (a duty
    manager and the worker's line manager, overlapping dates). Exactly one answers 201, the
    other 409 ``absence-overlaps`` naming the winner; one absence is stored."""
    pin(monkeypatch, 2026, 12, 1, 9, 0)
    await holder_acts(somerset, (await somerset.open_case())["data"]["id"])
    for n in range(ROUNDS):
        staff = "case_holder-1" if n == 0 else f"line_manager-{n + 20}"
        other = (somerset.auth("line_manager", "line_manager-1") if n == 0
                 else somerset.auth("line_manager", staff))
        a, b = await asyncio.gather(
            record(somerset, staff, "2026-12-21", "2026-12-31"),
            record(somerset, staff, "2026-12-28", "2027-01-04", headers=other))
        assert sorted((a.status_code, b.status_code)) == [201, 409], (a.text, b.text)
        won, lost = (a, b) if a.status_code == 201 else (b, a)
        assert lost.json()["absence_id"] == won.json()["data"]["id"]
        r = await somerset.client.get(f"/v1/staff/{staff}/absences", headers=dm(somerset))
        assert [x["id"] for x in r.json()["data"]] == [won.json()["data"]["id"]]


# --- A13-4: a case naming a colleague as its holder is no key to their leave ----------------


async def test_a_line_manager_cannot_reach_a_colleagues_leave_through_a_case_they_opened(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """Attack pass 13, A13-4: line manager lm-evil opened a case naming a colleague (lm-x, on
    leave for a reason that is health data) as its holder and so became "the line manager of a
    holder of a case they manage": they read the leave and its reason, and cancelled it, which
    gave lm-x's stood-in steps back to lm-x while away (Somerset 3.1). The holder's own act on
    a case of the caller's is the evidence of line management; without it every absence route
    is 403 (reads, record, change, cancel) and the leave is unchanged. Once lm-x has acted as
    that case's holder, lm-evil manages them."""
    pin(monkeypatch, 2026, 12, 1, 9, 0)
    r = await record(somerset, "lm-x", "2026-12-07", "2026-12-11",
                     headers=somerset.auth("line_manager", "lm-x"))
    assert r.status_code == 201, r.text
    absence, etag = r.json()["data"], r.headers["ETag"]
    dummy = await somerset.open_case(case_holder_id="lm-x", line_manager_id="lm-evil")
    evil = somerset.auth("line_manager", "lm-evil")
    url = "/v1/staff/lm-x/absences"
    one = f"{url}/{absence['id']}"
    answers = [
        await somerset.client.get(url, headers=evil),
        await somerset.client.get(one, headers=evil),
        await somerset.client.patch(one, json={"ends_on": "2026-12-08"},
                                    headers={**evil, "If-Match": etag}),
        await somerset.client.delete(one, headers={**evil, "If-Match": etag}),
        await record(somerset, "lm-x", "2026-12-14", "2026-12-15", headers=evil),
    ]
    assert [a.status_code for a in answers] == [403] * 5, [a.text for a in answers]
    assert all("Chemo" not in a.text and "2026-12" not in a.text for a in answers)
    r = await somerset.client.get(one, headers=dm(somerset))
    assert r.status_code == 200, r.text
    assert r.json()["data"]["ends_on"] == "2026-12-11"
    await holder_acts(somerset, dummy["data"]["id"], "lm-x")
    r = await somerset.client.get(url, headers=evil)
    assert r.status_code == 200, r.text
    assert [a["id"] for a in r.json()["data"]] == [absence["id"]]


# --- A21a-4: a holder naming their own line manager is no key to their leave ------------------


async def test_a_line_manager_named_by_the_holder_on_a_case_they_opened_gets_no_leave(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """Attack pass 21, A21a-4 (README "Staff absences": a line manager for "a holder of an open
    case they manage who has recorded something on it as its holder"; a leave reason is health
    data). cw-alex, on leave for a private reason, opens a case as its holder naming lm-friend
    (a line manager with no other tie to them) as its line manager, and then records on it as
    its holder: a relation the worker set up alone, so every absence route stays 403 for
    lm-friend (reads, record, change, cancel) and the leave is unchanged. A case whose line
    manager someone else named (lm-sam opens it) and on which cw-alex then acts gives lm-sam
    the leave (200); cw-alex's opening of a case alone is no act on it as its holder."""
    await _named_by_the_holder(somerset, monkeypatch)


async def test_W4_a_line_manager_named_by_the_holder_gets_no_leave_wokingham_too(
        wokingham: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """Wokingham's twin (W4: the leave moves the holder's in-week deadlines on every case):
    the same relation, set up by the holder alone, gives lm-friend nothing (403)."""
    await _named_by_the_holder(wokingham, monkeypatch)


async def _named_by_the_holder(t: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    pin(monkeypatch, 2026, 12, 1, 9, 0)
    r = await t.client.post("/v1/staff/cw-alex/absences", headers=dm(t), json={
        "starts_on": "2026-12-07", "ends_on": "2026-12-08", "reason": "hospital (private)"})
    assert r.status_code == 201, r.text
    absence, etag = r.json()["data"], r.headers["ETag"]
    holder = t.auth("case_holder", "cw-alex")
    opened = await t.client.post("/v1/cases", headers=holder, json={
        "child": {"given_name": "Ann", "family_name": "Lee", "date_of_birth": "2010-05-01"},
        "case_holder_id": "cw-alex", "line_manager_id": "lm-friend",
        "intervention": "court_order", "csc_status": "none",
        "opened_at": "2026-11-02T09:00:00Z"})
    assert opened.status_code == 201, opened.text
    friend = t.auth("line_manager", "lm-friend")
    url = "/v1/staff/cw-alex/absences"
    one = f"{url}/{absence['id']}"

    async def refused() -> None:
        answers = [
            await t.client.get(url, headers=friend),
            await t.client.get(one, headers=friend),
            await t.client.patch(one, json={"ends_on": "2026-12-07"},
                                 headers={**friend, "If-Match": etag}),
            await t.client.delete(one, headers={**friend, "If-Match": etag}),
            await record(t, "cw-alex", "2026-12-14", "2026-12-15", headers=friend),
        ]
        assert [a.status_code for a in answers] == [403] * 5, [a.text for a in answers]
        assert all("private" not in a.text for a in answers)

    await refused()
    await holder_acts(t, opened.json()["data"]["id"], "cw-alex")
    await refused()
    r = await t.client.get(one, headers=dm(t))
    assert (r.status_code, r.json()["data"]["ends_on"]) == (200, "2026-12-08"), r.text
    # Named by someone else (the line manager opens the case), once cw-alex acts on it.
    theirs = await t.open_case(case_holder_id="cw-alex", line_manager_id="lm-sam")
    sam = t.auth("line_manager", "lm-sam")
    assert (await t.client.get(url, headers=sam)).status_code == 403
    await holder_acts(t, theirs["data"]["id"], "cw-alex")
    r = await t.client.get(url, headers=sam)
    assert r.status_code == 200, r.text
    assert [a["id"] for a in r.json()["data"]] == [absence["id"]]


# --- ATK28A-3: whose absences a line manager records is asked before the body is read ------


async def test_a_line_manager_without_authority_is_403_before_the_body(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """Attack pass 28a, ATK28A-3. README "Staff absences": "for the same people who may record
    them (403 for anyone else)". A line manager who manages no case ``case_holder-9`` acted on
    was told 400 (malformed JSON) or 413 (a body over the limit) on POST and PATCH, where GET
    and DELETE of the same path were 403: the authority depends on the token and the path
    alone, so it is asked first, and every body gets 403. For their own absences the body is
    read as before (400 malformed, 201 well formed)."""
    pin(monkeypatch, 2026, 8, 28, 14, 35)
    r = await record(somerset, "case_holder-9", "2026-11-02", "2026-11-03")
    assert r.status_code == 201, r.text
    url = f"/v1/staff/case_holder-9/absences/{r.json()['data']['id']}"
    etag = r.headers["ETag"]
    manager = {**somerset.auth("line_manager", "line_manager-7"),
               "content-type": "application/json"}
    for body in (b"{bad", b" " * 300_000, b'{"starts_on": "2026-12-01", "ends_on": "2026-12-02"}'):
        r = await somerset.client.post("/v1/staff/case_holder-9/absences", content=body,
                                       headers=manager)
        assert r.status_code == 403, r.text
        r = await somerset.client.patch(url, content=body, headers={**manager, "If-Match": etag})
        assert r.status_code == 403, r.text
    r = await somerset.client.delete(url, headers={**manager, "If-Match": etag})
    assert r.status_code == 403, r.text
    own = "/v1/staff/line_manager-7/absences"
    r = await somerset.client.post(own, content=b"{bad", headers=manager)
    assert r.status_code == 400, r.text
    r = await somerset.client.post(own, json={"starts_on": "2026-12-01", "ends_on": "2026-12-02"},
                                   headers=manager)
    assert r.status_code == 201, r.text
