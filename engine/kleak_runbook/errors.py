"""The exception tree; each error carries the CLI exit code it maps to.

    KleakError                      (exit 3 unless a subclass says otherwise)
    ├── UsageError                  bad command line                      exit 2
    ├── RunbookError                a runbook fails validation            exit 2
    ├── InputError                  evidence given to replay is unusable  exit 2
    ├── ParseError                  a piece of evidence does not parse    exit 2
    └── CollectionError             a host could not be reached / read   exit 3

Only ``kleak_runbook.cli`` turns these into process exits.
"""

from __future__ import annotations


class KleakError(Exception):
    exit_code = 3

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(KleakError):
    exit_code = 2


class RunbookError(KleakError):
    """One problem in a runbook, located by file, line and YAML path."""

    exit_code = 2

    def __init__(self, file: str, line: int | None, path: str, reason: str) -> None:
        self.file, self.line, self.path, self.reason = file, line, path, reason
        where = f"{file}:{line}" if line else file
        super().__init__(f"{where}: {path}: {reason}" if path else f"{where}: {reason}")


class InputError(KleakError):
    exit_code = 2


class ParseError(KleakError):
    """Evidence text that does not have the shape its parser expects."""

    exit_code = 2

    def __init__(self, spec: str, reason: str, line: int | None = None) -> None:
        self.spec, self.reason, self.line = spec, reason, line
        where = f"{spec}:{line}" if line else spec
        super().__init__(f"{where}: {reason}")


class CollectionError(KleakError):
    exit_code = 3
