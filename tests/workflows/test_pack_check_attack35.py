"""Attack 35a, ATTACK35A-10: a whole number written as a TOML float (``4.0``, ``1e3``) or a
boolean (``true``) in a comparison on an integer quantity, or as a declared bound, slipped past
``pack check``: lax validation took ``4.0`` as 4 and ``true`` as 1 when the pack loaded, while
the check's range test read the file's float and skipped it, so a rule that can never apply
loaded with "no errors" (``gte = 5`` on the 0..4 score was an error, ``gt = 4.0`` was not).

packs/README: "integer comparisons leaving no number: every integer-valued quantity ... each
``[[scores]]`` score and each integer fact held to its declared ``min``/``max``" is an error.
A comparison's numbers and a declared range's bounds are whole numbers, as the service holds
an integer fact (``PATCH facts {previous_custodial_sentences: 30.0}`` is a 422 "must be a
whole number")."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.cli import main
from app.workflows.pack_check import check_pack
from app.workflows.packs import PackError, read_pack
from tests.workflows.support import example_variant

X8 = '{ after = { score = { name = "serious_harm_indicators", gte = 2 } } }'  # X8's when
FACT = 'type = "integer"\nmin = 0\nmax = 30'  # previous_custodial_sentences' declaration
SCORE = 'id = "serious_harm_indicators"\ntitle = "AssetPlus: Indicators of serious harm ' \
    '(section score)"\nmin = 0\nmax = 4'

NOT_WHOLE = "is not a whole number"
NOT_NUMBERS = "true and false are not numbers"


def _refused(path: Path) -> str:
    with pytest.raises(PackError) as caught:
        read_pack(path)
    return str(caught.value)


@pytest.mark.parametrize(("atom", "field", "said"), [
    # The tester's: a whole number as a float, above the score's declared 0..4.
    ('after = { score = { name = "serious_harm_indicators", gt = 4.0 } }',
     "rules.10.when.after.score.gt", "4.0 is not a whole number: write 4"),
    ('after = { score = { name = "serious_harm_indicators", gte = 4.0 } }',
     "rules.10.when.after.score.gte", "4.0 is not a whole number: write 4"),
    ('after = { fact = { name = "previous_custodial_sentences", gte = 1e3 } }',
     "rules.10.when.after.fact.gte", "1000.0 is not a whole number: write 1000"),
    # Its twins: every numeric operator, a fraction, a boolean, a list member, the age.
    ('after = { fact = { name = "previous_custodial_sentences", lt = 2.5 } }',
     "rules.10.when.after.fact.lt", "2.5 is not a whole number: write a whole number, "
     "without a point"),
    ('after = { score = { name = "serious_harm_indicators", lte = true } }',
     "rules.10.when.after.score.lte", "True is not a whole number: write a whole number: "
     "true and false are not numbers"),
    ('after = { fact = { name = "previous_custodial_sentences", in = [1, 2.0] } }',
     "rules.10.when.after.fact.in.1", "2.0 is not a whole number: write 2"),
    ('child_age = { gte = 10.0 }', "rules.10.when.child_age.gte",
     "10.0 is not a whole number: write 10"),
])
def test_attack35a_10_a_float_or_boolean_comparison_number_is_refused_at_load(
        tmp_path: Path, atom: str, field: str, said: str) -> None:
    """A comparison's number written ``4.0``, ``1e3``, ``2.5`` or ``true`` is refused when the
    pack loads, at its own field and in words, once (a union's three type errors say one
    thing): the engine never compares with a number the check did not see."""
    path = example_variant(tmp_path, (X8, "{ " + atom + " }"), once=True)
    message = _refused(path)
    assert f"{field} (rule X8): {said}" in message, message
    assert message.count("is not a whole number") == 1, message


@pytest.mark.parametrize(("atom", "field", "said"), [
    ('after = { fact = { name = "previous_custodial_sentences", eq = true } }',
     "rules.10.when.after.fact.eq", "true is not a whole number, and fact "
     "'previous_custodial_sentences' holds whole numbers only: the comparison eq = true is "
     "never true; write a number without quotes (2)"),
    ('after = { score = { name = "serious_harm_indicators", eq = true } }',
     "rules.10.when.after.score.eq", "true is not a whole number, and score "
     "'serious_harm_indicators' holds whole numbers only: the comparison eq = true is never "
     "true; write a number without quotes (2)"),
    ('after = { score = { name = "serious_harm_indicators", in = [1, "3"] } }',
     "rules.10.when.after.score.in.1", '"3" is not a whole number, and score '
     "'serious_harm_indicators' holds whole numbers only: the comparison in = \"3\" is never "
     "true; write a number without quotes (2)"),
    ('after = { fact = { name = "previous_custodial_sentences", ne = "0" } }',
     "rules.10.when.after.fact.ne", '"0" is not a whole number, and fact '
     "'previous_custodial_sentences' holds whole numbers only: the comparison ne = \"0\" is "
     "always true; write a number without quotes (2)"),
    ('child_age = { eq = "12" }', "rules.10.when.child_age.eq",
     '"12" is not a whole number, and a child\'s age holds whole numbers only: the '
     'comparison eq = "12" is never true; write a number without quotes (2)'),
])
def test_attack35a_10_a_boolean_or_text_equal_on_an_integer_quantity_is_an_error(
        tmp_path: Path, atom: str, field: str, said: str) -> None:
    """``eq``/``ne``/``in`` take yes/no and text too (for other facts), so the pack loads; on an
    integer fact, a score or the age such a value is never held: ``pack check`` says so as
    an error at the value's own field."""
    path = example_variant(tmp_path, (X8, "{ " + atom + " }"), once=True)
    errors = [(p.field, p.message) for p in check_pack(read_pack(path)) if p.severity == "error"]
    assert errors == [(field, said)]


@pytest.mark.parametrize(("old", "new", "field"), [
    (FACT, 'type = "integer"\nmin = true\nmax = 30',
     f"facts.2.min: true {NOT_WHOLE}: {NOT_NUMBERS}"),
    (FACT, 'type = "integer"\nmin = 0\nmax = 30.0', f"facts.2.max: 30.0 {NOT_WHOLE}: write 30"),
    (SCORE, SCORE.replace("max = 4", "max = 4.0"), f"scores.0.max: 4.0 {NOT_WHOLE}: write 4"),
    (SCORE, SCORE.replace("min = 0", "min = false"),
     f"scores.0.min: false {NOT_WHOLE}: {NOT_NUMBERS}"),
])
def test_attack35a_10_a_declared_bound_must_be_a_whole_number(
        tmp_path: Path, old: str, new: str, field: str) -> None:
    """``min = true`` or ``max = 30.0`` in ``[[facts]]``/``[[scores]]`` was taken as 1 or 30: the
    declared range is whole numbers, refused at load otherwise, naming the field."""
    path = example_variant(tmp_path, (old, new), once=True)
    message = _refused(path)
    assert field in message, message


def test_attack35a_10_whole_numbers_still_load_and_check_clean(tmp_path: Path) -> None:
    """The control: the same atoms with whole numbers load; in range they are no error, out
    of range the existing never-true error still names them (``gt = 4`` on 0..4)."""
    ok = example_variant(tmp_path, (X8, '{ after = { score = { name = '
                                        '"serious_harm_indicators", gte = 4 } } }'), once=True)
    assert [p for p in check_pack(read_pack(ok)) if p.severity == "error"] == []
    never = example_variant(tmp_path, (X8, '{ after = { score = { name = '
                                           '"serious_harm_indicators", gt = 4 } } }'), once=True)
    assert [p.field for p in check_pack(read_pack(never)) if p.severity == "error"] == [
        "rules.10.when"]


# --- ATTACK35A-19: a condition nested past the one limit --------------------------------------

PAST_THE_LIMIT = ("nested more than 32 tables or lists deep cannot be read; write it flatter "
                  "(all and any take a list of conditions)")
TOO_DEEP = f"an inline table {PAST_THE_LIMIT}"
LIST_TOO_DEEP = f"a list {PAST_THE_LIMIT}"


def _nested(kind: str, depth: int) -> str:
    when = X8
    for _ in range(depth):
        when = f"{{ not = {when} }}" if kind == "not" else f"{{ {kind} = [{when}] }}"
    return when


@pytest.mark.parametrize(("kind", "deepest"), [("not", 26), ("all", 13), ("any", 13)])
def test_attack35a_19_a_condition_at_the_limit_loads_and_one_past_it_is_one_error(
        tmp_path: Path, kind: str, deepest: int) -> None:
    """ATTACK35A-19: X8's ``when`` nested 200 deep made ``pack check`` and ``serve`` die with a
    traceback (the compiled condition's source too deep for Python's parser; 2,000 deep, the
    TOML reader's recursion). A pack nests at most 32 tables or lists, as a JSON body does:
    the deepest condition under it loads and checks clean; one level more is refused in one
    line naming where, as is every depth past it, however deep: its rule, its field and its
    line at every depth (attack 35b, ATTACK35B-4: past about 300 the TOML reader's own
    recursion gave up first, and the message named the file alone), and the thing by its
    name: the inline table or list at the limit."""
    ok = example_variant(tmp_path, (X8, _nested(kind, deepest)), once=True)
    assert [p for p in check_pack(read_pack(ok)) if p.severity == "error"] == []
    step = ".not" if kind == "not" else f".{kind}.0"
    for depth in (deepest + 1, 200, 5000):
        path = example_variant(tmp_path, (X8, _nested(kind, depth)), once=True)
        with pytest.raises(PackError) as caught:
            read_pack(path)
        (problem,) = caught.value.problems
        if depth == deepest + 1:  # the first value past the limit: X8's own inline tables
            field = "rules.10.when" + step * depth + (".after.score" if kind == "not"
                                                      else ".after")
            message = TOO_DEEP
        else:  # the 32nd level of the nesting itself: a not's table, or an all's list
            field = "rules.10.when" + (step * 29 if kind == "not" else step * 14 + f".{kind}")
            message = TOO_DEEP if kind == "not" else LIST_TOO_DEEP
        assert (problem.severity, problem.rule, problem.field, problem.message,
                problem.lineno) == ("error", "X8", field, message, 298)

def test_attack35a_19_pack_check_says_it_in_one_line_exit_1(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The owner's tool: ``yjrisk pack check`` on the 200-deep pack prints one error line (no
    traceback), at X8's line and the first value past the limit, and exits 1, as for any
    invalid pack."""
    path = example_variant(tmp_path, (X8, _nested("not", 200)), once=True)
    assert main(["pack", "check", str(path)]) == 1
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    # 298: X8's condition in the example pack (296 before fix36e's two closure lines).
    assert captured.out.splitlines() == [
        f"{path}:298: X8: rules.10.when{'.not' * 29}: error: {TOO_DEEP}"], captured
