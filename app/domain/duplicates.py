"""Possible duplicate children: another case of the service for what may be the same child.

A candidate has the same date of birth and a similar name, compared after folding case and
accents and treating hyphens, apostrophes and spaces alike, in either name order (given and
family names swapped), scored with rapidfuzz (0 to 100). A match is a warning on the create:
the case is still opened. Only cases the caller may see are ever named (staff: their visible
cases; a feed or case management system: unrestricted cases of the service).
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from datetime import date

from pydantic import BaseModel
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.security import STAFF_ROLES, Principal
from app.domain.access import visible_cases_clause
from app.domain.cases_table import Case

THRESHOLD = 85.0
MAX_CANDIDATES = 10
_SEPARATORS = re.compile(r"[\s\-‐‑‒–—'’`.,]+")


class PossibleDuplicate(BaseModel):
    """Another case that may be about the same child: its id, a 0–100 score, and why."""

    case_id: uuid.UUID
    score: float
    reasons: list[str]


def fold(name: str) -> str:
    """A name folded for comparison: lower case, accents removed, hyphens/apostrophes/spaces
    as single spaces ("Zoë O'Brien-Smith" -> "zoe o brien smith")."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SEPARATORS.sub(" ", bare).strip()


def compare(given: str, family: str, other_given: str, other_family: str
            ) -> tuple[float, list[str]]:
    """Score (0–100) and reasons for two names of children born the same day."""
    from rapidfuzz import fuzz  # loaded on the first candidate, not at start-up

    a_given, a_family, b_given, b_family = map(fold, (given, family, other_given, other_family))
    a, b = f"{a_given} {a_family}", f"{b_given} {b_family}"
    score = max(
        fuzz.token_sort_ratio(a, b),  # word order ignored: given and family swapped
        fuzz.ratio(a.replace(" ", ""), b.replace(" ", "")),  # "Smith Jones" ~ "Smithjones"
        fuzz.ratio(f"{a_family}{a_given}".replace(" ", ""), b.replace(" ", "")),
    )
    reasons = ["same_date_of_birth"]
    if (given, family) == (other_given, other_family):
        reasons.append("same_name")
    elif (a_given, a_family) == (b_given, b_family):
        reasons.append("same_name_ignoring_case_accents_and_punctuation")
    elif (a_given, a_family) == (b_family, b_given):
        reasons.append("given_and_family_names_swapped")
    elif a.replace(" ", "") in (b.replace(" ", ""), f"{b_family}{b_given}".replace(" ", "")):
        reasons.append("same_name_ignoring_spaces_and_hyphens")
    else:
        reasons.append("similar_name")
    return round(float(score), 1), reasons


async def possible_duplicates(
    session: AsyncSession, principal: Principal, service_id: uuid.UUID, given: str,
    family: str, date_of_birth: date, exclude: uuid.UUID,
) -> list[PossibleDuplicate]:
    """Cases the caller may see with the same date of birth and a similar name, best first."""
    if principal.roles & STAFF_ROLES:
        where = [visible_cases_clause(principal, service_id)]
    else:  # a feed: the service's unrestricted cases
        where = [col(Case.service_id) == service_id, col(Case.access_mode).is_(None)]
    rows = await session.exec(select(Case).where(
        *where, col(Case.date_of_birth) == date_of_birth, col(Case.id) != exclude))
    found = []
    for case in rows:
        score, reasons = compare(given, family, case.given_name, case.family_name)
        if score >= THRESHOLD:
            found.append(PossibleDuplicate(case_id=case.id, score=score, reasons=reasons))
    found.sort(key=lambda d: (-d.score, str(d.case_id)))
    return found[:MAX_CANDIDATES]
