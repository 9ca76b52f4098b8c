"""Finding people's names in free text however they were typed (for redaction).

A name is recorded once ("Dana O'Neill") and typed again in notes many ways: "O’Neill" (the
curly apostrophe phones and word processors type), "dana  o'neill", "DANA O'NEILL", "Dana\u00a0
O'Neill", "O'Neill" alone. So the name and the text are folded the same way before they are
compared, character by character so that a match maps back to the exact span of the original
text (which is then replaced, and nothing else):

- compatibility decomposition and full case folding (Unicode Standard Annex #15, NFKD; Unicode
  Standard §5.18 caseless matching: NFKD(casefold(NFKD(x)))), so "ＳＡＭ" and "ß"/"ss" match;
- accents dropped (combining marks removed after decomposition), the same policy as duplicate
  detection (:func:`app.domain.duplicates.fold`): "Zoë" matches "Zoe";
- apostrophe and single-quote variants (U+2018, U+2019, U+201B, U+02BC, U+0060, U+00B4, prime,
  fullwidth) read as ``'``, every dash (the Unicode ``Dash`` property) as ``-``, every run of
  Unicode ``White_Space`` (no-break space, tabs, line breaks, doubled spaces) as one space, and
  ``Default_Ignorable_Code_Point`` characters (soft hyphen, zero-width space and joiners) as
  nothing (UAX #44 properties, matched with the ``regex`` package);
- a name matches only as whole words (not followed or preceded by a letter, mark, digit or
  ``_``), an apostrophe in the name may be left out ("ONeill"), and a space or hyphen between
  two parts of a name may be either ("Mary-Jane" / "Mary Jane");
- in free text (``NameFinder(..., loose=True)``: notes, ``details`` keys and values), a digit,
  ``_`` or ``.`` also ends a word and may join two parts of a name, as in a CMS key
  ``victim_dana_oneill``, an e-mail address ``dana.oneill@...`` or a handle ``@DanaONeill99``
  (not in the record's own fields, where ``court_order`` is a value, not "Court Order").
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from functools import lru_cache

import regex

_APOSTROPHE = regex.compile(
    r"[\u0027\u0060\u00B4\u02B9\u02BB\u02BC\u02BD\u2018\u2019\u201B\u2032\u2035\uFF07]")
_DASH = regex.compile(r"\p{Dash}")
_SPACE = regex.compile(r"\p{White_Space}")
_IGNORABLE = regex.compile(r"\p{Default_Ignorable_Code_Point}")
_LETTER = regex.compile(r"\p{L}")
_ASCII_SPACES = regex.compile(r"[\t\n\v\f\r]|  ")


def _fold_one(ch: str) -> str:
    if _IGNORABLE.match(ch):
        return ""
    if _APOSTROPHE.match(ch):
        return "'"
    if _DASH.match(ch):
        return "-"
    if _SPACE.match(ch):
        return " "
    return ""


# Latin letters that Unicode does not decompose into a base letter and an accent, folded as a
# writer without them types them (after case-folding; ß already folds to "ss").
_UNDECOMPOSED = {"ł": "l", "ø": "o", "đ": "d", "ð": "d", "ħ": "h", "ı": "i", "ŧ": "t",
                 "ŋ": "n", "æ": "ae", "œ": "oe", "þ": "th", "ĸ": "k", "ŀ": "l"}


@lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    """One character folded (possibly to nothing or to several characters)."""
    special = _fold_one(ch)
    if special or _IGNORABLE.match(ch):
        return special
    out = []
    for c in unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", ch).casefold()):
        if unicodedata.combining(c):
            continue
        out.append(_fold_one(c) or ("" if _IGNORABLE.match(c) else _UNDECOMPOSED.get(c, c)))
    return "".join(out)


def fold_with_offsets(text: str) -> tuple[str, Sequence[int]]:
    """``text`` folded (see the module's docstring) and, for each character of the result, the
    index in ``text`` of the character it came from."""
    if text.isascii() and _ASCII_SPACES.search(text) is None:
        # Most text: folding is lower case and ` as ', one character for one.
        return text.lower().replace("`", "'"), range(len(text))
    return fold_each(text)


def fold_each(text: str) -> tuple[str, list[int]]:
    """:func:`fold_with_offsets` a character at a time (any text)."""
    folded: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text):
        for c in _fold_char(ch):
            if c == " " and folded and folded[-1] == " ":
                continue  # a run of spaces is one space
            folded.append(c)
            origin.append(i)
    return "".join(folded), origin


def fold_name(name: str) -> str:
    """A name folded as text is, without spaces around it."""
    return fold_with_offsets(name)[0].strip(" ")


def name_parts(name: str) -> set[str]:
    """The folded parts of a name of three letters or more, split at spaces, hyphens and
    apostrophes: "Dana O'Neill-Kerr" -> {"dana", "o'neill-kerr", "o'neill", "neill", "kerr"}."""
    parts = set()
    for word in fold_name(name).split(" "):
        for part in (word, *word.split("-"), *regex.split(r"[-']", word)):
            if len(_LETTER.findall(part)) >= 3:
                parts.add(part.strip("-'"))
    return parts


def _pattern(folded: str, loose: bool) -> str:
    """A name's regular expression: an apostrophe, space or dash inside it may be typed as any
    of the three (``loose``: also an underscore or a full stop) or left out ("O'Neill",
    "O Neill", "O-Neill", "ONeill"; "Smith-Jones", "Smith Jones"; loose "smith_jones")."""
    joint = "[' ._-]?" if loose else "[' -]?"
    out = []
    for c in folded:
        if c in "' -":
            out.append(joint)
        else:
            out.append(regex.escape(c))
    return "".join(out)


class NameFinder:
    """Finds any of some names, folded, as whole words in text (``loose``: free text, where
    a digit, ``_`` or ``.`` ends a word too; see the module's docstring)."""

    def __init__(self, names: Iterable[str], *, loose: bool = False) -> None:
        folded = sorted({f for f in names if f}, key=lambda f: (-len(f), f))
        edge = r"[\p{L}\p{M}]" if loose else r"\w"
        self._re = (regex.compile(rf"(?<!{edge})(?:"
                                  + "|".join(_pattern(f, loose) for f in folded)
                                  + rf")(?!{edge})") if folded else None)

    def __bool__(self) -> bool:
        return self._re is not None

    def spans(self, text: str) -> list[tuple[int, int]]:
        """The spans of ``text`` (start, end) where one of the names is written."""
        if self._re is None:
            return []
        folded, origin = fold_with_offsets(text)
        found = []
        for m in self._re.finditer(folded):
            start = origin[m.start()]
            # Up to the next folded character's source (so accents and invisible characters
            # after the name go with it), and never short of the last matched one's.
            end = origin[m.end()] if m.end() < len(origin) else len(text)
            end = max(end, origin[m.end() - 1] + 1)
            found.append((start, end))
        return found

    def replace(self, text: str, replacement: str) -> str | None:
        """``text`` with each name written in it replaced, or None if there is none."""
        spans = self.spans(text)
        if not spans:
            return None
        out, last = [], 0
        for start, end in spans:
            out.append(text[last:start])
            out.append(replacement)
            last = end
        out.append(text[last:])
        return "".join(out)
