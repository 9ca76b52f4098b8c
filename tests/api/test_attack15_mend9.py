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


# --- A15-10: one event reported by two channels --------------------------------------------------

async def test_S23_W24_one_charge_reported_by_the_holder_and_by_iyss_notifies_once(
        somerset: Tenant, wokingham: Tenant) -> None:
    """S23 (Somerset 12 "Somerset YJT will complete notification within the expected timeframes
    for any child who is charged with any notifiable offence"), W24. Attack pass 15, A15-10: the
    case holder recorded the charge and the IYSS feed sent the same charge (same type, same
    occurred_at): two CSPPI notifications. The second report is 200 with the first event and
    raises nothing again (audited ``case_event.reported_again``); a charge at another time, or
    the same time with a detail stated differently, is another event (201)."""
    for t in (somerset, wokingham):
        case = (await t.open_case())["data"]
        url = f"/v1/cases/{case['id']}/events"
        first = await post_event(t, case["id"], type="charged",
                                 occurred_at="2026-10-21T14:00:00+01:00",
                                 details={"offence": "robbery"})
        r = await t.client.post(url, json={"type": "charged",
                                           "occurred_at": "2026-10-21T13:00:00Z"},
                                headers=t.auth("feed", "iyss", scope="cms"))
        assert r.status_code == 200, r.text
        assert r.json()["data"]["id"] == first["data"]["id"]
        steps = await case_steps(t, case["id"])
        assert len(open_codes(steps, "notify_serious_incident")) == 1, t.pack
        audit = await t.client.get(f"/v1/cases/{case['id']}/audit",
                                   headers=t.auth("line_manager"))
        again = [e for e in audit.json()["data"] if e["action"] == "case_event.reported_again"]
        assert [e["role"] for e in again] == ["feed"]
        other = await t.client.post(url, json={"type": "charged",
                                               "occurred_at": "2026-10-21T13:00:00Z",
                                               "details": {"offence": "burglary"}},
                                    headers=t.auth("feed", "iyss", scope="cms"))
        assert other.status_code == 201, other.text
        steps = await case_steps(t, case["id"])
        assert len(open_codes(steps, "notify_serious_incident")) == 2, t.pack


# --- A15-2: transfers out ------------------------------------------------------------------------

async def test_S30_S31_a_transfer_dated_before_its_event_is_refused(somerset: Tenant) -> None:
    """S30, S31 (13.4.1 "the Somerset YJT case holder will ensure that all the relevant
    documentation is up to date and included with the transfer/care taking request"; 13.4.3
    "prior to the transfer of the child"). Attack pass 15, A15-2: a ``transfer_out`` of Friday
    23 October naming a transfer on Tuesday 20 October was accepted, its steps overdue at birth.
    The contract dates an event when it happened: 422 ``transfer-date-before-event`` naming the
    event's date (record a transfer arranged earlier with its own ``occurred_at``); the same
    day is accepted."""
    case = (await somerset.open_case())["data"]
    url = f"/v1/cases/{case['id']}/events"
    r = await somerset.client.post(url, json={"type": "transfer_out",
                                              "occurred_at": "2026-10-23T10:00:00+01:00",
                                              "transfer_date": "2026-10-20"},
                                   headers=somerset.auth("case_holder"))
    problem = assert_problem(r, 422)
    assert problem["type"].endswith("transfer-date-before-event")
    assert problem["errors"][0]["loc"] == "body.transfer_date"
    assert problem["bound"]["value"] == "2026-10-23"
    await post_event(somerset, case["id"], type="transfer_out",
                     occurred_at="2026-10-23T10:00:00+01:00", transfer_date="2026-10-23")


async def test_S30_S31_a_second_transfer_out_supersedes_the_first(somerset: Tenant) -> None:
    """S30, S31 (13.4.1, 13.4.2 "The line manager will check all documentation and sign off
    relevant ASSETPLUS stage"). Attack pass 15, A15-2: a transfer out on Monday 19 October for
    Friday 30 October, then another on Wednesday 21 October for Friday 6 November, left both
    sets of steps open. The second supersedes the first's (audited with the reason); its own
    stay open, due before 6 November."""
    case = (await somerset.open_case())["data"]
    first = await post_event(somerset, case["id"], type="transfer_out",
                             occurred_at="2026-10-19T10:00:00+01:00", transfer_date="2026-10-30")
    second = await post_event(somerset, case["id"], type="transfer_out",
                              occurred_at="2026-10-21T10:00:00+01:00",
                              transfer_date="2026-11-06")
    steps = await case_steps(somerset, case["id"])
    for code in ("prepare_transfer_documentation", "sign_off_transfer_documentation"):
        live = open_codes(steps, code)
        assert [(s["subject_id"], s["due_at"]) for s in live] == [
            (second["data"]["id"], "2026-11-06T00:00:00Z")], code
    r = await somerset.client.get(f"/v1/cases/{case['id']}/audit",
                                  headers=somerset.auth("line_manager"))
    superseded = [e for e in r.json()["data"] if e["action"] == "step.supersede"
                  and second["data"]["id"] in (e.get("reason") or "")]
    assert len(superseded) >= 2
    assert first["data"]["id"] not in {s["subject_id"] for s in steps if s["status"] == "open"}
