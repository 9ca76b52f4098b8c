"""A pack as plain sentences for the person who owns the policy (``yjrisk pack render``).

Every rule line becomes "When ..., the case holder must ... within 2 working days (para 3.1)",
grouped by what triggers it; checks become "A ... is refused when ...". Markdown, or one
self-contained HTML page (no scripts, no fonts or styles from elsewhere: it opens offline).
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Any

from app.workflows.packs import Check, Pack, Rule

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
    """A deadline form in words: ``+2wd`` is "within 2 working days"."""
    if form in FIXED_FORMS:
        return FIXED_FORMS[form]
    every = re.fullmatch(r"every (\d+)m", form)
    if every:
        n = int(every.group(1))
        return "every month" if n == 1 else f"every {n} months"
    match = re.fullmatch(r"\+(\d+)(h|wd|d|w|m)", form)
    if match:
        n, unit = int(match.group(1)), UNITS[match.group(2)]
        return f"within {n} {unit.rstrip('s') if n == 1 else unit}"
    return form


def _words(values: Any) -> str:
    items = [str(v).replace("_", " ") for v in (values if isinstance(values, list | tuple)
                                                 else [values])]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def _all(values: list[str]) -> str:
    items = [str(v).replace("_", " ") for v in values]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _compare(arg: Mapping[str, Any]) -> str:
    ops = {"eq": "is {}", "ne": "is not {}", "in": "is one of {}", "lt": "is under {}",
           "lte": "is at most {}", "gt": "is over {}", "gte": "is {} or more",
           "contains_any": "includes {}"}
    parts = [ops[k].format(_words(v)) for k, v in arg.items() if k in ops]
    if arg.get("set") is False:
        parts.append("is not known")
    return " and ".join(parts) or "is known"


# Boolean atoms: (the words when true, the words when false).
FLAG_WORDS: dict[str, tuple[str, str]] = {
    "statutory": ("the case is statutory", "the case is not statutory"),
    "weapon_related": ("the case is weapon-related", "the case is not weapon-related"),
    "in_custody": ("the child is in custody", "the child is not in custody"),
    "volunteer_attached": ("a volunteer works with the child", "no volunteer works with the child"),
    "on_register": ("the case is on the register", "the case is not on the register"),
    "mappa_eligible": ("the child is MAPPA-eligible", "the child is not MAPPA-eligible"),
    "has_release_date": ("a release date is known", "no release date is known"),
    "via_panel_decision": ("it is a panel's decision", "it is not a panel's decision"),
    "level_changed": ("the level changed", "the level did not change"),
    "decision_has_actions": ("the panel agreed actions", "the panel agreed no actions"),
    "level_differs_from_matrix": ("the level differs from the matrix",
                                  "the level matches the matrix"),
}


def atom_words(name: str, value: Any) -> str:
    """One condition atom in words (an unknown shape falls back to ``name = value``)."""
    when = "afterwards " if name.startswith("after.") else ""
    bare = name.split(".", 1)[1] if name.startswith(("case.", "after.")) else name
    table: dict[str, str] = {
        "event_type_in": "the event is {}",
        "level_in": "the level is {}", "level_below": "the level is below {}",
        "referral_kind_in": "the referral is a {} referral",
        "referral_action_in": "the referral is {}", "panel_kind_in": "the panel is a {}",
        "assessment_type_in": "the assessment is {}",
        "judgement_assessment_type_in": "it is recorded with an assessment of type {}",
        "assessment_stage_in":
        "the assessment is at the {} stage", "completed_step_code_in": "the step done is {}",
        "intervention_in": "the intervention is {}", "csc_status_in":
        "the child's social care status is {}", "attendees_include": "{} attended the panel",
        "impact_in": "the impact is {}", "likelihood_in": "the likelihood is {}",
        "changed": "{} changed",
        "actor_role_in": "it is recorded by the {}", "mappa_category_in":
        "the MAPPA category is {}", "mappa_level_in": "the MAPPA level is {}",
        "decision_mappa_level_in": "the panel sets MAPPA level {}",
    }
    if bare in table:
        return when + table[bare].format(_words(value))
    if bare == "event_flag":
        return f"the event is flagged {_words(value)}"
    if bare == "judgement_domain_in":
        return f"the judgement is of {_words([str(v).upper() for v in value])}"
    if bare == "level_lowered_from":
        return f"the level is lowered from {_words(value)}"
    if isinstance(value, bool) and bare in FLAG_WORDS:
        yes, no = FLAG_WORDS[bare]
        return when + (yes if value else no)
    if isinstance(value, Mapping):
        if bare in ("any_rating_in", "incoming_rating_in"):
            return (f"{when}{_words([d.upper() for d in value.get('domains', [])])} is "
                    f"{_words(value.get('levels', []))}")
        if bare == "changed_to":
            return f"{_words(value.get('field'))} changes to {_words(value.get('values', []))}"
        if bare in ("fact", "score"):
            return f"{when}{_words(value.get('name'))} {_compare(value)}"
        if bare == "child_age":
            return f"the child's age {_compare(value)}"
    return f"{name} = {value}"


def condition_words(raw: Any) -> str:
    """A condition table in words (``all`` joined by "and", ``any`` by "or")."""
    if not isinstance(raw, Mapping):
        return str(raw)
    parts: list[str] = []
    for key, value in raw.items():
        if key == "all":
            parts.append(" and ".join(condition_words(v) for v in value))
        elif key == "any":
            parts.append("(" + " or ".join(condition_words(v) for v in value) + ")")
        elif key == "not":
            parts.append(f"not ({condition_words(value)})")
        elif key in ("case", "after") and isinstance(value, Mapping):
            parts += [atom_words(f"{key}.{k}", v) for k, v in value.items()]
        else:
            parts.append(atom_words(str(key), value))
    return " and ".join(parts)


def rule_sentence(rule: Rule) -> str:
    """One rule line as a sentence: when, who must do what, by when, and the paragraph."""
    actor = ACTOR_WORDS.get(rule.actor, rule.actor.replace("_", " "))
    if isinstance(rule.deadline, str):
        deadline = deadline_words(rule.deadline)
    else:
        deadline = "; ".join(
            (f"{deadline_words(b.form)} if {condition_words(b.when.raw)}" if b.when
             else f"otherwise {deadline_words(b.form)}") for b in rule.deadline)
    when = f"When {condition_words(rule.when.raw)}, " if rule.when is not None else ""
    sentence = f"{when}{actor} must: {rule.title}, {deadline} (para {rule.ref}; rule {rule.id})."
    if rule.holds is not None:
        sentence += f" Only while {condition_words(rule.holds.raw)}."
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


def check_sentence(check: Check) -> str:
    """A write check as a sentence."""
    what = f"unless it gives {check.requires.replace('_', ' ')}" if check.requires else ""
    return (f"When {condition_words(check.when.raw)}, the write is refused {what}".rstrip()
            + f": {check.detail} (para {check.ref}; rule {check.id}).")


ACT_WORDS: dict[str, str] = {
    "assessment_submit": "Submitting an assessment",
    "assessment_countersign": "Countersigning an assessment",
    "assessment_countersign_endorses": "Countersigning an assessment (endorsing its judgements)",
    "referral_quality_assure": "A manager quality-assuring a referral form",
    "referral_views": "A panel referral carrying the child's and carer's views",
    "panel_item_added": "Putting the case on a panel's agenda",
    "panel_decision_overtakes": "A panel's decision (overtaking, not doing)",
    "panel_decision": "A panel's decision",
    "panel_decision_mappa": "A panel's decision setting a MAPPA level",
    "panel_decision_then": "A panel's decision (once the above are closed)",
    "panel_decision_presenter": "A panel's decision (in the presenter's name)",
}


def local_sentences(pack: Pack) -> list[str]:
    """The pack's local behaviour in words: its own words, which acts close which steps, who
    takes escalations, the panels it holds."""
    out: list[str] = []
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
        out.append(line + ".")
    for act, codes in pack.closures.items():
        out.append(f"{ACT_WORDS.get(act, act)} closes: {_all(list(codes))}.")
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
    for event in pack.event_types:
        if event.after_closure:
            out.append(f"{event.title} may be recorded after the case has closed.")
    esc = pack.escalation
    for actor, target in sorted(esc.to.items()):
        out.append(f"An overdue step of {ACTOR_WORDS.get(actor, actor)} is escalated to "
                   f"{ACTOR_WORDS.get(target, target)}.")
    out.append(f"Any other overdue step is escalated to {ACTOR_WORDS.get(esc.default)}.")
    if pack.not_waivable:
        out.append("No line or duty manager may waive: "
                   f"{_all(list(pack.not_waivable))} (the policy mandates them).")
    if pack.survives_closure:
        out.append("Closing the case does not set aside: "
                   f"{_all(list(pack.survives_closure))} (still owed after the closure).")
    for fact in pack.facts:
        values = f" ({_words(list(fact.values))})" if fact.values else ""
        out.append(f"Case fact: {fact.title} ({fact.type}){values}.")
    for score in pack.scores:
        out.append(f"Assessment score: {score.title}, {score.min} to {score.max}.")
    return out


def sections(pack: Pack) -> list[tuple[str, list[str]]]:
    """The pack's sentences, grouped by what triggers them (checks first in each group), then
    its local behaviour."""
    groups: dict[str, list[str]] = {}
    for check in pack.checks:
        for trigger in check.trigger:
            groups.setdefault(trigger, []).append(check_sentence(check))
    for rule in pack.rules:
        for trigger in rule.trigger:
            groups.setdefault(trigger, []).append(rule_sentence(rule))
    order = list(TRIGGER_HEADINGS)
    grouped = [(TRIGGER_HEADINGS.get(t, t), groups[t])
               for t in sorted(groups, key=lambda t: order.index(t) if t in order else 99)]
    return [*grouped, ("How this service works (referrals, panels, closures, escalation)",
                       local_sentences(pack))]


def version_words(pack: Pack) -> str:
    """Which version this is and from when it applies (attack 17, A17-11: two printouts of two
    versions must not look the same)."""
    since = (f"in force from {pack.effective_from.day} {pack.effective_from:%B %Y}"
             if pack.effective_from is not None else "no effective_from: in force on every date")
    return f"version {pack.version}, {since}"


def render_markdown(pack: Pack) -> str:
    """The pack as Markdown."""
    lines = [f"# {pack.title}: {version_words(pack)}", "",
             f"{pack.authority}. Source: {pack.source}.", ""]
    for heading, sentences in sections(pack):
        lines += [f"## {heading}", ""] + [f"- {s}" for s in sentences] + [""]
    return "\n".join(lines)


def render_html(pack: Pack) -> str:
    """The pack as one self-contained HTML page (opens offline: nothing loaded from elsewhere)."""
    esc = html.escape
    body = [f"<h1>{esc(pack.title)}: {esc(version_words(pack))}</h1>",
            f"<p>{esc(pack.authority)}. Source: {esc(pack.source)}.</p>"]
    for heading, sentences in sections(pack):
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
