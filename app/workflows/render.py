"""A pack as plain sentences for the person who owns the policy (``yjrisk pack render``).

Every rule line becomes "When ..., the case holder must ... within 2 working days (para 3.1)",
grouped by what triggers it; checks become "A ... is refused when ...". Markdown, or one
self-contained HTML page (no scripts, no fonts or styles from elsewhere: it opens offline).
Conditions are said with the words of ``ATOM_WORDS`` (one entry per atom the engine knows), the
case before the act as "before the change", after it as "afterwards", and a part joining several
in brackets (attack 19, A19-9).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from app.workflows.deadlines import parse_form
from app.workflows.packs import Check, Pack, Rule
from app.workflows.vocabulary import EventType

TRIGGER_HEADINGS: dict[str, str] = {
    "case_opened": "When a case is opened",
    "judgement_recorded": "When a risk judgement is recorded",
    "case_changed": "When the case's details change",
    "assessment_submitted": "When an assessment is submitted",
    "assessment_countersigned": "When an assessment is countersigned",
    "assessment_returned": "When an assessment is returned for changes",
    "case_event": "When something happens to the child (a case event)",
    "referral_created": "When a referral is made",
    "referral_transition": "When a referral moves on (submitted, sent, withdrawn...)",
    "panel_item_added": "When the case is put on a panel's agenda",
    "panel_decision": "When a panel decides on the case",
    "panel_scheduled": "When a panel is scheduled, moved or cancelled",
    "step_completed": "When a step is completed",
}
ACTOR_WORDS: dict[str, str] = {
    "case_holder": "the case holder", "line_manager": "the line manager",
    "duty_manager": "the duty manager", "chair": "the panel chair (senior manager)",
    "panel_admin": "the panel administrator", "action_owner": "the action's owner",
}
UNITS = {"h": "hours", "wd": "working days", "d": "days", "w": "weeks", "m": "months"}
FIXED_FORMS: dict[str, str] = {
    "none": "(the policy sets no timescale)",
    "immediately": "immediately",
    "next-wd": "by the end of the next working day",
    "+1wd-in-week": "within one working day, and before the end of the working week",
    "next-panel": "by the next panel",
    "release-6m": "six months before the child's expected release",
    "before-release": "before the child's expected release date",
    "review-date": "by the review date the panel set",
    "before-transfer": "before the transfer date",
    "due-date": "by the date the panel set for it",
}


def deadline_words(form: str) -> str:
    """A deadline form in words: ``+2wd`` is "within 2 working days", ``every 2w`` "every 2
    weeks" (the forms the parser accepts, ``deadlines.parse_form``)."""
    if form in FIXED_FORMS:
        return FIXED_FORMS[form]
    try:
        parsed = parse_form(form)
    except ValueError:
        return form
    unit = UNITS[parsed.kind]
    one = unit.rstrip("s")
    if parsed.recurrence:
        return f"every {one}" if parsed.n == 1 else f"every {parsed.n} {unit}"
    return f"within {parsed.n} {one if parsed.n == 1 else unit}"


def _word(value: Any) -> str:
    """One value in words: yes/no for a boolean, spaces for underscores."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value).replace("_", " ")


def _listed(values: Any, joiner: str = "or", word: Callable[[Any], str] = _word) -> str:
    """Values in words, as a list a reader says aloud: "a, b or c" (``joiner``: "or", "and")."""
    items = [word(v) for v in (values if isinstance(values, list | tuple) else [values])]
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + f" {joiner} " + items[-1]


def _words(values: Any) -> str:
    return _listed(values, "or")


def _all(values: list[str]) -> str:
    return _listed(values, "and")


def _domains(values: Any, joiner: str = "or") -> str:
    return _listed(values, joiner, lambda d: str(d).upper())


TRIGGER_WORDS: dict[str, str] = {
    "case_opened": "the case being opened", "assessment_created": "an assessment being started",
    "judgement_recorded": "a risk judgement being recorded",
    "case_changed": "a change to the case's details",
    "assessment_submitted": "an assessment being submitted",
    "assessment_countersigned": "an assessment being countersigned",
    "assessment_returned": "an assessment being returned for changes",
    "case_event": "a case event being recorded", "referral_created": "a referral being made",
    "referral_transition": "a referral moving on",
    "panel_item_added": "the case being put on a panel's agenda",
    "panel_decision": "a panel's decision", "panel_scheduled": "a panel being scheduled",
    "step_completed": "a step being completed",
}
CSC_WORDS: dict[str, str] = {
    "none": "not open to children's social care", "cin": "a child in need",
    "cic": "a child in care", "cp": "on a child protection plan",
}
# Event flags (``event_flag``), each as (when set, when not set).
FLAG_PHRASES: dict[str, tuple[str, str]] = {
    "may_raise_to_high": ("the event may raise the rating to high",
                          "the event may not raise the rating to high"),
    "release_address_other_area": ("the release address is in another area",
                                   "the release address is not in another area"),
    "from_feed": ("it comes from a feed", "it does not come from a feed"),
    "assessment_pending": ("an assessment is pending", "no assessment is pending"),
    "assessment_unnamed": ("no assessment is named", "an assessment is named"),
    "completes_rosh_rating": ("it completes the ROSH rating",
                             "it does not complete the ROSH rating"),
    "completes_swb_rating": ("it completes the SWB rating", "it does not complete the SWB rating"),
    "completes_lor_rating": ("it completes the LOR rating", "it does not complete the LOR rating"),
    "completes_rosh_own_rating": ("the ROSH rating it completes is its own",
                             "the ROSH rating it completes is not its own"),
    "completes_rosh_panel_rating": ("the ROSH rating it completes is a panel's classification",
                               "the ROSH rating it completes is not a panel's classification"),
    "completes_swb_own_rating": ("the SWB rating it completes is its own",
                             "the SWB rating it completes is not its own"),
    "completes_swb_panel_rating": ("the SWB rating it completes is a panel's classification",
                               "the SWB rating it completes is not a panel's classification"),
    "completes_lor_own_rating": ("the LOR rating it completes is its own",
                             "the LOR rating it completes is not its own"),
    "completes_lor_panel_rating": ("the LOR rating it completes is a panel's classification",
                               "the LOR rating it completes is not a panel's classification"),
    "answers_review_request": ("it answers a requested review",
                               "it does not answer a requested review"),
    "transfer_pending": ("a transfer out is pending", "no transfer out is pending"),
    "custody_event": ("it is the custody change that follows a recorded custody event",
                      "it is not the custody change that follows a recorded custody event"),
    "custody_move_recorded": ("it reports a custody move the case already records",
                              "it reports a custody move the case does not yet record"),
    "answers_rating_review": ("it answers an open review of the rating",
                              "it does not answer an open review of the rating"),
}
_COMPARE_OPS: dict[str, tuple[str, str]] = {
    "eq": ("is {}", "is not {}"), "ne": ("is not {}", "is {}"),
    "in": ("is {}", "is not {}"), "lt": ("is under {}", "is not under {}"),
    "lte": ("is at most {}", "is over {}"), "gt": ("is over {}", "is at most {}"),
    "gte": ("is {} or more", "is under {}"),
    "contains_any": ("includes {}", "does not include {}"),
}


def _compare(arg: Mapping[str, Any]) -> tuple[str, str]:
    """A comparison in words: (when it holds, when it does not)."""
    yes = [_COMPARE_OPS[k][0].format(_words(v)) for k, v in arg.items() if k in _COMPARE_OPS]
    if arg.get("set") is False:
        return "is not known", "is known"
    if not yes:
        return "is known", "is not known"
    if len(yes) == 1:
        no = [_COMPARE_OPS[k][1].format(_words(v)) for k, v in arg.items() if k in _COMPARE_OPS]
        return yes[0], no[0]
    return " and ".join(yes), "is not so (" + " and ".join(yes) + ")"


def _pair(yes: str, no: str) -> Callable[[Any, Pack | None], tuple[str, str]]:
    """An atom taking a list (or one value): "{v}" is its values in words, joined by "or"."""
    return lambda value, pack: (yes.format(v=_words(value)), no.format(v=_words(value)))


def _flag(yes: str, no: str) -> Callable[[Any, Pack | None], tuple[str, str]]:
    """A yes/no atom: ``= false`` swaps the two."""
    return lambda value, pack: (yes, no) if value else (no, yes)


def _rating(subject: str) -> Callable[[Any, Pack | None], tuple[str, str]]:
    def words(value: Any, pack: Pack | None) -> tuple[str, str]:
        domains = _domains(list(value.get("domains", [])))
        levels = _words(list(value.get("levels", [])))
        return (f"{subject.format(d=domains)} is {levels}",
                f"{subject.format(d=domains)} is not {levels}")
    return words


def _known(value: Any, pack: Pack | None) -> tuple[str, str]:
    domains = list(value)
    if len(domains) == 1:
        return (f"the {_domains(domains)} rating is known",
                f"the {_domains(domains)} rating is not known")
    return (f"the {_domains(domains, 'and')} ratings are all known",
            f"the {_domains(domains, 'and')} ratings are not all known")


def _within(value: Any, pack: Pack | None) -> tuple[str, str]:
    if value == 0:
        return ("the case was open at the time of the event",
                "the case was closed at the time of the event")
    when = f"no more than {value} day{'s' if value != 1 else ''} before"
    return (f"the case was open at the time of the event (or was closed {when})",
            f"the case was closed at the time of the event (and not {when})")


def _steps(value: Any, pack: Pack | None) -> tuple[str, str]:
    codes = _listed(value, "or", lambda c: f"“{_word(c)}”")
    return f"the case has an open step {codes}", f"the case has no open step {codes}"


def _named(kind: str) -> Callable[[Any, Pack | None], tuple[str, str]]:
    def words(value: Any, pack: Pack | None) -> tuple[str, str]:
        name = str(value.get("name"))
        found = (pack.fact(name) if kind == "fact" else pack.score(name)) if pack else None
        title = found.title if found is not None else _word(name)
        subject = f"the case fact “{title}”" if kind == "fact" else f"the score “{title}”"
        yes, no = _compare(value)
        return f"{subject} {yes}", f"{subject} {no}"
    return words


def _changed_to(value: Any, pack: Pack | None) -> tuple[str, str]:
    name = str(value.get("field"))
    field = _field(name, pack)
    values = _listed(list(value.get("values", [])), "or",
                     lambda v: CSC_NAMES.get(v, _word(v)) if name == "csc_status" else _word(v))
    return f"the change sets {field} to {values}", f"the change does not set {field} to {values}"


def _field(name: Any, pack: Pack | None) -> str:
    text = str(name)
    if text.startswith("facts.") and pack is not None and (fact := pack.fact(text[6:])):
        return f"the case fact “{fact.title}”"
    return FIELD_WORDS.get(text, f"“{_word(text)}”")


def _event_flag(value: Any, pack: Pack | None) -> tuple[str, str]:
    return FLAG_PHRASES.get(str(value), (f"the act is marked “{_word(value)}”",
                                         f"the act is not marked “{_word(value)}”"))


# Every condition atom the engine knows (``conditions.atom_names``; state atoms without their
# ``case.``/``after.`` prefix), in words: (when it is met, when it is not). A test keeps this
# table and the engine's atoms equal (attack 19, A19-9: no atom is printed raw).
ATOM_WORDS: dict[str, Callable[[Any, Pack | None], tuple[str, str]]] = {
    # About the act itself.
    "trigger_in": lambda v, p: (f"it is {_listed(v, 'or', _trigger)}",
                                f"it is not {_listed(v, 'or', _trigger)}"),
    "actor_role_in": lambda v, p: (f"it is recorded by {_listed(v, 'or', _actor)}",
                                   f"it is not recorded by {_listed(v, 'or', _actor)}"),
    "event_type_in": _pair("the event is {v}", "the event is not {v}"),
    "event_flag": _event_flag,
    "incoming_rating_in": _rating("the {d} rating the case arrives with"),
    "judgement_domain_in": lambda v, p: (f"the judgement is of {_domains(v)}",
                                         f"the judgement is not of {_domains(v)}"),
    "level_in": _pair("the level is {v}", "the level is not {v}"),
    "level_below": _pair("the level is below {v}", "the level is {v} or above"),
    "level_changed": _flag("the level changed", "the level did not change"),
    "level_lowered_from": _pair("the level is lowered from {v}",
                                "the level is not lowered from {v}"),
    "impact_in": _pair("the impact is {v}", "the impact is not {v}"),
    "likelihood_in": _pair("the likelihood is {v}", "the likelihood is not {v}"),
    "level_differs_from_matrix": _flag("the level differs from the matrix",
                                       "the level matches the matrix"),
    "via_panel_decision": _flag("it is a panel's decision", "it is not a panel's decision"),
    "judgement_assessment_type_in": _pair(
        "it is recorded with an assessment of type {v}",
        "it is not recorded with an assessment of type {v}"),
    "assessment_type_in": _pair("the assessment is {v}", "the assessment is not {v}"),
    "assessment_stage_in": _pair("the assessment is at the {v} stage",
                                 "the assessment is not at the {v} stage"),
    "referral_kind_in": _pair("the referral is a {v} referral",
                              "the referral is not a {v} referral"),
    "referral_action_in": _pair("the referral action is {v}", "the referral action is not {v}"),
    "referral_status_in": _pair("the referral moves to {v}", "the referral does not move to {v}"),
    "completed_step_code_in": lambda v, p: (
        f"the step done is {_listed(v, 'or', lambda c: f'“{_word(c)}”')}",
        f"the step done is not {_listed(v, 'or', lambda c: f'“{_word(c)}”')}"),
    "completed_step_actor_in": lambda v, p: (
        f"the step done was for {_listed(v, 'or', _actor)}",
        f"the step done was not for {_listed(v, 'or', _actor)}"),
    "completed_by_role_in": lambda v, p: (
        f"the step is completed by {_listed(v, 'or', _actor)}",
        f"the step is not completed by {_listed(v, 'or', _actor)}"),
    "changed": lambda v, p: (
        f"the change is to {_listed(v, 'or', lambda f: _field(f, p))}",
        f"the change is not to {_listed(v, 'or', lambda f: _field(f, p))}"),
    "changed_to": _changed_to,
    "decision_has_actions": _flag("the panel agreed actions", "the panel agreed no actions"),
    "decision_mappa_level_in": _pair("the panel sets MAPPA level {v}",
                                     "the panel does not set MAPPA level {v}"),
    "panel_kind_in": _pair("the panel is a {v}", "the panel is not a {v}"),
    "child_age": lambda v, p: (f"the child's age {_compare(v)[0]}",
                               f"the child's age {_compare(v)[1]}"),
    "attendees_include": lambda v, p: (
        f"{_listed(v, 'and')} attended the panel",
        f"{_listed(v, 'and')} did not {'all ' if len(v) > 1 else ''}attend the panel"),
    # About the case, before the act (``case.``) or after it (``after.``).
    "statutory": _flag("the case is statutory", "the case is not statutory"),
    "weapon_related": _flag("the case is weapon-related", "the case is not weapon-related"),
    "in_custody": _flag("the child is in custody", "the child is not in custody"),
    "volunteer_attached": _flag("a volunteer works with the child",
                                "no volunteer works with the child"),
    "on_register": _flag("the case is on the register", "the case is not on the register"),
    "on_panel_agenda": _flag("the case is on a panel's agenda, not yet decided",
                             "the case is not on any panel's agenda awaiting a decision"),
    "panel_referred": _flag("a panel referral is awaiting a panel's decision",
                            "no panel referral is awaiting a panel's decision"),
    "mappa_eligible": _flag("the child is MAPPA-eligible (a MAPPA category is set)",
                            "the child is not MAPPA-eligible (no MAPPA category)"),
    "has_release_date": _flag("a release date is known", "no release date is known"),
    "open_step_in": _steps,
    "intervention_in": _pair("the intervention is {v}", "the intervention is not {v}"),
    "csc_status_in": lambda v, p: (
        f"the child is {_listed(v, 'or', lambda s: CSC_WORDS.get(s, _word(s)))}",
        f"the child is not {_listed(v, 'or', lambda s: CSC_WORDS.get(s, _word(s)))}"),
    "mappa_category_in": _pair("the MAPPA category is {v}", "the MAPPA category is not {v}"),
    "mappa_level_in": _pair("the MAPPA level is {v}", "the MAPPA level is not {v}"),
    "any_rating_in": _rating("the {d} rating"),
    "ratings_known": _known,
    "countersigned_assessment_in": _pair(
        "the case has a countersigned assessment of type {v}",
        "the case has no countersigned assessment of type {v}"),
    "referral_sent_in": _pair("a {v} referral has been sent (and stands)",
                              "no {v} referral has been sent (or it was withdrawn or declined)"),
    "incoming_rating_pending_in": _rating(
        "the {d} rating the child arrived with from another service, not yet rated here,"),
    "open_or_closed_within_days": _within,
    "fact": _named("fact"),
    "score": _named("score"),
}
# How a state atom says which case it reads (attack 19, A19-9: a before-state atom once read
# as the after-state, so "changed ... and not ..." looked like a contradiction).
SIDE_WORDS = {"case": "before the change", "after": "afterwards"}


def _trigger(trigger: Any) -> str:
    return TRIGGER_WORDS.get(str(trigger), _word(trigger))


def _actor(role: Any) -> str:
    return ACTOR_WORDS.get(str(role), ACTING_WORDS.get(str(role), _word(role)))


# Who else may record an act (``actor_role_in``): not a person.
ACTING_WORDS = {"feed": "an automated feed", "system": "the service itself"}
# Case fields a change names (``changed``, ``changed_to``), and the words of their values.
FIELD_WORDS = {"csc_status": "the child's social care status", "intervention": "the intervention",
               "mappa_category": "the MAPPA category", "mappa_level": "the MAPPA level",
               "expected_release_date": "the expected release date"}
CSC_NAMES = {"none": "none", "cin": "child in need (CIN)", "cic": "child in care (CIC)",
             "cp": "child protection plan (CP)"}


def atom_words(name: str, value: Any, pack: Pack | None = None, *, met: bool = True,
               current: bool = False) -> str:
    """One condition atom in words (``met`` False: the words for "not"); a state atom says
    "before the change" or "afterwards" unless ``current`` (a ``holds`` condition: the case
    as it is)."""
    side, _, bare = name.rpartition(".")
    words = ATOM_WORDS.get(bare)
    if words is None:  # an atom this table lacks (a test keeps it from happening)
        text = f"{name} is {_words(value)}"
        return text if met else f"not ({text})"
    text = words(value, pack)[0 if met else 1]
    if side in SIDE_WORDS and not current:
        return f"{SIDE_WORDS[side]} {text}"
    return text


class _Said(NamedTuple):
    """A condition in words, and how it joins its parts ("" for one atom, else "and", "or",
    "nor" or "not all"): a part joining several is put in brackets inside a larger one, except
    an "and" inside an "and" (which binds the same either way)."""

    text: str
    joins: str = ""


def condition_words(raw: Any, pack: Pack | None = None, *, current: bool = False) -> str:
    """A condition table in words: ``all`` joined by "and", ``any`` by "either ... or ...", a
    part that itself joins several in brackets, so which "and" binds is always plain."""
    return _say(raw, pack, current).text


def _say(raw: Any, pack: Pack | None, current: bool, met: bool = True) -> _Said:
    if not isinstance(raw, Mapping):
        return _Said(_word(raw))
    items = [{k: v} for k, v in raw.items()]
    if len(items) > 1:
        return _say({"all": items}, pack, current, met)
    key, value = next(iter(raw.items()))
    if key in ("case", "after") and isinstance(value, Mapping):
        return _say({f"{key}.{k}": v for k, v in value.items()}, pack, current, met)
    if key == "not":
        return _say(value, pack, current, not met)
    if key in ("all", "any") and isinstance(value, list):
        return _join(key, value, pack, current, met)
    return _Said(atom_words(str(key), value, pack, met=met, current=current))


def _join(key: str, value: list[Any], pack: Pack | None, current: bool, met: bool) -> _Said:
    """``all`` / ``any`` (``met`` False: "not" over them, said as its plain opposite: neither
    ... nor ..., or not all of ...)."""
    if len(value) == 1:
        return _say(value[0], pack, current, met)
    joins = {("all", True): "and", ("any", True): "or", ("any", False): "nor",
             ("all", False): "not all"}[(key, met)]
    parts = [_say(v, pack, current) for v in value]
    texts = [p.text if not p.joins or (p.joins == joins == "and") else f"({p.text})"
             for p in parts]
    if joins == "or":
        return _Said("either " + " or ".join(texts), joins)
    if joins == "nor":
        return _Said("neither " + " nor ".join(texts), joins)
    if joins == "and":
        return _Said(" and ".join(texts), joins)
    return _Said("not all of: " + "; ".join(texts), joins)


def rule_sentence(rule: Rule, pack: Pack | None = None) -> str:
    """One rule line as a sentence: when, who must do what, by when, and the paragraph."""
    actor = ACTOR_WORDS.get(rule.actor, rule.actor.replace("_", " "))
    if isinstance(rule.deadline, str):
        deadline = deadline_words(rule.deadline)
    else:
        deadline = "; ".join(
            (f"{deadline_words(b.form)} if {condition_words(b.when.raw, pack)}" if b.when
             else f"otherwise {deadline_words(b.form)}")
            + (f" (the step then notes: “{b.note}”)" if b.note else "") for b in rule.deadline)
    when = f"When {condition_words(rule.when.raw, pack)}, " if rule.when is not None else ""
    sentence = (f"{when}{actor} must: {rule.title}, {deadline} (para {rule.ref}; rule {rule.id}; "
                f"step: {_word(rule.code)}).")
    sentence += "".join(f" {s}" for s in _rule_flags(rule))
    if rule.holds is not None:
        sentence += f" Only while {condition_words(rule.holds.raw, pack, current=True)}."
    if rule.stand_in:
        stand_in = ACTOR_WORDS.get(rule.stand_in, rule.stand_in.replace("_", " "))
        sentence += (f" If {actor} is away (a recorded absence before it is due), "
                     f"{stand_in} does it.")
    if rule.also_done_by:
        others = " or ".join(ACTOR_WORDS.get(a, a.replace("_", " ")) for a in rule.also_done_by)
        sentence += f" {others[0].upper()}{others[1:]} may also do it."
    for share, stand in rule.also_stand_in.items():
        words = ACTOR_WORDS.get(share, share.replace("_", " "))
        sentence += (f" While {words} is away (a recorded absence), "
                     f"{ACTOR_WORDS.get(stand, stand.replace('_', ' '))} may do it in their place.")
    return sentence[0].upper() + sentence[1:]


COUNTS_FROM_WORDS: dict[str, str] = {
    "known": "The time counts from when it became known to the worker, not when it happened.",
    "assessment_completed": ("The time counts from when the judgement's assessment was "
                             "completed (countersigned)."),
    "raised": ("The time counts from the act that first asked for the open step under this "
               "rule."),
}
SUBJECT_WORDS: dict[str, str] = {
    "case": "One step about the case as a whole, not one per record.",
    "rating:rosh": "The step is about the current ROSH rating (no ROSH rating yet: no step).",
    "rating:swb": "The step is about the current SWB rating (no SWB rating yet: no step).",
    "rating:lor": "The step is about the current LOR rating (no LOR rating yet: no step).",
}


def _rule_flags(rule: Rule) -> list[str]:
    """What a rule line's other keys change, each as a sentence (attack 20, A20-17b: every key
    that changes behaviour is said; a test fails for a pack key render does not say)."""
    out: list[str] = []
    if rule.note:
        out.append(f"The step carries the note: “{rule.note}”.")
    if rule.recurrence:
        out.append(f"It recurs {deadline_words(f'every {rule.recurrence}')} while it applies, "
                   "counted from when the last one was done.")
    if rule.for_each == "actions":
        out.append("One step for each action the panel agrees, to that action's owner.")
    if rule.subject in SUBJECT_WORDS:
        out.append(SUBJECT_WORDS[rule.subject])
    if rule.dedupe == "case":
        out.append("At most one such step is open per case: asked for again, the open step "
                   "gains the new reason and takes the sooner deadline.")
    if rule.supersedes_previous:
        out.append("It replaces any open step of the same kind (the new date replaces the old).")
    if rule.refresh_only:
        out.append("It never creates a step: it only re-dates an open step of this kind when "
                   "the deadline now differs (a deadline already passed is kept; a sooner one "
                   "applies).")
    elif rule.refresh_due:
        out.append("An open step of this kind is re-dated when the deadline now differs (a "
                   "deadline already passed is kept; a sooner one applies).")
    if rule.refresh_undated_only:
        out.append("Only an open step that has no due date yet is re-dated.")
    if rule.assignee_from == "panel_chair_id":
        out.append("The step goes to the chair of that panel.")
    if rule.satisfiable_by_oversight:
        out.append("A manager's management oversight entry may stand for it.")
    if rule.counts_from in COUNTS_FROM_WORDS:
        out.append(COUNTS_FROM_WORDS[rule.counts_from])
    if rule.completion_covers_later:
        out.append("Completing it also answers reasons for it that arise after it is done.")
    if rule.assessment_types is not None:
        out.append(f"Only an assessment of type {_words(list(rule.assessment_types))} does it.")
    if rule.assessment_stages is not None:
        out.append(f"Only an assessment at the {_words(list(rule.assessment_stages))} stage "
                   "does it.")
    return out


def check_sentence(check: Check, pack: Pack | None = None) -> str:
    """A write check as a sentence, with the step it asks for once the requirement is met."""
    what = f"unless it gives {check.requires.replace('_', ' ')}" if check.requires else ""
    refused = "a conflict, 409" if check.status == 409 else "invalid, 422"
    sentence = (f"When {condition_words(check.when.raw, pack)}, the write is refused "
                f"{what}".rstrip()
                + f" ({refused}: “{check.title}”, error type “{check.type_slug}”, field "
                f"{check.error_loc}): {check.detail} (para {check.ref}; rule {check.id}).")
    if check.acknowledge is not None:
        ack = check.acknowledge
        sentence += (f" When it is given, {_actor(ack.actor)} must: {ack.title}, "
                     f"{deadline_words(ack.deadline)} (step: {_word(ack.code)}).")
        if ack.note:
            sentence += f" The step carries the note: “{ack.note}”."
    return sentence


ACT_WORDS: dict[str, str] = {
    "assessment_submit": "Submitting an assessment",
    "assessment_countersign": "Countersigning an assessment",
    "assessment_countersign_endorses": "Countersigning an assessment (endorsing its judgements)",
    "referral_quality_assure": "A manager quality-assuring a referral form",
    "referral_views": "A panel referral carrying the child's and carer's views",
    "panel_item_added": "Putting the case on a panel's agenda",
    "panel_decision_overtakes": "A panel's decision (overtaking, not doing)",
    "panel_decision_misses": "A panel sitting on the case before it was done (missed)",
    "panel_decision": "A panel's decision",
    "panel_decision_mappa": "A panel's decision setting a MAPPA level",
    "panel_decision_then": "A panel's decision (once the above are closed)",
    "panel_decision_presenter": "A panel's decision (in the presenter's name)",
    "rating_replaced": "A judgement replacing the rating under review",
    "assessment_submit_review": "Submitting the assessment a review step asked for",
}


def local_sentences(pack: Pack) -> list[str]:
    """The pack's local behaviour in words: its own words, which acts close which steps, who
    takes escalations, the panels it holds."""
    out: list[str] = []
    words = [(what, [f"{_word(t or i)} ({i})" for i, t in items]) for what, items in (
        ("case events", [(e.id, e.title) for e in pack.event_types
                         if e.id not in pack.core_event_types()]),
        ("referrals", [(k.id, k.title) for k in pack.referral_kinds]),
        ("panels", [(p.id, p.title) for p in pack.panel_kinds]),
        ("case facts", [(f.id, f.title) for f in pack.facts]),
        ("assessment scores", [(c.id, c.title) for c in pack.scores]))]
    if said := [f"{what}: {', '.join(names)}" for what, names in words if names]:
        out.append("The words this pack declares (the word a form or feed sends in brackets): "
                   + "; ".join(said) + ".")
    for kind in pack.referral_kinds:
        made = "submitted" if kind.made_by == "submit" else "sent"
        line = f"{kind.title or kind.id}: counts as made once {made}"
        if kind.closes:
            line += f"; making it closes: {_all(list(kind.closes))}"
        if kind.quality_assurance:
            line += "; a manager must quality-assure it before it is sent"
        if kind.requires_views:
            line += "; it must carry the child's and carer's views (or why not)"
        if kind.after_closure:
            line += "; it may be made after the case has closed"
        if kind.also_made_by:
            line += ("; besides the case holder and the managers, "
                     f"{_all([ACTOR_WORDS.get(r, r) for r in kind.also_made_by])} may make it")
        if kind.after_steps:
            line += (f"; it is not {made} while any of these is still open: "
                     f"{_all(list(kind.after_steps))}")
        if kind.feed_makes:
            line += ("; delivered by an automated feed, it counts as made at its receipt"
                     + (", the steps it waits for done first" if kind.after_steps else ""))
        out.append(line + ".")
    for act, codes in pack.closures.items():
        # An empty list is a draft's "closes nothing", said as such (attack 28b, ATK28B-1).
        closed = f"closes: {_all(list(codes))}" if codes else "closes no step (its list is empty)"
        out.append(f"{ACT_WORDS.get(act, act)} {closed}.")
    for panel in pack.panel_kinds:
        line = f"The {panel.title} is chaired by {ACTOR_WORDS.get(panel.chair_role)}"
        if panel.cadence:
            line += f", {panel.cadence}"
        if panel.invitees:
            line += f"; invited: {_all(list(panel.invitees))}"
        if panel.required_attendance:
            line += f"; must attend: {_all(list(panel.required_attendance))}"
        if not panel.presenter_may_chair:
            line += "; whoever presents a case does not chair its decision"
        out.append(line + ".")
    for kind in pack.referral_kinds:
        if kind.to_panel:
            out.append(f"{kind.title or kind.id}: asks a panel to hear the case.")
    for event in pack.event_types:
        if event.id in pack.core_event_types():
            # The core's meaning of an event type the pack does not declare (ATK28B-14).
            out.append(f"This pack does not declare the core event type {event.id!r}, so it "
                       "has the core's meaning (declare it to say which steps it ends):")
        out += _event_sentences(event)
        if event.id in pack.core_event_types() and event.id == "death" \
                and pack.asked_on_death():
            out.append(f"It does not end the earlier steps {_all(sorted(pack.asked_on_death()))}"
                       ": a line asks for them on the death itself, so they are still owed.")
    esc = pack.escalation
    for actor, target in sorted(esc.to.items()):
        out.append(f"An overdue step of {ACTOR_WORDS.get(actor, actor)} is escalated to "
                   f"{ACTOR_WORDS.get(target, target)}.")
    out.append(f"Any other overdue step is escalated to {ACTOR_WORDS.get(esc.default)}.")
    if pack.not_waivable:
        out.append("No line or duty manager may waive: "
                   f"{_all(list(pack.not_waivable))} (the policy mandates them).")
    if pack.survives_closure:
        codes = pack.step_codes()
        kept = [c if c in codes else f"the steps of rule {c}" for c in pack.survives_closure]
        out.append(f"Closing the case does not set aside: {_all(kept)} (still owed after the "
                   "closure).")
    if pack.closure_ends_booked:
        out.append("Closing the case ends (lapsed, with the reason; reinstated if it reopens): "
                   f"{_all(list(pack.closure_ends_booked))} when booked for after the closure "
                   "(not overdue at the closure's date); overdue then, it must be done "
                   "before the case closes.")
    if pack.completable:
        out.append("May also be completed by hand, though an act normally does it: "
                   f"{_all(list(pack.completable))}.")
    if pack.panel_kind is not None:
        waits = next((p for p in pack.panel_kinds if p.id == pack.panel_kind), None)
        out.append("A step due “by the next panel” waits for the next "
                   f"{waits.title if waits else _word(pack.panel_kind)}.")
    days = pack.prolonged_absence_working_days
    forms = {f for r in pack.rules for f in ([r.deadline] if isinstance(r.deadline, str)
                                             else [b.form for b in r.deadline])}
    if "+1wd-in-week" in forms:
        out.append("“Before the end of the working week” deadlines end on the worker's "
                   "last working day before a recorded absence of "
                   + ("any length." if days == 1 else
                      f"{days} working days or more (the bank holidays it joins counted)."))
    for fact in pack.facts:
        values = f" ({_words(list(fact.values))})" if fact.values else ""
        bounds = ""
        if fact.min is not None or fact.max is not None:
            bounds = (f", from {'any' if fact.min is None else fact.min} to "
                      f"{'any' if fact.max is None else fact.max}")
        out.append(f"Case fact: {fact.title} ({fact.type}{bounds}){values}.")
    for score in pack.scores:
        out.append(f"Assessment score: {score.title}, {score.min} to {score.max}.")
    for name, value in sorted(pack.options.items()):
        out.append(f"Option {name}: {_word(value)}.")
    return out


def _event_sentences(event: EventType) -> list[str]:
    """What a case event type declares, in words."""
    out: list[str] = []
    title = f"the event “{event.title}”"
    if event.after_closure:
        out.append(f"{_cap(title)} may be recorded after the case has closed.")
    if event.ends_steps:
        reason = f" (“{event.ends_reason}”)" if event.ends_reason else ""
        out.append(f"{_cap(title)} ends the open steps {_all(list(event.ends_steps))}{reason}.")
    elif event.ends_reason:
        out.append(f"{_cap(title)}: steps it ends note “{event.ends_reason}”.")
    if event.ends_earlier_steps:
        earlier = _all(list(event.ends_earlier_steps))
        out.append(f"{_cap(title)} ends the open steps {earlier} about earlier acts"
                   " (the ones it asks for itself stay open).")
    if event.replaces_earlier:
        out.append(f"A later {title[4:]} replaces an earlier one: the open steps about the earlier "
                   "one are set aside.")
    if event.requires_in_custody:
        out.append(f"{_cap(title)} may be recorded only while the child is recorded in custody "
                   "at its date.")
    if event.once_per_case:
        out.append(f"{_cap(title)} happens once: a second report of it is the first reported again "
                   "(no new steps).")
    if event.final:
        later = [*(f"a {_word(t)} event" for t in event.later_event_types),
                 *(f"a {_word(k)} referral" for k in event.later_referral_kinds)]
        allowed = f", except {_words(later)}" if later else ""
        out.append(f"After {title}, nothing more about the living child may be recorded "
                   f"(judgements, assessments started, panels, case events, referrals"
                   f"{allowed}); steps, oversight and closing the case stay possible.")
    elif event.later_event_types or event.later_referral_kinds:
        later = [*map(_word, event.later_event_types), *map(_word, event.later_referral_kinds)]
        out.append(f"{_cap(title)}: may be followed by {_words(later)} (it is not final, so this "
                   "changes nothing).")
    if event.closure_sets_aside:
        out.append(f"Once the transfer date of {title} has come, closing the case sets aside "
                   f"{_all(list(event.closure_sets_aside))} instead of being refused.")
    return out


def _cap(text: str) -> str:
    return text[0].upper() + text[1:]


def policy_sentences(pack: Pack) -> list[str]:
    """The pack's tables that are not step lines: the ROSH matrix, the register, priority,
    contact levels and what a case needs before it closes (attack 20, A20-17b)."""
    out: list[str] = []
    if (m := pack.matrix) is not None:
        rows = []
        for impact in m.impacts:
            row = m.levels[impact]
            if isinstance(row, str):
                rows.append(f"impact {_word(impact)} gives {_word(row)}")
            else:
                rows.append(f"impact {_word(impact)} gives " + ", ".join(
                    f"{_word(row[lk])} if {_word(lk)}" for lk in m.likelihoods))
        out.append(f"The ROSH matrix level (para {m.ref}; rule {m.rule_id}): "
                   + "; ".join(rows) + ".")
    if (r := pack.register_def) is not None:
        line = (f"A case is on the register while {condition_words(r.when.raw, pack, current=True)}"
                f" (para {r.ref}; rule {r.rule_id}).")
        if r.deregistered_by:
            ref = f", para {r.deregistered_ref}" if r.deregistered_ref else ""
            line += f" Taking it off the register is rule {r.deregistered_by}{ref}."
        out.append(line)
    if (p := pack.priority) is not None:
        out.append("A case is dealt with as a priority, it and its open steps marked so, while "
                   f"{condition_words(p.when.raw, pack, current=True)} (para {p.ref}; rule "
                   f"{p.rule_id}).")
        if p.raisable is not None:
            ref = f" (para {p.raise_ref})" if p.raise_ref else ""
            out.append("A manager may also raise a case's priority while "
                       f"{condition_words(p.raisable.raw, pack, current=True)}{ref}; the "
                       "raised priority lapses when that stops holding.")
    if (c := pack.contact) is not None:
        bands = "; ".join(f"{_word(b.level)} if "
                          f"{condition_words(b.when.raw, pack, current=True)}" for b in c.bands)
        out.append(f"Contact with the child (para {c.ref}; rule {c.rule_id}), the first that "
                   f"holds: {bands}; otherwise none is set.")
    if (k := pack.case_closure) is not None:
        unless = (f", unless {_words(list(k.unless_event_types))} is recorded"
                  if k.unless_event_types else "")
        out.append(f"A case of {_words(list(k.interventions))} may be closed only with a "
                   f"countersigned {_words(list(k.assessment_types))} assessment at the "
                   f"{_words(list(k.assessment_stages))} stage{unless}: {k.detail} (para "
                   f"{k.ref}; rule {k.rule_id}).")
    return out


# The heading of the duties a pack gives no step, in its own words (its comments).
NO_STEP_HEADING = "Duties of the policy this pack deliberately gives no step (its notes)"


def sections(pack: Pack, notes: Sequence[str] = ()) -> list[tuple[str, list[str]]]:
    """The pack's sentences, grouped by what triggers them (checks first in each group), then
    its local behaviour, then ``notes``: the decisions its file's comments record that a duty
    of the policy gets no step (:func:`app.workflows.pack_notes.no_step_notes`)."""
    groups: dict[str, list[str]] = {}
    for check in pack.checks:
        for trigger in check.trigger:
            groups.setdefault(trigger, []).append(check_sentence(check, pack))
    for rule in pack.rules:
        for trigger in rule.trigger:
            groups.setdefault(trigger, []).append(rule_sentence(rule, pack))
    order = list(TRIGGER_HEADINGS)
    grouped = [(TRIGGER_HEADINGS.get(t, t), groups[t])
               for t in sorted(groups, key=lambda t: order.index(t) if t in order else 99)]
    tables = policy_sentences(pack)
    return [*grouped,
            *([("The matrix, the register, priority, contact and closing a case", tables)]
              if tables else []),
            ("How this service works (referrals, panels, closures, escalation)",
             local_sentences(pack)),
            *([(NO_STEP_HEADING, list(notes))] if notes else [])]


def version_words(pack: Pack) -> str:
    """Which version this is and from when it applies (attack 17, A17-11: two printouts of two
    versions must not look the same)."""
    since = (f"in force from {pack.effective_from.day} {pack.effective_from:%B %Y}"
             if pack.effective_from is not None else "no effective_from: in force on every date")
    return f"version {pack.version}, {since}"


# How to read the conditions (said once, at the top of both formats).
READING = ("Reading the conditions: “before the change” is the case as it stood just before the "
           "act a rule answers, “afterwards” the case just after it; “either … or …” offers "
           "alternatives, and words in brackets belong together.")


def render_markdown(pack: Pack, notes: Sequence[str] = ()) -> str:
    """The pack as Markdown (with ``notes``, its no-step decisions, last)."""
    lines = [f"# {pack.title}: {version_words(pack)}", "",
             f"{pack.authority}. Pack {pack.id}. Source: {pack.source}.", "", READING, ""]
    for heading, sentences in sections(pack, notes):
        lines += [f"## {heading}", ""] + [f"- {s}" for s in sentences] + [""]
    return "\n".join(lines)


def render_html(pack: Pack, notes: Sequence[str] = ()) -> str:
    """The pack as one self-contained HTML page (opens offline: nothing loaded from elsewhere;
    with ``notes``, its no-step decisions, last)."""
    esc = html.escape
    body = [f"<h1>{esc(pack.title)}: {esc(version_words(pack))}</h1>",
            f"<p>{esc(pack.authority)}. Pack {esc(pack.id)}. Source: {esc(pack.source)}.</p>",
            f"<p>{esc(READING)}</p>"]
    for heading, sentences in sections(pack, notes):
        body.append(f"<h2>{esc(heading)}</h2><ul>")
        body += [f"<li>{esc(s)}</li>" for s in sentences]
        body.append("</ul>")
    style = ("body{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;"
             "line-height:1.5;padding:0 1rem}h2{margin-top:2rem;border-bottom:1px solid #ccc}"
             "li{margin:.4rem 0}")
    title = f"{esc(pack.title)}, version {esc(pack.version)}"
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{title}</title><style>{style}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")
