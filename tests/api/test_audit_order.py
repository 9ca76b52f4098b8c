"""One write is one act in the audit trail: its entries carry one time, and the record comes
before the steps it mandated (the outside tester saw a case's ``step.create`` stamped, and
chained, before its ``case.create``)."""

from __future__ import annotations

from tests.api.integrity_support import audit_of, judge
from tests.conftest import Tenant


async def test_case_create_comes_before_the_steps_it_raises(somerset: Tenant) -> None:
    """Opening a case raises S1 and more: ``case.create`` first, every entry of the write at
    the same time."""
    case = (await somerset.open_case())["data"]
    trail = await audit_of(somerset, case["id"])
    assert trail[0]["action"] == "case.create"
    assert {e["action"] for e in trail[1:]} == {"step.create"}
    assert len({e["at"] for e in trail}) == 1


async def test_judgement_comes_before_its_steps_and_after_the_case(somerset: Tenant) -> None:
    """A high ROSH judgement and the S5-S11 steps it asks for: the judgement's entry leads its
    write, and the write follows the case's opening."""
    case = (await somerset.open_case())["data"]
    opened = len(await audit_of(somerset, case["id"]))
    await judge(somerset, case["id"], "rosh", "high", "2026-08-28T15:30:00+01:00")
    write = (await audit_of(somerset, case["id"]))[opened:]
    assert write[0]["action"] == "judgement.record"
    assert {e["action"].split(".")[0] for e in write[1:]} == {"step"}
    assert len({e["at"] for e in write}) == 1
