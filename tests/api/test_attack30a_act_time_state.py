"""The same acts typed in a different order give the same record (attack pass 30a: A30a-6,
A30a-11, A30a-13, A30a-14): each act is judged on the case as it stood at its own act time
(who recorded the judgement a step checks, the incoming ratings of a transfer in, custody, the
panel's approval), and the acts dated after a back-dated one are judged again on the history as
it now stands (app.domain.replay).

Dates (real calendar, London, GMT): Tue 24 and Wed 25 Nov 2026 (no bank holiday near).
"""

from __future__ import annotations

from tests.api.act_order_support import (
    HOLDER,
    MANAGER,
    MATRIX,
    Act,
    event,
    every_order,
    rate,
    record,
    same_as_time_order,
    steps_of,
    the_record,
)
from tests.conftest import Tenant


async def test_S5_S6_owner_judged_on_the_latest_judgement_by_act_time(
        somerset: Tenant) -> None:
    """S5/S6 (Somerset 3.1): "Any 'high' or 'very high' judgement rating will be discussed with
    the line manager ... (within 24 hours)" and countersigned by them; when the line manager
    recorded what the step checks, the duty managers undertake it. The holder's high on Tue
    24 Nov 2026 09:00 and the line manager's very high at 10:00: the step checks the line
    manager's very high, so the duty managers owe it (due 24 hours from the first high, Wed
    25 Nov 09:00), in either order; the mirror pair (the
    line manager's high 09:00, the holder's very high 10:00): the line manager owes it."""
    own = same_as_time_order(await every_order(somerset, [
        rate("high", "2026-11-24T09:00:00Z"),
        rate("very_high", "2026-11-24T10:00:00Z", by="line_manager")]))
    assert [s[1:4] for s in steps_of(own, "discuss_with_manager")] == [
        ("duty_manager", None, "2026-11-25T09:00:00Z")]
    mirror = same_as_time_order(await every_order(somerset, [
        rate("high", "2026-11-24T09:00:00Z", by="line_manager"),
        rate("very_high", "2026-11-24T10:00:00Z")]))
    assert [s[1:4] for s in steps_of(mirror, "discuss_with_manager")] == [
        ("line_manager", MANAGER, "2026-11-25T09:00:00Z")]


def transfer_in(at: str, **incoming: str) -> Act:
    """A transfer in at ``at`` with the ratings the child arrives with (``incoming``)."""
    return event("transfer_in", at, incoming_ratings=incoming,
                 details={"from": "Another YJS"})


async def test_W29_own_medium_before_the_arrival_does_not_answer_the_incoming_high(
        wokingham: Tenant) -> None:
    """W29 (Wokingham High Risk Panel): "request a High-Risk Panel within two working days of
    ... 2. Becoming aware of a change of circumstances or new incident which is serious enough
    to warrant consideration for an increase of assessed risk levels to high/very high"; pack
    note: "the request lapses if the PYJS's own ROSH judgement is below high". The PYJS's own
    medium on Tue 24 Nov 2026 09:00, the child transferred in at high ROSH at 10:00: the
    medium was made before the child arrived at high, so it does not answer it: the request
    is owed (by the end of Thu 26 Nov), in either order (A30a-13)."""
    steps = same_as_time_order(await every_order(wokingham, [
        rate("medium", "2026-11-24T09:00:00Z"),
        transfer_in("2026-11-24T10:00:00Z", rosh="high")]))
    assert [s[1:] for s in steps_of(steps, "request_high_risk_panel")] == [
        ("case_holder", HOLDER, "2026-11-26T23:59:59Z", "W29", "High Risk Panel")]


async def test_S11_own_medium_before_the_arrival_at_high(somerset: Tenant) -> None:
    """S11 (Somerset 4.5): "Where the ROSH or Safety and Well-Being is assessed as high or very
    high, the line manager will review the case at least monthly"; a child transferred in at
    high ROSH counts as such until the YJT's own judgement (13.3). Own medium on Tue 24 Nov
    2026 09:00, the transfer in at high at 10:00: the monthly review is owed from the arrival
    (Thu 24 Dec 10:00), in either order (A30a-13)."""
    steps = same_as_time_order(await every_order(somerset, [
        rate("medium", "2026-11-24T09:00:00Z"),
        transfer_in("2026-11-24T10:00:00Z", rosh="high")]))
    assert [s[1:4] for s in steps_of(steps, "monthly_manager_review")] == [
        ("line_manager", MANAGER, "2026-12-24T10:00:00Z")]


async def test_S11_arrival_at_high_then_own_high(somerset: Tenant) -> None:
    """S11 (Somerset 4.5): "the line manager will review the case at least monthly" where ROSH
    is high or very high. The child transferred in at high ROSH on Tue 24 Nov 2026 09:00, the
    YJT's own high at 10:00: the review is owed a month from the arrival (Thu 24 Dec 09:00),
    in either order (A30a-13)."""
    steps = same_as_time_order(await every_order(somerset, [
        transfer_in("2026-11-24T09:00:00Z", rosh="high"),
        rate("high", "2026-11-24T10:00:00Z")]))
    assert [s[1:4] for s in steps_of(steps, "monthly_manager_review")] == [
        ("line_manager", MANAGER, "2026-12-24T09:00:00Z")]


async def test_S27_release_dated_before_an_entry_ends_no_custody(somerset: Tenant) -> None:
    """S27 (Somerset 14.4): "When children are transferred into the community from a secure
    setting, case holders will communicate with the secure establishment". A custody release
    on Tue 24 Nov 2026 09:00 on a case not in custody, then a custody entry at 10:00: the
    release ended no custody, so one secure-estate handover (the entry's), in either order
    (A30a-14)."""
    steps = same_as_time_order(await every_order(somerset, [
        event("custody_release", "2026-11-24T09:00:00Z"),
        event("custody_entry", "2026-11-24T10:00:00Z")]))
    assert len(steps_of(steps, "secure_estate_handover")) == 1
    assert steps[1][2] is True


async def test_S27_release_typed_before_the_entry_and_a_high(somerset: Tenant) -> None:
    """S27 (Somerset 14.4), as above: custody entry on Tue 24 Nov 2026 09:00, ROSH high at
    10:00, release at 11:00: one open secure-estate handover, in every order (A30a-14)."""
    steps = same_as_time_order(await every_order(somerset, [
        event("custody_entry", "2026-11-24T09:00:00Z"),
        rate("high", "2026-11-24T10:00:00Z"),
        event("custody_release", "2026-11-24T11:00:00Z")]))
    assert len(steps_of(steps, "secure_estate_handover")) == 1
    assert steps[1][2] is False


async def test_M6_decision_dated_before_an_unapproved_lowering_is_refused(
        somerset: Tenant) -> None:
    """M6 (Somerset 7.2.1): "Where the current judgment of ROSH/S and WB concern is High or Very
    high, recommendation that the risk level is reduced must be approved by the panel"; 4.3
    "the case holder will update the panel in line with the previously agreed review date, to
    seek agreement from the panel". Very high ROSH on Tue 3 Nov 2026; the MARP sits on Tue 24
    Nov 10:00, confirms very high and books its review for Tue 22 Dec. The case holder's medium
    dated 24 Nov 11:00: in act order it is refused (409 panel-approval-required); typed in
    before the minutes, the decision dated at the sitting would put it under the panel's
    approval, so the decision is refused the same way, naming the lowering, and the record
    stays as the acts typed allow (A30a-6)."""
    decision = {"rosh_level": "very_high", "actions": [], "minutes": "Remains very high",
                "review_date": "2026-12-22", "occurred_at": "2026-11-24T10:00:00Z"}
    lowering = {"domain": "rosh", "level": "medium", "rationale": "Lowered",
                "occurred_at": "2026-11-24T11:00:00Z", "victims": ["ex-partner"],
                **MATRIX["medium"]}
    answers = []
    for decision_first in (True, False):
        case = (await somerset.open_case(opened_at="2026-11-02T09:00:00Z"))["data"]["id"]
        await record(somerset, case, rate("very_high", "2026-11-03T10:00:00Z"))
        r = await somerset.client.post("/v1/panels", json={
            "kind": "marp", "scheduled_for": "2026-11-24T10:00:00Z", "chair_id": "chair-1"},
            headers=somerset.auth("panel_admin"))
        assert r.status_code == 201, r.text
        panel = r.json()["data"]["id"]
        r = await somerset.client.post(f"/v1/panels/{panel}/items", json={
            "case_id": case, "presenter_id": HOLDER}, headers=somerset.auth("panel_admin"))
        assert r.status_code == 201, r.text
        item = r.json()["data"]["id"]
        acts = [("decide", f"/v1/panels/{panel}/items/{item}/decision", decision, "chair"),
                ("lower", f"/v1/cases/{case}/judgements", lowering, "case_holder")]
        codes = {}
        for name, url, body, role in (acts if decision_first else acts[::-1]):
            r = await somerset.client.post(url, json=body, headers=somerset.auth(role))
            codes[name] = (r.status_code, r.json().get("type", "").rsplit("/", 1)[-1]
                           if r.status_code >= 400 else None)
        answers.append((codes, await the_record(somerset, case)))
    (in_order, record_in_order), (typed_back, record_typed_back) = answers
    assert in_order == {"decide": (200, None), "lower": (409, "panel-approval-required")}
    assert typed_back == {"lower": (201, None), "decide": (409, "panel-approval-required")}
    assert record_in_order[1] == ({"rosh": "very_high", "swb": None, "lor": None}, True, False)


async def test_S11_arrival_at_high_then_an_incident_typed_first(somerset: Tenant) -> None:
    """S11 (Somerset 4.5): "Where the ROSH or Safety and Well-Being is assessed as high or very
    high, the line manager will review the case at least monthly"; 13.3: a child transferred in
    at high is held at it until the YJT's own judgement (on the register, 9). The transfer in
    at high ROSH on Tue 24 Nov 2026 09:00, a change of circumstances at 10:00 typed in first:
    the child is on the register and the review is due a month from the arrival (Thu 24 Dec
    09:00), in either order (an event dated before a later event is judged on the case of its
    date and still derives the register)."""
    steps = same_as_time_order(await every_order(somerset, [
        transfer_in("2026-11-24T09:00:00Z", rosh="high"),
        event("change_of_circumstances", "2026-11-24T10:00:00Z",
              details={"summary": "Moved address"})]))
    assert [s[1:4] for s in steps_of(steps, "monthly_manager_review")] == [
        ("line_manager", MANAGER, "2026-12-24T09:00:00Z")]
    assert steps[1][1] is True
