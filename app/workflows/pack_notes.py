"""The decisions a pack records only in its comments: the duties of the written policy it
deliberately gives no step ("No step: ..."; e.g. Somerset 6.3's strategies "where appropriate",
Wokingham's lone-working "buddy"). No rule carries them, so ``pack render`` read them from the
pack file's comments (tomlkit keeps comments; ``tomllib`` drops them) to show them beside the
rules: the rendered policy says what was decided, not only what was encoded (fix30c)."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.container import Container
from tomlkit.items import AoT, Array, Comment, InlineTable, Item, Null, Table, Whitespace

from app.workflows.packs import read_toml

# A comment block that says a duty gets no step ("No step:", "no step of its own", "(no step)").
NO_STEP = re.compile(r"\bno step\b", re.IGNORECASE)


def _text(comment: str) -> str:
    """A comment's words without its ``#``."""
    return comment.strip().removeprefix("#").strip()


def comment_blocks(text: str) -> list[str]:
    """The pack file's comments as blocks (consecutive comment lines, a blank line or a value
    ends one; a comment at the end of a value's line is a block of its own), in file order,
    each as one line of text without the ``#``. ``tomlkit.exceptions.ParseError`` for a file
    that is not TOML."""
    blocks: list[str] = []
    current: list[str] = []

    def end() -> None:
        if current:
            blocks.append(" ".join(w for w in current if w))
            current.clear()

    for kind, value in _walk(tomlkit.parse(text).body):
        if kind == "comment":
            current.append(value)
        elif kind == "inline":
            end()
            blocks.append(value)
        else:
            end()
    end()
    return [b for b in blocks if b]


def _walk(body: Iterable[tuple[Any, Item]]) -> Iterator[tuple[str, str]]:
    """(kind, text) for each comment (``comment``: a whole line; ``inline``: after a value)
    and each break (``break``: a blank line, a value, a table) of a container's body."""
    for _, item in body:
        if isinstance(item, Comment):
            yield "comment", _text(item.as_string())
            continue
        yield "break", ""
        if isinstance(item, Whitespace):
            continue
        inline = item.trivia.comment if hasattr(item, "trivia") else ""
        if isinstance(item, Table):
            yield from _walk(item.value.body)
        elif isinstance(item, AoT):
            for table in item.body:
                yield "break", ""
                yield from _walk(table.value.body)
        elif isinstance(item, Array):
            yield from _array(item)
        elif isinstance(item, InlineTable) and isinstance(item.value, Container):
            yield from _walk(item.value.body)
        if inline:
            yield "inline", _text(inline)


def _array(array: Array) -> Iterator[tuple[str, str]]:
    """The comments among a multi-line array's values (a value, or a blank line, ends a
    block; the indentation between comment lines does not)."""
    for item in array._iter_items():  # tomlkit's own walk of an array's parts (with comments)
        if isinstance(item, Comment):
            yield "comment", _text(item.as_string())
        elif isinstance(item, Whitespace):
            if item.as_string().count("\n") > 1:
                yield "break", ""
        elif isinstance(item, Null):  # tomlkit's placeholder before a comment: no value
            continue
        elif isinstance(item, Array):
            yield "break", ""
            yield from _array(item)
        elif isinstance(item, InlineTable) and isinstance(item.value, Container):
            yield "break", ""
            yield from _walk(item.value.body)
            yield "break", ""
        else:
            yield "break", ""


def no_step_notes(text: str) -> list[str]:
    """The comment blocks of a pack file that record a duty deliberately given no step."""
    return [block for block in comment_blocks(text) if NO_STEP.search(block)]


def pack_source(pack_id: str, version: str, dirs: Sequence[Path | None]) -> str | None:
    """The text of the file a loaded pack version came from: the first of ``dirs`` (the
    service's ``YJ_PACKS_DIR`` before the bundled packs) holding ``<id>.toml`` or
    ``<id>@<version>.toml`` of that id and version; None when none does."""
    for folder in dirs:
        if folder is None or not folder.is_dir():
            continue
        for path in sorted(folder.glob(f"{pack_id}*.toml")):
            if path.stem not in (pack_id, f"{pack_id}@{version}"):
                continue
            try:
                text = path.read_text(encoding="utf-8")
                raw = read_toml(text)  # not read past the nesting limit (ATTACK35B-4)
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
                continue
            if raw.get("id") == pack_id and str(raw.get("version", "1")) == version:
                return text
    return None
