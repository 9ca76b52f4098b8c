"""The pack owner's tools behind ``yjrisk pack``: check files, render a pack, run scenarios."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from app.workflows.engine import prepare
from app.workflows.pack_check import Problem, check_condition_words, check_pack
from app.workflows.packs import (
    PACK_DIR,
    Pack,
    PackError,
    PackFileUnreadable,
    Salvaged,
    Versions,
    not_utf8,
    read_pack,
    salvage,
    version_problems,
)


def check_files(files: list[Path], source: Path | None = None) -> tuple[list[str], bool]:
    """Check pack files: the problem lines (``file: rule: field: severity: message``) and
    whether any is an error (a file that does not load is one); PackFileUnreadable for a pack
    or policy text that is missing, not a file or not UTF-8 (a user error, not a finding).

    Every check the service makes at start-up is made, by the same code: each file's shape and
    words (``read_pack``, ``check_pack``), the engine's tables (``prepare``), and the files
    together with the bundled packs (not given here) as versions of their packs
    (``version_problems``: a version given twice, two versions in force on the same date)."""
    lines: list[str] = []
    failed = False
    loaded: list[tuple[Path, Pack]] = []
    for path in files:
        try:
            pack = read_pack(path)
        except PackFileUnreadable:
            raise
        except PackError as exc:
            lines += [p.line(str(path)) for p in exc.problems]
            failed = True
            # The rest of the file is still checked, its broken values set aside, so one run
            # lists every independent mistake (attack 19, A19-10); the engine's tables and the
            # versions need the whole pack and wait for the next run.
            salvaged = salvage(exc.raw) if exc.raw is not None else None
            if salvaged is not None:
                found = _words_checked(path, salvaged.pack, source)
                lines += [p.line(str(path)) for p in _salvaged(found, salvaged)]
            continue
        found = _words_checked(path, pack, source)
        lines += [p.line(str(path)) for p in found]
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
        lines.append(f"{path}: -: {field}: error: {message}")
        failed = True
    return lines, failed


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
