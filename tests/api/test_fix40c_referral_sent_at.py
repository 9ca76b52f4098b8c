"""fix40c: a referral counts as sent from its ``sent_at`` (migration 0037), and at one instant
a referral the service sends comes before the judgements (docs/integrating.md §7).

Somerset 7.1.9: "The MARP will decide if cases with Very High ROSH judgements need to be
referred to MAPPA 2, unless this has already been done"; 8.3.3: "Referral to MAPPA 2 is
achieved by sending a 'MAPPA A' Referral form to level 2/3" (S10, the MARP's decision, not owed
once the form is sent: fix36a). The engine's ``referral_sent_in`` read the case's referrals as
they stand now: a Very High dated before the form was sent, typed in after the send, was judged
as if the form had gone already (no S10), and a form sent before a Very High already on file,
typed in after it, left that judgement's S10 open. Now the case's state at an act's instant
counts the forms sent by then; a form sent after a back-dated Very High supersedes its S10 at
the send's time; a form sent before (or at the instant of) a Very High on file means it never
raised one (ATTACK36-8: at one instant a superseded S10 stayed in one typing order only).

Dates: case opened Monday 3 August 2026 (BST); the case holder's MAPPA A form made, submitted and
sent, and the Very High ROSH, each at 10:00 on Wednesday 5 August or Monday 10 August.
"""

from __future__ import annotations

from typing import Any

from tests.api.integrity_support import judge
from tests.api.order_support import DAY, own, visible_steps
from tests.api.order_support import record as record_act
from tests.conftest import Tenant, make_tenant
from tests.orders import typing_orders

OPENED = "2026-08-03T09:00:00+01:00"
WEDNESDAY = "2026-08-05T10:00:00+01:00"
MONDAY = "2026-08-10T10:00:00+01:00"
AUGUST = ("2026-08-01", "2026-09-30")
STATUSES = ("open", "done", "superseded", "missed", "waived")


async def _mappa_a(t: Tenant, case_id: str, at: str) -> dict[str, Any]:
    """The case holder's MAPPA A form made, submitted and sent at ``at``: the referral."""
    r = await t.client.post(f"/v1/cases/{case_id}/referrals",
                            json={"kind": "mappa_a", "occurred_at": at, "details": {}},
                            headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text
    referral = str(r.json()["data"]["id"])
    for action in ("submit", "send"):
        r = await t.client.post(f"/v1/referrals/{referral}/{action}", json={"occurred_at": at},
                                headers=t.auth("case_holder"))
        assert r.status_code == 200, r.text
    return r.json()["data"]  # type: ignore[no-any-return]


async def _rows(t: Tenant, case_id: str, *rules: str) -> list[tuple[Any, ...]]:
    """The case's steps of ``rules`` in every status, as the lists show them: (rule, code,
    actor, status, raised_at, due_at, completed_at, completed_by, the note's last line)."""
    found = []
    for status in STATUSES:
        r = await t.client.get("/v1/next-steps", params={
            "case_id": case_id, "status": status, "limit": 200}, headers=t.auth("line_manager"))
        assert r.status_code == 200, r.text
        found += [(s["policy"]["rule"], s["code"], s["actor"], s["status"], s["raised_at"],
                   s["due_at"], s["completed_at"], s["completed_by"],
                   (s["note"] or "").splitlines()[-1:])
                  for s in r.json()["data"] if s["policy"]["rule"] in rules]
    return sorted(found, key=repr)


async def _timeline(t: Tenant, case_id: str, *rules: str) -> list[tuple[Any, ...]]:
    """The case's history of its steps of ``rules``: (at, action, rule, code), sorted (the
    entries of one instant are listed in the order they were recorded)."""
    r = await t.client.get(f"/v1/cases/{case_id}/timeline", params={"limit": 200},
                           headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    return sorted((e["at"], e["action"], e["details"]["rule"], e["details"]["code"])
                  for e in r.json()["data"]
                  if e["kind"] == "step" and e["details"].get("rule") in rules)


async def _every_order(client: Any, settings: Any, judged: str, sent: str
                       ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], str]:
    """The Very High at ``judged`` and the MAPPA A form sent at ``sent`` typed in each order,
    each on a case of a tenant of its own: asserts every order leaves the same visible S10
    record (the steps the lists, timeline, queues and report show: a step raised and ended at
    one instant, kept hidden, may differ; fix41c); those rows and that history, and the
    referral's ``sent_at`` as the API shows it."""
    seen: dict[tuple[str, ...], tuple[Any, ...]] = {}
    sent_at = ""
    for order in typing_orders(("judgement", "send")):
        t = await make_tenant(client, settings, "somerset-yjt-2023")
        case = (await t.open_case(opened_at=OPENED))["data"]["id"]
        for act in order:
            if act == "judgement":
                await judge(t, case, "rosh", "very_high", judged)
            else:
                sent_at = (await _mappa_a(t, case, sent)).get("sent_at")
        seen[order] = await visible_steps(t, case, "S10", report=AUGUST)
    first = next(iter(seen.values()))
    assert {o: got for o, got in seen.items() if got != first} == {}, first
    return first[0], first[1], sent_at


async def test_S10_very_high_before_the_mappa_a_form_is_superseded_when_it_is_sent(
        client: Any, settings: Any) -> None:
    """Somerset 7.1.9 "The MARP will decide if cases with Very High ROSH judgements need to be
    referred to MAPPA 2, unless this has already been done"; 8.3.3 "Referral to MAPPA 2 is
    achieved by sending a 'MAPPA A' Referral form". The Very High of Wed 5 Aug 2026 10:00
    raises S10 (the MARP's, at the next MARP: none booked); the form sent on Mon 10 Aug 10:00
    supersedes it then, typed in either order (typed after the send, the back-dated Very High
    found the form sent already and raised nothing)."""
    rows, history, sent_at = await _every_order(client, settings, WEDNESDAY, MONDAY)
    assert rows == [("S10", "identify_mappa_level", "chair", "superseded",
                     "2026-08-05T09:00:00Z", None, None, None,
                     ["Superseded: the condition that required it no longer holds"])]
    assert history == [("2026-08-05T09:00:00Z", "created", "S10", "identify_mappa_level"),
                       ("2026-08-10T09:00:00Z", "superseded", "S10", "identify_mappa_level")]
    assert sent_at == "2026-08-10T09:00:00Z"


async def test_S10_very_high_after_the_mappa_a_form_was_sent_raises_none(
        client: Any, settings: Any) -> None:
    """Somerset 7.1.9 "... unless this has already been done"; 8.3.3. The form sent on Wed
    5 Aug 2026 10:00: the Very High of Mon 10 Aug 10:00 raises no S10, typed in either order
    (typed before the send, its S10 stayed open)."""
    rows, history, sent_at = await _every_order(client, settings, MONDAY, WEDNESDAY)
    assert (rows, history, sent_at) == ([], [], "2026-08-05T09:00:00Z")


async def test_S10_mappa_a_form_sent_at_the_very_highs_instant_raises_none(
        client: Any, settings: Any) -> None:
    """Somerset 7.1.9 "The MARP will decide if cases with Very High ROSH judgements need to be
    referred to MAPPA 2, unless this has already been done"; 8.3 "... with a view to making an
    immediate referral". The form sent at the Very High's own instant (Wed 5 Aug 2026 10:00)
    has already been done for it (docs §7: the service's referrals come before the judgements
    of their instant): no S10 in the lists, timeline, queues or report, in either typing order
    (ATTACK36-8: a superseded S10 stayed when the Very High was typed first; typed so, its row
    is kept superseded at its own instant, hidden, readable by its id: fix41c)."""
    rows, history, _ = await _every_order(client, settings, WEDNESDAY, WEDNESDAY)
    assert (rows, history) == ([], [])


async def test_S10_the_form_sent_before_a_very_high_typed_first_keeps_its_step_readable(
        somerset: Tenant) -> None:
    """Somerset 7.1.9, 8.3.3: the Very High of Mon 10 Aug 2026 10:00 typed in first raised S10;
    the MAPPA A form then typed in as sent on Wed 5 Aug 10:00 means it never arose: the step is
    kept superseded at its own instant (fix36d's convention: out of the timeline, queues and
    report; fix41c: fix40c deleted it, and the id announced ``step.superseded`` answered 404),
    readable by its id, its note and the audit trail saying why (``step.retract``)."""
    t = somerset
    case = (await t.open_case(opened_at=OPENED))["data"]["id"]
    await judge(t, case, "rosh", "very_high", MONDAY)
    (step,) = [s for s in (await t.client.get(
        "/v1/next-steps", params={"case_id": case, "status": "open"},
        headers=t.auth("line_manager"))).json()["data"] if s["policy"]["rule"] == "S10"]
    referral = await _mappa_a(t, case, WEDNESDAY)
    why = (f"Never raised: the mappa_a referral {referral['id']} was sent "
           "2026-08-05T09:00:00Z, before the act that raised it (S10, identify_mappa_level) "
           "found it not yet sent")
    r = await t.client.get(f"/v1/next-steps/{step['id']}", headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    got = r.json()["data"]
    assert (got["status"], got["raised_at"], got["completed_at"],
            got["note"].splitlines()[-1]) == (
        "superseded", "2026-08-10T09:00:00Z", None, why)
    assert await visible_steps(t, case, "S10", report=AUGUST) == (
        [], [], {"rows": [], "ageing": []})
    r = await t.client.get(f"/v1/cases/{case}/audit", params={"limit": 200},
                           headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    entries = [(e["action"], e["reason"]) for e in r.json()["data"]
               if e["entity_id"] == step["id"]]
    assert [a for a, _ in entries] == ["step.create", "step.supersede", "step.retract"]
    assert entries[-1][1] == why
    assert referral["sent_at"] == "2026-08-05T09:00:00Z"


async def test_X8_panel_referral_made_at_the_highs_instant_answers_it_in_either_order(
        client: Any, settings: Any) -> None:
    """Example pack 5.1 (X8): "Refer the child to the next Risk Panel" on a high judgement; the
    panel referral, with the views (5.2, X9), made at the high's own instant (Tue 24 Nov 2026
    10:00) comes before it (docs §7, as Somerset S10's MAPPA A form) and is what it asks for:
    X8 and X9 done by it at that instant, the same rows typed in either order."""
    got = {}
    for order in typing_orders(("judgement", "referral")):
        t = await make_tenant(client, settings, "example-yjs")
        case = (await t.open_case(opened_at="2026-11-02T09:00:00Z"))["data"]["id"]
        for act in order:
            if act == "judgement":
                await record_act(t, case, own("10:00", "rosh", "high"))
                continue
            r = await t.client.post(f"/v1/cases/{case}/referrals", json={
                "kind": "panel", "occurred_at": f"{DAY}10:00:00Z",
                "details": {"child_views": "Wants to talk", "carer_views": "Agrees"}},
                headers=t.auth("case_holder"))
            assert r.status_code == 201, r.text
            r = await t.client.post(f"/v1/referrals/{r.json()['data']['id']}/submit",
                                    json={"occurred_at": f"{DAY}10:00:00Z"},
                                    headers=t.auth("case_holder"))
            assert r.status_code == 200, r.text
        got[order] = (await _rows(t, case, "X8", "X9"), await _timeline(t, case, "X8", "X9"))
    first = next(iter(got.values()))
    assert {o: g for o, g in got.items() if g != first} == {}, first
    assert [row[:8] for row in first[0]] == [
        ("X8", "refer_to_risk_panel", "case_holder", "done", f"{DAY}10:00:00Z",
         "2026-11-26T23:59:59Z", f"{DAY}10:00:00Z", "case_holder-1"),
        ("X9", "seek_child_and_carer_views", "case_holder", "done", f"{DAY}10:00:00Z",
         "2026-11-26T23:59:59Z", f"{DAY}10:00:00Z", "case_holder-1")]
