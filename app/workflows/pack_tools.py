"""The pack owner's tools behind ``yjrisk pack``: check files, render a pack, run scenarios."""

from __future__ import annotations

from pathlib import Path

from app.workflows.pack_check import check_pack
from app.workflows.packs import PackError, PackFileUnreadable, not_utf8, read_pack


def check_files(files: list[Path], source: Path | None = None) -> tuple[list[str], bool]:
    """Check pack files: the problem lines (``file: rule: field: severity: message``) and
    whether any is an error (a file that does not load is one); PackFileUnreadable for a pack
    or policy text that is missing, not a file or not UTF-8 (a user error, not a finding)."""
    lines: list[str] = []
    failed = False
    for path in files:
        try:
            pack = read_pack(path)
        except PackFileUnreadable:
            raise
        except PackError as exc:
            lines += [p.line(str(path)) for p in exc.problems]
            failed = True
            continue
        text = _source_text(source, path, pack.source)
        if source is not None and text is None:
            lines.append(f"{path}: -: source: error: cannot read the policy's text {source}")
            failed = True
        for problem in check_pack(pack, text):
            lines.append(problem.line(str(path)))
            failed = failed or problem.severity == "error"
    return lines, failed


def _source_text(source: Path | None, pack_path: Path, named: str) -> str | None:
    """The policy's text: the file given, else the pack's ``source`` beside the pack or in its
    ``sources/`` folder; None when there is none."""
    candidates = [source] if source is not None else [
        pack_path.parent / named, pack_path.parent / "sources" / named]
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
