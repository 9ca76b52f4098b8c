"""Staff ids as people read them: nothing that does not show, one spelling per id.

A staff id (a token's ``sub``, a case holder, a panel chair, an access list entry) is printed in
audit trails, timelines and exports, where a reader takes ``cw-alex\u200b`` for ``cw-alex``. So an
id may hold letters, digits, marks, punctuation, symbols and the plain space, and nothing that
renders as nothing or changes direction:

- Unicode general categories C (controls, format characters such as zero-width spaces and
  bidirectional overrides, private use, unassigned, surrogates) and Z other than U+0020 (other
  spaces, line and paragraph separators);
- every Default_Ignorable_Code_Point (variation selectors, Hangul fillers, combining grapheme
  joiner, Mongolian and Khmer invisible signs ...), and U+2800 BRAILLE PATTERN BLANK.

Unicode Standard Annex #44 (General_Category, DerivedCoreProperties), matched with the ``regex``
package's Unicode property classes. An id is also compared in Normalization Form C (UAX #15):
a body's id is stored in NFC, and a token whose subject is not in NFC is refused, so ``é`` typed
as one character or as ``e`` plus an accent is one person, not two.
"""

from __future__ import annotations

import unicodedata

import regex

_INVISIBLE = regex.compile(r"[\p{Default_Ignorable_Code_Point}\p{C}\p{Z}\u2800--[ ]]", regex.V1)


def invisible_character(text: str) -> str | None:
    """The first character of ``text`` that does not show (as ``U+XXXX``), or None."""
    found = _INVISIBLE.search(text)
    return None if found is None else f"U+{ord(found.group()):04X}"


def is_canonical_subject(sub: str) -> bool:
    """Whether a token's subject is a staff id as stored: no surrounding spaces, nothing
    invisible, in NFC."""
    return (sub == sub.strip() and invisible_character(sub) is None
            and unicodedata.is_normalized("NFC", sub))


def check_staff_id(value: str) -> str:
    """A pydantic after-validator: ``value`` in NFC, or ValueError naming the code point."""
    found = invisible_character(value)
    if found is not None:
        raise ValueError(f"a staff id must not contain {found} (an invisible or "
                         "direction-changing character)")
    return unicodedata.normalize("NFC", value)
