"""Attack pass 15, the mend9 findings, through HTTP on real dates (Monday 19 to Friday 30 October
2026; British Summer Time ends on 25 October).

A15-1 (release half), A15-10 (one event reported by two channels), A15-2 (transfers out).
"""

from __future__ import annotations

from typing import Any

from tests.api.integrity_support import assert_problem
from tests.api.test_assessments import case_steps
from tests.api.test_events import patch, post_event
from tests.conftest import Tenant


def open_codes(steps: list[dict[str, Any]], code: str) -> list[dict[str, Any]]:
    """The open steps of ``code``."""
    return [s for s in steps if s["code"] == code and s["status"] == "open"]


# --- A15-1, release half -----------------------------------------------------------------------

async def test_W4_W5_a_release_recorded_both_ways_asks_once(wokingham: Tenant) -> None:
    """W4, W5 ("Internal and External Controls": "Where there is a change of circumstances,
    context or a new incident of concern becomes known to the PYJS worker, this must be recorded
    on the IYSS case management system within one working day and immediately be reported to
    the line manager"). Attack pass 15, A15-1: IYSS recorded the release as ``in_custody: false``
    (PATCH) and then sent the ``custody_release`` event for the same move: W4 and W5 were asked
    twice. Once each; a release on a case never recorded in custody is a real release and asks
    them."""
    case = (await wokingham.open_case())["data"]
    await patch(wokingham, case["id"], {"in_custody": True,
                                        "occurred_at": "2026-10-19T10:00:00Z"})
    await patch(wokingham, case["id"], {"in_custody": False,
                                        "occurred_at": "2026-10-23T15:00:00Z"})
    before = await case_steps(wokingham, case["id"])
    await post_event(wokingham, case["id"], type="custody_release",
                     occurred_at="2026-10-23T15:30:00Z")
    after = await case_steps(wokingham, case["id"])
    for code in ("record_incident", "report_to_line_manager"):
        assert len(open_codes(after, code)) == len(open_codes(before, code)), code
    never = (await wokingham.open_case())["data"]
    body = await post_event(wokingham, never["id"], type="custody_release",
                            occurred_at="2026-10-23T15:30:00Z")
    raised = {s["code"]: s["policy"]["rule"] for s in body["next_steps"]
              if s["subject_id"] == body["data"]["id"]}
    assert raised["record_incident"] == "W4"
    assert raised["report_to_line_manager"] == "W5"


async def test_S27_a_release_recorded_both_ways_asks_once(somerset: Tenant) -> None:
    """S27 (14.4 "When children are transferred into the community from a secure setting, case
    holders will communicate with the secure establishment by telephone and confirm by e-mail
    that all relevant documentation has been received"). Attack pass 15, A15-1 in the
    other pack: a release recorded as ``in_custody: false`` and then as the ``custody_release``
    event asked the handover twice. Once."""
    case = (await somerset.open_case())["data"]
    await patch(somerset, case["id"], {"in_custody": True,
                                       "occurred_at": "2026-10-19T10:00:00Z"})
    await patch(somerset, case["id"], {"in_custody": False,
                                       "occurred_at": "2026-10-23T15:00:00Z"})
    before = len(open_codes(await case_steps(somerset, case["id"]), "secure_estate_handover"))
    await post_event(somerset, case["id"], type="custody_release",
                     occurred_at="2026-10-23T15:30:00Z")
    after = open_codes(await case_steps(somerset, case["id"]), "secure_estate_handover")
    assert (before, len(after)) == (1, 1)
