"""The pack owner's tools behind ``yjrisk pack``: check files, render a pack, run scenarios."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

from app.workflows.engine import load_service_packs, prepare
from app.workflows.pack_check import Problem, check_condition_words, check_pack
from app.workflows.packs import (
    MAX_TOML_DEPTH,
    PACK_DIR,
    Pack,
    PackError,
    PackFileUnreadable,
    Salvaged,
    Versions,
    _header_path,
    load_pack,
    not_in_force_yet,
    not_utf8,
    read_pack,
    salvage,
    version_problems,
    with_version,
)
from app.workflows.vocabulary import suggest


def check_files(files: list[Path], source: Path | None = None,
                today: date | None = None) -> tuple[list[str], bool]:
    """Check pack files: the problem lines (``file:LINE: rule: field: severity: message``;
    ``file: ...`` when the line is not known) and whether any is an error (a file that does
    not load is one); PackFileUnreadable for a pack
    or policy text that is missing, not a file or not UTF-8 (a user error, not a finding).

    Every check the service makes at start-up is made, by the same code: each file's shape and
    words (``read_pack``, ``check_pack``), the engine's tables (``prepare``), and the files
    together with the bundled packs (not given here) as versions of their packs
    (``version_problems``: a version given twice, two versions in force on the same date, a
    later version in force before an earlier one), and the warning the start-up logs for a pack
    none of whose versions is in force ``today`` (the caller's London date, from the service's
    clock: this package reads no clock; None: that warning is not looked for;
    ``not_in_force_yet``)."""
    lines: list[str] = []
    failed = False
    loaded: list[tuple[Path, Pack]] = []
    for path in files:
        try:
            pack = read_pack(path)
        except PackFileUnreadable:
            raise
        except PackError as exc:
            where = FieldLines(path.read_text(encoding="utf-8"))
            lines += [where.said(path, p) for p in exc.problems]
            failed = True
            # The rest of the file is still checked, its broken values set aside, so one run
            # lists every independent mistake (attack 19, A19-10); the engine's tables and the
            # versions need the whole pack and wait for the next run.
            salvaged = salvage(exc.raw) if exc.raw is not None else None
            if salvaged is not None:
                found = _words_checked(path, salvaged.pack, source)
                lines += [where.said(path, p) for p in _salvaged(found, salvaged)]
            continue
        where = FieldLines(path.read_text(encoding="utf-8"))
        found = _words_checked(path, pack, source)
        lines += [where.said(path, p) for p in found]
        if any(p.severity == "error" for p in found):
            failed = True
            continue
        try:
            prepare(pack)
        except Exception as exc:  # what would stop the service building the engine's tables
            lines.append(f"{path}: -: -: error: the engine cannot use this pack: {exc}")
            failed = True
            continue
        loaded.append((path, pack))
    bundled = _bundled(files)
    ids = {path: pack.id for path, pack in loaded}
    for path, field, message in version_problems(bundled, loaded):
        if ids.get(path) in bundled:
            message += (" (counting the bundled packs: the service loads them and YJ_PACKS_DIR "
                        "together)")
        where = FieldLines(path.read_text(encoding="utf-8"))
        lines.append(where.said(path, Problem("error", "-", field, message)))
        failed = True
    if today is not None:
        lines += _not_in_force_yet(ids, loaded, bundled, today)
    return lines, failed


def _not_in_force_yet(ids: dict[Path, str], loaded: list[tuple[Path, Pack]],
                      bundled: Mapping[str, Sequence[Pack]], today: date) -> list[str]:
    """The warning line for each pack given none of whose versions (the bundled ones counted)
    is in force ``today``, at the first version's file."""
    lines: list[str] = []
    for pack_id in dict.fromkeys(ids.values()):
        given = [(p, v) for p, v in loaded if v.id == pack_id]
        versions = sorted([*bundled.get(pack_id, ()), *(v for _, v in given)],
                          key=lambda v: v.effective_from or date.min)
        early = not_in_force_yet(versions, today)
        first = next((p for p, v in given if v is versions[0]), None)
        if early is not None and first is not None:
            where = FieldLines(first.read_text(encoding="utf-8"))
            lines.append(where.said(first, early))
    return lines


def _words_checked(path: Path, pack: Pack, source: Path | None) -> list[Problem]:
    """A loaded pack's words and refs checked (``check_pack``), after what is said about its
    policy text (not readable: an error; not found: a warning, as no ref was checked)."""
    text = _source_text(source, path, pack.source)
    said: list[Problem] = []
    if source is not None and text is None:
        said.append(Problem("error", "-", "source", f"cannot read the policy's text {source}"))
    elif text is None:
        # Say so: without the text no ref is checked (attack 17, A17-14).
        looked = " or ".join(str(c) for c in _source_candidates(path, pack.source))
        said.append(Problem("warning", "-", "source", f"the policy's text {pack.source!r} was "
                            f"not found (looked for {looked}), so no ref was checked: put the "
                            "file there or give --source FILE"))
    return said + check_pack(pack, text)


def _salvaged(found: list[Problem], salvaged: Salvaged) -> list[Problem]:
    """The problems of a salvaged pack that are mistakes of their own, at the file's paths."""
    kept = [replace(p, field=salvaged.original(p.field)) for p in found if not salvaged.hides(p)]
    for field, raw, rule in salvaged.conditions:
        kept += check_condition_words(salvaged.pack, raw, field, rule)
    return kept


def _bundled(files: list[Path]) -> Versions:
    """The bundled packs the service loads besides the files given (a bundled file given is
    checked as given, not twice), as versions by pack id."""
    given = {p.resolve() for p in files}
    versions: Versions = {}
    for path in sorted(PACK_DIR.glob("*.toml")):
        if path.resolve() not in given:
            pack = read_pack(path)
            versions[pack.id] = (*versions.get(pack.id, ()), pack)
    return versions


@dataclass(frozen=True)
class PackUnderTest:
    """What ``yjrisk pack test`` runs scenarios against: every version of one pack, oldest first,
    as the live service holds them, and the file given, if one was (one of those versions)."""

    pack_id: str
    versions: tuple[Pack, ...]
    given: Path | None = None
    given_version: str | None = None


def pack_under_test(pack: str, packs_dir: Path | None) -> PackUnderTest:
    """The versions of the pack named by ``pack`` (a pack file, or the id of a pack the service
    loads) that the live service would hold: loaded by the service's own loader
    (``load_service_packs``: the bundled packs plus ``packs_dir``, ``YJ_PACKS_DIR``), so a newer
    version in ``YJ_PACKS_DIR`` is one of them (attack 24b, A24b-6). A file given that the
    service does not load (a draft) is added as one more version of its pack by the start-up's
    own rules, standing in for a loaded version of the same number (the draft of that version);
    PackError (PackFileUnreadable: not a file, nor a known id) when that cannot be done."""
    try:
        loaded = load_service_packs(packs_dir)
    except PackError:
        raise
    except Exception as exc:  # what stops the service building the engine's tables
        raise PackError(f"the engine cannot use a pack the service loads: {exc}") from None
    path = Path(pack)
    if not path.is_file():
        if pack in loaded:
            return PackUnderTest(pack, loaded[pack])
        raise PackFileUnreadable(
            f"{pack}: neither a pack file nor the id of a pack the service loads (bundled or "
            f"YJ_PACKS_DIR: {', '.join(sorted(loaded))}){suggest(pack, loaded)}")
    given = load_pack(path)
    try:
        prepare(given)
    except Exception as exc:  # as pack check says it
        raise PackError(f"{path}: the engine cannot use this pack: {exc}") from None
    served = [*PACK_DIR.glob("*.toml"), *(packs_dir.glob("*.toml") if packs_dir else ())]
    if path.resolve() in {p.resolve() for p in served}:
        return PackUnderTest(given.id, loaded[given.id], path, given.version)
    others = tuple(v for v in loaded.get(given.id, ()) if v.version != given.version)
    versions = with_version({given.id: others}, path, given)
    return PackUnderTest(given.id, versions, path, given.version)


def _source_candidates(pack_path: Path, named: str) -> list[Path]:
    """Where a pack's ``source`` is looked for: beside the pack, then in its ``sources/``."""
    return [pack_path.parent / named, pack_path.parent / "sources" / named]


def _source_text(source: Path | None, pack_path: Path, named: str) -> str | None:
    """The policy's text: the file given, else the pack's ``source`` beside the pack or in its
    ``sources/`` folder; None when there is none."""
    candidates = [source] if source is not None else _source_candidates(pack_path, named)
    for candidate in candidates:
        if candidate.is_file():
            try:
                return candidate.read_text(encoding="utf-8")
            except OSError as exc:
                raise PackFileUnreadable(
                    f"{candidate}: cannot read the policy's text: {exc.strerror or exc}"
                ) from None
            except UnicodeDecodeError as exc:
                raise PackFileUnreadable(f"{candidate}: the policy's text is not a text file: "
                                         f"{not_utf8(exc)}") from None
    return None


_HEADER = re.compile(r"\s*(\[\[?)\s*([A-Za-z0-9_.\-]+)\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(r"\s*([A-Za-z0-9_\-]+)\s*=")


class FieldLines:
    """Where a field path of a pack (``rules.4.when.all.1.level_in``) is written in its TOML
    text: the line of its table header or key, and within a value written over several lines,
    the line holding the word the problem quotes (attack 20, A20-17a: "file, line if
    available"). A heuristic over the text (``tomllib`` keeps no positions): None when the
    path is not found, and the line is then left out."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        # field path -> (first line, last line) of what is written under it, 1-based.
        self.spans: dict[str, tuple[int, int]] = {}
        counts: dict[str, int] = {}
        table = ""
        starts: list[tuple[str, int]] = []
        for number, line in enumerate(self.lines, start=1):
            if header := _HEADER.match(line):
                table = self._path(header[2], counts, array=header[1] == "[[")
                starts.append((table, number))
            elif (key := _KEY.match(line)) and not line.startswith((" ", "\t")):
                starts.append((f"{table}.{key[1]}" if table else key[1], number))
        for index, (path, number) in enumerate(starts):
            end = starts[index + 1][1] - 1 if index + 1 < len(starts) else len(self.lines)
            self.spans.setdefault(path, (number, end))

    @staticmethod
    def _path(name: str, counts: dict[str, int], *, array: bool) -> str:
        """A header's field path, with the index of each array of tables it is under
        (``[rules.when]`` after the fifth ``[[rules]]`` is ``rules.4.when``; a nested
        ``[[scenarios.expect]]`` counts within its own scenario). ``counts``: how many items
        each array (by its path) has so far; a new ``[[...]]`` item adds one."""
        # A header past the nesting limit is refused at its first parts (read_pack): the rest
        # are never a path a problem names (100,000 of them took minutes; ATTACK35B-4).
        parts = name.split(".", MAX_TOML_DEPTH + 1)[:MAX_TOML_DEPTH + 1]
        return ".".join(_header_path(parts, counts, array=array))

    def line(self, field: str, message: str = "") -> int | None:
        """The line a problem at ``field`` is written on, or None."""
        parts = field.split(".")
        for size in range(len(parts), 0, -1):
            span = self.spans.get(".".join(parts[:size]))
            if span is None:
                continue
            if size == len(parts):
                return span[0]
            # Deeper than a key: the line of the quoted word (or the last path part).
            words = re.findall(r"'([^']+)'", message)[:1] + [parts[-1]]
            # A dotted atom (``after.intervention_in``) as written quoted, then its last part
            # (written in an ``after = {...}`` group).
            tried = [w for word in words for w in dict.fromkeys((word, word.rsplit(".", 1)[-1]))]
            for word in tried:
                token = re.compile(rf"(?<![\w.]){re.escape(word)}(?!\w)")
                for number in range(span[0], span[1] + 1):
                    if token.search(self.lines[number - 1].split("#", 1)[0]):
                        return number
            return span[0]
        return None

    def said(self, path: Path, problem: Problem) -> str:
        """The problem's line, ``file:LINE: rule: field: severity: message`` (``file: ...``
        when its line is not known)."""
        number = problem.lineno or self.line(problem.field, problem.message)
        return problem.line(f"{path}:{number}" if number is not None else str(path))
