"""Attack 24a: a former case holder checks their own work.

A24a-1: Somerset: a former holder chairing the MARP decided the case they held (the S20 review
booked while they held it; a MARP sitting on a day they still held it; a rating they judged)
and lowered its ROSH, off the register: bead204's check covered only Wokingham's step codes and
the holder at recording time. Now every step the decision does (the pack's ``panel_decision*``
closures), the holder at the decision's own date and since the rating under review was judged.

Somerset 7.1.5: "they will agree with panel at the start of the session another panel member
will act as chair for that case"; 7.2.1: "recommendation that the risk level is reduced must be
approved by the panel".
"""

from __future__ import annotations

from typing import Any

import pytest

from app.core.security import mint_dev_token
from tests.api.fidelity_support import pin
from tests.api.integrity_support import (
    assert_problem,
    former_holder_made_line_manager,
    heard_by_marp,
    judge,
    patch_case,
    steps_of,
)
from tests.conftest import Tenant


def _chair(t: Tenant, sub: str) -> dict[str, str]:
    token = mint_dev_token(t.settings, sub=sub, roles=["case_holder", "chair"], service=t.slug)
    return {"Authorization": f"Bearer {token}"}


async def _marp_item(t: Tenant, case: str, sits: str, chair: str, presenter: str
                     ) -> tuple[str, str]:
    r = await t.client.post("/v1/panels", json={"kind": "marp", "scheduled_for": sits,
                                                "chair_id": chair},
                            headers=t.auth("panel_admin"))
    assert r.status_code == 201, r.text
    panel = r.json()["data"]["id"]
    r = await t.client.post(f"/v1/panels/{panel}/items",
                            json={"case_id": case, "presenter_id": presenter},
                            headers=t.auth("panel_admin"))
    assert r.status_code == 201, r.text
    return panel, r.json()["data"]["id"]


async def _decide(t: Tenant, panel: str, item: str, headers: dict[str, str],
                  **body: Any) -> Any:
    return await t.client.post(f"/v1/panels/{panel}/items/{item}/decision",
                               json={"minutes": "m", "rosh_level": "medium", "actions": [],
                                     **body}, headers=headers)


def _refused(r: Any) -> None:
    problem = assert_problem(r, 403)
    assert problem["type"].endswith("/case-holder-cannot-chair"), problem
    assert "held this case" in problem["detail"]


async def _case(t: Tenant, monkeypatch: pytest.MonkeyPatch, **overrides: Any) -> str:
    pin(monkeypatch, 2026, 8, 3, 9, 0)
    case: str = (await t.open_case(opened_at="2026-08-03T08:00:00Z", **overrides))["data"]["id"]
    return case


async def test_S20_a_former_holder_does_not_chair_the_marp_review_booked_while_they_held_it(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """Somerset 7.1.6 "the panel will agree and then book a provisional review date" (S20):
    case_holder-1 held the case when the MARP of 12 August booked its review; handed on to
    case_holder-2 on 28 August, case_holder-1 chairs the review MARP that afternoon and lowers
    the ROSH: 403 ``case-holder-cannot-chair``, nothing done; chair-1 may."""
    case = await _case(somerset, monkeypatch)
    pin(monkeypatch, 2026, 8, 12, 12, 0)
    await judge(somerset, case, "rosh", "high", "2026-08-10T09:00:00Z")
    await heard_by_marp(somerset, case, sits="2026-08-12T09:00:00+00:00",
                        review_date="2026-08-26", rosh_level="high")
    review = next(s for s in await steps_of(somerset, case) if s["code"] == "attend_panel_review")
    pin(monkeypatch, 2026, 8, 28, 14, 0)
    r = await patch_case(somerset, case, {"case_holder_id": "case_holder-2"})
    assert r.status_code == 200, r.text
    pin(monkeypatch, 2026, 8, 28, 15, 40)
    panel, item = await _marp_item(somerset, case, "2026-08-28T14:42:30Z", "case_holder-1",
                                   "case_holder-2")
    _refused(await _decide(somerset, panel, item, _chair(somerset, "case_holder-1")))
    still = {s["id"]: s["status"] for s in await steps_of(somerset, case)}
    assert still[review["id"]] == "open"
    r = await somerset.client.get(f"/v1/cases/{case}", headers=somerset.auth("duty_manager"))
    assert r.json()["data"]["ratings"]["rosh"]["level"] == "high"
    r = await _decide(somerset, panel, item, _chair(somerset, "chair-1"))
    assert r.status_code == 200, r.text


async def test_S29_a_chair_who_held_the_case_at_the_decisions_own_date_does_not_decide_it(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """Somerset 7.1.5 "another panel member will act as chair for that case": the MARP of 26
    August sat while case_holder-1 still held the case (handed on, recorded, on 28 August);
    case_holder-1 records its decision as chair on 28 August: 403, not only the holder at the
    recording. case_holder-3, who never held it, may. (The case is presented by its line
    manager, 7.1.1 "If not available, the line manager will present the case": who presented at
    a sitting stays its presenter after a later handover, A30a-10, and a presenter is refused
    as ``presenter-cannot-chair`` before this rule is reached.)"""
    case = await _case(somerset, monkeypatch)
    pin(monkeypatch, 2026, 8, 10, 12, 0)
    await judge(somerset, case, "rosh", "high", "2026-08-10T09:00:00Z")
    pin(monkeypatch, 2026, 8, 26, 8, 0)
    panel, item = await _marp_item(somerset, case, "2026-08-26T09:00:00Z", "case_holder-1",
                                   "line_manager-1")
    pin(monkeypatch, 2026, 8, 28, 14, 0)
    r = await patch_case(somerset, case, {"case_holder_id": "case_holder-2"})
    assert r.status_code == 200, r.text
    _refused(await _decide(somerset, panel, item, _chair(somerset, "case_holder-1")))
    r = await _decide(somerset, panel, item, _chair(somerset, "case_holder-3"))
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("chair", ["case_holder-1", "case_holder-3"])
async def test_S29_a_chair_who_held_the_case_since_the_rating_under_review_does_not_lower_it(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch, chair: str) -> None:
    """Somerset 7.2.1 "recommendation that the risk level is reduced must be approved by the
    panel": no step the decision does is open from case_holder-1's time (the MARP was listed
    after the handover), but the ROSH high it reviews was judged on 10 August while they held
    the case (handed on 20 August): they do not chair its lowering on 26 August (403).
    case_holder-3 held it until 5 August, before that rating: they may."""
    case = await _case(somerset, monkeypatch, case_holder_id="case_holder-3")
    pin(monkeypatch, 2026, 8, 5, 12, 0)
    r = await patch_case(somerset, case, {"case_holder_id": "case_holder-1"})
    assert r.status_code == 200, r.text
    pin(monkeypatch, 2026, 8, 10, 12, 0)
    await judge(somerset, case, "rosh", "high", "2026-08-10T09:00:00Z")
    pin(monkeypatch, 2026, 8, 20, 12, 0)
    r = await patch_case(somerset, case, {"case_holder_id": "case_holder-2"})
    assert r.status_code == 200, r.text
    pin(monkeypatch, 2026, 8, 25, 12, 0)
    panel, item = await _marp_item(somerset, case, "2026-08-26T09:00:00Z", chair,
                                   "case_holder-2")
    pin(monkeypatch, 2026, 8, 26, 12, 0)
    r = await _decide(somerset, panel, item, _chair(somerset, chair))
    if chair == "case_holder-3":
        assert r.status_code == 200, r.text
        return
    _refused(r)


@pytest.mark.parametrize("field", ["case_holder_id", "line_manager_id"])
async def test_S11_a_reassignment_is_not_dated_before_the_latest_act_on_the_case(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch, field: str) -> None:
    """A24a-8: Somerset 4.5 (S11) "It is the responsibility of line managers to review all
    cases where there is a High or Very High ROSH and/or Safety and Well-Being rating with case
    holders at least monthly". case_holder-1 records SWB high on 20 August (S11 raised); a
    handover dated 5 August would erase their holding period from the history the
    former-holder checks read: 422 ``occurred-before-bound`` ("the latest act recorded on the
    case", as for a closure), nothing changed. Handed on undated (now), case_holder-1 on the
    duty rota may not do S11 (403)."""
    case = await _case(somerset, monkeypatch)
    pin(monkeypatch, 2026, 8, 28, 14, 0)
    body = await judge(somerset, case, "swb", "high", "2026-08-20T09:00:00Z")
    review = next(s for s in body["next_steps"] if s["code"] == "monthly_manager_review")
    new = {"case_holder_id": "case_holder-2", "line_manager_id": "line_manager-2"}[field]
    r = await patch_case(somerset, case, {field: new, "occurred_at": "2026-08-05T10:00:00+01:00"})
    problem = assert_problem(r, 422)
    assert problem["type"].endswith("/occurred-before-bound"), problem
    assert "latest act recorded on the case" in r.text
    r = await somerset.client.get(f"/v1/cases/{case}", headers=somerset.auth("duty_manager"))
    assert r.json()["data"][field] != new
    if field == "line_manager_id":
        return
    r = await patch_case(somerset, case, {field: new})
    assert r.status_code == 200, r.text
    token = mint_dev_token(somerset.settings, sub="case_holder-1", roles=["duty_manager"],
                           service=somerset.slug)
    r = await somerset.client.post(f"/v1/next-steps/{review['id']}/complete",
                                   json={"note": "own"},
                                   headers={"Authorization": f"Bearer {token}"})
    assert "held this case" in assert_problem(r, 403)["detail"]


async def test_S11_a_former_holder_made_line_manager_does_not_review_the_month_they_held(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """A24a-5: Somerset 4.5 (S11) "It is the responsibility of line managers to review all
    cases where there is a High or Very High ROSH and/or Safety and Well-Being rating with case
    holders at least monthly": case_holder-1 records SWB high on 20 August (S11 raised, to
    line_manager-1); a duty manager swaps the two (holder line_manager-1, line manager
    case_holder-1). The step stands in to the duty managers (A25-1); case_holder-1 may not
    complete it, even holding the duty manager role (403, held this case); a duty manager who
    never held the case does (200)."""
    case, review, _ = await former_holder_made_line_manager(somerset, monkeypatch)
    moved = {s["id"]: s for s in await steps_of(somerset, case)}[review["id"]]
    # A25-1: no longer left in their name: stood in to the duty managers.
    assert (moved["actor"], moved["assignee_id"]) == ("duty_manager", None)
    token = mint_dev_token(somerset.settings, sub="case_holder-1", roles=["line_manager"],
                           service=somerset.slug)
    r = await somerset.client.post(f"/v1/next-steps/{review['id']}/complete",
                                   json={"note": "own"},
                                   headers={"Authorization": f"Bearer {token}"})
    # A25-1: the step is the duty managers' now, which case_holder-1 is not.
    problem = assert_problem(r, 403)
    assert problem["detail"] == \
        "Only the assignee, or a holder of the step's role, may complete it."
    both = mint_dev_token(somerset.settings, sub="case_holder-1",
                          roles=["line_manager", "duty_manager"], service=somerset.slug)
    r = await somerset.client.post(f"/v1/next-steps/{review['id']}/complete",
                                   json={"note": "own"},
                                   headers={"Authorization": f"Bearer {both}"})
    problem = assert_problem(r, 403)
    assert "held this case" in problem["detail"]
    r = await somerset.client.post(f"/v1/next-steps/{review['id']}/complete",
                                   json={"note": "Reviewed."},
                                   headers=somerset.auth("duty_manager"))
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("access", [{"excluded_staff": ["case_holder-3"]},
                                    {"allowed_staff": ["case_holder-1", "line_manager-1",
                                                       "chair-1"]}])
async def test_S18_a_restriction_hands_an_open_panel_action_of_an_owner_it_shuts_out_to_the_holder(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch, access: dict[str, Any]) -> None:
    """A24a-6 (regression; not reproduced on main): Somerset 7.1.7 "Case holders will ensure any
    required actions are taken" (S18): the MARP of 26 August gives case_holder-3 an action; the
    line manager then restricts the case so as to shut case_holder-3 out: the open action goes
    to the case holder with a note (listed in reassigned_steps, in their queue), not left in
    the name of someone who can no longer see it."""
    case = await _case(somerset, monkeypatch)
    pin(monkeypatch, 2026, 8, 26, 8, 0)
    await judge(somerset, case, "rosh", "high", "2026-08-20T09:00:00Z")
    panel, item = await _marp_item(somerset, case, "2026-08-26T09:00:00Z", "chair-1",
                                   "case_holder-1")
    pin(monkeypatch, 2026, 8, 28, 14, 0)
    r = await _decide(somerset, panel, item, _chair(somerset, "chair-1"), rosh_level="high",
                      review_date="2026-09-23",
                      actions=[{"description": "Acts", "owner_id": "case_holder-3",
                                "due_date": "2026-09-10"}])
    assert r.status_code == 200, r.text
    action = next(s for s in r.json()["next_steps"] if s["code"] == "panel_action")
    assert action["assignee_id"] == "case_holder-3"
    r = await patch_case(somerset, case, {"access": access})
    assert r.status_code == 200, r.text
    [moved] = [s for s in r.json()["reassigned_steps"] if s["id"] == action["id"]]
    assert moved["assignee_id"] == "case_holder-1"
    assert "case_holder-3 may no longer see the case" in moved["note"]
    mine = await somerset.client.get("/v1/next-steps", params={"assignee": "me"},
                                     headers=somerset.auth("case_holder", "case_holder-1"))
    assert action["id"] in {s["id"] for s in mine.json()["data"]}
