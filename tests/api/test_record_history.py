"""What the record says about its own past (attack pass 9, A9-23): who opened the case, and the
level a back-filled judgement followed."""

from __future__ import annotations

from typing import Any

from tests.conftest import Tenant


async def _judge(t: Tenant, case_id: str, level: str, at: str) -> dict[str, Any]:
    r = await t.client.post(f"/v1/cases/{case_id}/judgements", headers=t.auth("case_holder"),
                            json={"domain": "swb", "level": level, "rationale": "r",
                                  "occurred_at": at})
    assert r.status_code == 201, r.text
    return r.json()["data"]  # type: ignore[no-any-return]


async def test_a_back_filled_judgement_follows_the_level_before_it_in_time(
        somerset: Tenant) -> None:
    """SWB medium on Monday 10 August 2026 and high on Friday 28 August; a judgement of low
    dated Thursday 20 August, typed in afterwards, followed the medium (not the high recorded
    before it was typed); one dated before any followed none."""
    case = (await somerset.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]["id"]
    assert (await _judge(somerset, case, "medium", "2026-08-10T10:00:00+01:00")
            )["previous_level"] is None
    assert (await _judge(somerset, case, "high", "2026-08-28T10:00:00+01:00")
            )["previous_level"] == "medium"
    assert (await _judge(somerset, case, "low", "2026-08-20T10:00:00+01:00")
            )["previous_level"] == "medium"
    assert (await _judge(somerset, case, "low", "2026-08-05T10:00:00+01:00")
            )["previous_level"] is None
    r = await somerset.client.get(f"/v1/cases/{case}", headers=somerset.auth("line_manager"))
    assert r.json()["data"]["ratings"]["swb"]["level"] == "high"


async def test_the_timeline_says_who_opened_the_case(somerset: Tenant) -> None:
    """The opening entry names who opened it and under which role, as its audit entry does."""
    case = (await somerset.open_case())["data"]["id"]
    r = await somerset.client.get(f"/v1/cases/{case}/timeline", params={"limit": 200},
                                  headers=somerset.auth("line_manager"))
    assert r.status_code == 200, r.text
    opened = next(e for e in r.json()["data"] if e["action"] == "opened")
    assert (opened["by"], opened["role"]) == ("line_manager-1", "line_manager")


async def test_W9_an_undated_marf_says_when_it_will_be_dated_and_nothing_else(
        wokingham: Tenant) -> None:
    """W9 (Management of Safety and Well-being concerns): a MARF "within two working days of the
    assessment being completed"; "An assessment (Asset+ or mini-asset) is not considered complete
    until it has been counter signed by a line manager". SWB high recorded on Friday 28 August
    2026 without its assessment: the MARF step is undated and its note says the deadline is set
    when the next assessment is countersigned, without also saying the policy sets no timescale
    (attack pass 9, A9-23: the note said both)."""
    case = (await wokingham.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]["id"]
    r = await wokingham.client.post(
        f"/v1/cases/{case}/judgements", headers=wokingham.auth("case_holder"),
        json={"domain": "swb", "level": "high", "rationale": "r",
              "occurred_at": "2026-08-28T10:00:00+01:00"})
    assert r.status_code == 201, r.text
    [marf] = [s for s in r.json()["next_steps"] if s["code"] == "marf_referral"]
    assert (marf["actor"], marf["due_at"], marf["policy"]["rule"]) == (
        "case_holder", None, "W9")
    assert marf["policy"]["ref"] == "Management of Safety and Well-being concerns"
    assert "the deadline is set when the next assessment is countersigned" in marf["note"]
    assert "no timescale" not in marf["note"]
