"""Staff ids as people read them: no character that does not show.

A staff id (a token's ``sub``, a case holder, a panel chair, an access list entry) is printed in
audit trails, timelines and exports, where a reader takes ``cw-alex\u200b`` for ``cw-alex``. So an
id may hold letters, digits, punctuation, symbols and the plain space, and nothing invisible or
direction-changing: Unicode general categories C (controls, format characters such as zero-width
spaces and bidirectional overrides, private use, unassigned, surrogates) and Z other than U+0020
(other spaces, line and paragraph separators) are refused (Unicode Standard Annex #44, General
Category values; read with the standard library's ``unicodedata``).
"""

from __future__ import annotations

import unicodedata


def invisible_character(text: str) -> str | None:
    """The first character of ``text`` that does not show (as ``U+XXXX``), or None."""
    for char in text:
        if char == " ":
            continue
        category = unicodedata.category(char)
        if category[0] in "CZ":
            return f"U+{ord(char):04X}"
    return None


def check_staff_id(value: str) -> str:
    """A pydantic after-validator: ``value`` unchanged, or ValueError naming the code point."""
    found = invisible_character(value)
    if found is not None:
        raise ValueError(f"a staff id must not contain {found} (an invisible or "
                         "direction-changing character)")
    return value
