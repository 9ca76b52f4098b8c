"""A back-filled judgement is the level before the next one in time: ``previous_level`` reads in
the order things happened, whatever the typing order (attack 26b, ATTACK26B-4).

Somerset YJT 2023, 6.1: a review follows "any level change"; contract: the timeline "lists
everything in the order it happened". ROSH high on 10 March recorded first, then medium on 5
March, low on 12 March and very high on 11 March, all back-filled: high kept ``previous_level``
null (as if it were the first judgement) and low kept "high" (lowered from high, though very
high came between). Now each judgement's previous level is the one before it in time, in the
judgements list and the timeline alike.
"""

from __future__ import annotations

from tests.api.integrity_support import judge
from tests.conftest import Tenant

TYPED = [("high", "2026-03-10T10:00:00Z"), ("medium", "2026-03-05T10:00:00Z"),
         ("low", "2026-03-12T10:00:00Z"), ("very_high", "2026-03-11T10:00:00Z")]
IN_TIME = [("2026-03-05T10:00:00Z", "medium", None), ("2026-03-10T10:00:00Z", "high", "medium"),
           ("2026-03-11T10:00:00Z", "very_high", "high"),
           ("2026-03-12T10:00:00Z", "low", "very_high")]


async def test_previous_level_follows_the_order_of_events(somerset: Tenant) -> None:
    """The four judgements typed out of order: listed (and on the timeline) each with the level
    before it in time; the current rating is the latest in time (low)."""
    case = (await somerset.open_case(opened_at="2026-03-01T10:00:00Z"))["data"]["id"]
    for level, at in TYPED:
        await judge(somerset, case, "rosh", level, at)
    r = await somerset.client.get(f"/v1/cases/{case}/judgements", params={"limit": 50},
                                  headers=somerset.auth("line_manager"))
    assert r.status_code == 200, r.text
    listed = sorted((j["occurred_at"], j["level"], j["previous_level"]) for j in r.json()["data"])
    assert listed == IN_TIME
    r = await somerset.client.get(f"/v1/cases/{case}/timeline", params={"limit": 200},
                                  headers=somerset.auth("line_manager"))
    assert r.status_code == 200, r.text
    shown = sorted((e["at"], e["details"]["level"], e["details"]["previous_level"])
                   for e in r.json()["data"] if e["kind"] == "judgement")
    assert shown == IN_TIME
    r = await somerset.client.get(f"/v1/cases/{case}", headers=somerset.auth("line_manager"))
    assert r.json()["data"]["ratings"]["rosh"]["level"] == "low"
