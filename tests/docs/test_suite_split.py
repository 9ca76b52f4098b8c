"""scripts/test.sh splits the test folders between its two runs (SQLite's and PostgreSQL's, side
by side): every folder of tests runs, the API tests on both databases, the README says which
runs where."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = (ROOT / "scripts" / "test.sh").read_text()


def _paths(name: str) -> list[str]:
    found = re.findall(rf"^{name}=\(([^)]*)\)$", SCRIPT, re.MULTILINE)
    assert len(found) == 1, f"one {name}=(...) line expected in scripts/test.sh: {found}"
    return found[0].split()


def test_every_test_folder_runs_and_the_api_tests_on_both_databases() -> None:
    """Each folder of tests/ with tests in it is in exactly one run's list, except tests/api, in
    both; tests/cli (its own SQLite databases) is SQLite's."""
    folders = {f"tests/{p.parent.name}" for p in (ROOT / "tests").glob("*/test_*.py")}
    sqlite, pg = _paths("sqlite_paths"), _paths("pg_paths")
    assert set(sqlite) | set(pg) == folders
    assert set(sqlite) & set(pg) == {"tests/api"}
    assert "tests/cli" in sqlite


def test_readme_says_where_each_folder_runs() -> None:
    """The README names each run's folders beside it."""
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert "`tests/cli` and `tests/ui` beside SQLite's" in readme
    assert "the database-free `tests/workflows` and `tests/docs` beside PostgreSQL's" in readme
    assert set(_paths("sqlite_paths")) == {"tests/api", "tests/cli", "tests/ui"}
    assert set(_paths("pg_paths")) == {"tests/api", "tests/workflows", "tests/docs"}
