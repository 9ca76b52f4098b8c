"""The contract's version follows its changelog (attack 20, A20-8).

docs/integrating.md §8: "`info.version` in `/openapi.json` follows semantic versioning of the
contract (minor: additions)". The contract gained fields and parameters while ``info.version``
stayed 1.0.0, and no changelog told integrators. The version is now the changelog's newest
entry, and the committed document says the same.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from app.core.config import Settings
from app.main import create_app

ROOT = Path(__file__).resolve().parents[2]


def test_info_version_is_the_changelogs_newest_entry(settings: Settings) -> None:
    text = (ROOT / "docs" / "integrating.md").read_text(encoding="utf-8")
    changelog = text.split("### Changelog", 1)
    assert len(changelog) == 2, "docs/integrating.md §8 keeps a changelog"
    entries = re.findall(r"^- \*\*(\d+\.\d+\.\d+)\*\*", changelog[1], re.MULTILINE)
    assert entries, "the changelog names its versions"
    assert create_app(settings).openapi()["info"]["version"] == entries[0]
    committed = json.loads((ROOT / "openapi" / "openapi.json").read_text(encoding="utf-8"))
    assert committed["info"]["version"] == entries[0]
    assert entries[0] != "1.0.0"
