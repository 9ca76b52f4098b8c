"""Dates a deadline hangs on are bounded ahead, not only behind (attack pass 18, A18-1..3).

A transfer date of 2099 made Somerset 13.4.3's handover call and 13.4.1's transfer
documentation (S26, S30, S31) due in 2099; a panel action due in 2099 (7.1.x, Wokingham's
agreed actions) was never due, while the same decision's review date is bounded to a year after
the panel; an expected release date of 2099 put Wokingham's MAPPA category 2 referral, "six
months prior to their release" (W16), off to 2098. Each is now 422 naming the field and the
bound, never the value sent: a transfer date at most a year from today, an action at most a year
after the panel's date (as its review), a release at most ten years from today (a child's
custody: app.domain.timing.RELEASE_HORIZON_YEARS). A transfer in, like a transfer out, is not
dated before the case opened (``transfer-date-before-case``). The preview refuses what the write
refuses. A machine client is told the bound without a stored value of the case.

The clock is pinned to Monday 2 November 2026 10:00Z; the cases open on Monday 2 March 2026.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.fidelity_support import pin
from tests.api.integrity_support import assert_problem, judge, on_marp_agenda, patch_case
from tests.conftest import Tenant

NOW = (2026, 11, 2, 10, 0)


def too_far(r: httpx.Response, loc: str, name: str, value: str | None) -> dict[str, Any]:
    """A 422 ``date-too-far-ahead`` naming ``loc`` and the bound (its value, when told)."""
    problem = assert_problem(r, 422)
    assert problem["type"].endswith("/date-too-far-ahead"), problem
    assert [e["loc"] for e in problem["errors"]] == [loc]
    field = loc.removeprefix("body.")
    bound = {"field": field, "name": name}
    assert problem["bound"] == (bound if value is None else {**bound, "value": value})
    assert "2099" not in r.text
    return problem


async def event(t: Tenant, case_id: str, role: str = "case_holder", scope: str | None = None,
                **body: Any) -> httpx.Response:
    """POST an event on the case."""
    return await t.client.post(f"/v1/cases/{case_id}/events", json=body,
                               headers=t.auth(role, scope=scope))


@pytest.fixture
def pinned(monkeypatch: pytest.MonkeyPatch) -> None:
    """The service's clock at Monday 2 November 2026 10:00Z."""
    pin(monkeypatch, *NOW)


@pytest.mark.usefixtures("pinned")
async def test_S26_S30_transfer_dates_are_bounded_both_ways(somerset: Tenant) -> None:
    """S26, S30, S31 (13.4.3 "prior to the transfer of the child"; 13.4.1): a transfer out
    dated 2099, or a day after a year from today (3 November 2027), is 422 naming the bound
    (2 November 2027); one on 2 November 2027 is taken, its transfer documentation due then.
    A transfer in dated 1900 (the child was born in 2010) or the day before the case opened is 422
    ``transfer-date-before-case`` as a transfer out is; the case management system (a machine
    client) is told the bound without the opening date."""
    case_id = (await somerset.open_case())["data"]["id"]
    for kind in ("transfer_out", "transfer_in"):
        for day in ("2099-12-31", "2027-11-03"):
            too_far(await event(somerset, case_id, type=kind, transfer_date=day),
                    "body.transfer_date", "a year from today", "2027-11-02")
    r = await event(somerset, case_id, type="transfer_out", transfer_date="2027-11-02")
    assert r.status_code == 201, r.text
    call = next(s for s in r.json()["next_steps"]
                if s["code"] == "prepare_transfer_documentation")
    assert call["due_at"] == "2027-11-02T00:00:00Z"
    for day in ("1900-01-01", "2026-03-01"):
        r = await event(somerset, case_id, type="transfer_in", transfer_date=day)
        problem = assert_problem(r, 422)
        assert problem["type"].endswith("/transfer-date-before-case")
        assert problem["bound"]["value"] == "2026-03-02"
    for kind in ("transfer_out", "transfer_in"):  # A18-8: the CMS is not told the opening
        r = await event(somerset, case_id, "feed", "cms", type=kind, transfer_date="2026-03-01")
        problem = assert_problem(r, 422)
        assert problem["type"].endswith("/transfer-date-before-case")
        assert problem["bound"] == {"field": "transfer_date",
                                    "name": "the case's opened_at date"}
        assert "2026-03-02" not in r.text
    r = await event(somerset, case_id, type="transfer_in", transfer_date="2026-03-02")
    assert r.status_code == 201, r.text


async def _marp_item(t: Tenant, case_id: str) -> tuple[str, str]:
    """A MARP that sat this morning (Monday 2 November 2026 09:00Z) with the case on it."""
    await judge(t, case_id, "rosh", "high", "2026-11-02T08:00:00Z")
    return await on_marp_agenda(t, case_id, "2026-11-02T09:00:00Z")


@pytest.mark.usefixtures("pinned")
async def test_S20_a_panel_action_is_due_within_a_year_of_the_panel(somerset: Tenant) -> None:
    """S20 (7.1.x, the MARP's agreed actions): an action due in 2099, or on 3 November 2027,
    is 422 naming ``body.actions.<i>.due_date`` and the bound (a year after the panel's date,
    2 November 2027), as a review date is; one due on 2 November 2027 is recorded."""
    case_id = (await somerset.open_case())["data"]["id"]
    panel, item = await _marp_item(somerset, case_id)
    url = f"/v1/panels/{panel}/items/{item}/decision"

    def decision(*due: str) -> dict[str, Any]:
        return {"rosh_level": "high", "minutes": "m", "review_date": "2027-01-04",
                "actions": [{"description": f"act {i}", "owner_id": "case_holder-1",
                             "due_date": d} for i, d in enumerate(due)]}

    r = await somerset.client.post(url, json=decision("2026-12-01", "2099-01-02", "2027-11-03"),
                                   headers=somerset.auth("chair", "chair-1"))
    problem = assert_problem(r, 422)
    assert problem["errors"] == [
        {"loc": f"body.actions.{i}.due_date",
         "msg": "must be at most a year after the panel's date (2027-11-02)"} for i in (1, 2)]
    r = await somerset.client.post(url, json=decision("2027-11-02"),
                                   headers=somerset.auth("chair", "chair-1"))
    assert r.status_code == 200, r.text
    action = next(s for s in r.json()["next_steps"] if s["code"] == "panel_action")
    assert action["due_at"] == "2027-11-02T23:59:59Z"


@pytest.mark.usefixtures("pinned")
async def test_W16_an_expected_release_is_at_most_ten_years_ahead(
        wokingham: Tenant, client: httpx.AsyncClient) -> None:
    """W16 ("Category 2 referrals (i.e. for children in custody), the referral into MAPPA must
    be completed six months prior to their release"): a release in 2099, or on 3 November 2036,
    is 422 naming the bound (ten years from today, 2 November 2036) when a case is opened with
    it, patched to it, upserted with it, or the MAPPA feed sends it (told without the value);
    2 November 2036 is taken."""
    mappa = {"mappa_category": 2, "mappa_level": 1}
    for day in ("2099-06-01", "2036-11-03"):
        r = await client.post("/v1/cases", headers=wokingham.auth("line_manager"), json={
            "child": {"given_name": "E", "family_name": "R", "date_of_birth": "2010-01-01"},
            "case_holder_id": "case_holder-1", "line_manager_id": "line_manager-1",
            "intervention": "court_order", "csc_status": "none",
            "expected_release_date": day, **mappa})
        too_far(r, "body.expected_release_date", "ten years from today", "2036-11-02")
    case = (await wokingham.open_case(external_ref={"system": "IYSS", "id": "R-1"},
                                      **mappa))["data"]
    r = await patch_case(wokingham, case["id"], {"expected_release_date": "2099-06-01"})
    too_far(r, "body.expected_release_date", "ten years from today", "2036-11-02")
    upsert = {"child": {"given_name": "Sam", "family_name": "Taylor",
                        "date_of_birth": "2010-05-01"},
              "case_holder_id": "case_holder-1", "line_manager_id": "line_manager-1",
              "intervention": "court_order", "csc_status": "none",
              "expected_release_date": "2099-06-01", **mappa}
    r = await client.put("/v1/cases/by-external-ref/IYSS/R-1", json=upsert,
                         headers=wokingham.auth("feed", "iyss", scope="cms"))
    too_far(r, "body.expected_release_date", "ten years from today", None)
    r = await client.post("/v1/feeds/mappa/referrals", json={
        "case_external_ref": {"system": "IYSS", "id": "R-1"}, "kind": "mappa_h",
        "received_at": "2026-11-02T09:00:00Z",
        "details": {"expected_release_date": "2099-06-01"}},
        headers={**wokingham.auth("feed", "mappa-feed", scope="feed:mappa"),
                 "Idempotency-Key": "a18-3"})
    too_far(r, "body.details.expected_release_date", "ten years from today", None)
    r = await patch_case(wokingham, case["id"], {"expected_release_date": "2036-11-02"})
    assert r.status_code == 200, r.text
    step = next(s for s in r.json()["next_steps"] if s["code"] == "mappa_h_notification")
    assert step["due_at"] == "2036-05-02T22:59:59Z"


@pytest.mark.usefixtures("pinned")
async def test_the_preview_refuses_the_dates_the_write_refuses(somerset: Tenant) -> None:
    """``POST /v1/workflow/preview`` refuses what the write refuses (A11-15): a transfer out
    dated 2099 or a transfer in before the case opened, a release date changed to 2099, and a
    panel decision's action or review more than a year after it, each naming
    ``body.data.<field>``; a transfer a year from today previews its transfer documentation."""
    case_id = (await somerset.open_case())["data"]["id"]

    async def preview(trigger: str, data: dict[str, Any]) -> httpx.Response:
        return await somerset.client.post(
            "/v1/workflow/preview", headers=somerset.auth("case_holder"),
            json={"case_id": case_id, "trigger": trigger, "data": data})

    too_far(await preview("case_event", {"type": "transfer_out", "transfer_date": "2099-12-31"}),
            "body.data.transfer_date", "a year from today", "2027-11-02")
    problem = assert_problem(await preview("case_event", {"type": "transfer_in",
                                                          "transfer_date": "1900-01-01"}), 422)
    assert problem["type"].endswith("/transfer-date-before-case")
    too_far(await preview("case_changed",
                          {"changes": {"expected_release_date": [None, "2099-06-01"]}}),
            "body.data.changes.expected_release_date", "ten years from today", "2036-11-02")
    r = await preview("panel_decision", {
        "panel_kind": "marp", "rosh_level": "high", "review_date": "2099-01-02",
        "actions": [{"description": "x", "owner_id": "case_holder-1",
                     "due_date": "2099-01-02"}]})
    problem = assert_problem(r, 422)
    assert [e["loc"] for e in problem["errors"]] == ["body.data.review_date",
                                                     "body.data.actions.0.due_date"]
    assert "2099" not in r.text
    r = await preview("case_event", {"type": "transfer_out", "transfer_date": "2027-11-02"})
    assert r.status_code == 200, r.text
    assert "prepare_transfer_documentation" in [s["code"] for s in r.json()["data"]["steps"]]


@pytest.mark.usefixtures("pinned")
async def test_an_absence_is_within_a_year_of_today(somerset: Tenant) -> None:
    """Attack 21, A21a-7 (twins of A18-1..3): a worker's leave typed with a mistyped year (2099
    or 2000) was stored silently; the stand-ins and re-dating it drives (Somerset 3.1 "If the
    line manager is unavailable, the duty manager will undertake these functions") concern
    the steps open now. ``ends_on`` at most a year from today, ``starts_on`` at most two years
    before it, on the record and on a change; the bounds themselves are accepted."""
    url = "/v1/staff/case_holder-1/absences"
    dm = somerset.auth("duty_manager")
    r = await somerset.client.post(url, headers=dm,
                                   json={"starts_on": "2099-09-01", "ends_on": "2099-09-02"})
    too_far(r, "body.ends_on", "a year from today", "2027-11-02")
    r = await somerset.client.post(url, headers=dm,
                                   json={"starts_on": "2000-09-01", "ends_on": "2000-09-02"})
    problem = assert_problem(r, 422)
    assert problem["type"].endswith("/occurred-before-bound"), problem
    assert problem["bound"] == {"field": "starts_on", "name": "two years before today",
                                "value": "2024-11-02"}
    ok = await somerset.client.post(url, headers=dm,
                                    json={"starts_on": "2024-11-02", "ends_on": "2024-11-03"})
    assert ok.status_code == 201, ok.text
    ok = await somerset.client.post(url, headers=dm,
                                    json={"starts_on": "2027-11-01", "ends_on": "2027-11-02"})
    assert ok.status_code == 201, ok.text
    moved = await somerset.client.patch(
        f"{url}/{ok.json()['data']['id']}", json={"ends_on": "2027-11-03"},
        headers={**dm, "If-Match": ok.headers["ETag"]})
    too_far(moved, "body.ends_on", "a year from today", "2027-11-02")


@pytest.mark.usefixtures("pinned")
async def test_a_childs_date_of_birth_is_at_most_25_years_before_the_opening(
    somerset: Tenant,
) -> None:
    """Attack 21, A21a-7: a child born in 1900 was accepted (youth justice works with children
    aged 10 to 17 at the offence, Crime and Disorder Act 1998; a mistyped year also hides the
    child from the possible-duplicate match on date of birth). On create (POST and PUT) and on
    a CMS correction of the date; 25 years to the day is accepted."""
    for dob in ("1900-01-01", "2001-03-01"):
        r = await somerset.client.post("/v1/cases", headers=somerset.auth("line_manager"), json={
            "child": {"given_name": "Sam", "family_name": "Taylor", "date_of_birth": dob},
            "case_holder_id": "case_holder-1", "line_manager_id": "line_manager-1",
            "intervention": "court_order", "csc_status": "none",
            "opened_at": "2026-03-02T09:00:00Z"})
        problem = assert_problem(r, 422)
        assert problem["type"].endswith("/occurred-before-bound"), problem
        assert problem["bound"] == {"field": "child.date_of_birth",
                                    "name": "25 years before the case opened",
                                    "value": "2001-03-02"}
    cms = somerset.auth("feed", "iyss", scope="cms")
    body = {"child": {"given_name": "Sam", "family_name": "Taylor",
                      "date_of_birth": "2001-03-02"},
            "case_holder_id": "case_holder-1", "line_manager_id": "line_manager-1",
            "intervention": "court_order", "csc_status": "none",
            "opened_at": "2026-03-02T09:00:00Z"}
    url = "/v1/cases/by-external-ref/IYSS/DOB-1"
    made = await somerset.client.put(url, headers=cms, json=body)
    assert made.status_code == 201, made.text
    wrong = {**body, "child": {**body["child"], "date_of_birth": "1901-03-02"}}
    r = await somerset.client.put(url, headers=cms, json=wrong)
    problem = assert_problem(r, 422)
    assert problem["type"].endswith("/occurred-before-bound"), problem
    r = await somerset.client.put("/v1/cases/by-external-ref/IYSS/DOB-2", headers=cms, json=wrong)
    assert assert_problem(r, 422)["type"].endswith("/occurred-before-bound")
