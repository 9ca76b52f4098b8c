"""A back-dated ``PATCH`` of a case field typed in after a later change of that field is on
file (ATTACK35A-18): "dates count, not the order acts are typed in" (docs/integrating.md). The
later change stands; the earlier one takes its place in the field's history at its own date (the
timeline shows it there, followed by the later change: README "The case as it stood, and its
timeline"), and neither the case's fields nor its open steps depend on which was typed first.

2026 dates: the case opened Monday 3 August 09:00Z; the earlier act Monday 10 August 10:00 BST
(09:00Z), the later one Saturday 15 August 10:00 BST (09:00Z); both typed in on Monday
17 August at 14:00 BST, in either order.
"""

from __future__ import annotations

import uuid
from typing import Any, NamedTuple

import httpx
import pytest

from app.core.config import Settings
from tests.api.fidelity_support import pin
from tests.api.integrity_support import judge, patch_case
from tests.conftest import Tenant, make_tenant

OPENED, EARLIER, LATER = "2026-08-03T09:00:00Z", "2026-08-10T09:00:00Z", "2026-08-15T09:00:00Z"
REF = "IYSS"
PACKS = {"somerset": "somerset-yjt-2023", "wokingham": "wokingham-pyjs-2024"}
ORDERS = ["time order", "later typed first"]

Act = tuple[str, Any]  # ("patch", body) | ("event", type) | ("mappa", details)


async def _act(t: Tenant, case_id: str, ref: str, act: Act, at: str) -> None:
    kind, what = act
    if kind == "patch":
        r = await patch_case(t, case_id, {**what, "occurred_at": at})
        assert r.status_code == 200, r.text
    elif kind == "event":
        r = await t.client.post(f"/v1/cases/{case_id}/events",
                                json={"type": what, "occurred_at": at},
                                headers=t.auth("case_holder"))
        assert r.status_code == 201, r.text
    else:
        r = await t.client.post(
            "/v1/feeds/mappa/referrals",
            json={"case_external_ref": {"system": REF, "id": ref}, "kind": "mappa_h",
                  "received_at": at, "details": what},
            headers={**t.auth("feed", "mappa-feed", scope="feed:mappa"),
                     "Idempotency-Key": str(uuid.uuid4())})
        assert r.status_code == 201, r.text


async def _read(t: Tenant, path: str) -> Any:
    r = await t.client.get(path, headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    return r.json()


async def typed(t: Tenant, monkeypatch: pytest.MonkeyPatch, order: str, field: str,
                opening: dict[str, Any], before: list[tuple[str, str, str]],
                earlier: Act, later: Act) -> dict[str, Any]:
    """A case opened on 3 August with ``opening``, the judgements ``before`` (domain, level,
    at), then ``earlier`` (10 August) and ``later`` (15 August) typed in on 17 August in
    ``order``: the field now, the open steps, and the field's changes on the timeline."""
    pin(monkeypatch, 2026, 8, 3, 9, 0)
    ref = f"BP-{uuid.uuid4().hex[:8]}"
    case_id = str((await t.open_case(opened_at=OPENED, external_ref={"system": REF, "id": ref},
                                     **opening))["data"]["id"])
    pin(monkeypatch, 2026, 8, 17, 13, 0)
    for domain, level, at in before:
        await judge(t, case_id, domain, level, at)
    acts = [(earlier, EARLIER), (later, LATER)]
    for act, at in acts if order == ORDERS[0] else acts[::-1]:
        await _act(t, case_id, ref, act, at)
    case = (await _read(t, f"/v1/cases/{case_id}"))["data"]
    timeline = (await _read(t, f"/v1/cases/{case_id}/timeline?limit=200"))["data"]
    name, _, fact = field.partition(".")
    history = sorted(
        (e["at"], *(((old or {}).get(fact), (new or {}).get(fact)) if fact else (old, new)))
        for e in timeline if e["kind"] == "case" and e["action"] == "fields_changed"
        for n, (old, new) in e["details"]["changes"].items() if n == name)
    return {
        "now": case["facts"].get(fact) if fact else case[field],
        "steps": sorted((s["code"], s["assignee_id"], s["due_at"], s["policy"]["rule"],
                         s["policy"]["ref"])
                        for s in case["open_steps"]),
        "history": [tuple(h) for h in history],
    }


SWB_VERY_HIGH = [("swb", "very_high", "2026-08-05T09:00:00Z")]
Steps = list[tuple[str, str | None, str | None, str, str]]


class Scenario(NamedTuple):
    """One field's pair of changes and what must stand after them in either typing order."""

    pack: str
    field: str
    opening: dict[str, Any]
    before: list[tuple[str, str, str]]
    earlier: Act
    later: Act
    now: Any
    steps: Steps
    history: list[tuple[str, Any, Any]]


S1 = ("complete_assessment", "case_holder-1", "2026-08-31T09:00:00Z", "S1", "2.1")
RELEASE: Steps = [S1, ("review_assessment", "case_holder-1", None, "S14", "2.1"),
                  ("secure_estate_handover", "case_holder-1", None, "S27", "14.4")]
IN_10_OUT_15 = [(EARLIER, False, True), (LATER, True, False)]

SCENARIOS: dict[str, Scenario] = {
    # S9: Somerset 3.2.4: "With regard to safety and well-being, this will include (or has
    # already included) a referral to statutory child protection services." SWB very high on
    # 5 August: the child protection plan of the 15th stands (the child in need status of the
    # 10th asks no S9 referral again).
    "S9-csc_status": Scenario(
        "somerset", "csc_status", {}, SWB_VERY_HIGH,
        ("patch", {"csc_status": "cin"}),
        ("patch", {"csc_status": "cp"}),
        now="cp", steps=[
            S1,
            ("countersign_risk_plan", "line_manager-1", None, "S6", "3.1"),
            ("discuss_register_monthly", None, "2026-09-05T09:00:00Z", "S41", "9"),
            ("discuss_with_manager", "line_manager-1", "2026-08-06T09:00:00Z", "S5", "3.1"),
            ("inform_child_and_carer", "case_holder-1", None, "S12", "6.1"),
            ("monthly_manager_review", "line_manager-1", "2026-09-05T09:00:00Z", "S11", "4.5"),
            ("refer_to_panel", "case_holder-1", None, "S7", "3.2.3, 3.2.4"),
            ("seek_child_and_carer_views", "case_holder-1", None, "S8", "6.2"),
            ("update_intervention_plan", "case_holder-1", None, "S13", "4.2"),
        ],
        history=[(EARLIER, "none", "cin"), (LATER, "cin", "cp")]),
    # S27: Somerset 14.4: "When children are transferred into the community from a
    # secure setting, case holders will communicate with the secure establishment by telephone
    # and confirm by e-mail": released on the 15th (no S32/S33 for a released child).
    "S27-in_custody_vs_release": Scenario(
        "somerset", "in_custody", {}, [],
        ("patch", {"in_custody": True}),
        ("event", "custody_release"),
        now=False, steps=RELEASE,
        history=IN_10_OUT_15),
    # S27: Somerset 14.4 as above: the in_custody PATCH of the 15th typed in first
    # changed nothing then; once the entry of the 10th is on file it is the release.
    "S27-in_custody_patches": Scenario(
        "somerset", "in_custody", {}, [],
        ("patch", {"in_custody": True}),
        ("patch", {"in_custody": False}),
        now=False, steps=RELEASE,
        history=IN_10_OUT_15),
    # S27: README: "a custody move typed in after ... a later PATCH of in_custody, at
    # its date" (atk35a t25): the entry of the 10th typed in after the release PATCHed for the
    # 15th leaves the child released; Somerset 14.2 documents (S32/S33) not owed.
    "S27-custody_entry_vs_patch": Scenario(
        "somerset", "in_custody", {}, [],
        ("event", "custody_entry"),
        ("patch", {"in_custody": False}),
        now=False, steps=RELEASE,
        history=IN_10_OUT_15),
    # S17: Somerset 7 (S17, "MAPPA category 1 recorded"): the category 2 MAPPA
    # message of the 15th stands over a staff PATCH of category 1 dated the 10th.
    "S17-mappa_category_vs_feed": Scenario(
        "somerset", "mappa_category", {}, [],
        ("patch", {"mappa_category": 1}),
        ("mappa", {"mappa_category": 2}),
        now=2, steps=[S1],
        history=[(EARLIER, None, 1), (LATER, 1, 2)]),
    # S17: Somerset 7 (S17): the category 2 of the 15th stands over the category 1 of
    # the 10th typed in after it.
    "S17-mappa_category": Scenario(
        "somerset", "mappa_category", {}, [],
        ("patch", {"mappa_category": 1}),
        ("patch", {"mappa_category": 2}),
        now=2, steps=[S1],
        history=[(EARLIER, None, 1), (LATER, 1, 2)]),
    # S38: Somerset 8.4: "The YJT seconded probation officer will be made aware of
    # all cases relevant to MAPPA 2" (S38 for the level 2 message of the 15th).
    "S38-mappa_level_vs_feed": Scenario(
        "somerset", "mappa_level", {"mappa_category": 2}, [],
        ("patch", {"mappa_level": 1}),
        ("mappa", {"mappa_level": 2}),
        now=2, steps=[
            S1,
            ("inform_seconded_probation_officer", "case_holder-1", None, "S38", "8.4"),
        ],
        history=[(EARLIER, None, 1), (LATER, 1, 2)]),
    # S34: Somerset 16.2: "Any other information pertinent to the context/environment
    # in which a volunteer is working with a child will be discussed prior to any contact
    # commencing" (S34 brief_volunteer: not owed once the volunteer left on the 15th).
    "S34-volunteer_attached": Scenario(
        "somerset", "volunteer_attached", {}, [],
        ("patch", {"volunteer_attached": True}),
        ("patch", {"volunteer_attached": False}),
        now=False, steps=[S1],
        history=IN_10_OUT_15),
    # W1: Wokingham: "a child who is involved with weapon related offending or
    # incidents is likely to have a starting ROSH of at least medium": cleared on the 15th.
    "W1-weapon_related": Scenario(
        "wokingham", "weapon_related", {}, [],
        ("patch", {"weapon_related": True}),
        ("patch", {"weapon_related": False}),
        now=False, steps=[("complete_assessment", "case_holder-1", None, "W1", "Assessment type")],
        history=IN_10_OUT_15),
    # S32: Somerset 14.2 (S32/S33 while in custody): the release date of the 15th
    # stands over the one of the 10th typed in after it.
    "S32-expected_release_date": Scenario(
        "somerset", "expected_release_date", {"in_custody": True}, [],
        ("patch", {"expected_release_date": "2027-01-11"}),
        ("patch", {"expected_release_date": "2027-02-08"}),
        now="2027-02-08", steps=[
            S1,
            ("prepare_transfer_documentation", "case_holder-1", OPENED, "S32", "14.2"),
            ("secure_estate_handover", "case_holder-1", None, "S27", "14.3"),
            ("sign_off_transfer_documentation", "line_manager-1", OPENED, "S33", "14.2.1"),
        ],
        history=[(EARLIER, None, "2027-01-11"), (LATER, "2027-01-11", "2027-02-08")]),
    # W20: Wokingham "Referrals into MAPPA": "Where the release address is in a different
    # area to PYJS, the case worker must also notify the local Youth Justice Service": the
    # fact cleared on the 15th stays cleared.
    "W20-facts": Scenario(
        "wokingham", "facts.release_address_other_area", {}, [],
        ("patch", {"facts": {"release_address_other_area": True}}),
        ("patch", {"facts": {"release_address_other_area": False}}),
        now=False, steps=[("complete_assessment", "case_holder-1", None, "W1", "Assessment type")],
        history=[(EARLIER, None, True), (LATER, True, False)]),
}


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("scenario", list(SCENARIOS))
async def test_ATTACK35A_18_a_back_dated_change_of_a_field_with_a_later_change_on_file(
        client: httpx.AsyncClient, settings: Settings, monkeypatch: pytest.MonkeyPatch,
        scenario: str, order: str) -> None:
    """docs/integrating.md: "dates count, not the order acts are typed in"; README (the
    timeline): field changes "at the time of the act that made them ... a custody move typed in
    after a later one, or after a later PATCH of in_custody, at its date". Each field changed
    on Monday 10 August and again on Saturday 15 August (each scenario's seed sentence above):
    typed in either order, the case holds the change of the 15th, owes exactly the steps of
    time order, and its timeline shows the change of the 10th at its date, then the 15th's
    from it."""
    s = SCENARIOS[scenario]
    t = await make_tenant(client, settings, PACKS[s.pack])
    got = await typed(t, monkeypatch, order, s.field, s.opening, s.before, s.earlier, s.later)
    assert got == {"now": s.now, "steps": s.steps, "history": s.history}
