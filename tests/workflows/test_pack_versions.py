"""Versioned packs: a revised policy is a new version of the same pack id, in force by date."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.workflows.engine import evaluate
from app.workflows.packs import PackError, latest, load_versions, version_at
from tests.workflows.support import EVENT_ID, WOKINGHAM, calendar, case, event, revision


def test_versions_are_ordered_and_the_newest_is_served(tmp_path: Path) -> None:
    """Both versions load under one id, oldest first; the newest is the pack's default."""
    revision(tmp_path)
    versions = load_versions(None, tmp_path)
    assert [v.version for v in versions[WOKINGHAM]] == ["1.0", "2.0"]
    assert latest(versions)[WOKINGHAM].version == "2.0"


def test_each_act_is_judged_by_the_version_in_force_on_its_london_date(tmp_path: Path) -> None:
    """Effective from 1 September 2026 (London): 23:30 UTC on 31 August is already 1 September
    in London (BST), so the new version applies; 22:59 UTC is still 31 August."""
    revision(tmp_path)
    found = load_versions(None, tmp_path)[WOKINGHAM]
    assert version_at(found, datetime(2026, 8, 31, 22, 59, tzinfo=UTC)).version == "1.0"
    assert version_at(found, datetime(2026, 8, 31, 23, 30, tzinfo=UTC)).version == "2.0"
    assert version_at(found, datetime(2020, 1, 1, tzinfo=UTC)).version == "1.0"


def test_W21_steps_cite_the_version_that_made_them(tmp_path: Path) -> None:
    """Wokingham "Risk to staff": recorded within one working day under version 1.0; the
    fictional revision 2.0 makes it immediate. The step carries pack, version, ref and rule."""
    revision(tmp_path)
    found = load_versions(None, tmp_path)[WOKINGHAM]
    for moment, version, urgent, ref in (
        (datetime(2026, 8, 28, 14, 30, tzinfo=UTC), "1.0", False,
         "Risk to staff, Internal and External Controls"),
        (datetime(2026, 9, 2, 9, 0, tzinfo=UTC), "2.0", True,
         "Risk to staff and other children"),
    ):
        ev = evaluate(event("case_event", moment, EVENT_ID, type="risk_to_staff"), case(),
                      version_at(found, moment), calendar())
        step = next(i for i in ev.intents if i.code == "record_risk_to_staff")
        assert (step.policy_pack, step.policy_version, step.policy_ref, step.rule_id,
                step.urgent) == (WOKINGHAM, version, ref, "W21", urgent)


def test_two_versions_in_force_on_one_day_are_refused(tmp_path: Path) -> None:
    """Two versions of one pack cannot come into force on the same date."""
    revision(tmp_path, version="2.0", effective="2024-03-01")
    with pytest.raises(PackError, match="come into force on the same date"):
        load_versions(None, tmp_path)


def test_a_versioned_file_name_must_match_its_version(tmp_path: Path) -> None:
    """``<id>@<version>.toml`` names the version inside it."""
    revision(tmp_path, name=f"{WOKINGHAM}@3.0")
    with pytest.raises(PackError, match=r"must match the file name"):
        load_versions(None, tmp_path)
