"""Subject access export: everything the service holds about a child (Somerset 6.4: "the child
has the right to access their case file in line with GDPR").

The child's cases are the requested case and every other case of the service the requester may
see with the same date of birth and the same recorded name (letter case and runs of spaces
aside). A case whose name only resembles it (accents, punctuation, hyphens or spaces, given and
family names swapped, a similar spelling: :func:`app.domain.duplicates.compare`) may be another
child born the same day: disclosing it would disclose that child's record (UK GDPR Art. 15(4)).
Such cases are not included but listed in ``possible_matches`` (case id, external reference and
why it resembles; no name), and the requester includes the ones they have confirmed are the same
child with ``include=<case id>``. Each case in the export says how it was matched and the name
recorded on it. For each case: the case record, judgements with rationales, assessments,
events, referrals, oversight notes, panel items and decisions, steps, the case record's field
changes as the timeline shows them (when each happened, from and to: a back-dated act's
derived ratings, register, contact level, priority and custody at its date), each step's
recorded changes, and the write audit.

Third-party personal data is redacted by default and every redaction is listed in
``redactions`` (path and reason): UK GDPR Art. 15(4) (the right to a copy "shall not adversely
affect the rights and freedoms of others") and DPA 2018 Sch. 2 Part 3 para 16 (a controller need
not disclose information identifying another individual without their consent, unless it is
reasonable to). Redacted are:

- named victims (a judgement's ``victims``);
- the value under any key that names other people (:func:`third_party_key`: the keys of
  ``THIRD_PARTY_KEYS``, and any key one of whose words is in ``PEOPLE_WORDS``, such as
  ``named_others``, ``names``, ``people``, ``others``, ``otherPeople``, ``witness-names``), and
  any object marked ``"third_party": true``;
- in free text, those people's names however they are typed (:mod:`app.domain.names`: case,
  accents, apostrophe and dash variants, any spaces), as whole words: a victim's full name in
  any text of the export (as before), and in free text (values of ``FREE_TEXT`` keys and
  anything inside ``details``) also each part of their name of three letters or more alone
  ("O'Neill", "Dana") and the names recorded under third-party keys. A part shared with the
  child's own name (on any of their cases) is not redacted alone: this is the child's own
  subject access request;
- in free text, the full name (given and family, either order) of any other child known to the
  service (a case of the service not in the export, restricted or not: the requester need not
  see it for the name to be another child's), as panel minutes, events and notes name
  co-defendants, siblings and other children on the same agenda (attack pass 12, A12-6). Their
  names alone are not looked for (a common given name would hide the child's own story), nor a
  name the child shares.
"""

from __future__ import annotations

import html
import uuid
from collections.abc import Iterable, Set
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal

import regex
from pydantic import BaseModel
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.errors import Unprocessable
from app.core.security import Principal
from app.domain.access import (
    MANAGERS,
    SERVICE_WIDE_READERS,
    case_role_for,
    get_visible_case,
    note_read,
    visible_cases_clause,
)
from app.domain.assessments import assessment_out
from app.domain.assessments_table import Assessment
from app.domain.audit import case_audit, record_audit
from app.domain.case_history import field_changes
from app.domain.cases_table import Case
from app.domain.common import iso_utc, utcnow
from app.domain.duplicates import THRESHOLD, compare
from app.domain.events import CaseEvent, case_event_out
from app.domain.history import RecordChange
from app.domain.judgements import judgement_out
from app.domain.judgements_table import Judgement
from app.domain.names import NameFinder, fold_name, name_parts
from app.domain.oversight import OversightEntry, oversight_out
from app.domain.panels import Panel, PanelItem
from app.domain.policy import PolicyContext
from app.domain.referrals import Referral, referral_out
from app.domain.steps import Step, step_out
from app.workflows.packs import Pack

REDACTED = "[redacted: third-party personal data]"
# A member of staff's leave, as the service's own step notes and audit reasons wrote it before
# 30 November 2026 ("is away 2026-08-27 to 2026-09-04", "absence <id> changed from ... to ...")
# and audit reasons still name it ("absence <id> recorded"): their leave is their personal data,
# not the child's (Art. 15(4); attack pass 11, A11-17). Notes written since say only that the
# line manager "is on recorded leave", which the export also redacts: with the moments of the
# audit, when that phrase comes and goes tells when they were away (attack pass 12, A11-17 retest).
# Old W4 notes: "before <id>'s absence from <date>". The stand-ins settled as days pass name the
# day in their audit reasons ("(the recorded absences on <day>)", A13-10).
_DAY = r"\d{4}-\d{2}-\d{2}"
STAFF_LEAVE = regex.compile(
    rf"is away {_DAY} to {_DAY}|absence from {_DAY}|is (?:not )?on recorded leave"
    rf"(?: before the step is due| today)?"
    rf"|is not away (?:from {_DAY} to the step's due day|on {_DAY})"
    # the day's stand-in settled in an audit reason: "(the recorded absences on <day>)" (A13-10)
    # (ISO before 1 December 2026, London text since: "on Tuesday 1 December 2026", A17-10)
    rf"|the recorded absences on (?:{_DAY}|\p{{L}}+day \d{{1,2}} \p{{L}}+ \d{{4}})"
    rf"|absence [0-9a-f]{{8}}(?:-[0-9a-f]{{4}}){{3}}-[0-9a-f]{{12}}"
    rf"(?: recorded, {_DAY} to {_DAY}| changed from {_DAY} to {_DAY} to {_DAY} to {_DAY}"
    rf"| \({_DAY} to {_DAY}\) cancelled| recorded| changed| cancelled)?")
LEAVE_REDACTED = "[redacted: a member of staff's leave]"
EXPORTERS = (*MANAGERS, "chair")
SAME_CHILD = {"same_name", "same_name_ignoring_case_accents_and_punctuation",
              "given_and_family_names_swapped"}
THIRD_PARTY_KEYS = frozenset({
    "victim", "victims", "victim_name", "victim_names", "other_child", "other_children",
    "third_party", "third_parties", "witness", "witnesses", "associate", "associates",
    "co_defendant", "co_defendants", "family_members", "reporter", "referrer_name",
    "named_others", "names", "people", "others", "persons",
})
# A key one of whose words (split at "_", "-", spaces and camelCase) is one of these names
# people other than the child: "victim_names", "namedOthers", "known_associates", "other_people".
PEOPLE_WORDS = frozenset({
    "victim", "victims", "witness", "witnesses", "associate", "associates", "defendant",
    "defendants", "person", "persons", "people", "others", "names", "sibling", "siblings",
    "relative", "relatives", "referrer", "reporter",
})
# Inside ``details`` (free data a CMS sends), a key one of whose words is one of these holds a
# third party's contact or the person who made contact: "contact", "referrer_phone", "mobile",
# "email", "home_address" (attack pass 17, A17-9: "contact": "Mrs Patel, 07700 900123" was
# disclosed). Only inside ``details``: the case record's own ``contact_level`` is the child's.
CONTACT_WORDS = frozenset({
    "contact", "contacts", "referrer", "referrers", "phone", "phones", "mobile", "mobiles",
    "telephone", "tel", "email", "emails", "mail", "address", "addresses", "postcode",
})
# Of those, the keys whose values are only a channel (a number, an e-mail address, a postal
# address): redacted, but not taken as names to look for in free text ("High Street").
CHANNEL_WORDS = frozenset({
    "phone", "phones", "mobile", "mobiles", "telephone", "tel", "email", "emails", "mail",
    "address", "addresses", "postcode",
})
# A UK telephone number in any text (0 or +44/0044 then 9 or 10 more digits, spaces, dashes or
# dots between them, an area code in brackets, "+44 (0)"), and an e-mail address: third
# parties' contact details (A17-9). Not inside a longer run of letters, digits or dashes (ids,
# hashes, times).
PHONE = regex.compile(
    r"(?<![\w+\-.:/])(?:(?:\+|00)44[ \-.]?(?:\(0\)[ \-.]?)?|\(0(?=\d{2,4}\))|0)"
    r"\d(?:\)?[ \-.]?\d){8,9}(?![\w\-:/]|\.\d)")
EMAIL = regex.compile(
    r"(?<![\w.+\-])[\w.+\-']+@[\p{L}\p{N}\-]+(?:\.[\p{L}\p{N}\-]+)+(?![\w\-@])")
# Keys holding staff or record identifiers, never a third party's contact details.
_IDENTIFIER = regex.compile(r"(?:^|_)(?:id|ids|by|actor|sub|hash)$")
TITLES = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "rev", "sir", "dame"})
# What is typed under a third-party key when there is nobody to name: not looked for in free
# text (the value itself is still redacted), nor is a name part that is one of these.
NOT_NAMES = frozenset({
    "none", "nil", "no", "n/a", "na", "yes", "unknown", "not known", "none known", "tbc",
    "tbd", "anonymous", "anon", "other", "others", "various", "known", "not applicable",
})
# Keys whose values are free text (where the parts of third parties' names are looked for, as
# well as anything inside ``details``).
FREE_TEXT = frozenset({"rationale", "note", "notes", "minutes", "feedback", "completion_note",
                       "description", "summary", "reason", "text",
                       # a step's title quotes a panel action's description (S18, W22)
                       "title"})


class SubjectAccessExport(BaseModel):
    """The export: who asked, when, the child, their cases, and what was redacted."""

    generated_at: datetime
    generated_by: str
    service: str
    redacted: bool
    child: dict[str, Any]
    cases: list[dict[str, Any]]
    redactions: list[dict[str, str]]
    # Cases of the same date of birth whose name only resembles the child's: left out unless
    # the requester includes them (``include=``); ids and reasons only.
    possible_matches: list[dict[str, Any]] = []
    # What the export could cover: ``service`` for a duty manager or chair (every case of the
    # service not restricted against them), ``managed_cases`` for a line manager (only the cases
    # they manage: the child's cases held by other teams are not looked at, ATK28B-12).
    scope: Literal["service", "managed_cases"]
    notes: list[str]


_KEY_WORDS = regex.compile(r"[^\p{L}\p{N}]+")
_CAMEL = regex.compile(r"(?<=[\p{Ll}\p{N}])(?=\p{Lu})")


@lru_cache(maxsize=4096)
def _key_words(key: str) -> tuple[str, ...]:
    return tuple(w for w in _KEY_WORDS.split(_CAMEL.sub("_", key).casefold()) if w)


def third_party_key(key: str, free: bool = False) -> bool:
    """Whether a key holds other people's personal data: one of ``THIRD_PARTY_KEYS``, or a
    key with a word in ``PEOPLE_WORDS`` (words split at anything but letters and digits and at
    camelCase humps, compared casefolded); inside free data (``free``: ``details``) also a key
    with a word in ``CONTACT_WORDS`` ("contact", "referrer_phone", "email")."""
    words = _key_words(key)
    return ("_".join(words) in THIRD_PARTY_KEYS or any(w in PEOPLE_WORDS for w in words)
            or (free and any(w in CONTACT_WORDS for w in words)))


def _channel_key(key: str) -> bool:
    """A contact key that holds only a channel (phone, e-mail, address), not a name."""
    words = _key_words(key)
    return (any(w in CHANNEL_WORDS for w in words)
            and not any(w in PEOPLE_WORDS or w in ("contact", "contacts") for w in words))


def _contact_names(value: Any) -> Iterable[str]:
    """The names in a contact value ("Mrs Patel, 07700 900123"): its telephone numbers and
    e-mail addresses taken out, split at commas, semicolons, slashes and lines, titles left
    out."""
    for text in _strings(value):
        text = EMAIL.sub(" ", PHONE.sub(" ", text))
        for piece in regex.split(r"[,;/\n()]+", text):
            words = [w for w in piece.split() if w.casefold().strip(".") not in TITLES]
            if words:
                yield " ".join(words)


def _recorded_names(value: Any, key: str = "", free: bool = False) -> Iterable[str]:
    """Strings recorded under third-party keys (and in objects marked as third-party),
    taken as names of third parties; under a contact key inside ``details``, the names in it
    (not a bare telephone number, e-mail or postal address)."""
    if isinstance(value, dict):
        marked = value.get("third_party") is True
        inside = free or key == "details"
        for k, v in value.items():
            if marked or third_party_key(k):
                yield from _strings(v)
            elif third_party_key(k, inside):
                if not _channel_key(k):
                    yield from _contact_names(v)
            else:
                yield from _recorded_names(v, k, inside)
    elif isinstance(value, list):
        for v in value:
            yield from _recorded_names(v, key, free)


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)


class _Redactor:
    """Replaces third-party data with ``REDACTED`` and remembers where and why."""

    def __init__(self, victims: Iterable[str], others: Iterable[str],
                 childs_names: Iterable[str], active: bool,
                 children: Iterable[str] = ()) -> None:
        self.active = active
        self.done: list[dict[str, str]] = []
        own = set().union(*(name_parts(n) for n in childs_names))
        victims = [fold_name(n) for n in victims if len(n.strip()) >= 2]
        victim_parts = set().union(*(name_parts(n) for n in victims)) - own - NOT_NAMES
        others = [f for f in (fold_name(n) for n in others if len(n.strip()) >= 2)
                  if f not in NOT_NAMES]
        other_parts = set().union(*(name_parts(n) for n in others)) - own - NOT_NAMES
        # Victims' full names anywhere (as always); their parts and other third parties'
        # names in free text.
        self._everywhere = NameFinder(victims)
        self._victims_free = NameFinder([*victims, *victim_parts], loose=True)
        children = [fold_name(n) for n in children]
        self._children = NameFinder(children, loose=True)
        self._free = NameFinder([*victims, *victim_parts, *others, *other_parts, *children],
                                loose=True)

    def _mark(self, path: str, reason: str) -> str:
        self.done.append({"path": path, "reason": reason})
        return REDACTED

    def _key(self, key: str, path: str, free: bool, taken: Set[str]) -> str:
        """A key of free data (``details``) that names a third party is redacted like a value
        (numbered if two would clash); any other key is kept."""
        if not free or not isinstance(key, str):
            return key
        redacted = self._free.replace(key, REDACTED)
        if redacted is None:
            return key
        unique, n = redacted, 2
        while unique in taken:
            unique, n = f"{redacted} ({n})", n + 1
        self.done.append({"path": f"{path}.{unique}", "reason": "names a third party (in a key)"})
        return unique

    def _contact_details(self, text: str, path: str) -> str:
        """``text`` with UK telephone numbers and e-mail addresses redacted (A17-9)."""
        text, phones = PHONE.subn(REDACTED, text)
        if phones:
            self.done.append({"path": path, "reason": "a telephone number (third-party "
                                                      "personal data)"})
        text, emails = EMAIL.subn(REDACTED, text)
        if emails:
            self.done.append({"path": path, "reason": "an e-mail address (third-party "
                                                      "personal data)"})
        return text

    def walk(self, value: Any, path: str, key: str = "", free: bool = False) -> Any:
        """The value with third-party data redacted (a copy). ``free``: inside free text
        (``details``, or the value of a ``FREE_TEXT`` key)."""
        if not self.active:
            return value
        if third_party_key(key, free) and value not in (None, [], {}, ""):
            # The key as shown: a key of free data naming the victim is itself redacted.
            shown = (self._free.replace(key, REDACTED) if free else None) or key
            return self._mark(path, f"third-party personal data ({shown})")
        if isinstance(value, dict):
            if value.get("third_party") is True:
                return self._mark(path, "marked as third-party")
            inside = free or key == "details"
            out: dict[str, Any] = {}
            for k, v in value.items():
                # The path names the key as it is shown: a redacted key's own text never
                # reaches the list of redactions (attack pass 9, A9-21).
                shown = self._key(k, path, inside, value.keys() | out.keys())
                out[shown] = self.walk(v, f"{path}.{shown}", k, inside)
            return out
        if isinstance(value, list):
            return [self.walk(v, f"{path}[{i}]", key, free) for i, v in enumerate(value)]
        if isinstance(value, str):
            value, leave = STAFF_LEAVE.subn(LEAVE_REDACTED, value)
            if leave:
                self.done.append({"path": path, "reason": "a member of staff's leave "
                                                          "(third-party personal data)"})
            if not _IDENTIFIER.search(key.casefold() if isinstance(key, str) else ""):
                value = self._contact_details(value, path)
            finder = self._free if free or key in FREE_TEXT else self._everywhere
            redacted = finder.replace(value, REDACTED)
            if redacted is not None:
                victim = (self._victims_free if finder is self._free else
                          self._everywhere).spans(value)
                child = finder is self._free and self._children.spans(value)
                self.done.append({"path": path, "reason": (
                    "names a third party (a recorded victim)" if victim else
                    "names a third party (another child known to the service)" if child else
                    "names a third party (recorded under a third-party key)")})
                return redacted
        return value


def _recorded_name(given: str, family: str) -> tuple[str, str]:
    """A recorded name as the same name: letter case and runs of spaces aside (a CMS that
    capitalises surnames), nothing else (an accent or a hyphen may be another child's name)."""
    return " ".join(given.casefold().split()), " ".join(family.casefold().split())


async def _childs_cases(
    session: AsyncSession, principal: Principal, case: Case, include: Set[uuid.UUID],
) -> tuple[list[tuple[Case, str]], list[dict[str, Any]]]:
    """The child's cases the requester may see, oldest first, each with how it was matched:
    the requested case, the cases with the same birth date and recorded name, and the cases
    the requester includes (``include``) among the possible matches; and the possible matches
    left out (same birth date, a name that resembles: ids and reasons only). 422
    ``not-a-possible-match`` for an ``include`` that is not one (an unknown or invisible id
    answers the same)."""
    rows = await session.exec(select(Case).where(
        visible_cases_clause(principal, case.service_id),
        col(Case.date_of_birth) == case.date_of_birth,
    ).order_by(col(Case.opened_at), col(Case.id)))
    name = _recorded_name(case.given_name, case.family_name)
    same: list[tuple[Case, str]] = []
    possible: list[dict[str, Any]] = []
    for other in rows:
        if other.id == case.id:
            same.append((other, "the case the export was asked for"))
            continue
        if _recorded_name(other.given_name, other.family_name) == name:
            same.append((other, "the same recorded name and date of birth"))
            continue
        score, reasons = compare(case.given_name, case.family_name, other.given_name,
                                 other.family_name)
        if not (SAME_CHILD & set(reasons) or score >= THRESHOLD):
            continue
        why = [r for r in reasons if r != "same_date_of_birth"]
        if other.id in include:
            same.append((other, "included by the requester as the same child (a possible "
                                f"match: {', '.join(why).replace('_', ' ')})"))
        else:
            possible.append({
                "case_id": str(other.id),
                "external_ref": ({"system": other.external_system, "id": other.external_id}
                                 if other.external_system else None),
                "opened_at": iso_utc(other.opened_at), "reasons": reasons, "score": score})
    if include - {c.id for c, _ in same}:
        raise Unprocessable(
            "Only a possible match of this case (the same date of birth and a name that "
            "resembles, listed in possible_matches) can be included.",
            slug="not-a-possible-match", errors=[{"loc": "query.include",
                                                  "msg": "not a possible match of this case"}])
    return same, possible


_NOT_LETTERS = regex.compile(r"[^\p{L}]+")


def _letters(text: str) -> list[str]:
    """The runs of letters of ``text`` folded (:func:`app.domain.names.fold_name`)."""
    return [w for w in _NOT_LETTERS.split(fold_name(text)) if w]


async def _other_childrens_names(session: AsyncSession, service_id: uuid.UUID,
                                 cases: list[Case], files: list[dict[str, Any]]) -> list[str]:
    """Full names ("given family" and "family given") of the other children of the service
    whose family name is written somewhere in the export, as letters (so "O Neill", "O'Neill"
    and "ONeill" all find O'Neill): the candidates that :class:`NameFinder` then looks for as
    typed. Every case of the service is read (two columns); a name the child has is left out."""
    words: set[str] = set()
    for text in _strings(files):
        run = _letters(text)
        for i in range(len(run)):
            # A family name may be written in up to three runs of letters ("van der Berg").
            words.update("".join(run[i:i + n]) for n in (1, 2, 3))
    own = {"".join(_letters(f"{c.given_name} {c.family_name}")) for c in cases}
    own |= {"".join(_letters(f"{c.family_name} {c.given_name}")) for c in cases}
    rows = await session.exec(select(Case.given_name, Case.family_name).where(
        col(Case.service_id) == service_id, col(Case.id).not_in([c.id for c in cases])))
    names: set[str] = set()
    for given, family in rows:
        if "".join(_letters(family)) not in words:
            continue
        for full in (f"{given} {family}", f"{family} {given}"):
            if "".join(_letters(full)) not in own:
                names.add(full)
    return sorted(names)


async def _rows(session: AsyncSession, table: Any, case_id: uuid.UUID, order: Any) -> list[Any]:
    result = await session.exec(select(table).where(table.case_id == case_id).order_by(order))
    return list(result.all())


async def _panel_items(session: AsyncSession, case_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = await session.exec(
        select(PanelItem, Panel).join(Panel, col(Panel.id) == col(PanelItem.panel_id))
        .where(PanelItem.case_id == case_id).order_by(col(Panel.scheduled_for))
    )
    return [{"id": str(item.id), "panel": {"id": str(panel.id), "kind": panel.kind,
                                           "scheduled_for": iso_utc(panel.scheduled_for),
                                           "chair_id": panel.chair_id},
             "presenter_id": item.presenter_id, "decided_at": item.decided_at,
             "decided_by": item.decided_by, "decision": item.decision,
             # Taken off the agenda undecided (A11-16); why is in the audit entry, redacted
             # as every audit reason is.
             "withdrawn_at": item.withdrawn_at, "withdrawn_by": item.withdrawn_by}
            for item, panel in rows]


def _utc(moment: datetime) -> str:
    """A stored instant in RFC 3339 UTC (SQLite gives naive UTC back)."""
    return iso_utc(moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC))


def _case_record(case: Case) -> dict[str, Any]:
    return {
        "id": str(case.id),
        "child": {"given_name": case.given_name, "family_name": case.family_name,
                  "date_of_birth": case.date_of_birth.isoformat()},
        "external_ref": (
            {"system": case.external_system, "id": case.external_id}
            if case.external_system else None),
        "intervention": case.intervention, "statutory": case.statutory,
        "csc_status": case.csc_status, "case_holder_id": case.case_holder_id,
        "line_manager_id": case.line_manager_id, "mappa_category": case.mappa_category,
        "mappa_level": case.mappa_level, "in_custody": case.in_custody,
        "expected_release_date": case.expected_release_date, "opened_at": case.opened_at,
        "closed_at": case.closed_at, "ratings": case.ratings, "on_register": case.on_register,
        "contact_level": case.contact_level, "restricted": case.access_mode is not None,
    }


async def _case_file(session: AsyncSession, case: Case, pack: Pack,
                     matched_by: str) -> dict[str, Any]:
    judgements = await _rows(session, Judgement, case.id, col(Judgement.occurred_at))
    return {
        "matched_by": matched_by,
        "case": _case_record(case),
        "judgements": [judgement_out(j).model_dump(mode="json") for j in judgements],
        "assessments": [assessment_out(a).model_dump(mode="json") for a in await _rows(
            session, Assessment, case.id, col(Assessment.occurred_at))],
        "events": [case_event_out(e).model_dump(mode="json") for e in await _rows(
            session, CaseEvent, case.id, col(CaseEvent.occurred_at))],
        "referrals": [referral_out(r, pack).model_dump(mode="json") for r in await _rows(
            session, Referral, case.id, col(Referral.occurred_at))],
        "oversight": [oversight_out(o).model_dump(mode="json") for o in await _rows(
            session, OversightEntry, case.id, col(OversightEntry.occurred_at))],
        "panel_items": await _panel_items(session, case.id),
        "steps": [step_out(s).model_dump(mode="json") for s in await _rows(
            session, Step, case.id, col(Step.created_at))],
        # As the timeline shows them (every change of the case's fields, a derived one at
        # its act's date included, from the value it replaced by act time), and each step's
        # recorded changes: everything the service holds (attack 32, fix32b).
        "field_changes": [
            {"at": _utc(e.at), "recorded_at": _utc(e.recorded_at or e.at), "by": e.by,
             "changes": e.details["changes"]}
            for e in await field_changes(session, case.id)],
        "step_changes": [
            {"step_id": str(c.entity_id), "at": _utc(c.occurred_at or c.recorded_at),
             "recorded_at": _utc(c.recorded_at), "by": c.actor_sub, "changes": c.changes}
            for c in await _rows(session, RecordChange, case.id, col(RecordChange.recorded_at))
            if c.entity_type == "step" and not c.created],
        "audit": [a.model_dump(mode="json") for a in await case_audit(session, case.id)],
    }


async def export(
    session: AsyncSession, principal: Principal, case_id: uuid.UUID, ctx: PolicyContext, *,
    redact: bool = True, include: Set[uuid.UUID] = frozenset(),
) -> SubjectAccessExport:
    """Everything held about the case's child across their cases the requester may see
    (managers and chairs; 404 for a case they may not see, 403 for another role), with the
    possible matches they ``include`` (422 ``not-a-possible-match`` otherwise); the export
    is itself recorded in the write audit of each case it covers."""
    service, case = await get_visible_case(session, principal, case_id)
    role = case_role_for(principal, case, EXPORTERS, "export the case file")
    scope: Literal["service", "managed_cases"] = (
        "service" if any(principal.has(r) for r in SERVICE_WIDE_READERS) else "managed_cases")
    matched, possible = await _childs_cases(session, principal, case, include)
    cases = [c for c, _ in matched]
    for c in cases:  # each case the export discloses is read: in its access log (A26a-18)
        note_read(session, principal, c)
    pack = ctx.pack_now(service)
    files = [await _case_file(session, c, pack, how) for c, how in matched]
    victims = [v for f in files for j in f["judgements"] for v in j.get("victims") or []]
    others = [n for f in files for n in _recorded_names(f)]
    childs_names = [n for c in cases for n in (c.given_name, c.family_name)]
    children = (await _other_childrens_names(session, service.id, cases, files)
                if redact else [])
    redactor = _Redactor(victims, others, childs_names, redact, children)
    files = [redactor.walk(f, f"cases[{i}]") for i, f in enumerate(files)]
    for c in cases:
        await record_audit(
            session, principal, "case.subject_access_export", "case", c.id,
            service_id=service.id, case_id=c.id, role=role,
            change={"requested_for": str(case.id), "redacted": redact,
                    "cases": [str(x.id) for x in cases],
                    "included_on_request": sorted(str(x) for x in include)},
        )
    return SubjectAccessExport(
        generated_at=utcnow(), generated_by=principal.sub,
        service=service.slug, redacted=redact,
        child={"given_name": case.given_name, "family_name": case.family_name,
               "date_of_birth": case.date_of_birth.isoformat()},
        cases=files, redactions=redactor.done, possible_matches=possible, scope=scope,
        notes=[
            "Third-party personal data is redacted by default; each redaction is listed.",
            "Cases are included when they are the one asked for, carry the same recorded name "
            "and date of birth, or were included by the requester as the same child; each says "
            "which. Cases whose name only resembles are listed under possible matches (ids "
            "only) and left out: check identity, include them with include=<case id>, and "
            "remove that list before disclosure.",
            *([] if scope == "service" else [
                "This export covers only the cases the requester manages as line manager: the "
                "child's cases held by other teams of this service are not looked at, and "
                "nothing here says whether there are any. For the child's whole record at this "
                "service, a duty manager or panel chair (who see every case not restricted "
                "against them) makes the export."]),
            "Restricted cases the requester is excluded from are not included.",
            "This export is recorded in the audit trail of every case it covers.",
        ],
    )


_PRINT_CSS = """
body { font: 11pt/1.4 Georgia, 'Times New Roman', serif; margin: 2em; color: #000; }
h1 { font-size: 18pt; } h2 { font-size: 14pt; border-bottom: 1px solid #444; }
h3 { font-size: 12pt; margin-bottom: .2em; }
table { border-collapse: collapse; width: 100%; margin: .3em 0 1em; }
th, td { border: 1px solid #999; padding: 2pt 4pt; vertical-align: top; text-align: left; }
th { background: #eee; width: 28%; }
.redacted { background: #000; color: #fff; padding: 0 3pt; }
.meta { color: #333; }
.entry + .entry { margin-top: .6em; }
@page { size: A4; margin: 18mm 15mm; }
@media print {
  body { margin: 0; }
  h2 { break-before: page; } h2:first-of-type { break-before: auto; }
  table, tr, h3 { break-inside: avoid; }
  a { color: #000; text-decoration: none; }
}
"""


def _cell(value: Any) -> str:
    if isinstance(value, dict):
        if not value:
            return "&nbsp;"
        rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{_cell(v)}</td></tr>"
                       for k, v in value.items())
        return f"<table>{rows}</table>"
    if isinstance(value, list):
        if not value:
            return "<p>None recorded.</p>"
        return "".join(f"<div class='entry'>{_cell(v)}</div>" for v in value)
    if value is None:
        return "&mdash;"
    text = html.escape(str(value))
    marked = html.escape(REDACTED)
    return text.replace(marked, f'<span class="redacted">{marked}</span>')


def to_html(doc: SubjectAccessExport) -> str:
    """The export as a self-contained HTML page that prints cleanly (A4, one case a page)."""
    data = doc.model_dump(mode="json")
    child = data["child"]
    title = f"Subject access export: {child['given_name']} {child['family_name']}"
    parts = [f"<h1>{html.escape(title)}</h1>",
             f"<p class='meta'>Born {html.escape(child['date_of_birth'])}. Service "
             f"{html.escape(data['service'])}. Generated {html.escape(data['generated_at'])} "
             f"by {html.escape(data['generated_by'])}. Redacted: "
             f"{'yes' if data['redacted'] else 'no'}.</p>",
             "<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in data["notes"]) + "</ul>"]
    for i, case_file in enumerate(data["cases"], start=1):
        parts.append(f"<h2>Case {i}: {html.escape(case_file['case']['id'])}</h2>")
        parts.append(f"<p class='meta'>{html.escape(case_file['matched_by'].capitalize())}.</p>")
        for section, content in case_file.items():
            parts.append(f"<h3>{html.escape(section.replace('_', ' ').capitalize())}</h3>")
            parts.append(_cell(content))
    parts.append("<h2>Redactions</h2>" + _cell(data["redactions"] or ["None."]))
    if data["possible_matches"]:
        parts.append("<h2>Possible matches left out (for the requester; remove before "
                     "disclosure)</h2>" + _cell(data["possible_matches"]))
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{html.escape(title)}</title><style>{_PRINT_CSS}</style></head>"
            f"<body>{''.join(parts)}</body></html>")

