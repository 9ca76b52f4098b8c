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
        audit = await t.client.get(f"/v1/cases/{case['id']}/audit", params={"limit": 200},
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

TRANSFER_STEPS = ("manager_handover_call", "prepare_transfer_documentation",
                  "sign_off_transfer_documentation")


async def _high_swb_case(t: Tenant) -> str:
    """A Somerset case opened Mon 2 Mar 2026 with SWB high (so 13.4.3's call is owed)."""
    case = (await t.open_case())["data"]
    r = await t.client.post(f"/v1/cases/{case['id']}/judgements",
                            json={"domain": "swb", "level": "high",
                                  "occurred_at": "2026-03-03T10:00:00Z"},
                            headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text
    return str(case["id"])


async def test_S26_S30_S31_a_transfer_out_recorded_after_its_date_is_due_at_once(
        somerset: Tenant) -> None:
    """S26, S30, S31: 13.4.3 "the line manager ... will speak to the appropriate manager ...
    prior to the transfer of the child or, in exceptional circumstances, as soon as possible
    thereafter". Attack pass 17, A17-8 (this test replaces A15-2's 422
    ``transfer-date-before-event``, which left the late case unrecordable): a ``transfer_out`` of
    Friday 23 October 2026 naming a transfer on Tuesday 20 October is accepted; each
    ``before-transfer`` step is due at the event (23 Oct 09:00Z), urgent, with a note giving the
    transfer date, never before it was raised (as ``release-6m``)."""
    case_id = await _high_swb_case(somerset)
    made = await post_event(somerset, case_id, type="transfer_out",
                            occurred_at="2026-10-23T10:00:00+01:00", transfer_date="2026-10-20")
    steps = await case_steps(somerset, case_id)
    for code in TRANSFER_STEPS:
        [step] = open_codes(steps, code)
        assert (step["subject_id"], step["due_at"], step["urgent"]) == (
            made["data"]["id"], "2026-10-23T09:00:00Z", True), code
        assert "transfer date (Tuesday 20 October 2026) had passed" in (step["note"] or ""), code


async def test_S26_a_transfer_out_recorded_on_the_transfer_day_is_not_due_before_it(
        somerset: Tenant) -> None:
    """S26: 13.4.3 "prior to the transfer of the child or, in exceptional circumstances, as soon
    as possible thereafter". Attack pass 17, A17-8: a transfer out recorded at 09:00 on the
    transfer day itself (here Monday 2 November 2026) was due at 00:00, nine hours before it was
    raised, not urgent, no note; now due at the event, urgent, with the note. One recorded a day
    ahead stays due at the start of the transfer day, not urgent."""
    case_id = await _high_swb_case(somerset)
    made = await post_event(somerset, case_id, type="transfer_out",
                            occurred_at="2026-11-02T09:00:00Z", transfer_date="2026-11-02")
    [call] = open_codes(await case_steps(somerset, case_id), "manager_handover_call")
    assert (call["subject_id"], call["due_at"], call["urgent"]) == (
        made["data"]["id"], "2026-11-02T09:00:00Z", True)
    assert "transfer date (Monday 2 November 2026) had passed" in (call["note"] or "")
    ahead_id = await _high_swb_case(somerset)
    await post_event(somerset, ahead_id, type="transfer_out",
                     occurred_at="2026-11-01T09:00:00Z", transfer_date="2026-11-02")
    [call] = open_codes(await case_steps(somerset, ahead_id), "manager_handover_call")
    assert (call["due_at"], call["urgent"]) == ("2026-11-02T00:00:00Z", False)


async def test_S30_S31_a_transfer_dated_before_the_case_opened_is_refused(
        somerset: Tenant) -> None:
    """S30, S31 (13.4.1 "the Somerset YJT case holder will ensure that all the relevant
    documentation is up to date and included with the transfer/care taking request"): a child
    cannot be transferred out of a case before it opened (Mon 2 Mar 2026): a transfer date of
    Fri 27 Feb 2026 is 422 ``transfer-date-before-case`` naming the opening date."""
    case = (await somerset.open_case())["data"]
    r = await somerset.client.post(f"/v1/cases/{case['id']}/events",
                                   json={"type": "transfer_out",
                                         "occurred_at": "2026-10-23T10:00:00+01:00",
                                         "transfer_date": "2026-02-27"},
                                   headers=somerset.auth("case_holder"))
    problem = assert_problem(r, 422)
    assert problem["type"].endswith("transfer-date-before-case")
    assert problem["errors"][0]["loc"] == "body.transfer_date"
    assert problem["bound"]["value"] == "2026-03-02"


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
    r = await somerset.client.get(f"/v1/cases/{case['id']}/audit", params={"limit": 200},
                                  headers=somerset.auth("line_manager"))
    superseded = [e for e in r.json()["data"] if e["action"] == "step.supersede"
                  and second["data"]["id"] in (e.get("reason") or "")]
    assert len(superseded) >= 2
    assert first["data"]["id"] not in {s["subject_id"] for s in steps if s["status"] == "open"}
