"""A judgement back-dated before a case event already on file (or an event back-dated before a
judgement) leaves the case as the same acts recorded one at a time in ``occurred_at`` order
(fix24f; fix24c's finding). The replay of the later custody event re-ran the ``in_custody``
change the event itself made without saying it was the event's (``custody_event``), so the
change raised the custody handovers (Somerset S27/S32/S33) again, about the case, on top of
the event's own. On SQLite and PostgreSQL (``YJ_TEST_DB=postgres``).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.fidelity_support import with_matrix
from tests.api.test_races_act_order import _state
from tests.conftest import Tenant

T = "2026-11-10T10:00:00+00:00"
T_1H = "2026-11-10T09:00:00+00:00"

Act = tuple[tuple[str, str, str], str]


def _record(t: Tenant, case_id: str, act: tuple[str, str, str], at: str) -> Any:
    """A ROSH (``judgement``) or SWB (``swb``) judgement of level ``what`` (Wokingham M1: with
    the matrix pair of that level; M5: the public at risk), or an event of type ``what``,
    dated ``at``."""
    kind, what, role = act
    if kind == "event":
        return t.client.post(f"/v1/cases/{case_id}/events", json={
            "type": what, "occurred_at": at}, headers=t.auth(role))
    body = with_matrix(t.pack, {"domain": "rosh" if kind == "judgement" else "swb",
                                "level": what, "occurred_at": at,
                                **({"victims": ["public"]} if kind == "judgement" else {})})
    return t.client.post(f"/v1/cases/{case_id}/judgements", json=body, headers=t.auth(role))


async def _typed_vs_in_order(t: Tenant, typed: list[Act]) -> tuple[dict[str, Any],
                                                                    dict[str, Any]]:
    """The state of a case with ``typed`` recorded in the order given, and of another with the
    same acts recorded one at a time in ``occurred_at`` order."""
    case = (await t.open_case())["data"]["id"]
    names: dict[str, str] = {}
    for n, (act, at) in enumerate(typed):
        r = await _record(t, case, act, at)
        assert r.status_code == 201, (n, r.text)
        names[r.json()["data"]["id"]] = f"act {n}"
    ordered = (await t.open_case())["data"]["id"]
    ordered_names: dict[str, str] = {}
    for n, (act, at) in sorted(enumerate(typed), key=lambda a: a[1][1]):
        r = await _record(t, ordered, act, at)
        assert r.status_code == 201, (n, r.text)
        ordered_names[r.json()["data"]["id"]] = f"act {n}"
    return await _state(t, case, names), await _state(t, ordered, ordered_names)


def _differ(typed: dict[str, Any], ordered: dict[str, Any]) -> str:
    """What differs between the two states (the open steps one only has, then the rest)."""
    a, b = set(typed["open_steps"]), set(ordered["open_steps"])
    rest = {k: (typed[k], ordered[k]) for k in typed
            if k != "open_steps" and typed[k] != ordered[k]}
    return (f"typed only: {sorted(a - b, key=repr)}; "
            f"in order only: {sorted(b - a, key=repr)}; {rest}")


def _rules(state: dict[str, Any]) -> list[str]:
    return sorted(step[1] for step in state["open_steps"])


async def test_S27_S32_S33_a_judgement_back_dated_before_a_custody_entry_adds_no_handover(
    somerset: Tenant,
) -> None:
    """Somerset 14.3: "When children are transferred to a secure setting, case holders will
    communicate with the relevant establishment by telephone and confirm by e-mail to ensure
    that the relevant documentation has been received, read and that appropriate measures are
    in place to ensure the child and others are safe" (S27; 14.2/14.2.1, S32/S33). A custody
    entry at T, then ROSH very high dated T-1h: one handover of each kind (the entry's), as the
    judgement then the entry recorded in that order; before, the replay added S27/S32/S33 about
    the case on top of the entry's."""
    typed, ordered = await _typed_vs_in_order(somerset, [
        (("event", "custody_entry", "case_holder"), T),
        (("judgement", "very_high", "case_holder"), T_1H)])
    assert typed == ordered, _differ(typed, ordered)
    rules = _rules(typed)
    assert (rules.count("S27"), rules.count("S32"), rules.count("S33")) == (1, 1, 1), rules


async def test_S27_S32_S33_an_swb_judgement_back_dated_before_a_custody_entry_adds_no_handover(
    somerset: Tenant,
) -> None:
    """Somerset 14.2: "It is the responsibility of case holders to ensure that all relevant
    documents including any information significant for the management of risk/safety and
    well-being concerns are available before or at the point of transfer" (S32): SWB high dated
    before a custody entry already on file ends as in time order (one S27, S32, S33)."""
    typed, ordered = await _typed_vs_in_order(somerset, [
        (("event", "custody_entry", "case_holder"), T),
        (("swb", "high", "case_holder"), T_1H)])
    assert typed == ordered, _differ(typed, ordered)
    rules = _rules(typed)
    assert (rules.count("S27"), rules.count("S32"), rules.count("S33")) == (1, 1, 1), rules


async def test_S27_a_judgement_back_dated_before_a_custody_release_adds_no_handover(
    somerset: Tenant,
) -> None:
    """Somerset 14.4: "When children are transferred into the community from a secure setting,
    case holders will communicate with the secure establishment by telephone and confirm by
    e-mail that all relevant documentation has been received, read and appropriate responses to
    the identified risks/concerns are in place/being made" (S27): entry at T-2h, release at T,
    then ROSH high dated T-1h ends as in time order (one 14.4 handover)."""
    typed, ordered = await _typed_vs_in_order(somerset, [
        (("event", "custody_entry", "case_holder"), "2026-11-10T08:00:00+00:00"),
        (("event", "custody_release", "case_holder"), T),
        (("judgement", "high", "case_holder"), T_1H)])
    assert typed == ordered, _differ(typed, ordered)
    assert _rules(typed).count("S27") == 1, _rules(typed)


@pytest.mark.parametrize("event_type", ["charged", "new_incident"])
async def test_S14_a_judgement_back_dated_before_an_event_ends_as_in_time_order(
    somerset: Tenant, event_type: str,
) -> None:
    """Somerset S14 (a change of circumstances or new incident asks for the assessment's review)
    and S23 (a charge): a ROSH high dated before a charge or new incident already on file ends
    as the judgement then the event recorded in that order."""
    typed, ordered = await _typed_vs_in_order(somerset, [
        (("event", event_type, "case_holder"), T),
        (("judgement", "high", "case_holder"), T_1H)])
    assert typed == ordered, _differ(typed, ordered)


@pytest.mark.parametrize("event_type", ["custody_entry", "custody_release", "charged",
                                        "new_incident"])
async def test_S27_an_event_back_dated_before_a_judgement_ends_as_in_time_order(
    somerset: Tenant, event_type: str,
) -> None:
    """Somerset 14.3 (S27, as above) and S14: an event dated before a ROSH very high already on
    file ends as the event then the judgement recorded in that order."""
    typed, ordered = await _typed_vs_in_order(somerset, [
        (("judgement", "very_high", "case_holder"), T),
        (("event", event_type, "case_holder"), T_1H)])
    assert typed == ordered, _differ(typed, ordered)


@pytest.mark.parametrize("order", ["judgement_back_dated", "event_back_dated"])
@pytest.mark.parametrize("event_type", ["custody_entry", "custody_release", "new_incident"])
async def test_wokingham_judgement_and_event_typed_out_of_order_end_as_in_time_order(
    wokingham: Tenant, event_type: str, order: str,
) -> None:
    """Wokingham's twin: a ROSH high and a custody move or incident typed out of time order end
    as the same acts recorded one at a time in time order."""
    event: Act = (("event", event_type, "case_holder"), T)
    judgement: Act = (("judgement", "high", "case_holder"), T_1H)
    if order == "event_back_dated":
        event, judgement = (event[0], T_1H), (judgement[0], T)
        typed = [judgement, event]
    else:
        typed = [event, judgement]
    got, ordered = await _typed_vs_in_order(wokingham, typed)
    assert got == ordered, _differ(got, ordered)
