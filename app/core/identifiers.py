"""Staff ids (and case references) as people read them: nothing that does not show, one
spelling per id.

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

_INVISIBLE = regex.compile(
    r"[\p{Default_Ignorable_Code_Point}\p{C}\p{Z}\u2800\uFFFC\uFFFD\U0001D159--[ ]]"
    r"|^\p{M}", regex.V1)


def invisible_character(text: str) -> str | None:
    """The first character of ``text`` that does not show or stands for something unreadable
    (as ``U+XXXX``): see the module's docstring; also U+FFFC and U+FFFD (replacement
    characters: what was meant is lost), U+1D159 (a blank notehead) and a combining mark with
    nothing before it. None if there is none."""
    found = _INVISIBLE.search(text)
    return None if found is None else f"U+{ord(found.group()[0]):04X}"


def is_canonical_subject(sub: str) -> bool:
    """Whether a token's subject is a staff id as stored: no surrounding spaces, nothing
    invisible, in NFC."""
    return (sub == sub.strip() and invisible_character(sub) is None
            and unicodedata.is_normalized("NFC", sub))


def check_staff_id(value: str) -> str:
    """A pydantic after-validator: ``value`` in NFC; ValueError for spaces around it (a token's
    subject never has them, so such an id could match nobody) or naming the code point."""
    if value != value.strip():
        raise ValueError("a staff id must not start or end with a space")
    found = invisible_character(value)
    if found is not None:
        raise ValueError(f"a staff id must not contain {found} (an invisible or "
                         "direction-changing character)")
    return unicodedata.normalize("NFC", value)


def check_reference(value: str) -> str:
    """A pydantic after-validator for a part of a case's reference in another system (the
    system's name, its id for the case: ``external_ref``): as a staff id, in NFC and nothing
    invisible or direction-changing (ValueError naming the code point), so one reference has
    one spelling (``somerset-jordan`` and ``somerset-jordan`` + U+200B were two cases of one
    child: attack pass 18, A18-6); and no ``/``, which the upsert route's path
    (``PUT /v1/cases/by-external-ref/{system}/{id}``) could not address, nor a ``.`` or
    ``..`` (dot segments, which clients remove from a path)."""
    found = invisible_character(value)
    if found is not None:
        raise ValueError(f"a reference must not contain {found} (an invisible or "
                         "direction-changing character)")
    if "/" in value:
        raise ValueError("a reference must not contain '/' (the upsert route's path could not "
                         "address it)")
    if value in (".", ".."):
        # Dot segments: a client removes them from the upsert route's path (RFC 3986 §5.2.4),
        # so such a reference could not be addressed either (attack 20, A20-3).
        raise ValueError("a reference must not be '.' or '..' (the upsert route's path could "
                         "not address it)")
    return unicodedata.normalize("NFC", value)


# What shows nothing on its own: spaces of every kind, controls, format and other invisible
# characters (as _INVISIBLE, the plain space included) and combining marks (an accent on
# nothing).
_BLANK = regex.compile(
    r"[\p{Default_Ignorable_Code_Point}\p{C}\p{Z}\p{M}\s\u2800\uFFFC\uFFFD\U0001D159]",
    regex.V1)


def has_visible(text: str) -> bool:
    """Whether ``text`` holds a character that shows (not only spaces, zero-width or format
    characters, soft hyphens, word joiners ...)."""
    return bool(_BLANK.sub("", text))


def visible_text(value: str) -> str:
    """A pydantic after-validator for a text a write requires (a reason, feedback, minutes):
    ValueError when it holds nothing that shows (attack pass 18, A18-7: a waiver's or a
    closure's reason of zero-width spaces was taken where "   " was refused, and the audit's
    "why" said nothing)."""
    if not has_visible(value):
        raise ValueError("must contain a visible character (it holds only spaces or invisible "
                         "characters)")
    return value


def nfc(value: str | None) -> str | None:
    """A query's reference in NFC, as references are stored (a filter finds the one spelling)."""
    return None if value is None else unicodedata.normalize("NFC", value)


def optional_staff_id(value: str | None) -> str | None:
    """:func:`check_staff_id` for an optional value (a query filter)."""
    return None if value is None else check_staff_id(value)
