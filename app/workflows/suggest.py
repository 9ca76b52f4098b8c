"""The one did-you-mean: which of the allowed words a refused word was probably meant to be
(pack check, pack test, a pack's loading and the API's 422s all ask it; attack 32b,
ATTACK32B-5; fix34d). Standard library only, in the pure workflows package (no app.core,
app.domain or framework import: a test checks), so the engine and the API share it."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping


def _plain(word: str) -> str:
    """A word compared without case, spaces or hyphens (``Policy-Pack`` is ``policy_pack``)."""
    return re.sub(r"[\s\-]+", "_", str(word).strip().casefold())


def near_words(value: str, allowed: Iterable[str], synonyms: Mapping[str, str] | None = None,
               *, most: int = 2) -> list[str]:
    """The allowed words ``value`` was probably meant to be, best first (at most ``most``),
    [] when none is near: a known synonym's word if it is allowed (``synonyms``, keyed by the
    plain form: a policy's "case manager" for ``case_holder``, a body's ``reason`` for
    ``note``), else the same word in other letters, else the close
    ones by :mod:`difflib` (ratio 0.6), compared without case first (a short id differing only
    in case, ``n3`` for ``N3``, is too far for difflib as written), then as written."""
    words = [str(a) for a in allowed]
    plain = _plain(value)
    meant = (synonyms or {}).get(plain)
    if meant in words:
        return [str(meant)]
    same = [w for w in words if w.casefold() == str(value).casefold()]
    if same:
        return same[:most]
    by_fold = {w.casefold(): w for w in reversed(words)}
    near = [by_fold[n] for n in difflib.get_close_matches(
        str(value).casefold(), list(by_fold), n=most, cutoff=0.6)]
    return near or difflib.get_close_matches(str(value), words, n=most, cutoff=0.6)
