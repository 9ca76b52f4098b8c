"""Somerset 14.2/14.2.1's secure-estate documentation (S32/S33) lasts while the child is in
custody (attack 32c, ATTACK32C-5; fix34c).

The steps outlived the child's release and the case's closure: the release now supersedes them
(their line's ``holds``, in whatever order the entry, the release and a judgement are typed:
a custody event's own move of ``in_custody`` is its after-state, so a ``holds`` is judged on
it at the event's moment), and a closure while the child is in custody sets them aside (the
pack's ``survives_closure`` names 13.4.1/13.4.2's S30/S31 by rule, not their shared codes).

Dates (real calendar, London on GMT): the case opened Mon 2 Nov 2026; custody entry Mon 23 Nov
2026 10:00; a ROSH judgement Tue 24 Nov 10:00; release Wed 25 Nov 10:00; closure Fri 27 Nov.
"""

from __future__ import annotations

from typing import Any

from tests.api.act_order_support import (
    HOLDER,
    MANAGER,
    event,
    every_order,
    rate,
    same_as_time_order,
    steps_of,
)
from tests.api.integrity_support import patch_case
from tests.api.integrity_support import steps_of as case_steps
from tests.conftest import Tenant

ENTRY = event("custody_entry", "2026-11-23T10:00:00Z")
JUDGED = rate("high", "2026-11-24T10:00:00Z")
RELEASE = event("custody_release", "2026-11-25T10:00:00Z")
DOCUMENTS = ("prepare_transfer_documentation", "sign_off_transfer_documentation")


def _documents(record_: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    return sorted(s for code in DOCUMENTS for s in steps_of(record_, code))


async def test_S32_S33_the_release_ends_the_secure_estate_documentation_in_every_order(
        somerset: Tenant) -> None:
    """S32 (14.2): "It is the responsibility of case holders to ensure that all relevant
    documents including any information significant for the management of risk/safety and
    well-being concerns are available before or at the point of transfer"; S33 (14.2.1): "It
    is the responsibility of line managers to ensure that documentation has been countersigned
    and transferred appropriately". Entry Mon 23 Nov 2026, ROSH high Tue 24 Nov, release Wed 25
    Nov, typed in each of the six orders: the release ends both (the child is no longer in the
    secure estate), and 14.4's handover (S27) is the one owed, as in time order."""
    record_ = same_as_time_order(await every_order(somerset, [ENTRY, JUDGED, RELEASE]))
    assert _documents(record_) == []
    assert [s[4:] for s in steps_of(record_, "secure_estate_handover")] == [("S27", "14.4")]
    assert record_[1][2] is False  # in_custody


async def test_S32_S33_custody_entry_typed_after_a_later_judgement_owes_them(
        somerset: Tenant) -> None:
    """S32/S33 (14.2, 14.2.1; quoted above): entry Mon 23 Nov 2026 10:00 and a ROSH high of Tue
    24 Nov, in either typing order: both owed at once from the entry (the point of transfer),
    to the case holder and the line manager (the entry typed second, dated first, is judged on
    the child as it left them: in custody)."""
    record_ = same_as_time_order(await every_order(somerset, [ENTRY, JUDGED]))
    assert _documents(record_) == [
        ("prepare_transfer_documentation", "case_holder", HOLDER, "2026-11-23T10:00:00Z", "S32",
         "14.2"),
        ("sign_off_transfer_documentation", "line_manager", MANAGER, "2026-11-23T10:00:00Z",
         "S33", "14.2.1")]
    assert record_[1][2] is True


async def test_S32_S33_an_entry_and_release_typed_release_first_leave_nothing_owed(
        somerset: Tenant) -> None:
    """S32/S33 (14.2, 14.2.1; quoted above): the release of Wed 25 Nov 2026 typed before the
    entry of Mon 23 Nov that it ends: the entry's documentation lapses at once (in time order
    the release superseded it), in either order."""
    record_ = same_as_time_order(await every_order(somerset, [ENTRY, RELEASE]))
    assert _documents(record_) == []


async def test_S32_S33_a_closure_with_the_child_in_custody_sets_them_aside(
        somerset: Tenant) -> None:
    """S32/S33 (14.2 "available before or at the point of transfer", 14.2.1; quoted above) are
    owed while the service supervises the child in custody; unlike 13.4.3's "or ... as soon as
    possible thereafter" (S26) and the transfer request's documentation (13.4.1/13.4.2,
    S30/S31), the policy does not reach past the end of the work. Entry Mon 23 Nov 2026 10:00,
    the case closed Fri 27 Nov 16:00 with the child still in custody: both are set aside
    (missed: late by then), not the closing answer's ``next_steps``; reopened Mon 30 Nov, the
    child still in custody, they are owed again as they were (due at the entry)."""
    case_id = (await somerset.open_case(opened_at="2026-11-02T09:00:00Z"))["data"]["id"]
    r = await somerset.client.post(f"/v1/cases/{case_id}/events", json={
        "type": "custody_entry", "occurred_at": "2026-11-23T10:00:00Z"},
        headers=somerset.auth("case_holder"))
    assert r.status_code == 201, r.text
    owed = {s["id"]: s for s in await case_steps(somerset, case_id) if s["code"] in DOCUMENTS}
    assert sorted(s["policy"]["rule"] for s in owed.values()) == ["S32", "S33"]
    r = await patch_case(somerset, case_id, {"closed_at": "2026-11-27T16:00:00Z",
                                             "closure_reason": "supervision ended"})
    assert r.status_code == 200, r.text
    assert [s["code"] for s in r.json()["next_steps"] if s["code"] in DOCUMENTS] == []
    assert [s for s in await case_steps(somerset, case_id) if s["code"] in DOCUMENTS] == []
    # Due at the entry and still undone at the closure: set aside as missed (ATTACK34B-7).
    aside = {s["id"] for s in await case_steps(somerset, case_id, "missed")}
    assert set(owed) <= aside
    r = await patch_case(somerset, case_id, {"closed_at": None,
                                             "reopen_reason": "order resumed"})
    assert r.status_code == 200, r.text
    again = [s for s in await case_steps(somerset, case_id) if s["code"] in DOCUMENTS]
    assert sorted((s["policy"]["rule"], s["due_at"]) for s in again) == [
        ("S32", "2026-11-23T10:00:00Z"), ("S33", "2026-11-23T10:00:00Z")]


async def test_S30_S31_a_transfer_out_of_a_child_in_custody_keeps_its_documentation(
        somerset: Tenant) -> None:
    """S30/S31 (13.4.1): "Where cases are transferred /caretaken by other YJT's, the Somerset
    YJT case holder will ensure that all the relevant documentation is up to date and included
    with the transfer/care taking request"; 13.4.2 "The line manager will check all
    documentation and sign off relevant ASSETPLUS stage". A transfer out recorded Mon 23 Nov
    2026 09:00 for Mon 7 Dec, the child entering custody at 10:00 (S32/S33 raised too), the
    case closed Fri 27 Nov: the transfer's documentation survives the closure, due before the
    transfer; the secure estate's is set aside. (S32 used to replace S30's step of its code.)"""
    case_id = (await somerset.open_case(opened_at="2026-11-02T09:00:00Z"))["data"]["id"]
    for body in ({"type": "transfer_out", "transfer_date": "2026-12-07",
                  "occurred_at": "2026-11-23T09:00:00Z"},
                 {"type": "custody_entry", "occurred_at": "2026-11-23T10:00:00Z"}):
        r = await somerset.client.post(f"/v1/cases/{case_id}/events", json=body,
                                       headers=somerset.auth("case_holder"))
        assert r.status_code == 201, r.text
    rules = sorted(s["policy"]["rule"] for s in await case_steps(somerset, case_id)
                   if s["code"] in DOCUMENTS)
    assert rules == ["S30", "S31", "S32", "S33"]
    r = await patch_case(somerset, case_id, {"closed_at": "2026-11-27T16:00:00Z",
                                             "closure_reason": "transferred"})
    assert r.status_code == 200, r.text
    kept = sorted((s["policy"]["rule"], s["due_at"]) for s in r.json()["next_steps"]
                  if s["code"] in DOCUMENTS)
    assert kept == [("S30", "2026-12-07T00:00:00Z"), ("S31", "2026-12-07T00:00:00Z")]


async def test_wokingham_custody_entry_judgement_and_release_in_every_order(
        wokingham: Tenant) -> None:
    """Wokingham's twin ("Internal and External Controls": a custody move is a change of
    circumstances, W4-W6; "Referrals into MAPPA": category 2 "for children in custody"): entry
    Mon 23 Nov 2026, ROSH high Tue 24 Nov, release Wed 25 Nov, in each of the six typing orders
    leave time order's record (Wokingham has no step that lasts "while in custody": its
    custody-dependent lines are deadline branches on the case change)."""
    record_ = same_as_time_order(await every_order(wokingham, [ENTRY, JUDGED, RELEASE]))
    assert record_[1][2] is False
