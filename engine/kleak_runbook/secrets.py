"""Secrets kept in files (``NAME_FILE`` variables, ``--…-file`` options): read one way everywhere."""

from __future__ import annotations

from pathlib import Path

from kleak_runbook.errors import UsageError


def read_secret(path: str | Path, where: str) -> str:
    """The file's text without surrounding whitespace (the final newline editors add); a
    ``UsageError`` starting with ``where`` (how the user named the file: ``--x-file PATH``,
    ``NAME_FILE=PATH``), never the content, when it cannot be read."""
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{where}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None
