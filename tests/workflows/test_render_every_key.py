"""``yjrisk pack render`` says every key of a pack (attack 20, A20-17b).

The rendered pack is what its owner reads and signs off; a key that changes behaviour but is not
said (``[register]``, ``[priority]``, an event type's ``final`` or ``once_per_case``, a rule's
``completion_covers_later``...) is policy the owner never sees. Each field of every pack model
(walked from ``Pack``, so a new key is found without being listed) has a probe here: an edit
of the example pack setting that key, whose rendering must differ from the pack without it.
A new key with no probe fails ``test_every_pack_key_has_a_probe``; a probe whose rendering does
not change fails ``test_every_pack_key_changes_the_rendered_words``.
"""

from __future__ import annotations

import copy
import tomllib
import typing
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from pydantic import BaseModel

from app.workflows.packs import PACK_DIR, Pack
from app.workflows.render import render_markdown

Raw = dict[str, Any]
Edit = Callable[[Raw], None]

HIGH = {"after": {"any_rating_in": {"domains": ["rosh"], "levels": ["high"]}}}
MEDIUM = {"after": {"any_rating_in": {"domains": ["swb"], "levels": ["medium"]}}}


def _base() -> Raw:
    """The example pack with every optional table present (each probe then changes one key)."""
    raw = tomllib.loads((PACK_DIR / "example-yjs.toml").read_text())
    raw["priority"] = {"rule_id": "P1", "ref": "3.1", "when": HIGH}
    raw["contact"] = {"rule_id": "C1", "ref": "4.1", "bands": [{"level": "weekly", "when": HIGH}]}
    raw["case_closure"] = {"rule_id": "K1", "ref": "2.3", "interventions": ["court_order"],
                           "assessment_types": ["asset_plus"], "assessment_stages": ["closure"],
                           "detail": "Close with a closure AssetPlus."}
    raw["event_types"].append({"id": "plain_event", "title": "A plain event"})
    raw["register"]["deregistered_by"] = "X10"
    raw["checks"][1]["acknowledge"] = {"code": "ack_review", "title": "Note the review date",
                                       "actor": "line_manager"}
    return raw


def _set(*path: Any, value: Any) -> Edit:
    def edit(raw: Raw) -> None:
        table: Any = raw
        for part in path[:-1]:
            table = table[part]
        table[path[-1]] = value
    return edit


def _drop(*path: Any) -> Edit:
    def edit(raw: Raw) -> None:
        table: Any = raw
        for part in path[:-1]:
            table = table[part]
        del table[path[-1]]
    return edit


def _append(*path: Any, value: Any) -> Edit:
    def edit(raw: Raw) -> None:
        table: Any = raw
        for part in path:
            table = table[part]
        table.append(value)
    return edit


def _both(*edits: Edit) -> Edit:
    def edit(raw: Raw) -> None:
        for each in edits:
            each(raw)
    return edit


# The plain event added to the base (after the example's parent_carer_risk and death).
EVENT = ("event_types", 2)
RULE = ("rules", 0)  # X1, case opened
CHECK = ("checks", 1)  # X12, review date required
ACK = (*CHECK, "acknowledge")
BRANCHES = _set(*RULE, "deadline", value=[
    {"when": {"case": {"statutory": True}}, "form": "+10wd"}, {"form": "+20wd"}])
NO_MATRIX_SLIGHT = _both(
    _set("matrix", "impacts", value=["minor", "medium", "major", "critical"]),
    _drop("matrix", "levels", "slight"))


def _no_unlikely(raw: Raw) -> None:
    raw["matrix"]["likelihoods"].remove("unlikely")
    for row in ("major", "critical"):
        del raw["matrix"]["levels"][row]["unlikely"]


# "Model.field" -> (an edit applied to both sides first, or None; the edit setting the key).
PROBES: dict[str, tuple[Edit | None, Edit]] = {
    "Pack.id": (None, _set("id", value="other-yjs")),
    "Pack.version": (None, _set("version", value="2.0")),
    "Pack.effective_from": (None, _set("effective_from", value=date(2026, 4, 1))),
    "Pack.title": (None, _set("title", value="Another title")),
    "Pack.authority": (None, _set("authority", value="Another authority")),
    "Pack.source": (None, _set("source", value="another.txt")),
    "Pack.panel_kind": (None, _drop("panel_kind")),
    "Pack.event_types": (None, _append("event_types", value={"id": "x_event",
                                                              "title": "An X event"})),
    "Pack.referral_kinds": (None, _append("referral_kinds", value={"id": "x_kind"})),
    "Pack.panel_kinds": (None, _append("panel_kinds", value={"id": "x_panel",
                                                              "title": "X panel"})),
    "Pack.facts": (None, _append("facts", value={"id": "x_fact", "title": "X",
                                                  "type": "boolean"})),
    "Pack.scores": (None, _append("scores", value={"id": "x_score", "title": "X",
                                                    "min": 0, "max": 3})),
    "Pack.closures": (None, _set("closures", "assessment_submit_review",
                                 value=["record_incident"])),
    "Pack.not_waivable": (None, _set("not_waivable", value=["record_incident"])),
    "Pack.completable": (None, _set("completable", value=["record_incident"])),
    "Pack.survives_closure": (None, _set("survives_closure", value=["record_incident"])),
    "Pack.closure_ends_booked": (None, _set("closure_ends_booked", value=["record_incident"])),
    "Pack.prolonged_absence_working_days": (_set(*RULE, "deadline", value="+1wd-in-week"),
                                            _set("prolonged_absence_working_days", value=3)),
    "Pack.escalation": (None, _drop("escalation")),
    "Pack.matrix": (None, _drop("matrix")),
    "Pack.register_def": (None, _drop("register")),
    "Pack.priority": (None, _drop("priority")),
    "Pack.contact": (None, _drop("contact")),
    "Pack.case_closure": (None, _drop("case_closure")),
    "Pack.options": (None, _set("options", value={"x_switch": True})),
    "Pack.checks": (None, _drop("checks", 0)),
    "Pack.rules": (None, _drop("rules", 0)),
    "EventType.id": (None, _set(*EVENT, "id", value="other_event")),
    "EventType.title": (None, _set(*EVENT, "title", value="Another event")),
    "EventType.after_closure": (None, _set(*EVENT, "after_closure", value=True)),
    "EventType.ends_steps": (None, _set(*EVENT, "ends_steps", value=["record_incident"])),
    "EventType.ends_reason": (_set(*EVENT, "ends_steps", value=["record_incident"]),
                              _set(*EVENT, "ends_reason", value="no longer possible")),
    "EventType.ends_earlier_steps": (None, _set(*EVENT, "ends_earlier_steps",
                                                value=["record_incident"])),
    "EventType.replaces_earlier": (None, _set(*EVENT, "replaces_earlier", value=True)),
    "EventType.final": (None, _set(*EVENT, "final", value=True)),
    "EventType.closure_sets_aside": (None, _set(*EVENT, "closure_sets_aside",
                                                value=["record_incident"])),
    "EventType.later_event_types": (_set(*EVENT, "final", value=True),
                                    _set(*EVENT, "later_event_types", value=["charged"])),
    "EventType.later_referral_kinds": (_set(*EVENT, "final", value=True),
                                       _set(*EVENT, "later_referral_kinds",
                                            value=["serious_incident"])),
    "EventType.once_per_case": (None, _set(*EVENT, "once_per_case", value=True)),
    "EventType.requires_in_custody": (None, _set(*EVENT, "requires_in_custody", value=True)),
    "ReferralKind.id": (None, _set("referral_kinds", 0, "id", value="other_kind")),
    "ReferralKind.title": (None, _set("referral_kinds", 0, "title", value="Another")),
    "ReferralKind.made_by": (None, _set("referral_kinds", 0, "made_by", value="submit")),
    "ReferralKind.closes": (None, _set("referral_kinds", 0, "closes", value=[])),
    "ReferralKind.quality_assurance": (None, _set("referral_kinds", 0, "quality_assurance",
                                                  value=True)),
    "ReferralKind.requires_views": (None, _set("referral_kinds", 0, "requires_views",
                                               value=True)),
    "ReferralKind.to_panel": (None, _set("referral_kinds", 0, "to_panel", value=True)),
    "ReferralKind.after_closure": (None, _set("referral_kinds", 0, "after_closure",
                                              value=True)),
    "ReferralKind.also_made_by": (None, _set("referral_kinds", 0, "also_made_by",
                                             value=["chair"])),
    "ReferralKind.after_steps": (None, _set("referral_kinds", 0, "after_steps",
                                            value=["complete_assessment"])),
    "ReferralKind.feed_makes": (None, _set("referral_kinds", 0, "feed_makes", value=True)),
    "PanelKind.id": (None, _set("panel_kinds", 0, "id", value="other_panel")),
    "PanelKind.title": (None, _set("panel_kinds", 0, "title", value="Other panel")),
    "PanelKind.chair_role": (None, _set("panel_kinds", 0, "chair_role", value="line_manager")),
    "PanelKind.cadence": (None, _set("panel_kinds", 0, "cadence", value="weekly on Monday")),
    "PanelKind.invitees": (None, _append("panel_kinds", 0, "invitees", value="probation")),
    "PanelKind.required_attendance": (None, _set("panel_kinds", 0, "required_attendance",
                                                 value=["chair"])),
    "PanelKind.presenter_may_chair": (None, _set("panel_kinds", 0, "presenter_may_chair",
                                                 value=True)),
    "Fact.id": (None, _set("facts", 0, "id", value="other_fact")),
    "Fact.title": (None, _set("facts", 0, "title", value="Other fact")),
    "Fact.type": (None, _set("facts", 0, "type", value="date")),
    "Fact.values": (None, _append("facts", 1, "values", value="arson")),
    "Fact.min": (None, _set("facts", 2, "min", value=1)),
    "Fact.max": (None, _set("facts", 2, "max", value=9)),
    "Score.id": (None, _set("scores", 0, "id", value="other_score")),
    "Score.title": (None, _set("scores", 0, "title", value="Other score")),
    "Score.min": (None, _set("scores", 0, "min", value=1)),
    "Score.max": (None, _set("scores", 0, "max", value=9)),
    "Escalation.default": (None, _set("escalation", "default", value="chair")),
    "Escalation.to": (None, _set("escalation", "to", value={})),
    "Matrix.rule_id": (None, _set("matrix", "rule_id", value="M9")),
    "Matrix.ref": (None, _set("matrix", "ref", value="9.9")),
    "Matrix.impacts": (None, NO_MATRIX_SLIGHT),
    "Matrix.likelihoods": (None, _no_unlikely),
    "Matrix.levels": (None, _set("matrix", "levels", "slight", value="medium")),
    "Register.rule_id": (None, _set("register", "rule_id", value="R9")),
    "Register.ref": (None, _set("register", "ref", value="9.9")),
    "Register.when": (None, _set("register", "when", value=HIGH)),
    "Register.deregistered_by": (None, _set("register", "deregistered_by", value="X8")),
    "Register.deregistered_ref": (None, _set("register", "deregistered_ref", value="9.9")),
    "Priority.rule_id": (None, _set("priority", "rule_id", value="P9")),
    "Priority.ref": (None, _set("priority", "ref", value="9.9")),
    "Priority.when": (None, _set("priority", "when", value=MEDIUM)),
    "Priority.raisable": (None, _set("priority", "raisable", value=MEDIUM)),
    "Priority.raise_ref": (_set("priority", "raisable", value=MEDIUM),
                           _set("priority", "raise_ref", value="9.9")),
    "ContactTable.rule_id": (None, _set("contact", "rule_id", value="C9")),
    "ContactTable.ref": (None, _set("contact", "ref", value="9.9")),
    "ContactTable.bands": (None, _append("contact", "bands", value={"level": "fortnightly",
                                                                      "when": MEDIUM})),
    "ContactBand.level": (None, _set("contact", "bands", 0, "level", value="twice_weekly")),
    "ContactBand.when": (None, _set("contact", "bands", 0, "when", value=MEDIUM)),
    "CaseClosure.rule_id": (None, _set("case_closure", "rule_id", value="K9")),
    "CaseClosure.ref": (None, _set("case_closure", "ref", value="9.9")),
    "CaseClosure.interventions": (None, _set("case_closure", "interventions", value=["bail"])),
    "CaseClosure.assessment_types": (None, _set("case_closure", "assessment_types",
                                                value=["mini_asset"])),
    "CaseClosure.assessment_stages": (None, _set("case_closure", "assessment_stages",
                                                 value=["transfer"])),
    "CaseClosure.unless_event_types": (None, _set("case_closure", "unless_event_types",
                                                  value=["death"])),
    "CaseClosure.detail": (None, _set("case_closure", "detail", value="Other words.")),
    "Check.id": (None, _set(*CHECK, "id", value="X99")),
    "Check.trigger": (None, _set(*CHECK, "trigger", value=["panel_decision", "case_changed"])),
    "Check.when": (None, _set(*CHECK, "when", value=MEDIUM)),
    "Check.requires": (None, _set(*CHECK, "requires", value="rationale")),
    "Check.status": (None, _set(*CHECK, "status", value=409)),
    "Check.type_slug": (None, _set(*CHECK, "type_slug", value="other-slug")),
    "Check.title": (None, _set(*CHECK, "title", value="Other title")),
    "Check.detail": (None, _set(*CHECK, "detail", value="Other detail.")),
    "Check.ref": (None, _set(*CHECK, "ref", value="9.9")),
    "Check.loc": (None, _set(*CHECK, "loc", value="body.other")),
    "Check.acknowledge": (None, _drop(*ACK)),
    "Acknowledge.code": (None, _set(*ACK, "code", value="other_code")),
    "Acknowledge.title": (None, _set(*ACK, "title", value="Other title")),
    "Acknowledge.actor": (None, _set(*ACK, "actor", value="chair")),
    "Acknowledge.deadline": (None, _set(*ACK, "deadline", value="+2wd")),
    "Acknowledge.note": (None, _set(*ACK, "note", value="a note")),
    "Rule.id": (None, _set(*RULE, "id", value="X99")),
    "Rule.trigger": (None, _set(*RULE, "trigger", value="case_changed")),
    "Rule.when": (None, _set(*RULE, "when", value={"case": {"statutory": True}})),
    "Rule.code": (None, _set(*RULE, "code", value="other_code")),
    "Rule.title": (None, _set(*RULE, "title", value="Other title")),
    "Rule.actor": (None, _set(*RULE, "actor", value="line_manager")),
    "Rule.deadline": (None, _set(*RULE, "deadline", value="+10wd")),
    "Rule.ref": (None, _set(*RULE, "ref", value="9.9")),
    "Rule.holds": (None, _set(*RULE, "holds", value=HIGH)),
    "Rule.recurrence": (None, _set(*RULE, "recurrence", value="1m")),
    "Rule.note": (None, _set(*RULE, "note", value="a note")),
    "Rule.for_each": (None, _drop("rules", 13, "for_each")),
    "Rule.subject": (None, _set(*RULE, "subject", value="case")),
    "Rule.dedupe": (None, _set(*RULE, "dedupe", value="case")),
    "Rule.supersedes_previous": (None, _set(*RULE, "supersedes_previous", value=True)),
    "Rule.refresh_due": (None, _set(*RULE, "refresh_due", value=True)),
    "Rule.refresh_only": (None, _set(*RULE, "refresh_only", value=True)),
    "Rule.assignee_from": (None, _set(*RULE, "assignee_from", value="panel_chair_id")),
    "Rule.refresh_undated_only": (None, _set(*RULE, "refresh_undated_only", value=True)),
    "Rule.satisfiable_by_oversight": (None, _set(*RULE, "satisfiable_by_oversight",
                                                 value=True)),
    "Rule.counts_from": (None, _set(*RULE, "counts_from", value="known")),
    "Rule.completion_covers_later": (None, _set(*RULE, "completion_covers_later", value=True)),
    "Rule.stand_in": (None, _set(*RULE, "stand_in", value="duty_manager")),
    "Rule.also_done_by": (None, _set(*RULE, "also_done_by", value=["line_manager"])),
    "Rule.also_stand_in": (_set(*RULE, "also_done_by", value=["line_manager"]),
                           _set(*RULE, "also_stand_in", value={"line_manager": "duty_manager"})),
    "Rule.assessment_types": (None, _set(*RULE, "assessment_types", value=["asset_plus"])),
    "Rule.assessment_stages": (None, _set(*RULE, "assessment_stages", value=["start"])),
    "ConditionalForm.when": (BRANCHES, _set(*RULE, "deadline", 0, "when",
                                            value={"case": {"in_custody": True}})),
    "ConditionalForm.form": (BRANCHES, _set(*RULE, "deadline", 1, "form", value="+30wd")),
    "ConditionalForm.note": (BRANCHES, _set(*RULE, "deadline", 0, "note", value="a note")),
}


def _models(model: type[BaseModel], seen: dict[str, type[BaseModel]]) -> dict[str, type[BaseModel]]:
    """Every pydantic model a pack is made of, by name, from ``Pack`` down."""
    if model.__name__ in seen:
        return seen
    seen[model.__name__] = model

    def inner(annotation: Any) -> list[Any]:
        return [annotation, *(a for arg in typing.get_args(annotation) for a in inner(arg))]

    for field in model.model_fields.values():
        for found in inner(field.annotation):
            if isinstance(found, type) and issubclass(found, BaseModel):
                _models(found, seen)
    return seen


def _keys() -> set[str]:
    return {f"{name}.{field}" for name, model in _models(Pack, {}).items()
            for field in model.model_fields}


def test_every_pack_key_has_a_probe() -> None:
    """A key added to the pack models without a probe here fails: say it in ``render`` and
    add its probe (the next new flag cannot be forgotten)."""
    assert sorted(_keys() - set(PROBES)) == []
    assert sorted(set(PROBES) - _keys()) == []


def test_the_working_week_rule_is_said_only_for_a_pack_that_uses_it() -> None:
    """``prolonged_absence_working_days`` is said where a ``+1wd-in-week`` deadline uses it
    (item 4: a pack without one read a sentence about a deadline it never sets)."""
    week = "“Before the end of the working week” deadlines"
    assert week not in render_markdown(Pack.model_validate(_base()))
    raw = _base()
    _set(*RULE, "deadline", value="+1wd-in-week")(raw)
    assert week in render_markdown(Pack.model_validate(raw))


@pytest.mark.parametrize("key", sorted(PROBES))
def test_every_pack_key_changes_the_rendered_words(key: str) -> None:
    """Setting the key changes what ``pack render`` says (both sides load as packs)."""
    prep, edit = PROBES[key]
    before = _base()
    if prep is not None:
        prep(before)
    after = copy.deepcopy(before)
    edit(after)
    assert render_markdown(Pack.model_validate(after)) != render_markdown(
        Pack.model_validate(before)), key
