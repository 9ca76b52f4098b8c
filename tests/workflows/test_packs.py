"""Pack loading: the bundled packs, a third authority written as data, malformed packs."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from app.workflows.conditions import atom_names
from app.workflows.engine import evaluate
from app.workflows.packs import PACK_DIR, PackError, contact_level, load_pack, load_packs
from tests.workflows.support import (
    EVENT_ID,
    FRI_BEFORE_BANK_HOLIDAY,
    SOMERSET,
    WOKINGHAM,
    calendar,
    case,
    created,
    end_of,
    event,
    judgement,
    packs,
    rated,
    utc,
)

THIRD_PACK = """
id = "exeter-yjs-2025"
title = "A third authority, written as data only"
authority = "Exeter YJS (test)"
source = "none"
panel_kind = "risk_panel"

[matrix]
ref = "4.1"
impacts = ["low_impact", "high_impact"]
likelihoods = ["rare", "often"]
[matrix.levels]
low_impact = "low"
high_impact = { rare = "high", often = "very_high" }

[register]
rule_id = "X0"
ref = "9.9"
when = { after = { any_rating_in = { domains = ["rosh"], levels = ["very_high"] } } }

[contact]
rule_id = "X9"
ref = "6"
[[contact.bands]]
level = "weekly"
[contact.bands.when.after.any_rating_in]
domains = ["swb"]
levels = ["medium", "high", "very_high"]

[[checks]]
id = "X2"
requires = "rationale"
type_slug = "rationale-required"
title = "Rationale required"
detail = "SWB judgements always need a rationale here."
ref = "3.3"
when = { judgement_domain_in = ["swb"] }

[[rules]]
id = "X1"
trigger = "judgement_recorded"
code = "call_the_duty_senior"
title = "Call the duty senior manager"
actor = "chair"
deadline = "+3wd"
ref = "5.2"
when = { all = [{ judgement_domain_in = ["rosh"] }, { level_in = ["high", "very_high"] }] }
holds = { after = { any_rating_in = { domains = ["rosh"], levels = ["high", "very_high"] } } }

[[rules]]
id = "X3"
trigger = "case_event"
code = "tell_the_school"
title = "Tell the school"
actor = "case_holder"
ref = "7"
when = { event_type_in = ["new_incident"] }
deadline = [
  { when = { case = { statutory = true } }, form = "+2d" },
  { form = "+1m" },
]
"""


def test_bundled_packs_load_and_implement_the_whole_catalogue() -> None:
    """Bundled packs load and implement the whole catalogue."""
    loaded = load_packs()
    # Every bundled file is a pack (the two seeds, the fictional example, any added later).
    assert set(loaded) == {p.stem for p in PACK_DIR.glob("*.toml")}
    assert {SOMERSET, WOKINGHAM, "example-yjs"} <= set(loaded)
    somerset = {f"S{n}" for n in range(1, 29)} | {"M1", "M6", "M7"}
    wokingham = {f"W{n}" for n in range(1, 24)} | {f"M{n}" for n in (1, 2, 3, 4, 5, 7)}
    assert somerset <= set(loaded[SOMERSET].rule_ids())
    assert wokingham <= set(loaded[WOKINGHAM].rule_ids())
    assert loaded[SOMERSET].rule("S5").code == "discuss_with_manager"
    assert len(loaded[SOMERSET].lines("S23")) == 2
    with pytest.raises(KeyError):
        loaded[SOMERSET].rule("W7")


def test_contact_level_function_and_matrix_live_in_the_pack() -> None:
    """Contact level function and matrix live in the pack."""
    assert contact_level(packs()[WOKINGHAM], rated("low", "low", "low")) == "fortnightly"
    assert contact_level(packs()[WOKINGHAM], rated("medium", "low", "low")) == "weekly"
    assert contact_level(packs()[SOMERSET], rated("high", "high", "high")) is None
    # "the following level of (statutory) contacts" (A17-13): none on a prevention case.
    assert contact_level(packs()[WOKINGHAM], rated("high", "low", "low"), statutory=False) is None


def test_reads_event_key_names_the_data_a_trigger_can_use() -> None:
    """A pack says which event data its lines for a trigger can read: Somerset S26 tests the
    judgement's ``transfer_pending`` and counts ``before-transfer`` from its ``transfer_date``;
    no Wokingham line reads either, so a Wokingham judgement skips that query (issue 15)."""
    somerset, wokingham = packs()[SOMERSET], packs()[WOKINGHAM]
    assert somerset.reads_event_key("judgement_recorded", "transfer_pending") is True
    assert somerset.reads_event_key("judgement_recorded", "transfer_date") is True
    assert somerset.reads_event_key("case_event", "transfer_pending") is False
    assert wokingham.reads_event_key("judgement_recorded", "transfer_pending") is False
    assert wokingham.reads_event_key("judgement_recorded", "transfer_date") is False
    # A check's ``requires`` and a line's ``counts_from`` name the keys they read.
    assert wokingham.reads_event_key("judgement_recorded", "rationale") is True
    assert wokingham.reads_event_key("judgement_recorded", "assessment_completed_at") is True


def test_a_third_authority_is_a_new_pack_file_and_no_engine_change(tmp_path: Path) -> None:
    """A third authority is a new pack file and no engine change."""
    path = tmp_path / "exeter-yjs-2025.toml"
    path.write_text(THIRD_PACK, encoding="utf-8")
    pack = load_packs(tmp_path)["exeter-yjs-2025"]
    ev = evaluate(judgement("rosh", "very_high", FRI_BEFORE_BANK_HOLIDAY, impact="high_impact",
                            likelihood="rare"), case(), pack, calendar())
    assert ev.matrix_level == "high"
    assert ev.register_change == "registered"
    step = created(ev, "call_the_duty_senior")
    # +3wd from Friday 28 August 2026: Tue 1, Wed 2, Thu 3 September (Monday is a bank holiday).
    assert (step.rule_id, step.actor, step.policy_pack, step.policy_ref) == (
        "X1", "chair", "exeter-yjs-2025", "5.2")
    assert step.due_at == end_of(date(2026, 9, 3), bst=True)
    assert ev.contact_level is None
    refused = evaluate(judgement("swb", "medium", FRI_BEFORE_BANK_HOLIDAY), case(), pack,
                       calendar())
    assert [v.rule_id for v in refused.violations] == ["X2"]
    ok = evaluate(judgement("swb", "medium", FRI_BEFORE_BANK_HOLIDAY, rationale="why"), case(),
                  pack, calendar())
    assert ok.contact_level == "weekly"
    incident = event("case_event", FRI_BEFORE_BANK_HOLIDAY, EVENT_ID, type="new_incident")
    assert created(evaluate(incident, case(), pack, calendar()),
                   "tell_the_school").due_at == utc(2026, 8, 30, 14, 30)
    assert created(evaluate(incident, case(statutory=False), pack, calendar()),
                   "tell_the_school").due_at == utc(2026, 9, 28, 14, 30)


def _write(tmp_path: Path, text: str, name: str = "exeter-yjs-2025.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('{ level_in = ["high", "very_high"] }', '{ levle_in = ["high"] }',
         r"rules\.0\.when\.all\.1\.levle_in \(rule X1\): unknown condition atom 'levle_in' "
         r".*mean level_in"),
        ('{ level_in = ["high", "very_high"] }', '{ level_in = ["hihg"] }',
         r"rules\.0\.when\.all\.1\.level_in\.0 \(rule X1\): 'hihg' is not allowed in 'level_in'.*"
         r"did you mean 'high'"),
        ('deadline = "+3wd"', 'deadline = "+3 working days"',
         r"rules\.0\.deadline \(rule X1\): .*unknown deadline form '\+3 working days'"),
        ('trigger = "judgement_recorded"', 'trigger = "judgment_recorded"',
         r"rules\.0\.trigger \(rule X1\): unknown trigger"),
        ('actor = "chair"', 'actor = "chair"\nowner = "x"',
         r"rules\.0\.owner \(rule X1\): unknown key 'owner'; the keys here are id, trigger"),
        ('holds = { after = { any_rating_in', 'holds = { case = { any_rating_in',
         r"rules\.0\.holds\.case\.any_rating_in \(rule X1\): only after\.\* atoms"),
        ('high_impact = { rare = "high", often = "very_high" }', 'high_impact = { rare = "high" }',
         r"matrix: .*must give a level for each of"),
        ('{ form = "+1m" }', '{ when = { case = { statutory = false } }, form = "+1m" }',
         r"rules\.1\.deadline \(rule X3\): .*last branch"),
        ('id = "X1"', 'id = "step one"',
         r"rules\.0\.id \(rule step one\): 'step one' is not written as it should be: a "
         r"rule id is a capital letter"),
    ],
)
def test_malformed_pack_raises_pack_error_naming_file_and_field(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    """Malformed pack raises pack error naming file and field."""
    assert old in THIRD_PACK
    path = _write(tmp_path, THIRD_PACK.replace(old, new, 1))
    with pytest.raises(PackError) as raised:
        load_pack(path)
    text = str(raised.value)
    assert str(path) in text
    assert re.search(message, text), text


def test_pack_id_must_match_file_name_and_toml_must_parse(tmp_path: Path) -> None:
    """Pack id must match file name and toml must parse."""
    with pytest.raises(PackError, match="must match the file name 'other'"):
        load_pack(_write(tmp_path, THIRD_PACK, "other.toml"))
    with pytest.raises(PackError, match="not valid TOML"):
        load_pack(_write(tmp_path, 'id = "x\n', "broken.toml"))
    with pytest.raises(PackError, match="cannot read"):
        load_pack(tmp_path / "missing.toml")
    with pytest.raises(PackError, match="no policy packs"):
        load_packs(tmp_path / "nowhere")


def test_every_atom_is_documented_in_the_pack_readme() -> None:
    """Every atom is documented in the pack readme."""
    readme = (Path(__file__).resolve().parents[2] / "app/workflows/packs/README.md").read_text()
    for name in atom_names():
        assert name.split(".", 1)[-1] in readme, name


def test_registered_rosh_very_high_third_pack_does_not_change_bundled_packs() -> None:
    """Registered rosh very high third pack does not change bundled packs."""
    ev = evaluate(judgement("rosh", "high", FRI_BEFORE_BANK_HOLIDAY), case(), packs()[SOMERSET],
                  calendar())
    assert ev.register_change == "registered"


def test_packs_serialize_to_json_and_validate_back() -> None:
    """Packs dump as JSON (GET /v1/policy-packs) with conditions as written, and reload."""
    for pack in packs().values():
        dumped = pack.model_dump(mode="json")
        assert "register" in dumped
        first = next(i for i, r in enumerate(pack.rules) if r.when is not None)
        assert dumped["rules"][first]["when"] == pack.rules[first].when.raw  # type: ignore[union-attr]
        again = type(pack).model_validate(dumped)
        assert again.rule_ids() == pack.rule_ids()


def test_local_behaviour_is_pack_data_not_code() -> None:
    """Somerset 6.2 asks for the child's and carer's views on a panel referral, 7.1.5 keeps the
    presenting manager out of the chair; Wokingham gates MAPPA forms by quality assurance
    ("Referrals into MAPPA") and counts an assessment done on countersignature. Each is the
    pack's data, and the other pack does not inherit it."""
    somerset, wokingham = packs()[SOMERSET], packs()[WOKINGHAM]
    assert somerset.referral_kind("panel").requires_views is True
    assert wokingham.referral_kind("panel").requires_views is False
    assert somerset.panel("marp").presenter_may_chair is False
    assert wokingham.panel("high_risk_panel").presenter_may_chair is True
    assert wokingham.referral_kind("mappa_h").quality_assurance is True
    assert somerset.referral_kind("mappa_h").quality_assurance is False
    assert "complete_assessment" in wokingham.closes("assessment_countersign")
    assert "complete_assessment" in somerset.closes("assessment_submit")
    assert somerset.escalation.target("line_manager") == "duty_manager"
    assert wokingham.escalation.target("panel_admin") == "chair"
