"""The feed contract tells a feed which answers to retry (attack 20, A20-9).

A delivery for a child whose death is recorded is a permanent ``409 after-final-event``; the
docs used to tell feeds to retry every ``409`` and listed no such row, so a conforming feed
retried it for ever. Both tables (README and docs/integrating.md §3) list it as final, and
neither says to retry every ``409``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _feed_section(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    start = re.search(r"^## (3\. )?Referral feeds", text, re.MULTILINE)
    assert start is not None, path
    end = text.find("\n## ", start.end())
    return text[start.start():end]


@pytest.mark.parametrize("doc", ["README.md", "docs/integrating.md"])
def test_A20_9_the_feed_table_lists_the_after_death_answer_as_final(doc: str) -> None:
    """The table has the after-death row saying not to retry; no sentence retries every 409."""
    section = _feed_section(ROOT / doc)
    row = next((line for line in section.splitlines()
                if line.startswith("|") and "after-final-event" in line), None)
    assert row is not None, doc
    assert "do not retry" in row, row
    assert not re.search(r"retry on network errors and `5xx`/`409`", section), doc
