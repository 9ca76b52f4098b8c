"""Only the transfer that stands says the child has gone (attack pass 21, A21a-6).

Somerset 13.4: "Where cases are transferred /caretaken by other YJT's ..." (13.4.1); the line
manager "will speak to the appropriate manager or senior probation officer of the receiving
Service prior to the transfer of the child" (13.4.3). After the transfer the receiving service
supervises the child, so a closure on or after the transfer date sets aside Somerset's own MARP
duties (A19-21). A second transfer out is the transfer now planned (a postponement), and a
transfer in after a transfer out brings the child back: neither the postponed date nor a
reversed transfer's date says the child has gone. 3.2.3's MARP referral and 6.2's views ("not
waivable") still block a closure of a child who is still this service's (409
``mandatory-steps-open``); the handover steps of a transfer that no longer stands are not owed.
Wokingham's twin: its High-Risk Panel request (W7).

Dates (2026, BST): ROSH high Tuesday 2 June; transfer out recorded Monday 20 July for Friday 24
July; a postponement recorded Tuesday 21 July for Wednesday 30 September, or a transfer back in
on Monday 27 July; closures tried Tuesday 28 July.
"""

from __future__ import annotations

from typing import Any

from tests.api.fidelity_support import with_matrix
from tests.conftest import Tenant

HANDOVER = {"manager_handover_call", "prepare_transfer_documentation",
            "sign_off_transfer_documentation"}


async def _patch(t: Tenant, case_id: str, body: dict[str, Any]) -> Any:
    url = f"/v1/cases/{case_id}"
    etag = (await t.client.get(url, headers=t.auth("line_manager"))).headers["etag"]
    return await t.client.patch(url, json=body, headers={**t.auth("line_manager"),
                                                         "If-Match": etag})


async def _event(t: Tenant, case_id: str, body: dict[str, Any]) -> dict[str, Any]:
    r = await t.client.post(f"/v1/cases/{case_id}/events", json=body,
                            headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def _high(t: Tenant, **case: Any) -> str:
    case_id = str((await t.open_case(**case))["data"]["id"])
    r = await t.client.post(f"/v1/cases/{case_id}/judgements", json=with_matrix(t.pack, {
        "domain": "rosh", "level": "high", "occurred_at": "2026-06-02T10:00:00+01:00",
        "victims": ["peer"]}), headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text
    return case_id


def _out(at: str, on: str) -> dict[str, Any]:
    return {"type": "transfer_out", "occurred_at": at, "transfer_date": on,
            "details": {"to": "Devon YJS"}}


BACK_IN = {"type": "transfer_in", "occurred_at": "2026-07-27T10:00:00+01:00",
           "transfer_date": "2026-07-27", "incoming_ratings": {"rosh": "high"}}


async def _open_codes(t: Tenant, case_id: str) -> set[str]:
    r = await t.client.get("/v1/next-steps", params={"case_id": case_id, "status": "open"},
                           headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    return {s["code"] for s in r.json()["data"]}


async def _refused(t: Tenant, case_id: str, duty: str) -> None:
    r = await _patch(t, case_id, {"closed_at": "2026-07-28T16:00:00+01:00",
                                  "closure_reason": "Transferred to Devon YJS"})
    assert r.status_code == 409, r.text
    assert r.json()["type"].endswith("mandatory-steps-open")
    assert duty in {s["code"] for s in r.json()["steps"]}


async def test_S7_a_postponed_transfer_does_not_set_aside_the_marp_referral(
    somerset: Tenant,
) -> None:
    """3.2.3, 6.2, 13.4: transfer out for 24 July, then postponed to 30 September: a closure
    on 28 July (after the first date, before the one that stands) is refused, the MARP
    referral still open; the first transfer's handover steps are the second's."""
    case_id = await _high(somerset)
    await _event(somerset, case_id, _out("2026-07-20T10:00:00+01:00", "2026-07-24"))
    await _event(somerset, case_id, _out("2026-07-21T10:00:00+01:00", "2026-09-30"))
    await _refused(somerset, case_id, "refer_to_panel")


async def test_S7_a_transfer_reversed_by_a_transfer_in_sets_nothing_aside(
    somerset: Tenant,
) -> None:
    """13.4: the child transferred out on 24 July is back on 27 July (a transfer in): the
    closure of 28 July is refused (the MARP referral, 3.2.3) and the handover call and
    documentation of the transfer that no longer stands are superseded, not left open to
    survive a closure."""
    case_id = await _high(somerset)
    await _event(somerset, case_id, _out("2026-07-20T10:00:00+01:00", "2026-07-24"))
    assert HANDOVER <= await _open_codes(somerset, case_id)
    await _event(somerset, case_id, BACK_IN)
    assert not HANDOVER & await _open_codes(somerset, case_id)
    await _refused(somerset, case_id, "refer_to_panel")


async def test_S7_a_transfer_in_typed_in_late_between_two_transfers_out(
    somerset: Tenant,
) -> None:
    """Dates, not recording order: out on 20 July (for 24 July), out again on 23 July (for 14
    August), and a transfer in dated 21 July typed in last: the second transfer out stands (the
    child came back, then left again): a closure on 28 July is refused, one on 20 August (after
    14 August) closes; the second transfer's handover steps stay open until then."""
    case_id = await _high(somerset)
    await _event(somerset, case_id, _out("2026-07-20T10:00:00+01:00", "2026-07-24"))
    await _event(somerset, case_id, _out("2026-07-23T10:00:00+01:00", "2026-08-14"))
    await _event(somerset, case_id, {**BACK_IN, "occurred_at": "2026-07-21T10:00:00+01:00",
                                     "transfer_date": "2026-07-21"})
    assert "manager_handover_call" in await _open_codes(somerset, case_id)
    await _refused(somerset, case_id, "refer_to_panel")
    r = await _patch(somerset, case_id, {"closed_at": "2026-08-20T16:00:00+01:00",
                                         "closure_reason": "Transferred to Devon YJS (13.4)"})
    assert r.status_code == 200, r.text


async def test_S26_no_handover_call_for_a_transfer_reversed_before_the_rating(
    somerset: Tenant,
) -> None:
    """13.4.3 (S26): the high rating of 22 July finds no transfer pending when the transfer out
    of 20 July (for 24 July) was reversed by the child's transfer back in on 21 July: no call
    to a receiving service that no longer receives the child."""
    case_id = str((await somerset.open_case())["data"]["id"])
    await _event(somerset, case_id, _out("2026-07-20T10:00:00+01:00", "2026-07-24"))
    await _event(somerset, case_id, {**BACK_IN, "occurred_at": "2026-07-21T10:00:00+01:00",
                                     "transfer_date": "2026-07-21"})
    r = await somerset.client.post(f"/v1/cases/{case_id}/judgements", json={
        "domain": "rosh", "level": "high", "occurred_at": "2026-07-22T10:00:00+01:00",
        "victims": ["peer"]}, headers=somerset.auth("case_holder"))
    assert r.status_code == 201, r.text
    assert "manager_handover_call" not in await _open_codes(somerset, case_id)


async def test_W7_a_postponed_or_reversed_transfer_keeps_the_panel_request_blocking(
    wokingham: Tenant,
) -> None:
    """W7 (the High-Risk Panel request, not waivable), twin of Somerset 13.4: a transfer out
    for 24 July postponed to 30 September, or reversed by a transfer in on 27 July, does not
    let a closure on 28 July set the request aside."""
    postponed = await _high(wokingham, intervention="prevention")
    await _event(wokingham, postponed, _out("2026-07-20T10:00:00+01:00", "2026-07-24"))
    await _event(wokingham, postponed, _out("2026-07-21T10:00:00+01:00", "2026-09-30"))
    await _refused(wokingham, postponed, "request_high_risk_panel")
    reversed_ = await _high(wokingham, intervention="prevention")
    await _event(wokingham, reversed_, _out("2026-07-20T10:00:00+01:00", "2026-07-24"))
    await _event(wokingham, reversed_, BACK_IN)
    await _refused(wokingham, reversed_, "request_high_risk_panel")


async def test_S26_a_transfer_out_typed_in_late_is_replaced_by_the_later_one_at_once(
    somerset: Tenant,
) -> None:
    """13.4.3 (S26), 13.4.1-13.4.2 (S30, S31): the transfer for 30 September recorded on 21
    July, then one dated 20 July (for 24 July) typed in late: the later by date stands, so the
    handover steps owed are due before 30 September only (the late one's are replaced at once)
    and a closure on 28 July is refused."""
    case_id = await _high(somerset)
    await _event(somerset, case_id, _out("2026-07-21T10:00:00+01:00", "2026-09-30"))
    await _event(somerset, case_id, _out("2026-07-20T10:00:00+01:00", "2026-07-24"))
    r = await somerset.client.get("/v1/next-steps", params={"case_id": case_id,
                                                             "status": "open"},
                                  headers=somerset.auth("line_manager"))
    due = {(s["code"], s["due_at"]) for s in r.json()["data"] if s["code"] in HANDOVER}
    assert due == {(code, "2026-09-29T23:00:00Z") for code in HANDOVER}
    await _refused(somerset, case_id, "refer_to_panel")
