"""Subject access export (issue 13, part 4).

Somerset 6.4: "Practitioners must remain aware that the child has the right to access their case
file in line with GDPR legislation. This may be particularly relevant where concerns relating to
the child and/or their parent/carer may place them or others at risk." Hence third parties are
redacted by default.
"""

from __future__ import annotations

import html
import re
from typing import Any

import httpx
import pytest

from app.domain.subject_access import LEAVE_REDACTED, REDACTED
from tests.api.support import restrict
from tests.conftest import Tenant

VICTIM = "Ella Stonebridge"
DOB = "2010-09-09"


@pytest.fixture
async def child(client: httpx.AsyncClient, somerset: Tenant) -> dict[str, Any]:
    """Two cases of one child (the name typed differently), and another child born the same
    day; the first case names a victim in a judgement, its rationale and an event."""
    first = (await somerset.open_case(
        child={"given_name": "Liam", "family_name": "Hart", "date_of_birth": DOB},
        opened_at="2026-01-05T09:00:00Z"))["data"]
    second = (await somerset.open_case(
        child={"given_name": "LIAM", "family_name": "hart", "date_of_birth": DOB},
        opened_at="2026-02-05T09:00:00Z"))["data"]
    other = (await somerset.open_case(
        child={"given_name": "Noah", "family_name": "Price", "date_of_birth": DOB}))["data"]
    holder = somerset.auth("case_holder")
    r = await client.post(f"/v1/cases/{first['id']}/judgements", headers=holder, json={
        "domain": "rosh", "level": "medium", "victims": [VICTIM],
        "rationale": f"Threatened {VICTIM} outside school."})
    assert r.status_code == 201, r.text
    r = await client.post(f"/v1/cases/{first['id']}/events", headers=holder, json={
        "type": "new_incident", "details": {"victim_name": VICTIM, "place": "bus stop"}})
    assert r.status_code == 201, r.text
    return {"first": first, "second": second, "other": other}


def _url(case_id: str) -> str:
    return f"/v1/cases/{case_id}/subject-access-export"


async def test_export_covers_the_childs_cases_with_third_parties_redacted(
    client: httpx.AsyncClient, somerset: Tenant, child: dict[str, Any]
) -> None:
    """Both of the child's cases (not the other child's), with judgements, events, steps and
    the write audit; the victim's name appears nowhere and each redaction is listed."""
    r = await client.get(_url(child["first"]["id"]), headers=somerset.auth("line_manager"))
    assert r.status_code == 200, r.text
    doc = r.json()["data"]
    assert [c["case"]["id"] for c in doc["cases"]] == [child["first"]["id"],
                                                        child["second"]["id"]]
    assert doc["redacted"] is True
    assert VICTIM not in r.text
    first = doc["cases"][0]
    assert first["judgements"][0]["victims"] == REDACTED
    assert first["judgements"][0]["rationale"] == f"Threatened {REDACTED} outside school."
    event = next(e for e in first["events"] if e["type"] == "new_incident")
    assert event["details"] == {"victim_name": REDACTED, "place": "bus stop"}
    assert {d["path"] for d in doc["redactions"]} >= {
        "cases[0].judgements[0].victims", "cases[0].judgements[0].rationale"}
    assert first["steps"]
    assert "case.create" in [e["action"] for e in first["audit"]]


async def test_export_is_audited_on_every_case_it_covers(
    client: httpx.AsyncClient, somerset: Tenant, child: dict[str, Any]
) -> None:
    """Each case of the export gets a ``case.subject_access_export`` audit entry."""
    r = await client.get(_url(child["first"]["id"]), headers=somerset.auth("chair"))
    assert r.status_code == 200
    for key in ("first", "second"):
        audit = (await client.get(f"/v1/cases/{child[key]['id']}/audit", params={"limit": 200},
                                  headers=somerset.auth("chair"))).json()["data"]
        assert audit[-1]["action"] == "case.subject_access_export"
        assert audit[-1]["actor"] == "chair-1"


async def test_unredacted_on_request_and_only_for_managers_and_chairs(
    client: httpx.AsyncClient, somerset: Tenant, child: dict[str, Any]
) -> None:
    """``redact=false`` shows the victim; the case holder may not export (403)."""
    url = _url(child["first"]["id"])
    r = await client.get(url, params={"redact": "false"}, headers=somerset.auth("chair"))
    assert VICTIM in r.text
    assert r.json()["data"]["redactions"] == []
    assert (await client.get(url, headers=somerset.auth("case_holder"))).status_code == 403


async def test_html_export_prints_cleanly_and_marks_redactions(
    client: httpx.AsyncClient, somerset: Tenant, child: dict[str, Any]
) -> None:
    """format=html is a self-contained page with print CSS (A4, a case a page), redactions
    shown as such, and no third-party name."""
    r = await client.get(_url(child["first"]["id"]), params={"format": "html"},
                         headers=somerset.auth("line_manager"))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "@media print" in r.text
    assert "@page { size: A4" in r.text
    assert '<span class="redacted">' in r.text
    assert VICTIM not in r.text
    assert "Liam Hart" in r.text


async def test_a_restricted_case_of_the_child_is_left_out_for_excluded_staff(
    client: httpx.AsyncClient, somerset: Tenant, child: dict[str, Any]
) -> None:
    """A duty manager excluded from the second case exports only the first."""
    r = await restrict(client, somerset, child["second"]["id"],
                       {"excluded_staff": ["duty_manager-7"]})
    assert r.status_code == 200
    r = await client.get(_url(child["first"]["id"]),
                         headers=somerset.auth("duty_manager", "duty_manager-7"))
    assert [c["case"]["id"] for c in r.json()["data"]["cases"]] == [child["first"]["id"]]


async def test_export_includes_the_case_records_field_changes(
    client: httpx.AsyncClient, somerset: Tenant, child: dict[str, Any]
) -> None:
    """A change to the case record (children's social care status) is in the export with
    its old and new value."""
    manager = somerset.auth("line_manager")
    url = f"/v1/cases/{child['second']['id']}"
    etag = (await client.get(url, headers=manager)).headers["ETag"]
    r = await client.patch(url, json={"csc_status": "cin"}, headers={**manager, "If-Match": etag})
    assert r.status_code == 200, r.text
    doc = (await client.get(_url(child["first"]["id"]), headers=manager)).json()["data"]
    changes = [c["changes"] for c in doc["cases"][1]["field_changes"]]
    assert {"csc_status": ["none", "cin"]} in changes


async def test_cases_whose_name_only_resembles_are_listed_not_disclosed(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """Attack pass 9, A9-20 (UK GDPR Art. 15(4): the copy "shall not adversely affect the rights
    and freedoms of others"): Jordan Reed's export takes the case asked for and the one recorded
    as "JORDAN  reed" (letter case and spaces only); the cases recorded as "Reed Jordan"
    (swapped), "Jordán Reed" (an accent) and "Jordan Reid" (a similar spelling), all born the
    same day, may be other children: none of their records is in the export, each is listed
    in possible_matches by id and reason (no name), and a child with another name is not
    listed at all. Each included case says how it was matched and the name recorded on it."""
    dob = "2009-02-14"
    cases: dict[str, str] = {}
    for day, (key, given, family) in enumerate([
            ("asked", "Jordan", "Reed"), ("caps", "JORDAN ", " reed"),
            ("swapped", "Reed", "Jordan"), ("accent", "Jordán", "Reed"),
            ("similar", "Jordan", "Reid"), ("other", "Noah", "Price")], start=2):
        case = (await somerset.open_case(child={"given_name": given, "family_name": family,
                                                "date_of_birth": dob},
                                         opened_at=f"2026-03-0{day}T09:00:00Z"))["data"]
        cases[key] = case["id"]
        r = await client.post(f"/v1/cases/{case['id']}/events", headers=somerset.auth(
            "case_holder"), json={"type": "change_of_circumstances",
                                  "details": {"summary": f"MARKER-{key}"}})
        assert r.status_code == 201, r.text
    r = await client.get(_url(cases["asked"]), headers=somerset.auth("line_manager"))
    assert r.status_code == 200, r.text
    doc = r.json()["data"]
    assert [c["case"]["id"] for c in doc["cases"]] == [cases["asked"], cases["caps"]]
    assert [c["matched_by"] for c in doc["cases"]] == [
        "the case the export was asked for", "the same recorded name and date of birth"]
    assert doc["cases"][1]["case"]["child"] == {"given_name": "JORDAN", "family_name": "reed",
                                                "date_of_birth": dob}
    for key in ("swapped", "accent", "similar", "other"):
        assert f"MARKER-{key}" not in r.text
    possible = {m["case_id"]: m for m in doc["possible_matches"]}
    assert set(possible) == {cases["swapped"], cases["accent"], cases["similar"]}
    assert "given_and_family_names_swapped" in possible[cases["swapped"]]["reasons"]
    assert "Reid" not in str(doc["possible_matches"])
    assert "Jordán" not in str(doc["possible_matches"])


async def test_the_requester_includes_a_possible_match_they_have_confirmed(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """A9-20: ``include=<case id>`` adds a possible match the requester has confirmed is the
    same child (it says so, and the export's audit entry records it); an id that is not a
    possible match (another child born the same day, a case of nobody) is
    refused alike, 422, without quoting it."""
    dob = "2011-03-03"
    asked = (await somerset.open_case(child={"given_name": "Kai", "family_name": "Moss",
                                             "date_of_birth": dob},
                                      opened_at="2026-03-02T09:00:00Z"))["data"]["id"]
    swapped = (await somerset.open_case(child={"given_name": "Moss", "family_name": "Kai",
                                               "date_of_birth": dob},
                                        opened_at="2026-03-03T09:00:00Z"))["data"]["id"]
    other = (await somerset.open_case(child={"given_name": "Ava", "family_name": "Lund",
                                             "date_of_birth": dob}))["data"]["id"]
    manager = somerset.auth("line_manager")
    r = await client.get(_url(asked), params={"include": swapped}, headers=manager)
    assert r.status_code == 200, r.text
    doc = r.json()["data"]
    assert [c["case"]["id"] for c in doc["cases"]] == [asked, swapped]
    assert doc["cases"][1]["matched_by"].startswith("included by the requester")
    assert doc["possible_matches"] == []
    audit = (await client.get(f"/v1/cases/{swapped}/audit", params={"limit": 200},
                              headers=manager)).json()["data"]
    assert audit[-1]["action"] == "case.subject_access_export"
    answers = []
    for bad in (other, "00000000-0000-4000-8000-000000000000"):
        r = await client.get(_url(asked), params={"include": bad}, headers=manager)
        assert r.status_code == 422, r.text
        assert r.json()["type"].endswith("/not-a-possible-match")
        assert bad not in r.text
        answers.append({k: v for k, v in r.json().items() if k != "instance"})
    assert answers[0] == answers[1]


async def test_a_redacted_key_is_not_named_in_the_list_of_redactions(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """A9-21: a ``details`` key naming the victim is redacted in the body and its path in the
    list of redactions shows it redacted too (JSON and HTML): the name appears nowhere."""
    case = (await somerset.open_case(child={"given_name": "Liam", "family_name": "Hart",
                                            "date_of_birth": DOB}))["data"]["id"]
    holder = somerset.auth("case_holder")
    r = await client.post(f"/v1/cases/{case}/judgements", headers=holder, json={
        "domain": "rosh", "level": "high", "impact": "major", "likelihood": "likely",
        "victims": ["Zebedee Quint"]})
    assert r.status_code == 201, r.text
    r = await client.post(f"/v1/cases/{case}/referrals", headers=holder, json={
        "kind": "child_protection", "details": {"notes": "Quint household",
                                                 "zebedee": {"role": "key named"}}})
    assert r.status_code == 201, r.text
    for fmt in ("json", "html"):
        r = await client.get(_url(case), params={"format": fmt},
                             headers=somerset.auth("line_manager"))
        assert r.status_code == 200, r.text
        assert "zebedee" not in r.text.casefold()
        assert "quint" not in r.text.casefold()
    paths = [d["path"] for d in (await client.get(
        _url(case), headers=somerset.auth("line_manager"))).json()["data"]["redactions"]]
    assert f"cases[0].referrals[0].details.{REDACTED}" in paths
    # value kept ("role", not "contact": a contact key is third-party data since A17-9)
    assert f"cases[0].referrals[0].details.{REDACTED}.role" not in paths


async def test_html_export_is_sent_with_a_strict_content_security_policy(
    client: httpx.AsyncClient, somerset: Tenant, child: dict[str, Any]
) -> None:
    """A9-23: the printable export loads nothing (styles inline), cannot be framed, is not
    sniffed as another type and is never cached (it is a child's whole case file)."""
    r = await client.get(_url(child["first"]["id"]), params={"format": "html"},
                         headers=somerset.auth("line_manager"))
    assert r.status_code == 200
    assert r.headers["content-security-policy"].startswith("default-src 'none'")
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["cache-control"] == "no-store"


async def test_a_name_joined_by_underscores_dots_or_run_together_is_redacted(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """Attack pass 10, A10-19: in free text a victim's name is found however a CMS or a phone
    wrote it: snake_case keys (``victim_zebedee_quint``), an e-mail address, a handle run
    together with digits (``@ZebedeeQuint99``), the parts the other way round with an
    underscore; the record's own fields are untouched (the intervention ``court_order`` stays
    though it reads "court order")."""
    case = (await somerset.open_case(child={"given_name": "Liam", "family_name": "Hart",
                                            "date_of_birth": DOB}))["data"]["id"]
    holder = somerset.auth("case_holder")
    r = await client.post(f"/v1/cases/{case}/judgements", headers=holder, json={
        "domain": "rosh", "level": "high", "impact": "major", "likelihood": "likely",
        "victims": ["Zebedee Quint", "Court Order"]})
    assert r.status_code == 201, r.text
    r = await client.post(f"/v1/cases/{case}/events", headers=holder, json={
        "type": "change_of_circumstances", "details": {
            "victim_zebedee_quint": "a", "zebedee_quint": "b", "k": "Quint_Zebedee",
            "summary": "contact via zebedee_quint@example.org or @ZebedeeQuint99 or "
                       "zebedee.quint"}})
    assert r.status_code == 201, r.text
    for fmt in ("json", "html"):
        r = await client.get(_url(case), params={"format": fmt},
                             headers=somerset.auth("line_manager"))
        assert r.status_code == 200, r.text
        assert "zebedee" not in r.text.casefold()
        assert "quint" not in r.text.casefold()
    doc = (await client.get(_url(case), headers=somerset.auth("line_manager"))).json()["data"]
    assert doc["cases"][0]["case"]["intervention"] == "court_order"


async def test_a_managers_leave_is_not_disclosed_in_the_childs_export(
    client: httpx.AsyncClient, somerset: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A member of staff's leave is their personal data, not the child's (UK GDPR Art. 15(4);
    attack pass 11, A11-17). The line manager is recorded away from Tuesday 1 to Friday 11
    September 2026; a high ROSH recorded on 1 September stands the countersignature in to the
    duty managers (Somerset 3.1: "If the line manager is unavailable, the duty manager will
    undertake these functions"), and the leave is then cancelled. The steps' notes say only
    that the line manager "is on recorded leave"; the export (JSON and HTML) carries neither
    the leave's dates nor the absence's id, and lists the audit reasons it redacted."""
    from tests.api.fidelity_support import pin

    pin(monkeypatch, 2026, 9, 1, 9, 0)
    case = (await somerset.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]
    r = await client.post("/v1/staff/line_manager-1/absences",
                          json={"starts_on": "2026-09-01", "ends_on": "2026-09-11"},
                          headers=somerset.auth("duty_manager"))
    assert r.status_code == 201, r.text
    absence_id, absence_etag = r.json()["data"]["id"], r.headers["ETag"]
    r = await client.post(f"/v1/cases/{case['id']}/judgements",
                          headers=somerset.auth("case_holder"),
                          json={"domain": "rosh", "level": "high",
                                "occurred_at": "2026-09-01T10:00:00+01:00"})
    assert r.status_code == 201, r.text
    stood = next(s for s in r.json()["next_steps"] if s["code"] == "countersign_risk_plan")
    assert stood["actor"] == "duty_manager"
    assert "(line_manager-1) is on recorded leave" in stood["note"]
    assert "2026-09-11" not in r.text
    r = await client.delete(f"/v1/staff/line_manager-1/absences/{absence_id}",
                            headers={**somerset.auth("duty_manager"), "If-Match": absence_etag})
    assert r.status_code == 204, r.text
    for fmt in ("json", "html"):
        r = await client.get(_url(case["id"]), params={"format": fmt},
                             headers=somerset.auth("line_manager"))
        assert r.status_code == 200, r.text
        assert "2026-09-11" not in r.text
        assert absence_id not in r.text
        assert "recorded leave" not in r.text  # when they were away shows in the audit's times
        shown = LEAVE_REDACTED if fmt == "json" else html.escape(LEAVE_REDACTED)
        assert shown in r.text
    r = await client.get(_url(case["id"]), headers=somerset.auth("line_manager"))
    leave = [d["path"] for d in r.json()["data"]["redactions"] if "leave" in d["reason"]]
    assert any(".audit[" in path for path in leave)
    assert any(".steps[" in path for path in leave)


def test_leave_written_into_notes_before_the_fix_is_redacted() -> None:
    """Notes and audit reasons stored before 30 November 2026 named the leave's dates and the
    absence's id; the export redacts each form (A11-17)."""
    from app.domain.subject_access import LEAVE_REDACTED, STAFF_LEAVE

    aid = "1635b6e9-0a1b-4c2d-8e3f-445566778899"
    stored = [
        "Stood in: the line manager (lm-sam) is away 2026-08-27 to 2026-09-04 (recorded "
        "absence); the duty manager undertakes this step (3.1).",
        "Given back: the line manager (lm-sam) is not away from 2026-09-01 to the step's due "
        f"day (absence {aid} changed from 2026-08-27 to 2026-09-04 to 2026-08-27 to "
        "2026-08-31); the duty manager no longer stands in (3.1).",
        f"lm-sam is away 2026-08-27 to 2026-09-04 (absence {aid} recorded, 2026-08-27 to "
        "2026-09-04)",
        f"given back to the line manager (lm-sam): absence {aid} (2026-08-27 to 2026-09-04) "
        "cancelled",
        "Given back: the line manager (lm-sam) is not away on 2026-09-05 (leave ended).",
        "Brought forward to the last working day before cw-alex's absence from 2026-12-24.",
        # the day's stand-ins, settled as days pass (attack pass 13, A13-10)
        "lm-x687a is on recorded leave (the recorded absences on 2026-11-18)",
        "given back to the line manager (lm-x687a): the recorded absences on 2026-09-05",
        # written in London text since A17-10
        "given back to the line manager (lm-x687a): the recorded absences on Saturday 5 "
        "September 2026",
    ]
    for text in stored:
        shown = STAFF_LEAVE.sub(LEAVE_REDACTED, text)
        assert aid not in shown, shown
        assert re.search(r"\d{4}-\d{2}-\d{2}|September 2026", shown) is None, shown
        assert LEAVE_REDACTED in shown


async def test_a_line_managers_export_says_it_covers_only_the_cases_they_manage(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """ATK28B-12: a line manager sees only the cases they manage, so their export of a child
    who also has a case in another team's hands is not the whole record; it says so
    (``scope: managed_cases`` and a note) without saying whether such a case exists. A duty
    manager's or chair's export covers the service (``scope: service``) and includes it.
    Somerset 6.4: "the child has the right to access their case file in line with GDPR"."""
    child = {"given_name": "Jordan", "family_name": "Reed", "date_of_birth": "2009-02-14"}
    ours = (await somerset.open_case(child=child))["data"]
    theirs = (await somerset.open_case(child=child, line_manager_id="line_manager-2",
                                       case_holder_id="case_holder-2"))["data"]
    r = await client.get(_url(ours["id"]), headers=somerset.auth("line_manager"))
    assert r.status_code == 200, r.text
    doc = r.json()["data"]
    assert [c["case"]["id"] for c in doc["cases"]] == [ours["id"]]
    assert doc["scope"] == "managed_cases"
    assert any("only the cases the requester manages as line manager" in n and
               "duty manager or panel chair" in n for n in doc["notes"])
    assert theirs["id"] not in r.text
    for role in ("duty_manager", "chair"):
        r = await client.get(_url(ours["id"]), headers=somerset.auth(role))
        assert r.status_code == 200, r.text
        doc = r.json()["data"]
        assert doc["scope"] == "service"
        assert sorted(c["case"]["id"] for c in doc["cases"]) == sorted([ours["id"], theirs["id"]])
        assert not any("manages as line manager" in n for n in doc["notes"])
