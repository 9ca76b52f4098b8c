"""An act dated a little ahead of the write that records it (a sender's clock up to five minutes
fast, ``FUTURE_TOLERANCE``) is recorded at the write's instant: an act cannot have happened after
it was recorded (fix24c). Dated ahead, it stayed after the acts of the writes that followed it,
and one of those sent without a date (dated "now", before it) was not replayed before it: the
later-dated act was never re-judged at the new rating and its steps were missing. Open steps
after any set of acts equal the acts applied one at a time in ``occurred_at`` order, whatever
was typed first. On SQLite and PostgreSQL (``YJ_TEST_DB=postgres``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.api.test_races_act_order import _act, _state
from tests.conftest import Tenant


def _record(t: Tenant, case_id: str, act: tuple[str, str, str], at: str | None) -> Any:
    """``_act``, and an SWB judgement for ``("swb", level, role)``."""
    kind, what, role = act
    if kind != "swb":
        return _act(t, case_id, act, at)
    body: dict[str, Any] = {"domain": "swb", "level": what}
    if at is not None:
        body["occurred_at"] = at
    return t.client.post(f"/v1/cases/{case_id}/judgements", json=body, headers=t.auth(role))


async def test_S27_S32_S33_an_undated_judgement_after_acts_sent_ahead_is_in_time_order(
    somerset: Tenant,
) -> None:
    """Somerset 14.3: "When children are transferred to a secure setting, case holders will
    communicate with the relevant establishment by telephone and confirm by e-mail to ensure
    that the relevant documentation has been received, read and that appropriate measures are
    in place to ensure the child and others are safe." SWB medium and a custody entry sent
    three minutes ahead of the service's clock, then a ROSH very high judgement sent without a
    date: the case ends as the same acts recorded one at a time at their recorded times, in
    that order, on another case (the custody entry's handover steps, S27, S32 and S33, at the
    rating then in force); the acts sent ahead are recorded at their writes' instants."""
    t = somerset
    ahead = (datetime.now(UTC) + timedelta(minutes=3)).isoformat()
    sent = [(("swb", "medium", "case_holder"), ahead),
            (("event", "custody_entry", "case_holder"), ahead),
            (("judgement", "very_high", "case_holder"), None)]
    case = (await t.open_case())["data"]["id"]
    recorded = []
    for act, at in sent:
        r = await _record(t, case, act, at)
        assert r.status_code == 201, r.text
        data = r.json()["data"]
        assert data["occurred_at"] == data["created_at"], data  # not after it was recorded
        recorded.append((data["occurred_at"], data["created_at"], act, data["id"]))
    recorded.sort()
    replayed = (await t.open_case())["data"]["id"]
    names, replayed_names = {}, {}
    for n, (at, _, act, ident) in enumerate(recorded):
        r = await _record(t, replayed, act, at)
        assert r.status_code == 201, (n, act, r.text)
        names[ident] = replayed_names[r.json()["data"]["id"]] = f"act {n}"
    state = await _state(t, case, names)
    assert state == await _state(t, replayed, replayed_names)
    assert {"S27", "S32", "S33"} <= {step[1] for step in state["open_steps"]}


async def _custody_case(t: Tenant, judged_now: bool) -> dict[str, Any]:
    """SWB medium and a custody entry sent three minutes ahead, then ROSH very high dated now
    (``judged_now``) or sent without a date: the case's state."""
    ahead = (datetime.now(UTC) + timedelta(minutes=3)).isoformat()
    case = (await t.open_case())["data"]["id"]
    names = {}
    for n, act in enumerate((("swb", "medium", "case_holder"),
                             ("event", "custody_entry", "case_holder"),
                             ("judgement", "very_high", "case_holder"))):
        at = ahead if n < 2 else (datetime.now(UTC).isoformat() if judged_now else None)
        r = await _record(t, case, act, at)
        assert r.status_code == 201, r.text
        names[r.json()["data"]["id"]] = f"act {n}"
    state = await _state(t, case, names)
    state["open_steps"] = sorted((s[:4] + s[5:9] for s in state["open_steps"]), key=repr)
    state["rosh"] = state["rosh"][0]  # the two cases' acts are moments apart
    return state


async def test_S27_S32_S33_a_judgement_dated_now_or_undated_after_acts_ahead_ends_the_same(
    somerset: Tenant,
) -> None:
    """Somerset 14.3 (the custody entry's handover, S27, S32, S33), as above: a ROSH very high
    judgement sent without a date after a custody entry sent three minutes ahead leaves the case
    as the same judgement sent dated now (the date "now" stands for): the open steps, rating,
    register, priority and contact level are the same (fix13a's finding: the dated one re-judged
    the custody entry dated after it, the undated one did not)."""
    undated = await _custody_case(somerset, judged_now=False)
    assert undated == await _custody_case(somerset, judged_now=True)
    assert {"S27", "S32", "S33"} <= {step[1] for step in undated["open_steps"]}


async def test_S14_an_incident_sent_ahead_twice_is_one_incident(somerset: Tenant) -> None:
    """Somerset S14 (a new incident asks the case holder to review the assessment), as the
    catalogue has it: an incident the CMS sends two minutes ahead of the service's clock, then
    sends again with the same time a moment later, is one event (200, reported again; one
    ``review_assessment`` step), though the first was recorded at its write's instant and the
    second's time is again ahead of its own (A15-10's rule on the new dating)."""
    t = somerset
    case = (await t.open_case())["data"]["id"]
    body = {"type": "new_incident",
            "occurred_at": (datetime.now(UTC) + timedelta(minutes=2)).isoformat()}
    first = await t.client.post(f"/v1/cases/{case}/events", json=body,
                                headers=t.auth("case_holder"))
    assert first.status_code == 201, first.text
    again = await t.client.post(f"/v1/cases/{case}/events", json=body,
                                headers=t.auth("case_holder"))
    assert again.status_code == 200, again.text
    assert again.json()["data"]["id"] == first.json()["data"]["id"]
    r = await t.client.get(f"/v1/cases/{case}", headers=t.auth("duty_manager"))
    steps = [s for s in r.json()["data"]["open_steps"] if s["policy"]["rule"] == "S14"]
    assert len(steps) == 1, steps
