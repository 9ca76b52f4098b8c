"""MAPPA feed messages delivered out of order (attack 29, ATK29-2, ATK29-3, ATK29-9): the case's
MAPPA fields over time and the duties they raise are a function of the SET of messages, each
taken at its ``received_at`` (ties: by what the messages say, their canonical JSON), whatever
order they are delivered in.

Somerset 7: "all cases which are eligible under MAPPAs Category 1 (registered sex offenders),
irrespective of assessed ROSH, are brought to MARP for discussion and the MAPPAs co-ordinator
is notified of our involvement in managing case through completion of MAPPAs form H by case
holder". Wokingham, Referrals into MAPPA: "The PYJS should notify the Central MAPPA Unit ... of
all MAPPA eligible young people using the MAPPA H form. For children that are expected to be
managed at level 2/3, the PYJS should make the referral using the MAPPA A form. ... Category 1
referrals must be made upon the registration becoming known to the PYJS (usually at point of
sentence). Category 2 referrals (i.e. for children in custody), the referral into MAPPA must be
completed six months prior to their release into the community. ... For MAPPA Level 1 children,
High Risk Panels should be held monthly."

The clock is not pinned: each delivery keeps its Idempotency-Key until now + 72 hours, and the
deadlines count from ``received_at``, not from the clock.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from tests.api.integrity_support import mappa_message
from tests.conftest import Tenant
from tests.orders import typing_orders

REF = "IYSS"

# Friday 28 August 2026 (BST; the Monday after is the late-summer bank holiday).
AT = "2026-08-28T{}:00+01:00"


async def deliver(t: Tenant, ref: str, received_at: str, details: dict[str, Any],
                  key: str | None = None) -> httpx.Response:
    """One MAPPA feed message for the case with IYSS reference ``ref``."""
    return await mappa_message(t, ref, received_at, details, key=key)


def waits_for_category(r: httpx.Response) -> bool:
    """A level refused for want of a category (ATTACK36-7): nothing stored, the key unused."""
    return r.status_code == 422 and r.json()["type"].endswith("/mappa-level-without-category")


async def read(t: Tenant, path: str) -> Any:
    r = await t.client.get(path, headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    return r.json()


def duties(case: dict[str, Any]) -> list[tuple[Any, ...]]:
    """The open steps: what is owed, by whom, by when, under which rule and paragraph."""
    return sorted((s["code"], s["actor"], s["assignee_id"], s["due_at"], s["policy"]["rule"],
                   s["policy"]["ref"]) for s in case["open_steps"])


MAPPA_FIELDS = ("mappa_category", "mappa_level", "expected_release_date", "in_custody")


def fields_over_time(timeline: list[dict[str, Any]]) -> list[tuple[str, str, Any, Any]]:
    """The changes of the case's MAPPA fields in its timeline: (when, field, from, to), in
    time order (field by field at one instant)."""
    return sorted((entry["at"], name, old, new) for entry in timeline
                  if entry["kind"] == "case" and entry["action"] == "fields_changed"
                  for name, (old, new) in entry["details"]["changes"].items()
                  if name in MAPPA_FIELDS)


Messages = list[tuple[str, dict[str, Any]]]


async def opened(t: Tenant, opening: dict[str, Any]) -> tuple[str, str]:
    """A case opened Monday 10 August 2026 with a fresh IYSS reference: (reference, id)."""
    ref = f"MO-{uuid.uuid4().hex[:8]}"
    case = (await t.open_case(external_ref={"system": REF, "id": ref},
                              opened_at="2026-08-10T09:00:00Z", **opening))["data"]
    return ref, case["id"]


async def state(t: Tenant, case_id: str) -> dict[str, Any]:
    """The case's MAPPA fields now, its open duties and its MAPPA fields over time."""
    now = (await read(t, f"/v1/cases/{case_id}"))["data"]
    timeline = (await read(t, f"/v1/cases/{case_id}/timeline?limit=200"))["data"]
    return {"fields": {f: now[f] for f in MAPPA_FIELDS}, "duties": duties(now),
            "history": fields_over_time(timeline)}




async def outcome(t: Tenant, messages: Messages, order: tuple[int, ...],
                  opening: dict[str, Any]) -> dict[str, Any]:
    """Deliver ``messages`` to a new case one by one in ``order``; its :func:`state`."""
    ref, case_id = await opened(t, opening)
    refused: list[tuple[int, str]] = []
    for index in order:
        at, details = messages[index]
        key = str(uuid.uuid4())
        r = await deliver(t, ref, AT.format(at), details, key=key)
        if waits_for_category(r):
            refused.append((index, key))  # the feed's operator delivers it again later
            continue
        assert r.status_code == 201, (order, index, r.text)
    for index, key in refused:
        at, details = messages[index]
        r = await deliver(t, ref, AT.format(at), details, key=key)
        assert r.status_code == 201, (order, index, r.text)
    return await state(t, case_id)


# Each: the messages (London time on Friday 28 August 2026, what they set) and the opening.
SCENARIOS: dict[str, tuple[Messages, dict[str, Any]]] = {
    "category 1 then level 2": (
        [("10:12", {"mappa_category": 1}), ("10:20", {"mappa_level": 2})], {}),
    "level 1 then category 1": (
        [("10:12", {"mappa_level": 1}), ("10:20", {"mappa_category": 1})], {}),
    "category 1 corrected to 2, level confirmed": (
        [("10:12", {"mappa_category": 1, "mappa_level": 1}), ("10:13", {"mappa_category": 2}),
         ("10:14", {"mappa_level": 1})], {}),
    "in custody, release date moved": (
        [("10:12", {"mappa_category": 2, "mappa_level": 2}),
         ("10:13", {"expected_release_date": "2027-01-15"}),
         ("10:14", {"expected_release_date": "2026-12-01"})], {"in_custody": True}),
    # Two messages received at one instant that disagree (attack 31a, ATTACK31A-4): ordered
    # by what they say, not by which came first.
    "category 1 and category 2 at one instant": (
        [("10:12", {"mappa_category": 1}), ("10:12", {"mappa_category": 2})], {}),
    "level 1 and level 2 at one instant, category before": (
        [("10:10", {"mappa_category": 1}), ("10:12", {"mappa_level": 2}),
         ("10:12", {"mappa_level": 1})], {}),
    "in the community, release date, then category 1": (
        [("10:12", {"mappa_category": 2}), ("10:13", {"expected_release_date": "2027-01-15"}),
         ("10:14", {"mappa_category": 1, "mappa_level": 1})], {}),
}

# What the messages in time order owe (among the open duties): (code, actor, due_at, rule).
OWED = {
    ("somerset", "category 1 then level 2"): {
        ("mappa_h_notification", "case_holder", None, "S17"),
        ("refer_to_panel", "case_holder", None, "S17")},
    ("somerset", "level 1 then category 1"): {
        ("mappa_h_notification", "case_holder", None, "S17")},
    ("somerset", "in custody, release date moved"): {
        ("attend_mappa_meetings", "case_holder", None, "S37"),
        ("inform_seconded_probation_officer", "case_holder", None, "S38")},
    ("wokingham", "category 1 then level 2"): {
        ("mappa_h_notification", "case_holder", "2026-08-28T09:12:00Z", "W16"),
        ("mappa_a_referral", "case_holder", "2026-08-28T09:20:00Z", "W17")},
    ("wokingham", "level 1 then category 1"): {
        ("mappa_h_notification", "case_holder", "2026-08-28T09:20:00Z", "W16"),
        ("high_risk_panel_review", "chair", "2026-09-28T09:20:00Z", "W19")},
    ("wokingham", "category 1 corrected to 2, level confirmed"): {
        ("mappa_h_notification", "case_holder", None, "W16"),
        ("high_risk_panel_review", "chair", "2026-09-28T09:12:00Z", "W19")},
    ("wokingham", "in the community, release date, then category 1"): {
        ("mappa_h_notification", "case_holder", "2026-08-28T09:14:00Z", "W16"),
        ("high_risk_panel_review", "chair", "2026-09-28T09:14:00Z", "W19")},
}


async def _every_order(t: Tenant, pack: str, scenario: str) -> None:
    """Each delivery order of the scenario's messages leaves what time order leaves."""
    messages, opening = SCENARIOS[scenario]
    orders = typing_orders(range(len(messages)))
    in_time = await outcome(t, messages, orders[0], opening)
    owed = {(d[0], d[1], d[3], d[4]) for d in in_time["duties"]}
    assert OWED.get((pack, scenario), set()) <= owed, owed
    # Messages of one instant that disagree leave one record, one set of duties and one
    # timeline: at that instant, one change of each field, from its value before the instant
    # to the one that stands (attack 31a, ATTACK31A-4's timeline, fix32b).
    for order in orders[1:]:
        assert await outcome(t, messages, order, opening) == in_time, order


@pytest.mark.parametrize("scenario", list(SCENARIOS))
async def test_S17_S37_S38_mappa_messages_in_any_delivery_order_leave_one_record_and_duties(
        somerset: Tenant, scenario: str) -> None:
    """Somerset 7: "all cases which are eligible under MAPPAs Category 1 ... are brought to
    MARP for discussion and the MAPPAs co-ordinator is notified ... through completion of
    MAPPAs form H" (S17); 8.4: "Case holders and their line managers will attend all relevant
    MAPPA 2 meetings ... whilst accommodated or secured. The YJT seconded probation officer
    will be made aware of all cases relevant to MAPPA 2" (S37, S38). The same MAPPA messages,
    delivered in every order, leave the case the same MAPPA fields now and over time, and the
    same open steps (code, actor, assignee, due date, rule and paragraph) as in time order
    (ATK29-2, ATK29-3, ATK29-9)."""
    await _every_order(somerset, "somerset", scenario)


@pytest.mark.parametrize("scenario", list(SCENARIOS))
async def test_W16_W17_W19_mappa_messages_in_any_delivery_order_leave_one_record_and_duties(
        wokingham: Tenant, scenario: str) -> None:
    """Wokingham, Referrals into MAPPA: "notify the Central MAPPA Unit ... of all MAPPA
    eligible young people using the MAPPA H form" (W16); "For children that are expected to be
    managed at level 2/3, the PYJS should make the referral using the MAPPA A form" (W17);
    "Category 1 referrals must be made upon the registration becoming known to the PYJS";
    "Category 2 referrals (i.e. for children in custody), the referral into MAPPA must be
    completed six months prior to their release into the community"; "For MAPPA Level 1
    children, High Risk Panels should be held monthly" (W19). The same MAPPA messages in every
    delivery order leave what time order leaves: the MAPPA H form due at once (category 1) in
    every order or in none, the monthly review counted from the message that first made the
    child level 1 (ATK29-2, ATK29-3, ATK29-9)."""
    await _every_order(wokingham, "wokingham", scenario)


async def test_W19_ATK29_2_a_level_before_the_category_is_stored_and_waits_for_it(
        wokingham: Tenant) -> None:
    """Wokingham, MAPPA categories: "To be eligible for referral under MAPPA, an individual
    must fall into one of 3 categories"; "For MAPPA Level 1 children, High Risk Panels should
    be held monthly" (W19). The MAPPA unit's level 1 message of 10:20 is delivered before its
    category 1 message of 10:12 (ATK29-2). With no category on file at its time nor after, it
    cannot stand: 422 ``mappa-level-without-category`` as ``PATCH`` is, nothing stored, the
    key not used up (ATTACK36-7: it was stored 201 and its level silently dropped while no
    category came), so the case shows no level and owes no review. Delivered again once the
    category is on file, the level stands from its own 10:20 and the review is due a month
    on. A level (10:12) received before a category on file (10:30) stands from the category's
    10:30, when the child became MAPPA eligible."""
    t = wokingham
    ref, case_id = await opened(t, {})
    r = await deliver(t, ref, AT.format("10:20"), {"mappa_level": 1}, key="atk29-2")
    assert waits_for_category(r), r.text
    waiting = await state(t, case_id)
    assert waiting["fields"]["mappa_level"] is None
    assert "high_risk_panel_review" not in {d[0] for d in waiting["duties"]}
    referrals = await read(t, f"/v1/cases/{case_id}/referrals")
    assert referrals["data"] == []
    r = await deliver(t, ref, AT.format("10:12"), {"mappa_category": 1})
    assert r.status_code == 201, r.text
    r = await deliver(t, ref, AT.format("10:20"), {"mappa_level": 1}, key="atk29-2")
    assert r.status_code == 201, r.text
    assert r.json()["data"]["details"] == {"mappa_level": 1}
    known = await state(t, case_id)
    assert (known["fields"]["mappa_category"], known["fields"]["mappa_level"]) == (1, 1)
    assert known["history"] == [("2026-08-28T09:12:00Z", "mappa_category", None, 1),
                                ("2026-08-28T09:20:00Z", "mappa_level", None, 1)]
    assert ("high_risk_panel_review", "chair", None, "2026-09-28T09:20:00Z", "W19",
            "Referrals into MAPPA") in known["duties"]
    ref, case_id = await opened(t, {})
    r = await deliver(t, ref, AT.format("10:30"), {"mappa_category": 2})
    assert r.status_code == 201, r.text
    r = await deliver(t, ref, AT.format("10:12"), {"mappa_level": 1})
    assert r.status_code == 201, r.text
    later = await state(t, case_id)
    assert later["history"] == [("2026-08-28T09:30:00Z", "mappa_category", None, 2),
                                ("2026-08-28T09:30:00Z", "mappa_level", None, 1)]
    assert ("high_risk_panel_review", "chair", None, "2026-09-28T09:30:00Z", "W19",
            "Referrals into MAPPA") in later["duties"]


async def test_W19_ATK29_9_the_monthly_review_counts_from_the_message_that_first_set_level_1(
        wokingham: Tenant) -> None:
    """W19, "For MAPPA Level 1 children, High Risk Panels should be held monthly": the MAPPA
    unit's 10:12 message (category 2, level 1) delivered after its 10:13 one (level 1 again)
    moves the review to a month from 10:12 (Monday 28 September 2026, 10:12 BST), not a month
    from the confirming message's 10:13 (ATK29-9); the level's history starts at 10:12."""
    t = wokingham
    ref, case_id = await opened(t, {})
    for at, details in (("10:13", {"mappa_category": 2, "mappa_level": 1}),
                        ("10:12", {"mappa_category": 2, "mappa_level": 1})):
        r = await deliver(t, ref, AT.format(at), details)
        assert r.status_code == 201, r.text
    now = await state(t, case_id)
    [review] = [d for d in now["duties"] if d[0] == "high_risk_panel_review"]
    assert review == ("high_risk_panel_review", "chair", None, "2026-09-28T09:12:00Z", "W19",
                      "Referrals into MAPPA")
    assert now["history"] == [("2026-08-28T09:12:00Z", "mappa_category", None, 2),
                              ("2026-08-28T09:12:00Z", "mappa_level", None, 1)]


async def test_W16_W19_mappa_messages_delivered_at_once_leave_the_time_order_result(
        wokingham: Tenant) -> None:
    """The case's lock: three MAPPA messages for one case delivered at the same moment (each
    waiting for the case while another is applied, in whatever order) leave what the same
    messages delivered one by one in time order leave (W16's undated MAPPA H form of a
    category 2 child in the community; W19's review a month from 10:12). The level-only
    message of 10:14, applied before any category, is refused 422 with nothing stored
    (ATTACK36-7) and delivered again with its key once the others are in."""
    t = wokingham
    messages, opening = SCENARIOS["category 1 corrected to 2, level confirmed"]
    in_time = await outcome(t, messages, (0, 1, 2), opening)
    for _ in range(3):
        ref, case_id = await opened(t, opening)
        keys = [str(uuid.uuid4()) for _ in messages]
        answers = await asyncio.gather(*[deliver(t, ref, AT.format(at), details, key=key)
                                         for (at, details), key in zip(messages, keys,
                                                                       strict=True)])
        for (at, details), key, r in zip(messages, keys, answers, strict=True):
            if waits_for_category(r):
                assert "mappa_category" not in details, r.text
                r = await deliver(t, ref, AT.format(at), details, key=key)
            assert r.status_code == 201, r.text
        assert await state(t, case_id) == in_time
