"""Attack 25, A25-1: a former case holder made the case's line manager was refused the Somerset
monthly manager review (S11) of the period they held (A24a-5), but the step stayed in their
name: in their queue, escalating as theirs, in no duty manager's queue. Now it stands in to the
duty managers at the reassignment, and goes back to the line manager once a later reassignment
makes someone who did not hold the case the line manager."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from sqlmodel import col

from app.core.db import build_engine, session_factory
from app.core.security import mint_dev_token
from app.domain.steps import Step
from tests.api.fidelity_support import pin
from tests.api.integrity_support import (
    former_holder_made_line_manager,
    judge,
    patch_case,
    steps_of,
)
from tests.api.test_attack24a_former_holder import _case
from tests.conftest import Tenant


async def test_S11_a_former_holder_made_line_manager_is_stood_in_for_by_the_duty_managers(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """Somerset 4.5 (S11): "It is the responsibility of line managers to review all cases where
    there is a High or Very High ROSH and/or Safety and Well-Being rating with case holders at
    least monthly". case_holder-1 records SWB high (S11 to line_manager-1); a duty manager swaps
    the two: the review of the month case_holder-1 held goes to the duty managers (unassigned,
    "Stood in:" note, listed in the answer), in the duty managers' queue
    (``actor=duty_manager``, as any stand-in) and not in case_holder-1's; made line
    manager, line_manager-2 (never held it) gets it back."""
    case, review, swap = await former_holder_made_line_manager(somerset, monkeypatch)
    listed = {s["id"]: s for s in swap["reassigned_steps"]}[review["id"]]
    assert (listed["actor"], listed["assignee_id"]) == ("duty_manager", None)
    moved = {s["id"]: s for s in await steps_of(somerset, case)}[review["id"]]
    assert (moved["actor"], moved["assignee_id"]) == ("duty_manager", None)
    assert "Stood in: the line manager (case_holder-1) held the case in the period under " \
        "review" in moved["note"]
    token = mint_dev_token(somerset.settings, sub="case_holder-1", roles=["line_manager"],
                           service=somerset.slug)
    mine = await somerset.client.get("/v1/next-steps", params={"assignee": "me", "limit": 200},
                                     headers={"Authorization": f"Bearer {token}"})
    assert review["id"] not in {s["id"] for s in mine.json()["data"]}
    duty = await somerset.client.get("/v1/next-steps",
                                     params={"actor": "duty_manager", "limit": 200},
                                     headers=somerset.auth("duty_manager"))
    assert review["id"] in {s["id"] for s in duty.json()["data"]}
    r = await patch_case(somerset, case, {"line_manager_id": "line_manager-2"},
                         role="duty_manager")
    assert r.status_code == 200, r.text
    back = {s["id"]: s for s in await steps_of(somerset, case)}[review["id"]]
    assert (back["actor"], back["assignee_id"]) == ("line_manager", "line_manager-2")
    assert "Given back: the line manager (line_manager-2)" in back["note"]


async def test_S5_a_step_stood_in_for_a_former_holder_is_not_given_back_to_them_by_a_later_settle(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """Somerset 3.1 (S5, stand-in duty manager): "Where the line manager is unavailable, the duty
    manager will ..." and 4.5: a manager does not check the period they held the case.
    case_holder-1 records ROSH high (S5 to line_manager-1); case_holder-2 takes the case, then
    becomes its line manager: S5 stands in to the duty managers. A later reassignment (a new
    holder) settles the case again: S5 must stay with the duty managers, not go back to
    case_holder-2, who held the case since it was raised (the give-back of a pack stand-in
    checked who recorded the judgement, not who held the case)."""
    case = await _case(somerset, monkeypatch)
    pin(monkeypatch, 2026, 8, 28, 14, 0)
    body = await judge(somerset, case, "rosh", "high", "2026-08-20T09:00:00Z")
    s5 = next(s for s in body["next_steps"] if s["code"] == "discuss_with_manager")
    for change in ({"case_holder_id": "case_holder-2"},
                   {"case_holder_id": "case_holder-1", "line_manager_id": "case_holder-2"}):
        r = await patch_case(somerset, case, change, role="duty_manager")
        assert r.status_code == 200, r.text
    moved = {s["id"]: s for s in await steps_of(somerset, case)}[s5["id"]]
    assert (moved["actor"], moved["assignee_id"]) == ("duty_manager", None)
    r = await patch_case(somerset, case, {"case_holder_id": "line_manager-2"},
                         role="duty_manager")
    assert r.status_code == 200, r.text
    kept = {s["id"]: s for s in await steps_of(somerset, case)}[s5["id"]]
    assert (kept["actor"], kept["assignee_id"]) == ("duty_manager", None)


async def test_S11_a_held_stand_in_goes_back_whatever_its_note_says(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """Somerset 4.5 (S11) as above: why the review stood in is the record's (who held the case
    when, from the holder history), not its note's text, which is for people and is cut to its
    column's length. The note of the review stood in for case_holder-1 is replaced (no "Stood
    in" line left); made line manager, line_manager-2 (never held the case) still gets it back
    (left14a: the give-back read the reason from the note's last "Stood in" line)."""
    case, review, _ = await former_holder_made_line_manager(somerset, monkeypatch)
    engine = build_engine(somerset.settings)
    try:
        async with session_factory(engine)() as session:
            conn = await session.connection()
            await conn.execute(sa.update(Step).where(col(Step.id) == uuid.UUID(review["id"]))
                               .values(note="Monthly review of the case."))
            await session.commit()
    finally:
        await engine.dispose()
    r = await patch_case(somerset, case, {"line_manager_id": "line_manager-2"},
                         role="duty_manager")
    assert r.status_code == 200, r.text
    back = {s["id"]: s for s in await steps_of(somerset, case)}[review["id"]]
    assert (back["actor"], back["assignee_id"]) == ("line_manager", "line_manager-2")
