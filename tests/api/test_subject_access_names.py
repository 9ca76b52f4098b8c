"""Subject access export: third parties' names are redacted however they are typed.

UK GDPR Art. 15(4): the right to a copy "shall not adversely affect the rights and freedoms of
others"; DPA 2018 Sch. 2 Part 3 para 16: information identifying another individual need not be
disclosed without their consent. An outside test found a recorded victim's name left in free
text when typed with a curly apostrophe, a no-break or doubled space, in another case, or as the
surname alone, and names under ``details`` keys such as ``named_others`` left in. Written from
the tester's side: each variant is redacted and listed, the child's own name is not, and nothing
else in the export changes.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.names import NameFinder, fold_each, fold_name, fold_with_offsets, name_parts
from app.domain.subject_access import REDACTED
from tests.api.test_panels import add_item, schedule
from tests.conftest import Tenant

VICTIM = "Dana O'Neill"
CHILD = {"given_name": "Liam", "family_name": "Hart", "date_of_birth": "2010-09-09"}
# Free text naming the victim, as a practitioner may type it.
VARIANTS = {
    "exact": "Dana O'Neill",
    "curly": "Dana O\u2019Neill",
    "upper": "DANA O'NEILL",
    "lower_double_space": "dana  o'neill",
    "nbsp": "Dana\u00a0O'Neill",
    "tab_and_newline": "Dana\t\nO'Neill",
    "surname": "O'Neill",
    "surname_curly": "O\u2019Neill",
    "surname_no_apostrophe": "ONeill",
    "given_name": "Dana",
    "accented": "Dána O'Néill",
    "modifier_apostrophe": "Dana O\u02bcNeill",
    "soft_hyphen": "Dana O'Ne\u00adill",
    "fullwidth": "\uff24\uff41\uff4e\uff41 O'Neill",
    # attack pass 5: the apostrophe typed as a space or a dash, or the surname without its O'
    "surname_space": "O Neill",
    "lower_space": "dana o neill",
    "surname_hyphen": "O\u2010Neill",
    "surname_en_dash": "Dana O\u2013Neill",
    "surname_without_o": "Neill",
}


async def _export(client: httpx.AsyncClient, tenant: Tenant, case_id: str,
                  redact: bool = True) -> dict[str, Any]:
    r = await client.get(f"/v1/cases/{case_id}/subject-access-export",
                         params={"redact": str(redact).lower()},
                         headers=tenant.auth("line_manager"))
    assert r.status_code == 200, r.text
    return dict(r.json()["data"])


async def _post(client: httpx.AsyncClient, tenant: Tenant, url: str, body: dict[str, Any],
                role: str = "case_holder") -> None:
    r = await client.post(url, headers=tenant.auth(role), json=body)
    assert r.status_code == 201, r.text


@pytest.fixture
async def case(client: httpx.AsyncClient, somerset: Tenant) -> str:
    """A case of Liam Hart whose judgement records Dana O'Neill as a victim."""
    case_id = str((await somerset.open_case(child=CHILD))["data"]["id"])
    await _post(client, somerset, f"/v1/cases/{case_id}/judgements", {
        "domain": "rosh", "level": "medium", "victims": [VICTIM], "rationale": "Threats."})
    return case_id


async def test_each_way_of_typing_the_victims_name_is_redacted_and_listed(
    client: httpx.AsyncClient, somerset: Tenant, case: str
) -> None:
    for tag, name in VARIANTS.items():
        await _post(client, somerset, f"/v1/cases/{case}/events", {
            "type": "new_incident", "details": {"summary": f"Fight with {name}.", "tag": tag}})
    await _post(client, somerset, f"/v1/cases/{case}/oversight",
                {"note": "Spoke to O\u2019Neill's mother; dana  o'neill's sister too."},
                role="line_manager")
    doc = await _export(client, somerset, case)
    events = {e["details"]["tag"]: (i, e) for i, e in enumerate(doc["cases"][0]["events"])}
    listed = {d["path"]: d["reason"] for d in doc["redactions"]}
    for tag in VARIANTS:
        i, event = events[tag]
        assert event["details"]["summary"] == f"Fight with {REDACTED}.", tag
        assert listed[f"cases[0].events[{i}].details.summary"] == (
            "names a third party (a recorded victim)")
    note = doc["cases"][0]["oversight"][0]["note"]
    assert note == f"Spoke to {REDACTED}'s mother; {REDACTED}'s sister too."


async def test_a_name_inside_another_word_is_not_a_name(
    client: httpx.AsyncClient, somerset: Tenant, case: str
) -> None:
    """Whole words only: "Danaher", "Neills" and "O'Neillson" stay."""
    text = "Danaher met O'Neillson and the Neills."
    await _post(client, somerset, f"/v1/cases/{case}/events",
                {"type": "new_incident", "details": {"summary": text}})
    doc = await _export(client, somerset, case)
    assert doc["cases"][0]["events"][-1]["details"]["summary"] == text


@pytest.mark.parametrize("key", ["named_others", "names", "people", "others", "persons",
                                 "witnesses", "namedOthers", "other-people", "victim_names",
                                 "known_associates", "Siblings"])
async def test_keys_naming_people_are_redacted(
    client: httpx.AsyncClient, somerset: Tenant, case: str, key: str
) -> None:
    """The value under a key naming people is redacted, and that name in free text too
    (whole or one part), whatever the key."""
    await _post(client, somerset, f"/v1/cases/{case}/events", {
        "type": "change_of_circumstances",
        "details": {"other": {key: ["Priya Shah"]}, "note": "Priya\u00a0Shah's phone; SHAH.",
                    "place": "bus stop"}})
    doc = await _export(client, somerset, case)
    i, event = len(doc["cases"][0]["events"]) - 1, doc["cases"][0]["events"][-1]
    assert event["details"] == {"other": {key: REDACTED},
                                "note": f"{REDACTED}'s phone; {REDACTED}.", "place": "bus stop"}
    listed = {d["path"]: d["reason"] for d in doc["redactions"]}
    base = f"cases[0].events[{i}].details"
    assert listed[f"{base}.other.{key}"] == f"third-party personal data ({key})"
    assert listed[f"{base}.note"] == "names a third party (recorded under a third-party key)"
    assert "Priya" not in str(doc["cases"])
    assert "Shah" not in str(doc["cases"])


async def test_the_childs_own_name_is_not_redacted(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """A victim who shares the child's surname (a sibling): her full name and given name are
    redacted, the surname alone is the child's and stays, and so does the child's name."""
    case_id = str((await somerset.open_case(child=CHILD))["data"]["id"])
    await _post(client, somerset, f"/v1/cases/{case_id}/judgements", {
        "domain": "rosh", "level": "medium", "victims": ["Amy Hart"],
        "rationale": "Liam Hart hit his sister Amy hart; AMY was hurt. The Hart family agree."})
    doc = await _export(client, somerset, case_id)
    assert doc["cases"][0]["judgements"][0]["rationale"] == (
        f"Liam Hart hit his sister {REDACTED}; {REDACTED} was hurt. The Hart family agree.")
    assert doc["child"] == {"given_name": "Liam", "family_name": "Hart",
                            "date_of_birth": "2010-09-09"}


def _differences(a: Any, b: Any, path: str) -> set[str]:
    if isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys():
        return set().union(*(_differences(a[k], b[k], f"{path}.{k}") for k in a))
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return set().union(*(_differences(x, y, f"{path}[{i}]")
                             for i, (x, y) in enumerate(zip(a, b, strict=True))))
    return set() if a == b else {path}


async def test_nothing_else_in_the_export_changes(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """The redacted export differs from the unredacted one only at the listed paths, though a
    victim's surname ("Medium") is also a judgement level and the intervention a word of it."""
    case_id = str((await somerset.open_case(child=CHILD))["data"]["id"])
    await _post(client, somerset, f"/v1/cases/{case_id}/judgements", {
        "domain": "rosh", "level": "medium", "victims": [VICTIM, "Ann Medium", "Court Order"],
        "rationale": "Liam threatened O\u2019Neill; medium risk to Ann."})
    await _post(client, somerset, f"/v1/cases/{case_id}/events", {
        "type": "new_incident", "details": {"summary": "At court, order made.", "n": 3}})
    plain = await _export(client, somerset, case_id, redact=False)
    doc = await _export(client, somerset, case_id)
    assert plain["redactions"] == []
    for d in (plain, doc):  # the first export is in the second's audit
        for f in d["cases"]:
            f["audit"] = [a for a in f["audit"] if a["action"] != "case.subject_access_export"]
    listed = {d["path"] for d in doc["redactions"]}
    assert _differences(plain["cases"], doc["cases"], "cases") == listed
    first = doc["cases"][0]
    assert first["judgements"][0]["level"] == "medium"
    assert first["case"]["intervention"] == "court_order"
    assert first["judgements"][0]["rationale"] == (
        f"Liam threatened {REDACTED}; {REDACTED} risk to {REDACTED}.")
    assert first["events"][-1]["details"] == {"summary": f"At {REDACTED}, {REDACTED} made.",
                                              "n": 3}
    assert {k: v for k, v in doc.items() if k not in ("cases", "redactions", "generated_at",
                                                      "redacted")} == {
        k: v for k, v in plain.items() if k not in ("cases", "redactions", "generated_at",
                                                    "redacted")}


@settings(max_examples=300, deadline=None)
@given(st.text(st.sampled_from("aZ '`-\t\n\r.\u00a0\u2019\u00ad\u00e9e\u0301\u00df"), max_size=30))
def test_folding_any_text_keeps_each_characters_origin(text: str) -> None:
    """The shortcut for plain ASCII folds as the character-by-character path does, and each
    folded character points at the character it came from."""
    folded, origin = fold_with_offsets(text)
    slow, slow_origin = fold_each(text)
    assert (folded, list(origin)) == (slow, slow_origin)
    assert len(origin) == len(folded)
    assert all(0 <= i < len(text) for i in origin)
    assert list(origin) == sorted(origin)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(VARIANTS.values())),
       st.text(st.sampled_from("ab .,;'\u00a0\n"), max_size=8),
       st.text(st.sampled_from("ab .,;'\u00a0\n"), max_size=8))
def test_a_name_between_any_words_is_replaced_and_nothing_else(
    name: str, before: str, after: str
) -> None:
    """Whatever is around a variant of the name (other than letters touching it), only the
    name is replaced."""
    finder = NameFinder([fold_name(VICTIM), *name_parts(VICTIM)])
    text = f"{before} {name} {after}"
    assert finder.replace(text, "#") == f"{before} # {after}"


async def test_nobody_recorded_as_a_third_party_is_not_a_name(
    client: httpx.AsyncClient, somerset: Tenant, case: str
) -> None:
    """``"witnesses": "none known"`` is redacted as the value of that key, but "none" and
    "known" elsewhere are not names."""
    await _post(client, somerset, f"/v1/cases/{case}/events", {
        "type": "new_incident", "details": {"witnesses": "None known",
                                            "summary": "None of it was known to school."}})
    doc = await _export(client, somerset, case)
    assert doc["cases"][0]["events"][-1]["details"] == {
        "witnesses": REDACTED, "summary": "None of it was known to school."}


async def test_a_panel_actions_step_title_naming_the_victim_is_redacted(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """S18 quotes the panel's action in its step's title ("MARP action: Warn O'Neill family"):
    the victim's surname is redacted there (and listed), as in the decision's own text."""
    case_id = str((await somerset.open_case(child=CHILD))["data"]["id"])
    await _post(client, somerset, f"/v1/cases/{case_id}/judgements", {
        "domain": "rosh", "level": "high", "victims": [VICTIM], "rationale": "Threats.",
        "occurred_at": "2026-06-01T10:00:00+01:00"})
    panel = await schedule(client, somerset, "2026-06-10T14:00:00+01:00")
    item = await add_item(client, somerset, panel["id"], case_id)
    r = await client.post(
        f"/v1/panels/{panel['id']}/items/{item['id']}/decision",
        json={"rosh_level": "high", "review_date": "2026-07-08", "minutes": "Remains high",
              "actions": [{"description": "Warn O\u2019Neill family", "owner_id": "police-4",
                           "due_date": "2026-06-12"}],
              "occurred_at": "2026-06-10T15:00:00+01:00"},
        headers=somerset.auth("chair", "chair-1"))
    assert r.status_code == 200, r.text
    doc = await _export(client, somerset, case_id)
    [action] = [s for s in doc["cases"][0]["steps"] if s["code"] == "panel_action"]
    assert action["title"] == f"MARP action: Warn {REDACTED} family"
    assert "neill" not in str(doc["cases"][0]).casefold()


async def test_letters_without_a_decomposition_and_names_in_keys_are_redacted(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """Victims "Łukasz Wałęsa", "Søren Strauß" and "Æthelred Đorđević" typed without their
    letters (Lukasz Walesa, SOREN, Aethelred, Dordevic) are redacted; so is a victim's name used
    as a ``details`` key (the key becomes the marker, the value stays, both listed)."""
    case_id = str((await somerset.open_case(child=CHILD))["data"]["id"])
    await _post(client, somerset, f"/v1/cases/{case_id}/judgements", {
        "domain": "rosh", "level": "medium",
        "victims": ["Łukasz Wałęsa", "Søren Strauß", "Æthelred Đorđević"],
        "rationale": "Lukasz Walesa, SOREN strauss, Aethelred and Dordevic were threatened."})
    await _post(client, somerset, f"/v1/cases/{case_id}/events", {
        "type": "new_incident",
        "details": {"Met Lukasz at school": "yes", "Soren Strauss": "no", "place": "park"}})
    doc = await _export(client, somerset, case_id)
    text = str(doc["cases"][0]).casefold()
    for part in ("lukasz", "walesa", "soren", "strauss", "aethelred", "dordevic"):
        assert part not in text, part
    details = doc["cases"][0]["events"][-1]["details"]
    assert sorted(details.values()) == ["no", "park", "yes"]
    assert details["place"] == "park"
    assert {d["reason"] for d in doc["redactions"]} >= {"names a third party (in a key)"}


async def test_another_child_known_to_the_service_is_redacted_in_minutes_and_notes(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """Attack pass 12, A12-6: panel minutes and notes name other children (a co-defendant, a
    child on the same agenda) who are not recorded as victims. Another child with a case of the
    service, restricted or not, is a third party (Art. 15(4)): their full name is redacted in
    free text however it is typed, either order, and listed; their given name alone, the
    child's own name and a name only resembling theirs stay."""
    case_id = str((await somerset.open_case(child=CHILD))["data"]["id"])
    await somerset.open_case(child={"given_name": "Kai", "family_name": "O'Brennan",
                                    "date_of_birth": "2011-02-03"})
    await _post(client, somerset, f"/v1/cases/{case_id}/judgements", {
        "domain": "rosh", "level": "high", "rationale": "Offended with KAI O\u2019BRENNAN.",
        "occurred_at": "2026-06-01T10:00:00+01:00"})
    await _post(client, somerset, f"/v1/cases/{case_id}/events", {
        "type": "new_incident",
        "details": {"summary": "Seen with kai  obrennan; Kai is a friend; Brennan OBrennan.",
                    "note": "O'Brennan Kai was there; Kai O'Brennanson too."}})
    panel = await schedule(client, somerset, "2026-06-10T14:00:00+01:00")
    item = await add_item(client, somerset, panel["id"], case_id)
    r = await client.post(
        f"/v1/panels/{panel['id']}/items/{item['id']}/decision",
        json={"rosh_level": "high", "review_date": "2026-07-08",
              "minutes": "Liam Hart and Kai O'Brennan to be kept apart.",
              "occurred_at": "2026-06-10T15:00:00+01:00"},
        headers=somerset.auth("chair", "chair-1"))
    assert r.status_code == 200, r.text
    doc = await _export(client, somerset, case_id)
    first = doc["cases"][0]
    assert first["judgements"][0]["rationale"] == f"Offended with {REDACTED}."
    assert first["events"][-1]["details"] == {
        "summary": f"Seen with {REDACTED}; Kai is a friend; Brennan OBrennan.",
        "note": f"{REDACTED} was there; Kai O'Brennanson too."}
    [decided] = [i for i in first["panel_items"] if i["decision"]]
    assert decided["decision"]["minutes"] == f"Liam Hart and {REDACTED} to be kept apart."
    i = len(first["events"]) - 1
    listed = {d["path"]: d["reason"] for d in doc["redactions"]}
    assert listed["cases[0].judgements[0].rationale"] == (
        "names a third party (another child known to the service)")
    assert listed[f"cases[0].events[{i}].details.summary"] == (
        "names a third party (another child known to the service)")
    plain = await _export(client, somerset, case_id, redact=False)
    assert "Kai O'Brennan to be kept apart" in str(plain["cases"])


async def test_another_child_with_the_childs_own_name_does_not_hide_it(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """Another child of the service born on another day may carry the same name: the child's
    own name stays in their export."""
    case_id = str((await somerset.open_case(child=CHILD))["data"]["id"])
    await somerset.open_case(child={**CHILD, "date_of_birth": "2012-01-01"})
    await _post(client, somerset, f"/v1/cases/{case_id}/events", {
        "type": "new_incident", "details": {"summary": "Liam Hart says sorry."}})
    doc = await _export(client, somerset, case_id)
    assert doc["cases"][0]["events"][-1]["details"] == {"summary": "Liam Hart says sorry."}


async def test_a_third_partys_contact_details_are_redacted_in_json_and_html(
    client: httpx.AsyncClient, somerset: Tenant, case: str
) -> None:
    """Attack pass 17, A17-9: a referral's ``details`` carrying ``"contact": "Mrs Patel, 07700
    900123"`` was disclosed verbatim. Somerset 6.4: "the child has the right to access their
    case file in line with GDPR legislation. This may be particularly relevant where concerns
    relating to the child and/or their parent/carer may place them or others at risk"; UK GDPR
    Art. 15(4). Contact-type keys are third-party data, and a UK telephone number or e-mail
    address anywhere in free text is redacted and listed; the referrer's name found under a
    contact key is redacted in other free text too. Times, ids and the child's data stay."""
    r = await client.post(f"/v1/cases/{case}/referrals", headers=somerset.auth("case_holder"),
                          json={"kind": "child_protection", "details": {
                              "summary": "Concerns raised by the school.",
                              "contact": "Mrs Patel, 07700 900123",
                              "referrer": {"phone": "+44 (0)20 7946 0018"},
                              "mobile": "07700900456", "telephone": "0117-496-0123",
                              "email": "a.patel@example.org",
                              "address": "12 High Street, Taunton TA1 1AA"}})
    assert r.status_code == 201, r.text
    await _post(client, somerset, f"/v1/cases/{case}/events", {
        "type": "change_of_circumstances", "details": {
            "summary": "Aunt on 07700 900789 or jo.bloggs@example.com; Mrs Patel rang at "
                       "10:00 on 2026-09-10."}})
    await _post(client, somerset, f"/v1/cases/{case}/oversight",
                {"note": "Call back on (01632) 960 001 about Liam."}, role="line_manager")
    leaked = ("Patel", "07700", "7946 0018", "960 001", "496-0123", "example.org", "example.com",
              "High Street", "TA1")
    doc = await _export(client, somerset, case)
    text = str(doc["cases"])
    for value in leaked:
        assert value not in text, value
    first = doc["cases"][0]
    details = next(f["details"] for f in first["referrals"]
                   if f["kind"] == "child_protection")
    assert details == {"summary": "Concerns raised by the school.", "contact": REDACTED,
                       "referrer": REDACTED, "mobile": REDACTED, "telephone": REDACTED,
                       "email": REDACTED, "address": REDACTED}
    event = first["events"][-1]["details"]["summary"]
    assert event == (f"Aunt on {REDACTED} or {REDACTED}; Mrs {REDACTED} rang at 10:00 on "
                     "2026-09-10.")
    assert first["oversight"][-1]["note"] == f"Call back on {REDACTED} about Liam."
    reasons = {d["reason"] for d in doc["redactions"]}
    assert {"a telephone number (third-party personal data)",
            "an e-mail address (third-party personal data)",
            "third-party personal data (contact)"} <= reasons
    # The child's own record is intact: contact level, ids and times.
    assert first["case"]["contact_level"] == (await _export(
        client, somerset, case, redact=False))["cases"][0]["case"]["contact_level"]
    page = await client.get(f"/v1/cases/{case}/subject-access-export",
                            params={"format": "html"}, headers=somerset.auth("chair"))
    assert page.status_code == 200
    for value in leaked:
        assert value not in page.text, value
    assert "Liam" in page.text
    assert '<span class="redacted">' in page.text
