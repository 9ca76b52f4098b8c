"""``yjrisk pack test`` judges each scenario's act by the pack version in force on its date, as
the live service does (attack 24b, A24b-6).

packs/README "Versions": "Each act is judged by the version in force on its ``occurred_at``
(Europe/London date): a back-dated act uses the policy of its day." The owner's test tool loads
the versions with the service's own loader (bundled packs plus ``YJ_PACKS_DIR``, plus the file
given), picks the one in force with the service's own choice, and names it on every line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from app.cli import main
from app.core.config import get_settings
from app.workflows.packs import PACK_DIR

Run = Callable[..., tuple[int, list[str], str]]
WOKINGHAM = (PACK_DIR / "wokingham-pyjs-2024.toml").read_text()

# W21 risk to staff, known on a Friday: version 1.0 "+1wd-in-week" (due that Friday, the end of
# the working week); the draft version 2.0 below makes it "+2wd" (due the Tuesday after).
_FRIDAY = """
[[scenarios]]
name = "{name}"
case = {{ intervention = "court_order", statutory = true }}
act = {{ trigger = "case_event", occurred_at = {at}, data = {{ type = "risk_to_staff" }} }}
[[scenarios.expect]]
code = "record_risk_to_staff"
due = {due}
"""
# 1.0's answer on Friday 7 June 2024 (before 2.0 is in force) and 2.0's on Friday 4 Sep 2026.
V1_IN_2024 = _FRIDAY.format(name="2024, by 1.0", at="2024-06-07T16:00:00+01:00",
                            due="2024-06-07T23:59:59+01:00")
V2_IN_2026 = _FRIDAY.format(name="2026, by 2.0", at="2026-09-04T16:00:00+01:00",
                            due="2026-09-08T23:59:59+01:00")


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Iterator[Run]:
    """``run(*args, packs_dir=None)``: ``yjrisk`` with ``YJ_PACKS_DIR`` set or not; (status,
    stdout lines, stderr)."""

    def call(*args: str, packs_dir: Path | None = None) -> tuple[int, list[str], str]:
        if packs_dir is None:
            monkeypatch.delenv("YJ_PACKS_DIR", raising=False)
        else:
            monkeypatch.setenv("YJ_PACKS_DIR", str(packs_dir))
        get_settings.cache_clear()
        try:
            status = main(list(args))
        finally:
            get_settings.cache_clear()
        out = capsys.readouterr()
        return status, out.out.splitlines(), out.err

    yield call
    get_settings.cache_clear()


def _version_2(folder: Path, name: str = "wokingham-pyjs-2024@2.0.toml") -> Path:
    """Wokingham's next version, in force from 1 March 2025, W21 due within two working days."""
    text = WOKINGHAM.replace('version = "1.0"\neffective_from = 2024-03-01',
                             'version = "2.0"\neffective_from = 2025-03-01', 1)
    at = text.index('id = "W21"')
    text = text[:at] + text[at:].replace('deadline = "+1wd-in-week"', 'deadline = "+2wd"', 1)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def _scenarios(tmp_path: Path, *bodies: str, pack: str = "wokingham-pyjs-2024") -> Path:
    path = tmp_path / "scenarios.toml"
    path.write_text(f'pack = "{pack}"\n' + "".join(bodies))
    return path


def test_A24b_6_a_pack_id_is_judged_by_the_newer_version_in_YJ_PACKS_DIR(
    tmp_path: Path, run: Run
) -> None:
    """With version 2.0 in ``YJ_PACKS_DIR`` the service judges a 2026 act by 2.0 ("Each act is
    judged by the version in force on its occurred_at"); ``pack test wokingham-pyjs-2024`` ran
    the bundled 1.0 instead. It loads the packs as the service does and says which version it
    ran: 2024 by 1.0, 2026 by 2.0."""
    packs = tmp_path / "packs"
    _version_2(packs)
    scenarios = _scenarios(tmp_path, V1_IN_2024, V2_IN_2026)
    status, out, err = run("pack", "test", "wokingham-pyjs-2024", str(scenarios),
                           packs_dir=packs)
    assert (status, err) == (0, "")
    assert out == [f"{scenarios}: ok   2024, by 1.0 [wokingham-pyjs-2024 version 1.0]",
                   f"{scenarios}: ok   2026, by 2.0 [wokingham-pyjs-2024 version 2.0]"]
    # Without YJ_PACKS_DIR the service has only 1.0, and so has the tool.
    status, out, _ = run("pack", "test", "wokingham-pyjs-2024", str(scenarios))
    assert status == 1
    assert out == [
        f"{scenarios}: ok   2024, by 1.0 [wokingham-pyjs-2024 version 1.0]",
        f"{scenarios}: FAIL 2026, by 2.0 [wokingham-pyjs-2024 version 1.0]",
        "    record_risk_to_staff: due 2026-09-04T23:59:59+01:00, expected "
        "2026-09-08T23:59:59+01:00",
        "1 scenario(s) failed"]


def test_A24b_6_a_draft_version_file_leaves_earlier_acts_to_the_version_then_in_force(
    tmp_path: Path, run: Run
) -> None:
    """Given the file of version 2.0 (in force from 2025-03-01), an act of 7 June 2024 was
    judged by 2.0 anyway. The file is one version of its pack, among the versions the service
    loads: the 2024 act is judged by 1.0, the 2026 one by the file's 2.0, each line says which,
    so an owner tests the changeover in one run."""
    draft = _version_2(tmp_path / "drafts")
    scenarios = _scenarios(tmp_path, V1_IN_2024, V2_IN_2026)
    status, out, err = run("pack", "test", str(draft), str(scenarios))
    assert (status, err) == (0, "")
    assert out == [f"{scenarios}: ok   2024, by 1.0 [wokingham-pyjs-2024 version 1.0]",
                   f"{scenarios}: ok   2026, by 2.0 [wokingham-pyjs-2024 version 2.0]"]


def test_A24b_6_a_file_none_of_whose_acts_is_in_its_period_says_it_was_not_run(
    tmp_path: Path, run: Run
) -> None:
    """Scenarios all dated before the file's version comes into force are judged by the version
    then in force; the run says that the file given was not run at all."""
    draft = _version_2(tmp_path / "drafts")
    scenarios = _scenarios(tmp_path, V1_IN_2024)
    status, out, _ = run("pack", "test", str(draft), str(scenarios))
    assert status == 0
    assert out == [
        f"{scenarios}: ok   2024, by 1.0 [wokingham-pyjs-2024 version 1.0]",
        f"note: no act of these scenarios is dated while wokingham-pyjs-2024 version 2.0 "
        f"({draft}) is in force (from 2025-03-01): the file given was not run"]


def test_A24b_6_an_act_before_the_first_version_is_said_clearly(
    tmp_path: Path, run: Run
) -> None:
    """A pack's only version in force from 1 September 2026 and an act of 28 August 2026: the
    service judges it by that version (there is no other), and the tool says plainly that the
    act's date precedes it, rather than silently applying it."""
    text = (PACK_DIR / "example-yjs.toml").read_text().replace(
        'id = "example-yjs"', 'id = "northvale"', 1).replace(
        'version = "1.0"\neffective_from = 2025-01-01',
        'version = "1"\neffective_from = 2026-09-01', 1)
    pack = tmp_path / "northvale.toml"
    pack.write_text(text)
    scenarios = _scenarios(tmp_path, """
[[scenarios]]
name = "X5 on 28 August"
[scenarios.act]
trigger = "case_event"
occurred_at = 2026-08-28T15:30:00+01:00
data = { type = "parent_carer_risk" }
[[scenarios.expect]]
code = "child_protection_referral"
""", pack="northvale")
    status, out, _ = run("pack", "test", str(pack), str(scenarios))
    assert status == 0
    assert out == [
        f"{scenarios}: ok   X5 on 28 August [northvale version 1]",
        "    note: the act's date 2026-08-28 is before northvale version 1 comes into force "
        "(2026-09-01) and no earlier version is loaded: the service judges it by this version "
        "all the same"]


def test_A24b_6_an_edited_copy_of_a_loaded_version_stands_in_for_it(
    tmp_path: Path, run: Run
) -> None:
    """A draft of a version the service loads (same id and version, edited) is tested in its
    place, not refused as "loaded twice": the owner tests the edit they are making."""
    text = WOKINGHAM
    at = text.index('id = "W21"')
    text = text[:at] + text[at:].replace('deadline = "+1wd-in-week"', 'deadline = "+2wd"', 1)
    copy = tmp_path / "edit" / "wokingham-pyjs-2024.toml"
    copy.parent.mkdir()
    copy.write_text(text)
    scenarios = _scenarios(tmp_path, V2_IN_2026.replace("2026, by 2.0", "2026, edited"))
    status, out, _ = run("pack", "test", str(copy), str(scenarios))
    assert status == 0
    assert out == [f"{scenarios}: ok   2026, edited [wokingham-pyjs-2024 version 1.0]"]


def test_A24b_6_a_draft_in_force_on_a_loaded_versions_date_is_one_line(
    tmp_path: Path, run: Run
) -> None:
    """A draft whose effective_from is a loaded version's is refused as the service would
    refuse to start with both: one ``yjrisk:`` line, exit 2, nothing run."""
    draft = _version_2(tmp_path / "drafts")
    draft.write_text(draft.read_text().replace("effective_from = 2025-03-01",
                                               "effective_from = 2024-03-01", 1))
    scenarios = _scenarios(tmp_path, V1_IN_2024)
    status, out, err = run("pack", "test", str(draft), str(scenarios))
    assert (status, out) == (2, [])
    assert err.count("\n") == 1
    assert err.startswith(f"yjrisk: {draft}: effective_from: two versions of "
                          "wokingham-pyjs-2024 come into force on the same date (2024-03-01")


def test_A24b_6_pack_render_of_an_id_renders_the_version_the_service_holds_in_force(
    run: Run, tmp_path: Path
) -> None:
    """``yjrisk pack render ID`` renders the version the live service holds in force today,
    loaded by the service's own loader (bundled plus ``YJ_PACKS_DIR``), and says which: with
    Wokingham 2.0 in ``YJ_PACKS_DIR`` (in force from 1 March 2025), 2.0, not the bundled 1.0."""
    status, out, err = run("pack", "render", "wokingham-pyjs-2024",
                           packs_dir=_version_2(tmp_path / "packs").parent)
    assert status == 0, err
    assert out[0].endswith(": version 2.0, in force from 1 March 2025"), out[0]
    assert err.splitlines() == ["rendered wokingham-pyjs-2024 version 2.0, in force today "
                                "(versions the service loads: 1.0, 2.0)"]
    status, out, err = run("pack", "render", "wokingham-pyjs-2024")
    assert status == 0, err
    assert out[0].endswith(": version 1.0, in force from 1 March 2024"), out[0]
    assert err.splitlines() == ["rendered wokingham-pyjs-2024 version 1.0, in force today "
                                "(versions the service loads: 1.0)"]
