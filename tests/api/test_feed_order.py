"""Feed deliveries out of order, replays, and what their problems may say (attack pass 16:
A16-18, A16-14, A16-10), from the feed's side."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.api.integrity_support import assert_problem, patch_case
from tests.api.support import restrict
from tests.conftest import Tenant

REF = {"system": "IYSS"}


async def deliver(t: Tenant, ref: str, received_at: str, *, source: str = "mappa",
                  kind: str = "mappa_h", key: str | None = None,
                  **details: Any) -> httpx.Response:
    """One feed message for the case with IYSS reference ``ref``."""
    return await t.client.post(
        f"/v1/feeds/{source}/referrals",
        json={"case_external_ref": {**REF, "id": ref}, "kind": kind,
              "received_at": received_at, "details": details},
        headers={**t.auth("feed", f"{source}-feed", scope=f"feed:{source}"),
                 "Idempotency-Key": key or str(uuid.uuid4())})


async def case_of(t: Tenant, case_id: str) -> dict[str, Any]:
    """The case as its line manager reads it."""
    r = await t.client.get(f"/v1/cases/{case_id}", headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    return r.json()["data"]  # type: ignore[no-any-return]


def open_codes(case: dict[str, Any]) -> set[str]:
    """The codes of the case's open steps."""
    return {s["code"] for s in case["open_steps"]}


async def test_A16_18_a_mappa_message_delivered_late_does_not_roll_the_case_back(
    wokingham: Tenant
) -> None:
    """Wokingham: "For MAPPA Level 1 children, High Risk Panels should be held monthly"; a MAPPA
    A referral is made where the expected MAPPA level is 2 or 3 (W17). The MAPPA unit's message
    of 24 August (category 2, level 1) is applied; its message of 20 August (category 1,
    level 3), retried and delivered after it, is stored as its referral and leaves the case at
    category 2, level 1, asking for no MAPPA A referral; its values stand in the case's history
    from 20 to 24 August, and what is owed is what the two in time order leave (ATK29-3). A
    message dated after both applies.
    (The clock is not pinned: a delivery stores its Idempotency-Key until now + 72 h.)"""
    case = (await wokingham.open_case(external_ref={**REF, "id": "MO-1"},
                                      opened_at="2026-08-10T09:00:00Z"))["data"]
    first = await deliver(wokingham, "MO-1", "2026-08-24T10:00:00Z",
                          mappa_category=2, mappa_level=1)
    assert first.status_code == 201, first.text
    before = await case_of(wokingham, case["id"])
    assert (before["mappa_category"], before["mappa_level"]) == (2, 1)
    assert "mappa_a_referral" not in open_codes(before)
    late = await deliver(wokingham, "MO-1", "2026-08-20T10:00:00Z",
                         mappa_category=1, mappa_level=3)
    assert late.status_code == 201, late.text
    assert late.json()["data"]["occurred_at"] == "2026-08-20T10:00:00Z"
    after = await case_of(wokingham, case["id"])
    assert (after["mappa_category"], after["mappa_level"]) == (2, 1)
    # The late message is in the case's history now (category 1, level 3 from 20 August to
    # 24 August: ATK29-3): what is owed is what the two messages in time order leave, the
    # MAPPA H form due from 20 August, when category 1 became known, and the monthly review
    # of the level 1 child from 24 August; no MAPPA A referral (level 1 now).
    duties = open_duties(after)
    assert ("mappa_h_notification", "case_holder", "2026-08-20T10:00:00Z", "W16") in duties
    assert ("high_risk_panel_review", "chair", "2026-09-24T10:00:00Z", "W19") in duties
    assert "mappa_a_referral" not in open_codes(after)
    assert "mappa_a_referral" not in {s["code"] for s in late.json()["next_steps"]}
    referrals = (await wokingham.client.get(f"/v1/cases/{case['id']}/referrals",
                                            headers=wokingham.auth("line_manager"))).json()
    assert len(referrals["data"]) == 2
    newer = await deliver(wokingham, "MO-1", "2026-08-25T10:00:00Z", mappa_level=3)
    assert newer.status_code == 201, newer.text
    latest = await case_of(wokingham, case["id"])
    assert (latest["mappa_category"], latest["mappa_level"]) == (2, 3)
    assert "mappa_a_referral" in open_codes(latest)


async def test_A16_18_a_late_message_does_not_undo_a_later_change_by_staff(
    somerset: Tenant
) -> None:
    """The MAPPA level the line manager set just now stands against a MAPPA message dated
    yesterday and delivered only now (it is stored as its referral; its release date, not set
    since, applies); a message dated after the change applies."""
    case = (await somerset.open_case(external_ref={**REF, "id": "MO-2"}, mappa_category=2,
                                     mappa_level=1))["data"]
    r = await patch_case(somerset, case["id"], {"mappa_level": 2})
    assert r.status_code == 200, r.text
    yesterday = datetime.now(UTC) - timedelta(days=1)
    late = await deliver(somerset, "MO-2", yesterday.isoformat(), mappa_level=3,
                         expected_release_date=(yesterday + timedelta(days=90)).date().isoformat())
    assert late.status_code == 201, late.text
    after = await case_of(somerset, case["id"])
    assert after["mappa_level"] == 2
    assert after["expected_release_date"] == (yesterday + timedelta(days=90)).date().isoformat()
    newer = await deliver(somerset, "MO-2", (datetime.now(UTC) + timedelta(seconds=30)).isoformat(),
                          mappa_level=3)
    assert newer.status_code == 201, newer.text
    assert (await case_of(somerset, case["id"]))["mappa_level"] == 3


def carries_no(problem: dict[str, Any], *values: str) -> None:
    """None of ``values`` (stored case data) anywhere in the problem; the bound named alone."""
    text = str(problem)
    for value in values:
        assert value not in text, problem
    if "bound" in problem:
        assert set(problem["bound"]) == {"field", "name"}, problem


async def restricted_case(t: Tenant, ref: str, **overrides: Any) -> dict[str, Any]:
    """A case restricted to its holder and line manager, born 23 April 2011, opened
    21 August 2026 09:15 UTC."""
    case = (await t.open_case(
        external_ref={**REF, "id": ref}, opened_at="2026-08-21T09:15:00Z",
        child={"given_name": "Ria", "family_name": "Moss", "date_of_birth": "2011-04-23"},
        **overrides))["data"]
    r = await restrict(t.client, t, case["id"], {"allowed_staff": ["case_holder-1",
                                                                  "line_manager-1"]})
    assert r.status_code == 200, r.text
    return case


@pytest.mark.parametrize(("source", "kind"), [("emrac", "emrac"), ("mappa", "mappa_h")])
@pytest.mark.parametrize("at", ["2000-01-01T00:00:00Z", "2026-08-01T00:00:00Z"])
async def test_A16_10_a_feed_does_not_learn_the_childs_birth_or_the_opening_from_a_422(
    somerset: Tenant, source: str, kind: str, at: str
) -> None:
    """README, machine clients: a feed gets referral ids and steps, never child data; a
    restricted case is never returned to a machine client. A message dated before the child's
    birth or the case's opening is 422 naming the rule ("received_at is before the case's
    opened_at"), not the date of birth (2011-04-23) or the opening (2026-08-21T09:15:00Z); and
    the same rule for both, so trying dates does not find the birth (attack pass 16, A16-10b:
    19 refused deliveries recovered it)."""
    await restricted_case(somerset, f"RF-{source}-{at[:4]}")
    r = await deliver(somerset, f"RF-{source}-{at[:4]}", at, source=source, kind=kind)
    problem = assert_problem(r, 422)
    assert problem["type"].endswith("/occurred-before-bound")
    name = "the case's opened_at"
    assert problem["bound"] == {"field": "received_at", "name": name}
    assert problem["detail"] == f"received_at is before {name}."
    assert problem["errors"] == [{"loc": "body.received_at", "msg": f"must not be before {name}"}]
    carries_no(problem, "2011", "04-23", "2026-08-21", "09:15")


async def test_A16_10_the_cms_does_not_learn_stored_dates_from_its_problems(
    somerset: Tenant
) -> None:
    """The case management system's event before the opening, its upsert moving the child's
    birth after the opening, and its event on a closed case: 422 / 409 naming the rule, without
    the opening time or when the case closed; the case's own staff still see the value."""
    case = await restricted_case(somerset, "RF-CMS")
    cms = somerset.auth("feed", "iyss", scope="cms")
    r = await somerset.client.post(f"/v1/cases/{case['id']}/events", headers=cms, json={
        "type": "change_of_circumstances", "occurred_at": "2026-08-20T00:00:00Z"})
    carries_no(assert_problem(r, 422), "2026-08-21", "09:15", "2011")
    body = {"child": {"given_name": "Ria", "family_name": "Moss", "date_of_birth": "2026-09-01"},
            "case_holder_id": "case_holder-1", "line_manager_id": "line_manager-1",
            "intervention": "court_order", "csc_status": "none"}
    r = await somerset.client.put("/v1/cases/by-external-ref/IYSS/RF-CMS", headers=cms, json=body)
    problem = assert_problem(r, 422)
    assert problem["bound"] == {"field": "child.date_of_birth", "name": "the case's opened_at"}
    carries_no(problem, "2026-08-21", "09:15")
    manager = somerset.auth("line_manager")
    tag = (await somerset.client.get(f"/v1/cases/{case['id']}", headers=manager)).headers["etag"]
    r = await somerset.client.patch(f"/v1/cases/{case['id']}", headers={**manager, "If-Match": tag},
                                    json={"closed_at": "2026-08-25T10:00:00Z",
                                          "closure_reason": "Order ended"})
    assert r.status_code == 200, r.text
    r = await somerset.client.post(f"/v1/cases/{case['id']}/events", headers=cms,
                                   json={"type": "change_of_circumstances"})
    problem = assert_problem(r, 409)
    assert problem["type"].endswith("/case-closed")
    carries_no(problem, "2026-08-25", "closed_at")
    staff = await somerset.client.post(
        f"/v1/cases/{case['id']}/events", headers=somerset.auth("line_manager"),
        json={"type": "change_of_circumstances"})
    assert assert_problem(staff, 409)["closed_at"] == "2026-08-25T10:00:00Z"


async def test_A16_14_a_replay_after_the_case_was_restricted_answers_no_steps(
    somerset: Tenant
) -> None:
    """README, machine clients: "every write answers `next_steps: []` for it (a feed delivery to
    it too)". The EMRAC feed's first delivery on an open case with a high ROSH lists its open
    steps; the case is then restricted; the same delivery replayed (same key and body) is 200
    with the same referral and `next_steps: []`, as a new delivery is."""
    case = (await somerset.open_case(external_ref={**REF, "id": "RP-1"}))["data"]
    r = await somerset.client.post(f"/v1/cases/{case['id']}/judgements",
                                   headers=somerset.auth("case_holder"),
                                   json={"domain": "rosh", "level": "high"})
    assert r.status_code == 201, r.text
    key = f"rp-{uuid.uuid4()}"
    at = datetime.now(UTC).isoformat()
    first = await deliver(somerset, "RP-1", at, source="emrac", kind="emrac", key=key)
    assert first.status_code == 201, first.text
    assert first.json()["next_steps"]
    r = await restrict(somerset.client, somerset, case["id"],
                       {"allowed_staff": ["case_holder-1", "line_manager-1"]})
    assert r.status_code == 200, r.text
    again = await deliver(somerset, "RP-1", at, source="emrac", kind="emrac", key=key)
    assert again.status_code == 200, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["data"]["id"] == first.json()["data"]["id"]
    assert again.json()["next_steps"] == []
    lifted = await restrict(somerset.client, somerset, case["id"], None)
    assert lifted.status_code == 200, lifted.text
    once_more = await deliver(somerset, "RP-1", at, source="emrac", kind="emrac", key=key)
    assert once_more.json() == first.json()


def open_duties(case: dict[str, Any]) -> set[tuple[Any, ...]]:
    """The case's open steps as (code, actor, due_at, policy rule): what is owed, by whom,
    by when, and why."""
    return {(s["code"], s["actor"], s["due_at"], s["policy"]["rule"])
            for s in case["open_steps"]}


async def _duties_in_both_orders(t: Tenant) -> list[set[tuple[Any, ...]]]:
    """The MAPPA unit's message of 10:12 (category 1) and its correction of 10:13 (category 2)
    delivered in that order to one case and the other way to another: each case's open
    duties (its fields are checked to follow the latest message)."""
    seen = []
    for order in (("10:12", "10:13"), ("10:13", "10:12")):
        ref = f"MO-{uuid.uuid4().hex[:8]}"
        case = (await t.open_case(external_ref={**REF, "id": ref},
                                  opened_at="2026-08-10T09:00:00Z"))["data"]
        for at in order:
            r = await deliver(t, ref, f"2026-08-28T{at}:00+01:00",
                              mappa_category=1 if at == "10:12" else 2, mappa_level=1)
            assert r.status_code == 201, r.text
        now = await case_of(t, case["id"])
        assert (now["mappa_category"], now["mappa_level"]) == (2, 1)
        seen.append(open_duties(now))
    return seen


async def test_S17_ATK28A_6_mappa_messages_leave_the_same_duties_in_any_delivery_order(
    somerset: Tenant
) -> None:
    """ATK28A-6: "Deliveries are retried, so they may arrive out of order: each field follows
    the latest message by its own received_at" (README, A16-18): the same messages leave the
    same duties whatever order they come in. Somerset 7: "all cases which are eligible under
    MAPPAs Category 1 ... are brought to MARP for discussion and the MAPPAs co-ordinator is
    notified ... through completion of MAPPAs form H": a child whose category is now 2 owes no
    category 1 form H nor MARP referral. Before: the form H (not waivable) stayed open when
    the messages came in order and was never asked when they came the other way."""
    in_order, reversed_order = await _duties_in_both_orders(somerset)
    assert in_order == reversed_order
    assert not {"mappa_h_notification", "refer_to_panel"} & {d[0] for d in in_order}


async def test_W16_ATK28A_6_mappa_messages_leave_the_same_duties_in_any_delivery_order(
    wokingham: Tenant
) -> None:
    """ATK28A-6, Wokingham's twin: "all MAPPA eligible young people" are notified with the
    MAPPA H form (W16): a category 2 child not recorded in custody owes it undated, whichever
    order the 10:12 (category 1) and 10:13 (category 2) messages arrive in."""
    in_order, reversed_order = await _duties_in_both_orders(wokingham)
    # W19's monthly panel review of a MAPPA level 1 child counts from when level 1 was first
    # known, 10:12, in both orders: the late 10:12 message moves it (ATK29-9; ATK28A-6 had
    # left it at 10:13 the other way round).
    assert in_order == reversed_order
    assert ("high_risk_panel_review", "chair", "2026-09-28T09:12:00Z", "W19") in in_order
    assert ("mappa_h_notification", "case_holder", None, "W16") in in_order
