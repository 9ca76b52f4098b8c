"""A case's ``opened_at`` is bounded behind, as the dates a deadline hangs on are bounded ahead
(attack 22, A22-2).

A case opened in 1900 or 1950 was accepted: every duty its opening raises (Somerset 2023, 3.1:
"All children open to Somerset YJT will have a ROSH and Safety and Well-Being judgement
recorded"; Wokingham's assessment at the start) was dated decades in the past, flooding the
overdue queues and the escalations. A case is now opened (``POST /v1/cases``, the CMS's ``PUT``)
no earlier than the child's 10th birthday (the age of criminal responsibility: youth justice
works with children aged 10 to 17) and no more than 15 years before today (a child of 10 then
is 25 now, the oldest the service takes a case on: app.domain.timing.OPEN_CASE_YEARS); a CMS
correction of the date of birth may not put the opening before the 10th birthday. Each refusal
is 422 ``occurred-before-bound`` naming the field and the bound. Every act on a case is bounded
by its opening (the existing rule), so these bound them too.

The clock is pinned to Monday 2 November 2026 10:00Z.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.fidelity_support import pin
from tests.api.integrity_support import assert_problem
from tests.conftest import Tenant

BODY: dict[str, Any] = {
    "child": {"given_name": "Sam", "family_name": "Taylor", "date_of_birth": "2000-01-01"},
    "case_holder_id": "case_holder-1", "line_manager_id": "line_manager-1",
    "intervention": "court_order", "csc_status": "none"}


@pytest.fixture(autouse=True)
def pinned(monkeypatch: pytest.MonkeyPatch) -> None:
    """The service's clock at Monday 2 November 2026 10:00Z."""
    pin(monkeypatch, 2026, 11, 2, 10, 0)


def body(opened_at: str, dob: str = "2000-01-01") -> dict[str, Any]:
    """A case's body opened at ``opened_at`` for a child born on ``dob``."""
    return {**BODY, "child": {**BODY["child"], "date_of_birth": dob}, "opened_at": opened_at}


async def both_ways(t: Tenant, sent: dict[str, Any], ref: str) -> list[httpx.Response]:
    """The same case opened by its line manager (POST) and the CMS (PUT)."""
    return [await t.client.post("/v1/cases", json=sent, headers=t.auth("line_manager")),
            await t.client.put(f"/v1/cases/by-external-ref/IYSS/{ref}", json=sent,
                               headers=t.auth("feed", "iyss", scope="cms"))]


def before_bound(r: httpx.Response, field: str, name: str, value: str) -> None:
    """A 422 ``occurred-before-bound`` naming ``body.<field>`` and the bound with its value."""
    problem = assert_problem(r, 422)
    assert problem["type"].endswith("/occurred-before-bound"), problem
    assert [e["loc"] for e in problem["errors"]] == [f"body.{field}"]
    assert problem["bound"] == {"field": field, "name": name, "value": value}


@pytest.mark.parametrize(("opened_at", "dob"), [("1900-01-01T09:00:00Z", "1900-01-01"),
                                                ("1950-06-01T09:00:00Z", "1936-01-01"),
                                                ("2011-11-01T09:00:00Z", "2000-01-01")])
async def test_A22_2_a_case_opened_more_than_15_years_ago_is_422(
        somerset: Tenant, opened_at: str, dob: str) -> None:
    """Opened in 1900, 1950, or the day before 15 years before today (the child 10 or more at
    opening, under 25): 422 on body.opened_at naming "15 years before today" (2011-11-02), by
    POST and by the CMS's PUT; no case is made."""
    for r in await both_ways(somerset, body(opened_at, dob), "OLD-1"):
        before_bound(r, "opened_at", "15 years before today", "2011-11-02")
    listed = await somerset.client.get("/v1/cases", headers=somerset.auth("chair"))
    assert listed.json()["data"] == []


async def test_A22_2_a_case_opened_15_years_ago_to_the_day_is_accepted(somerset: Tenant) -> None:
    """2 November 2011 09:00Z, 15 years before today to the day (London), is accepted: 201."""
    for r in await both_ways(somerset, body("2011-11-02T09:00:00Z"), "OLD-2"):
        assert r.status_code == 201, r.text


@pytest.mark.parametrize("opened_at", ["2026-03-02T09:00:00Z", "2026-04-30T22:59:59Z"])
async def test_A22_2_a_case_opened_before_the_childs_10th_birthday_is_422(
        somerset: Tenant, opened_at: str) -> None:
    """A child born on 1 May 2016 is 10 on 1 May 2026 (00:00 London, BST: 30 April 23:00Z): a
    case opened before then is 422 on body.opened_at naming the child's 10th birthday, by POST
    and PUT; opened at 00:00 London that day, it is accepted."""
    for r in await both_ways(somerset, body(opened_at, "2016-05-01"), "YOUNG-1"):
        before_bound(r, "opened_at", "the child's 10th birthday", "2026-05-01")
    for r in await both_ways(somerset, body("2026-04-30T23:00:00Z", "2016-05-01"), "YOUNG-2"):
        assert r.status_code == 201, r.text


async def test_A22_2_a_cms_correction_may_not_make_the_child_under_10_at_opening(
        somerset: Tenant) -> None:
    """The CMS corrects the date of birth of a case opened on 2 March 2026 to 3 March 2016:
    the child would have been 9 at opening: 422 on body.child.date_of_birth naming the bound
    (10 years before the case opened; its value, which would say when the case opened, not to
    a machine client: A16-10), the case unchanged; 2 March 2016 is accepted (10 that day)."""
    cms = somerset.auth("feed", "iyss", scope="cms")
    url = "/v1/cases/by-external-ref/IYSS/DOB-10"
    sent = body("2026-03-02T09:00:00Z", "2010-05-01")
    made = await somerset.client.put(url, json=sent, headers=cms)
    assert made.status_code == 201, made.text
    r = await somerset.client.put(url, headers=cms, json={
        **sent, "child": {**sent["child"], "date_of_birth": "2016-03-03"}})
    problem = assert_problem(r, 422)
    assert problem["type"].endswith("/occurred-before-bound"), problem
    assert [e["loc"] for e in problem["errors"]] == ["body.child.date_of_birth"]
    assert problem["bound"] == {"field": "child.date_of_birth",
                                "name": "10 years before the case opened"}
    assert "2016-03-02" not in r.text
    got = await somerset.client.get(f"/v1/cases/{made.json()['data']['id']}",
                                    headers=somerset.auth("chair"))
    assert got.json()["data"]["child"]["date_of_birth"] == "2010-05-01"
    r = await somerset.client.put(url, headers=cms, json={
        **sent, "child": {**sent["child"], "date_of_birth": "2016-03-02"}})
    assert r.status_code == 200, r.text


async def test_A22_2_acts_stay_bounded_by_the_opening(somerset: Tenant) -> None:
    """The existing rule the new bound feeds: a judgement dated before the case opened (in
    1950, or the day before it opened) is 422 occurred-before-bound; staff are told the bound,
    the child's date of birth or the case's opened_at."""
    case = (await somerset.open_case())["data"]
    for at, name in (("1950-01-02T10:00:00Z", "the child's date of birth"),
                     ("2026-03-01T10:00:00Z", "the case's opened_at")):
        r = await somerset.client.post(
            f"/v1/cases/{case['id']}/judgements", headers=somerset.auth("case_holder"),
            json={"domain": "rosh", "level": "low", "occurred_at": at})
        problem = assert_problem(r, 422)
        assert problem["type"].endswith("/occurred-before-bound"), problem
        assert problem["bound"]["name"] == name
