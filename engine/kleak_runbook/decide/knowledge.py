"""The kernel-bug knowledge base: load ``runbooks/knowledge/*.yaml`` and match entries to a host.

An entry names the kernels it affects per stream (see ``kversion``), the kind of kernel memory
it is about, and an evidence signature: an Ansible-``when``-style expression the engine
evaluates in its sandbox. ``load_knowledge`` checks every file before anything runs and names
file, line and YAML path for each problem.

Site-local entries live in directories of the same format: ``load_all`` reads the bundled
directory, then each directory of ``KLEAK_KNOWLEDGE`` (``os.pathsep``-separated), then the
directories the caller names (``--knowledge DIR``); ``Entry.source`` says where each came from.
``validate_knowledge`` lists every problem of some files or directories instead of the first.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from kleak_runbook.decide.knowledge_entry import (
    BUNDLED,
    Entry,
    FixedIn,
    Show,
    _Checker,
    _Mapping,
    _with_lines,
)
from kleak_runbook.decide.yamlpos import load_text
from kleak_runbook.derive.kversion import Range
from kleak_runbook.errors import RunbookError
from kleak_runbook.memo import memo
from kleak_runbook.paths import KNOWLEDGE_ENV, env_knowledge_dirs  # re-exported: callers import them from here


def _check_text(path: Path, text: str, source: str) -> tuple[list[Entry], list[RunbookError]]:
    """The good entries of one file's text and every problem found in it, in line order. A text
    that checked clean before, with this code, is not checked again: its entries come from the
    memo (``kleak_runbook.memo``, keyed by the code, the path, the source and the text)."""
    said = f"{path}\0{source}\0{text}"
    kept = memo().get("knowledge-entries", said)
    if isinstance(kept, list):
        try:
            return [_entry_of(d) for d in kept], []
        except (TypeError, KeyError, ValueError):
            pass  # a memo of another shape: check the text again
    entries, problems = _check_fresh(path, text, source)
    if not problems:
        memo().put("knowledge-entries", said, [dataclasses.asdict(e) for e in entries])
    return entries, problems


def _entry_of(d: dict[str, Any]) -> Entry:
    """An entry from its memo (``dataclasses.asdict``: nested records as dicts, tuples as lists)."""
    return Entry(
        **{
            **d,
            "affected": tuple(Range(**r) for r in d["affected"]),
            "links": tuple(d["links"]),
            "fixed_in": tuple(FixedIn(**f) for f in d["fixed_in"]),
            "show": tuple(Show(**x) for x in d["show"]),
            "reads": tuple(d["reads"]),
        }
    )


def _check_fresh(path: Path, text: str, source: str) -> tuple[list[Entry], list[RunbookError]]:
    checker = _Checker(str(path), source)
    try:
        located = load_text(text, str(path))  # RunbookError with file:line on bad YAML
    except RunbookError as problem:
        return [], [problem]
    document = _with_lines(located.data, "", located)
    if document is None:
        return [], []
    if isinstance(document, _Mapping):
        raws: list[tuple[Any, int, str]] = [(document, document.line, "[0]")]
    elif isinstance(document, list):
        raws = [(raw, getattr(raw, "line", 1), f"[{i}]") for i, raw in enumerate(document)]
    else:
        return [], [checker.fail(1, "", "a knowledge file holds an entry or a list of entries")]
    entries = [checker.attempt(checker.entry, raw, line, where) for raw, line, where in raws]
    problems = sorted(checker.problems, key=lambda problem: problem.line or 0)
    return [entry for entry in entries if entry is not None], problems


def load_file(path: Path, text: str, source: str | None = None) -> tuple[Entry, ...]:
    """Parse and check one knowledge file's text (``path`` only names it in errors); raises the
    first problem."""
    entries, problems = _check_text(path, text, source or _source_of(path))
    if problems:
        raise problems[0]
    return tuple(entries)


def _yaml_files(path: Path, origin: str) -> list[Path]:
    if path.is_dir():
        return sorted(path.glob("*.yaml"))
    if path.is_file():
        return [path]
    raise RunbookError(str(path), None, "", f"knowledge directory not found{origin}")


def _gather(sources: Sequence[tuple[Path, str, str]]) -> tuple[tuple[Entry, ...], list[RunbookError]]:
    """Check every ``(path, source, origin)``: the good entries and every problem, ids unique across
    all of them. A file reached twice (the same directory named twice) is read once."""
    entries: list[Entry] = []
    problems: list[RunbookError] = []
    seen_files: set[Path] = set()
    seen: dict[str, Entry] = {}
    for path, source, origin in sources:
        try:
            files = _yaml_files(path, origin)
        except RunbookError as problem:
            problems.append(problem)
            continue
        for file in files:
            if file.resolve() in seen_files:
                continue
            seen_files.add(file.resolve())
            good, bad = _check_text(file, file.read_text(encoding="utf-8"), source)
            problems += bad
            for entry in good:
                first = seen.get(entry.id)
                if first is not None:
                    where = f"{first.file}:{first.line}" + (" (bundled)" if first.source == BUNDLED else "")
                    problems.append(
                        RunbookError(entry.file, entry.line, entry.id, f"duplicate id, first defined at {where}")
                    )
                    continue
                seen[entry.id] = entry
                entries.append(entry)
    memo().save()  # the parses the checks did, for the next run (kleak_runbook.memo)
    return tuple(entries), problems


def _source_of(path: Path) -> str:
    """``Entry.source`` for entries loaded from ``path``: "bundled", or the directory."""
    directory = path if path.is_dir() or not path.suffix else path.parent
    try:
        return BUNDLED if directory.resolve() == bundled_knowledge_dir().resolve() else str(directory)
    except FileNotFoundError:  # an installation without its runbooks: nothing is bundled
        return str(directory)


def load_knowledge(directory: Path) -> tuple[Entry, ...]:
    """Load every ``*.yaml`` file of ``directory``, sorted by name; ids must be unique. Raises the
    first problem (``validate_knowledge`` lists them all)."""
    if not directory.is_dir():
        raise RunbookError(str(directory), None, "", "knowledge directory not found")
    entries, problems = _gather([(directory, _source_of(directory), "")])
    if problems:
        raise problems[0]
    return entries


def _sources(extra_dirs: Sequence[Path], environ: Mapping[str, str] | None) -> list[tuple[Path, str, str]]:
    sources = [(bundled_knowledge_dir(), BUNDLED, "")]
    sources += [(d, _source_of(d), f" (named in {KNOWLEDGE_ENV})") for d in env_knowledge_dirs(environ)]
    sources += [(Path(d), _source_of(Path(d)), "") for d in extra_dirs]
    return sources


def load_all(extra_dirs: Sequence[Path] = (), environ: Mapping[str, str] | None = None) -> tuple[Entry, ...]:
    """The bundled entries, then those of each ``KLEAK_KNOWLEDGE`` directory, then those of each
    of ``extra_dirs`` (e.g. ``--knowledge DIR``; a ``.yaml`` file works too), each checked like
    the bundled ones. Ids must be unique across all. Raises the first problem as RunbookError
    (file:line); ``environ`` defaults to ``os.environ``.
    """
    entries, problems = _gather(_sources(extra_dirs, environ))
    if problems:
        raise problems[0]
    return entries


def check_knowledge(
    paths: Sequence[Path], *, against_bundled: bool = True
) -> tuple[tuple[Entry, ...], list[RunbookError]]:
    """Every good entry and every problem of the given files and directories. With
    ``against_bundled``, an id that a bundled entry already has is a problem too (as it would
    be at load time)."""
    sources = [(bundled_knowledge_dir(), BUNDLED, "")] if against_bundled else []
    sources += [(Path(p), _source_of(Path(p)), "") for p in paths]
    entries, problems = _gather(sources)
    if against_bundled:
        named = {file.resolve() for p in paths for file in _existing_files(Path(p))}
        entries = tuple(e for e in entries if Path(e.file).resolve() in named)
    return entries, problems


def _existing_files(path: Path) -> list[Path]:
    try:
        return _yaml_files(path, "")
    except RunbookError:
        return []


def validate_knowledge(paths: Sequence[Path], *, against_bundled: bool = True) -> list[RunbookError]:
    """Every problem of the given knowledge files and directories (not just the first), each
    naming file:line and YAML path; empty when they load. For ``kleak-runbook validate``."""
    return check_knowledge(paths, against_bundled=against_bundled)[1]


def entry_table(entries: Sequence[Entry]) -> str:
    """The markdown table of entries (id, kind, streams, fixed in, verified), sorted by id, as
    ``runbooks/knowledge/README.md`` lists the bundled ones."""
    lines = ["| id | kind | streams | fixed in | verified |", "|---|---|---|---|---|"]
    for entry in sorted(entries, key=lambda e: e.id):
        streams = ", ".join(dict.fromkeys(r.stream for r in entry.affected))
        fixed: dict[str, list[str]] = {}
        for fix in entry.fixed_in:
            fixed.setdefault(fix.stream, []).append(fix.version)
        fixed_text = "; ".join(f"{stream} {', '.join(versions)}" for stream, versions in fixed.items()) or "—"
        kind = f"{entry.kind} (trap)" if entry.trap else entry.kind
        verified = "yes" if entry.verified else "no"
        lines.append(f"| `{entry.id}` | {kind} | {streams} | {fixed_text} | {verified} |")
    return "\n".join(lines) + "\n"


def bundled_knowledge_dir() -> Path:
    """The shipped knowledge directory: inside the wheel, or ``runbooks/knowledge`` in a checkout."""
    from kleak_runbook.paths import knowledge_dir

    return knowledge_dir()


__all__ = [
    "BUNDLED",
    "KNOWLEDGE_ENV",
    "Entry",
    "bundled_knowledge_dir",
    "check_knowledge",
    "entry_table",
    "env_knowledge_dirs",
    "load_all",
    "load_file",
    "load_knowledge",
    "validate_knowledge",
]
