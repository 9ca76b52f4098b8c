"""Attack 18, A18-9: a panel that sat while the case was closed cannot hear it.

Somerset 3.2.3 (refer the case to the next YJT MARP) and 7.1.2 (the chair records the decision):
a MARP that sat between a closure and the reopening took the reopened case onto its agenda (201),
answered the referral with it, and gave the chair a ``record_panel_decision`` that no decision
could discharge (422: dated inside the closed period), that could not be completed (409) nor
waived (403). Now listing is refused like a panel before the opening (one rule:
``panel-while-case-closed`` beside ``panel-before-case``, the same shape), and an item that got
there before (legacy rows) is refused a decision with the remedy named: withdraw the item.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from app.core.db import build_engine, session_factory
from app.domain.cases_table import Case
from tests.api.fidelity_support import pin, with_matrix
from tests.api.integrity_support import assert_problem, patch_case, steps_of
from tests.conftest import Tenant

OPENED = "2026-08-03T09:00:00+01:00"
CLOSE = {"closed_at": "2026-08-20T10:00:00+01:00", "closure_reason": "Moved away"}
REOPEN = {"closed_at": None, "reopen_reason": "Back in the area",
          "occurred_at": "2026-08-24T10:00:00+01:00"}
WHILE_CLOSED = "2026-08-21T10:00:00+01:00"
HIGH_AT = "2026-08-26T10:00:00+01:00"
DECISION = {"rosh_level": "high", "review_date": "2026-10-12", "minutes": "m",
            "actions": [{"description": "x", "owner_id": "case_holder-1",
                         "due_date": "2026-09-21"}]}


async def _book(t: Tenant, when: str) -> str:
    r = await t.client.post("/v1/panels", json={"kind": "marp", "scheduled_for": when,
                                                "chair_id": "chair-kim"},
                            headers=t.auth("panel_admin"))
    assert r.status_code == 201, r.text
    return str(r.json()["data"]["id"])


async def _list(t: Tenant, panel: str, case_id: str) -> httpx.Response:
    return await t.client.post(f"/v1/panels/{panel}/items",
                               json={"case_id": case_id, "presenter_id": "case_holder-1"},
                               headers=t.auth("panel_admin"))


async def _agenda(t: Tenant, panel: str) -> list[dict[str, Any]]:
    r = await t.client.get(f"/v1/panels/{panel}", headers=t.auth("chair", "chair-kim"))
    assert r.status_code == 200, r.text
    return r.json()["data"]["items"]  # type: ignore[no-any-return]


async def _closed_and_reopened_high_case(t: Tenant) -> str:
    """Opened 3 Aug 2026, closed 20 Aug, reopened (dated) 24 Aug, ROSH high on 26 Aug: owes
    S7's referral to the next MARP."""
    case = (await t.open_case(opened_at=OPENED))["data"]["id"]
    for body in (CLOSE, REOPEN):
        r = await patch_case(t, case, body)
        assert r.status_code == 200, r.text
    r = await t.client.post(f"/v1/cases/{case}/judgements", headers=t.auth("case_holder"),
                            json=with_matrix(t.pack, {"domain": "rosh", "level": "high",
                                                      "victims": ["public"],
                                                      "occurred_at": HIGH_AT}))
    assert r.status_code == 201, r.text
    return str(case)


async def test_S7_a_MARP_that_sat_while_the_case_was_closed_does_not_take_it(
    somerset: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The MARP of Fri 21 Aug 2026 (booked on the 28th, a sitting recorded late) sat while the
    case was closed (20 to 24 Aug): listing the case on it is 422 ``panel-while-case-closed``,
    shaped as ``panel-before-case`` (``errors`` at ``body.case_id``, no date of the case),
    nothing stored, no chair's duty, and S7's referral stays owed; a MARP after the reopening
    takes the case (201) and answers the referral."""
    pin(monkeypatch, 2026, 8, 28, 14, 35)
    case = await _closed_and_reopened_high_case(somerset)
    assert "refer_to_panel" in {s["code"] for s in await steps_of(somerset, case)}
    sat_closed = await _book(somerset, WHILE_CLOSED)
    problem = assert_problem(await _list(somerset, sat_closed, case), 422)
    assert problem["type"].endswith("/panel-while-case-closed")
    assert [e["loc"] for e in problem["errors"]] == ["body.case_id"]
    assert "2026-08" not in str(problem)
    assert await _agenda(somerset, sat_closed) == []
    owed = {s["code"] for s in await steps_of(somerset, case)}
    assert "refer_to_panel" in owed
    assert "record_panel_decision" not in owed
    before = await _book(somerset, "2026-07-31T10:00:00+01:00")
    problem = assert_problem(await _list(somerset, before, case), 422)
    assert problem["type"].endswith("/panel-before-case")
    assert [e["loc"] for e in problem["errors"]] == ["body.case_id"]
    after = await _book(somerset, "2026-09-29T10:00:00+01:00")
    r = await _list(somerset, after, case)
    assert r.status_code == 201, r.text
    owed = {s["code"] for s in await steps_of(somerset, case)}
    assert "refer_to_panel" not in owed
    assert "record_panel_decision" in owed


async def test_a_moved_MARP_cannot_land_in_a_closed_period(
    somerset: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Twin: the MARP the case is on cannot be moved into the period the case was closed (that
    period is past: 422 ``moved-into-past``), so its item keeps a sitting while the case was
    open."""
    pin(monkeypatch, 2026, 8, 28, 14, 35)
    case = await _closed_and_reopened_high_case(somerset)
    panel = await _book(somerset, "2026-09-29T10:00:00+01:00")
    assert (await _list(somerset, panel, case)).status_code == 201
    r = await somerset.client.post(f"/v1/panels/{panel}/reschedule",
                                   json={"scheduled_for": WHILE_CLOSED},
                                   headers=somerset.auth("panel_admin"))
    assert assert_problem(r, 422)["type"].endswith("/moved-into-past")


async def test_an_item_listed_before_the_fix_is_refused_its_decision_with_the_remedy(
    somerset: Tenant, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An item stored before A18-9 on a MARP that sat while the case was closed (made here by
    recording the closed period under an item listed on it): its decision, however dated, is
    422 ``panel-while-case-closed`` saying to withdraw the item, and withdrawing it (the
    chair, who keeps the agenda) supersedes the chair's ``record_panel_decision``."""
    pin(monkeypatch, 2026, 8, 28, 14, 35)
    case = (await somerset.open_case(opened_at=OPENED))["data"]["id"]
    r = await somerset.client.post(
        f"/v1/cases/{case}/judgements", headers=somerset.auth("case_holder"),
        json=with_matrix(somerset.pack, {"domain": "rosh", "level": "high",
                                         "victims": ["public"],
                                         "occurred_at": "2026-08-10T10:00:00+01:00"}))
    assert r.status_code == 201, r.text
    panel = await _book(somerset, WHILE_CLOSED)
    listed = await _list(somerset, panel, case)
    assert listed.status_code == 201, listed.text
    item = listed.json()["data"]["id"]
    engine = build_engine(settings)
    try:
        async with session_factory(engine)() as session:
            row = await session.get(Case, uuid.UUID(case))
            assert row is not None
            row.closed_periods = [["2026-08-20T09:00:00Z", "2026-08-24T09:00:00Z"]]
            session.add(row)
            await session.commit()
    finally:
        await engine.dispose()
    chair = somerset.auth("chair", "chair-kim")
    for when in (None, "2026-08-25T10:00:00+01:00"):
        body = DECISION if when is None else {**DECISION, "occurred_at": when}
        r = await somerset.client.post(f"/v1/panels/{panel}/items/{item}/decision", json=body,
                                       headers=chair)
        problem = assert_problem(r, 422)
        assert problem["type"].endswith("/panel-while-case-closed")
        assert "Withdraw the item" in problem["detail"]
    r = await somerset.client.post(f"/v1/panels/{panel}/items/{item}/withdraw",
                                   json={"reason": "sat while the case was closed"},
                                   headers=chair)
    assert r.status_code == 200, r.text
    assert "record_panel_decision" not in {s["code"] for s in await steps_of(somerset, case)}
