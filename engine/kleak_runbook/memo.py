"""A persistent memo of the Jinja2 parses that check runbook and knowledge texts.

Every run checks every rule expression and text of its runbook and of the knowledge base before
anything runs: about 250 Jinja2 parses, the largest part of the work before the first SSH exec.
A parse's outcome (a syntax error or refusal, the names an expression reads) depends only on the
text and on the code that parses it (and so does a YAML file's text composed into values with
the line of each), so it is kept in one small JSON file and looked up by the
text's SHA-256. The file's name carries a key of that code (Jinja2's version and the size and
mtime of the modules that decide the outcome), so changing either starts a new memo; the
validation that uses the outcomes (unknown names, structure, file:line) runs every time.

The memo only saves time: a missing, unreadable, corrupt or unwritable file changes nothing but
speed, and a tampered one cannot let an expression do more at run time, where every expression
is evaluated in the sandbox anyway. Where: ``$KLEAK_CACHE_DIR``, else
``$XDG_CACHE_HOME/kleak-runbook``, else ``~/.cache/kleak-runbook``; ``KLEAK_CACHE_DIR=off``
turns it off. Compiled rule expressions and report templates are kept beside it (Jinja2's own
bytecode cache), only in a directory that is the user's alone.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

CACHE_ENV = "KLEAK_CACHE_DIR"
MAX_ENTRIES = 20_000  # a few MiB at most; beyond this the memo starts again
_MAX_BYTES = 8 << 20


def cache_dir(environ: Any = None) -> Path | None:
    env = os.environ if environ is None else environ
    named = env.get(CACHE_ENV)
    if named is not None:
        return None if named.strip().lower() in ("", "off", "0", "no") else Path(named)
    base = env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "kleak-runbook"


_CODE_KEY: list[str] = []


def _code_key() -> str:
    if _CODE_KEY:
        return _CODE_KEY[0]
    from kleak_runbook import __version__

    here = Path(__file__).resolve().parent / "decide"
    # Jinja2 by the file that holds its __version__, not by importing it: the runbook is loaded
    # before Ansible starts and, when every parse is in the memo, needs no Jinja2 (~25 ms to import)
    parts = [__version__, _jinja2_key()]
    for name in ("expressions.py", "sandbox.py", "limits.py", "yamlpos.py"):
        try:
            st = (here / name).stat()
            parts.append(f"{name}:{st.st_size}:{st.st_mtime_ns}")
        except OSError:
            parts.append(f"{name}:?")
    _CODE_KEY.append(hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16])
    return _CODE_KEY[0]


def _jinja2_key() -> str:
    """Jinja2's version as its package file says it, with that file's size and mtime (an upgrade
    rewrites it); Jinja2 is imported only when the file cannot be read."""
    from importlib.util import find_spec

    try:
        spec = find_spec("jinja2")
        origin = spec.origin if spec is not None else None
        if origin is None:
            raise OSError("no jinja2 file")
        with open(origin, "rb") as fh:
            head = fh.read(1 << 16)
            st = os.fstat(fh.fileno())
    except (OSError, ImportError, ValueError):
        head = b""
    for line in head.splitlines():
        if line.startswith(b"__version__"):
            version = line.partition(b"=")[2].strip().strip(b"\"'").decode("ascii", "replace")
            return f"jinja2 {version} {st.st_size}:{st.st_mtime_ns}"
    import jinja2

    return f"jinja2 {jinja2.__version__}"


class Memo:
    """``get``/``put`` of JSON values by text; ``save`` writes new ones back (atomically)."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self.path = directory / f"checks-{_code_key()}.json" if directory is not None else None
        self._data: dict[str, Any] | None = None
        self._dirty = False

    @staticmethod
    def key(kind: str, text: str) -> str:
        return hashlib.sha256(f"{kind}\0{text}".encode("utf-8", "surrogatepass")).hexdigest()[:32]

    def _load(self) -> dict[str, Any]:
        if self._data is None:
            self._data = {}
            if self.path is not None:
                try:
                    with open(self.path, "rb") as fh:
                        raw = fh.read(_MAX_BYTES + 1)
                    data = json.loads(raw) if len(raw) <= _MAX_BYTES else None
                    if isinstance(data, dict):
                        self._data = data
                except (OSError, ValueError):
                    pass
        return self._data

    def get(self, kind: str, text: str) -> Any:
        return self._load().get(self.key(kind, text))

    def put(self, kind: str, text: str, value: Any) -> None:
        data = self._load()
        if len(data) >= MAX_ENTRIES:
            data.clear()
        data[self.key(kind, text)] = value
        self._dirty = True

    def save(self) -> None:
        if not self._dirty or self.path is None or self._data is None:
            return
        self._dirty = False
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".checks-", dir=self.path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump(self._data, fh, separators=(",", ":"))
                os.replace(tmp, self.path)
            except BaseException:
                os.unlink(tmp)
                raise
            self._forget_old()
        except OSError:
            pass  # a read-only home or a full disk: the next run parses again

    def _forget_old(self) -> None:
        """Memos and compiled expressions of other code (an upgrade, another checkout) left
        untouched for a day go."""
        assert self.path is not None
        now = time.time()
        mine = (self.path, self.path.parent / f"expressions-{_code_key()}")
        for other in (*self.path.parent.glob("checks-*.json"), *self.path.parent.glob("expressions-*")):
            try:
                if other not in mine and now - other.stat().st_mtime > 86400:
                    if other.is_dir():
                        shutil.rmtree(other)
                    else:
                        other.unlink()
            except OSError:
                pass


_MEMO: Memo | None = None


_BYTECODE: dict[Path, Any] = {}


def expression_cache() -> Any:
    """Jinja2's bytecode cache for rule expressions (``decide.expressions``), in a directory named
    by the code key (our sandbox shapes their code), or None when there is no usable directory."""
    return bytecode_cache(f"expressions-{_code_key()}")


def bytecode_cache(name: str) -> Any:
    """Jinja2's ``FileSystemBytecodeCache`` in the subdirectory ``name`` of the cache directory
    (Jinja2 checks each template's source, its own version and Python's), or None when there is
    no cache directory or it is not ours alone."""
    directory = memo().directory
    if directory is None:
        return None
    path = directory / name
    if path not in _BYTECODE:
        from jinja2 import FileSystemBytecodeCache

        _BYTECODE[path] = FileSystemBytecodeCache(str(path)) if private_dir(path) else None
    return _BYTECODE[path]


def private_dir(path: Path) -> bool:
    """Make ``path`` (0700) if need be; True if it is ours alone to read and write. Compiled code
    is loaded from there, so a directory others may write is not used (as Python's own
    ``__pycache__`` would be, were it shared)."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = path.stat()
    except OSError:
        return False
    return st.st_uid == os.getuid() and not st.st_mode & 0o022 and os.access(path, os.W_OK | os.X_OK)


_ENV_SEEN: list[tuple[str | None, ...]] = []


def memo() -> Memo:
    """The process's memo, for the cache directory the environment names now (asked hundreds of
    times a run: the directory is worked out again only when the variables naming it change)."""
    global _MEMO
    seen = (os.environ.get(CACHE_ENV), os.environ.get("XDG_CACHE_HOME"), os.environ.get("HOME"))
    if _MEMO is None or not _ENV_SEEN or _ENV_SEEN[0] != seen:
        directory = cache_dir()
        if _MEMO is None or _MEMO.directory != directory:
            _MEMO = Memo(directory)
        _ENV_SEEN[:] = [seen]
    return _MEMO
