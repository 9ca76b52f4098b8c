"""Possible duplicate children on create (issue 13, part 6): a warning, never a refusal, and
never a restricted case shown to someone who may not see it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.domain.duplicates import THRESHOLD, compare, fold
from tests.api.support import restrict
from tests.conftest import Tenant

DOB = "2011-02-14"


@pytest.mark.parametrize(("a", "b", "reason"), [
    (("Zoë", "O'Brien-Smith"), ("Zoë", "O'Brien-Smith"), "same_name"),
    (("Zoë", "O'Brien-Smith"), ("ZOE", "o brien smith"),
     "same_name_ignoring_case_accents_and_punctuation"),
    (("Jayden", "Okafor"), ("Okafor", "Jayden"), "given_and_family_names_swapped"),
    (("Mary-Jane", "Watson"), ("Maryjane", "Watson"), "same_name_ignoring_spaces_and_hyphens"),
    (("Aleksander", "Nowak"), ("Aleksandr", "Nowak"), "similar_name"),
])
def test_similar_names_match_with_their_reason(
    a: tuple[str, str], b: tuple[str, str], reason: str
) -> None:
    """Case, accents, hyphens/spaces and name order do not hide the same child."""
    score, reasons = compare(*a, *b)
    assert score >= THRESHOLD
    assert reasons == ["same_date_of_birth", reason]


def test_different_children_do_not_match() -> None:
    """Two different names born the same day are not flagged."""
    score, _ = compare("Sam", "Taylor", "Priya", "Shah")
    assert score < THRESHOLD
    assert fold("  Renée   Dupont-Lévy ") == "renee dupont levy"


def _child(given: str, family: str, dob: str = DOB) -> dict[str, Any]:
    return {"given_name": given, "family_name": family, "date_of_birth": dob}


async def _post(client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str],
                **overrides: Any) -> httpx.Response:
    body: dict[str, Any] = {
        "child": _child("Zoë", "O'Brien-Smith"), "case_holder_id": "case_holder-1",
        "line_manager_id": "line_manager-1", "intervention": "court_order",
        "csc_status": "none"}
    body.update(overrides)
    return await client.post("/v1/cases", json=body, headers=headers)


async def test_create_warns_of_a_possible_duplicate_and_still_opens(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """Same birth date and the name typed differently: 201 with possible_duplicates naming
    the first case; another birth date: no warning."""
    manager = somerset.auth("line_manager")
    first = (await _post(client, somerset, manager)).json()["data"]
    r = await _post(client, somerset, manager, child=_child("zoe", "OBrien Smith"))
    assert r.status_code == 201
    found = r.json()["possible_duplicates"]
    assert [d["case_id"] for d in found] == [first["id"]]
    assert found[0]["reasons"] == ["same_date_of_birth",
                                   "same_name_ignoring_spaces_and_hyphens"]
    assert found[0]["score"] >= THRESHOLD
    other = await _post(client, somerset, manager, child=_child("Zoë", "O'Brien-Smith",
                                                                 "2011-02-15"))
    assert other.json()["possible_duplicates"] == []


async def test_upsert_and_feed_creates_warn_too(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """A case pushed by the case management system (PUT by reference) is checked as well."""
    first = (await _post(client, somerset, somerset.auth("line_manager"))).json()["data"]
    body = {"child": _child("O'Brien-Smith", "Zoe"), "case_holder_id": "case_holder-1",
            "line_manager_id": "line_manager-1", "intervention": "court_order",
            "csc_status": "none"}
    r = await client.put("/v1/cases/by-external-ref/iyss/D-77", json=body,
                         headers=somerset.auth("feed", "iyss-connector", scope="cms"))
    assert r.status_code == 201
    assert [d["case_id"] for d in r.json()["possible_duplicates"]] == [first["id"]]


async def test_restricted_cases_are_never_revealed_as_duplicates(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """A restricted case is not named to an excluded duty manager nor to a feed; a duty
    manager with access is warned."""
    first = (await _post(client, somerset, somerset.auth("line_manager"))).json()["data"]
    r = await restrict(client, somerset, first["id"], {"excluded_staff": ["duty_manager-9"]})
    assert r.status_code == 200
    excluded = await _post(client, somerset, somerset.auth("duty_manager", "duty_manager-9"))
    assert excluded.status_code == 201
    assert excluded.json()["possible_duplicates"] == []
    feed = await _post(client, somerset, somerset.auth("feed", "iyss-connector", scope="cms"))
    # the feed is warned of the excluded manager's new (unrestricted) case, not the first
    assert [d["case_id"] for d in feed.json()["possible_duplicates"]] == [
        excluded.json()["data"]["id"]]
    allowed = await _post(client, somerset, somerset.auth("duty_manager", "duty_manager-1"))
    assert first["id"] in [d["case_id"] for d in allowed.json()["possible_duplicates"]]
