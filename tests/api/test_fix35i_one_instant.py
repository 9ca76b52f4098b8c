"""Acts dated at one instant give one record whatever order they are typed in (attack 35a,
ATTACK35A-17, ATTACK35A-8; fix35i). The one order of an instant (docs/integrating.md §7): the
case's events and feed messages first, then the panels' decisions, then the judgements; each
later kind judged on the case as the earlier kinds of its instant left it.

Each case types the pair in both orders (tests.api.order_support.in_every_order, a fresh case
each) and checks that both leave the same open steps (code, actor, assignee, due, rule,
subject), ratings, register, contact level and priority, then what that record is.

Dates: Tue 24 Nov 2026 (London on GMT; no bank holiday near), cases opened Mon 2 Nov; a MARP
or High-Risk Panel sitting at 09:00 with the case on its agenda.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.api.act_order_support import judgement_body
from tests.api.order_support import (
    DAY,
    Act,
    Prepare,
    decided,
    happened,
    in_every_order,
    mappa,
    own,
    record,
    steps_of,
    subjects_of,
)
from tests.conftest import Tenant

HOLDER = "case_holder-1"
SOMERSET_KEEPS_HIGH = {"rosh_level": "high", "review_date": "2026-12-15"}
WOKINGHAM_KEEPS_HIGH = {
    "rosh_level": "high", "review_date": "2026-12-15",
    "actions": [{"description": "Safety plan", "owner_id": HOLDER, "due_date": "2026-12-01"}]}


async def _sitting(t: Tenant, case_id: str, kind: str, referral: str | None = None
                   ) -> dict[str, str]:
    """A ``kind`` panel sitting at 09:00 with the case on its agenda: the decision's url."""
    r = await t.client.post("/v1/panels", json={"kind": kind, "chair_id": "chair-1",
                                                "scheduled_for": f"{DAY}09:00:00Z"},
                            headers=t.auth("panel_admin"))
    assert r.status_code == 201, r.text
    panel = r.json()["data"]["id"]
    item: dict[str, Any] = {"case_id": case_id, "presenter_id": HOLDER}
    if referral is not None:
        item["referral_id"] = referral
    r = await t.client.post(f"/v1/panels/{panel}/items", json=item,
                            headers=t.auth("panel_admin"))
    assert r.status_code == 201, r.text
    return {"decision": f"/v1/panels/{panel}/items/{r.json()['data']['id']}/decision"}


async def _marp(t: Tenant, case_id: str) -> dict[str, str]:
    """Somerset's own ROSH high at 08:00 (on the list), a MARP at 09:00 hearing the case."""
    await record(t, case_id, own("08:00", "rosh", "high"))
    return await _sitting(t, case_id, "marp")


async def _marp_in_custody(t: Tenant, case_id: str) -> dict[str, str]:
    """As :func:`_marp`, the child having entered custody at 07:00."""
    await record(t, case_id, happened("07:00", "custody_entry"))
    return await _marp(t, case_id)


async def _high_risk_panel(t: Tenant, case_id: str) -> dict[str, str]:
    """Wokingham's own ROSH high at 08:00, a panel referral made at 08:10 and the High-Risk
    Panel at 09:00 hearing it."""
    await record(t, case_id, own("08:00", "rosh", "high"))
    r = await t.client.post(f"/v1/cases/{case_id}/referrals",
                            json={"kind": "panel", "occurred_at": f"{DAY}08:10:00Z"},
                            headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text
    referral = r.json()["data"]["id"]
    r = await t.client.post(f"/v1/referrals/{referral}/submit",
                            json={"occurred_at": f"{DAY}08:15:00Z"},
                            headers=t.auth("case_holder"))
    assert r.status_code == 200, r.text
    return await _sitting(t, case_id, "high_risk_panel", referral)


async def _in_custody(t: Tenant, case_id: str) -> dict[str, str]:
    """The child entered custody at 07:00."""
    await record(t, case_id, happened("07:00", "custody_entry"))
    return {}


PAIRS: list[tuple[str, str, list[Act], Prepare | None]] = [
    ("somerset", "decision_x_very_high", [decided("09:00", **SOMERSET_KEEPS_HIGH),
                                          own("09:00", "rosh", "very_high")], _marp),
    ("somerset", "decision_x_swb_high", [decided("09:00", **SOMERSET_KEEPS_HIGH),
                                         own("09:00", "swb", "high")], _marp),
    ("wokingham", "decision_x_very_high", [decided("09:00", **WOKINGHAM_KEEPS_HIGH),
                                           own("09:00", "rosh", "very_high")],
     _high_risk_panel),
    ("somerset", "release_x_very_high", [happened("10:00", "custody_release"),
                                         own("10:00", "rosh", "very_high")], _in_custody),
    ("somerset", "release_x_lor_medium", [happened("10:00", "custody_release"),
                                          own("10:00", "lor", "medium")], _in_custody),
    ("wokingham", "release_x_high", [happened("10:00", "custody_release"),
                                     own("10:00", "rosh", "high")], _in_custody),
    ("somerset", "entry_x_high", [happened("10:00", "custody_entry"),
                                  own("10:00", "rosh", "high")], None),
    ("somerset", "mappa_x_high", [mappa("10:00", mappa_category=1),
                                  own("10:00", "rosh", "high")], None),
    ("wokingham", "mappa_x_high", [mappa("10:00", mappa_category=2),
                                   own("10:00", "rosh", "high")], None),
    ("somerset", "release_x_decision", [happened("09:00", "custody_release"),
                                        decided("09:00", **SOMERSET_KEEPS_HIGH)],
     _marp_in_custody),
    ("somerset", "death_x_high", [happened("10:00", "death"),
                                  own("10:00", "rosh", "high")], None),
    ("wokingham", "death_x_high", [happened("10:00", "death"),
                                   own("10:00", "rosh", "high")], None),
]


DOC = """docs/integrating.md §7: "Acts at one instant (the same occurred_at) are in one
    order whatever order you type them in": the case's events and feed messages, then the
    panels' decisions, then the judgements. Somerset 7.1.6 ("the MARP will ... confirm the
    ROSH/SWB judgement"), 3.2.4 ("Very High ROSH ... priority"), 14.3/14.4 (S27 "phone + email"
    on custody entry and release); Wokingham "High Risk Panel" (W8, W11 contact). Each pair of
    acts at one instant, typed in both orders, leaves the same open steps, ratings, register,
    contact level and priority (in_every_order asserts it)."""


def _pairs(pack: str) -> Any:
    chosen = [(acts, prepare) for p, _n, acts, prepare in PAIRS if p == pack]
    return pytest.mark.parametrize(("acts", "prepare"), chosen,
                                   ids=[n for p, n, _a, _f in PAIRS if p == pack])


@_pairs("somerset")
async def test_SAME_INSTANT_somerset_pair_gives_one_record_in_both_orders(
        somerset: Tenant, acts: list[Act], prepare: Prepare | None) -> None:
    await in_every_order(somerset, acts, prepare=prepare, fresh=True)


@_pairs("wokingham")
async def test_SAME_INSTANT_wokingham_pair_gives_one_record_in_both_orders(
        wokingham: Tenant, acts: list[Act], prepare: Prepare | None) -> None:
    await in_every_order(wokingham, acts, prepare=prepare)


test_SAME_INSTANT_somerset_pair_gives_one_record_in_both_orders.__doc__ = DOC
test_SAME_INSTANT_wokingham_pair_gives_one_record_in_both_orders.__doc__ = DOC


async def test_PRI_decision_keeping_high_then_very_high_at_the_sitting(somerset: Tenant
                                                                        ) -> None:
    """Somerset 7.1.6 / 3.2.4 (ATTACK35A-17 (a)): "Any case assessed as Very High ROSH will
    be ... a priority case". The MARP sitting at 09:00 on Tue 24 Nov 2026 keeps ROSH high; the
    case holder's very high judgement at 09:00 comes after the panel's decision of its
    instant: ROSH very high and a priority case, in both typing orders."""
    got = await in_every_order(somerset, [decided("09:00", **SOMERSET_KEEPS_HIGH),
                                          own("09:00", "rosh", "very_high")], prepare=_marp,
                               fresh=True)
    assert (got.ratings["rosh"], got.on_register, got.priority) == ("very_high", True, True)


async def test_W11_decision_keeping_high_then_very_high_at_the_sitting(wokingham: Tenant
                                                                        ) -> None:
    """Wokingham "High Risk Panel" and contact levels (ATTACK35A-17, Wokingham twin): the
    High-Risk Panel at 09:00 keeps ROSH high with its action plan, the case holder's very high
    at 09:00 comes after it: ROSH very high, three contacts a week, in both typing orders."""
    got = await in_every_order(wokingham, [decided("09:00", **WOKINGHAM_KEEPS_HIGH),
                                           own("09:00", "rosh", "very_high")],
                               prepare=_high_risk_panel)
    assert (got.ratings["rosh"], got.contact_level) == ("very_high", "three_times_weekly")


async def test_S27_release_after_a_judgement_of_its_instant_replaces_the_entry(
        somerset: Tenant) -> None:
    """Somerset 14.3/14.4 (ATTACK35A-8): S27 "phone + email confirmation" with the secure
    estate on custody entry and on release; "It replaces any open step of the same kind (the
    new date replaces the old)". Custody entry at 07:00, release and a ROSH very high at 10:00
    on Tue 24 Nov 2026: one open secure-estate handover, the release's, in both orders."""
    got = await in_every_order(somerset, [happened("10:00", "custody_release"),
                                          own("10:00", "rosh", "very_high")],
                               prepare=_in_custody)
    assert len(steps_of(got, "secure_estate_handover")) == 1


async def _refused_lowering(t: Tenant, first_decision: bool) -> tuple[Any, ...]:
    """The MARP at 09:00 keeps ROSH high; the case holder's ROSH medium is dated 09:00 too.
    Typed decision first (``first_decision``) or medium first: the status of each write and
    the case's ROSH level and register after both."""
    iyss = uuid.uuid4().hex[:12]
    case = (await t.open_case(opened_at="2026-11-02T09:00:00Z",
                              external_ref={"system": "IYSS", "id": iyss}))["data"]["id"]
    urls = await _marp(t, case)

    async def decision() -> int:
        r = await t.client.post(urls["decision"], json={
            **SOMERSET_KEEPS_HIGH, "actions": [], "minutes": "Panel held",
            "occurred_at": f"{DAY}09:00:00Z"}, headers=t.auth("chair", "chair-1"))
        return r.status_code

    async def medium() -> int:
        r = await t.client.post(f"/v1/cases/{case}/judgements",
                                json=judgement_body("rosh", "medium", f"{DAY}09:00:00Z"),
                                headers=t.auth("case_holder"))
        return r.status_code

    statuses = (await decision(), await medium()) if first_decision \
        else tuple(reversed((await medium(), await decision())))
    r = await t.client.get(f"/v1/cases/{case}", headers=t.auth("line_manager"))
    data = r.json()["data"]
    return (*statuses, data["ratings"]["rosh"]["level"], data["on_register"])


async def test_M6_lowering_at_the_sitting_is_refused_in_both_orders(somerset: Tenant) -> None:
    """Somerset 7.2.1 / M6 (ATTACK35A-17 (b)): "The MARP will ... agree any reduction of ROSH
    judgement" ("lowering a registered high needs the panel"). The MARP at 09:00 on Tue 24 Nov
    2026 keeps ROSH high; a case holder's ROSH medium dated 09:00 comes after that decision and
    is refused 409. Typed medium first (accepted then: no decision on file), the decision is
    refused 409 as the medium it would leave after it would be (the statuses are given as
    (decision, medium)): whichever is typed second is refused, as one minute apart."""
    assert await _refused_lowering(somerset, True) == (200, 409, "high", True)
    assert await _refused_lowering(somerset, False) == (409, 201, "medium", False)


async def test_S27_release_back_filled_before_a_later_judgement(somerset: Tenant) -> None:
    """Somerset 14.3/14.4 (ATTACK35A-8, t27's kind): S27 "It replaces any open step of the same
    kind (the new date replaces the old)". Custody entry at 07:00 on Tue 24 Nov 2026, release
    at 10:00, an LoR medium at 10:01 typed before the release (a CMS back-filling the
    release): one open secure-estate handover, the release's, in both orders."""
    got = await in_every_order(somerset, [happened("10:00", "custody_release"),
                                          own("10:01", "lor", "medium")], prepare=_in_custody)
    assert subjects_of(got, "secure_estate_handover") == ["10:00 event"]
