"""Reading saved evidence without trusting it: no symbolic links, nothing outside the input,
no FIFOs or devices (which would block or never end), no file larger than replay reads.

A ``Tree`` reads one input directory. In a bundle (``strict``) every path component is checked
with ``lstat`` and opened relative to its parent with ``O_NOFOLLOW``: a link anywhere, even one
that stays inside, is refused (kleak-runbook never writes links into a bundle, so one there was
put there). A snapshot or unpacked sosreport (not strict) legitimately holds links (sos keeps
``etc/os-release -> ../usr/lib/os-release``): they are followed only while they stay inside the
input; a link that leads out (``proc/meminfo -> /proc/meminfo`` would read this machine) is
treated as absent. Either way a FIFO, device or socket is refused before it is opened.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

from kleak_runbook.errors import InputError

MiB = 1024 * 1024
MAX_FILE = 64 * MiB  # evidence files without a limit of their own
MAX_SMALL = 16 * MiB  # manifest.json, probe action records
MAX_WALK = 10_000  # files under one probe's data/
_KINDS = (
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)
_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
_DIR_FLAGS = _FLAGS | getattr(os, "O_DIRECTORY", 0)


def kind_of(mode: int) -> str:
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def _size(limit: int) -> str:
    return f"{limit // MiB} MiB" if limit >= MiB else f"{limit} bytes"


def _check_regular(st: os.stat_result, name: str, limit: int) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{name}: {kind_of(st.st_mode)}, not a regular file: replay reads only files")
    if st.st_size > limit:
        raise InputError(f"{name}: {st.st_size} bytes, larger than the {_size(limit)} replay reads")


def _read_fd(fd: int, name: str, limit: int) -> bytes:
    try:
        st = os.fstat(fd)
        _check_regular(st, name, limit)
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:  # grew while being read
                raise InputError(f"{name}: larger than the {_size(limit)} replay reads")
        return b"".join(chunks)
    finally:
        os.close(fd)


def _os_error(name: str, exc: OSError) -> InputError:
    return InputError(f"{name}: {exc.strerror or exc}")


def read_file_bytes(path: Path, limit: int) -> bytes:
    """One file the user named (a pasted text): regular files only, checked before opening."""
    try:
        st = os.stat(path)
        _check_regular(st, str(path), limit)
        fd = os.open(path, _FLAGS & ~getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        raise _os_error(str(path), exc) from None
    try:
        return _read_fd(fd, str(path), limit)
    except OSError as exc:
        raise _os_error(str(path), exc) from None


def decode(data: bytes) -> str:
    return data.decode("utf-8", errors="surrogateescape")


class Tree:
    """One input directory; paths are ``/``-separated, relative to ``root``."""

    def __init__(self, root: Path, label: str, strict: bool, prefix: str = "", archive: bool = False) -> None:
        self.root = root
        self.strict = strict
        self._label = label  # the input as the user named it
        self._prefix = prefix  # where root sits inside the input ("evidence/" in a report directory)
        self._archive = archive
        self._real = os.path.realpath(root)

    def name(self, rel: str) -> str:
        """``rel`` as the user knows it: under the directory they named, or inside their archive."""
        inner = (self._prefix + rel).rstrip("/") or "."
        return f"{self._label}: {inner}" if self._archive else f"{self._label.rstrip('/')}/{inner}"

    # --- strict: component by component, no links ---------------------------------------------
    def _walk(self, rel: str) -> tuple[int, str, os.stat_result] | None:
        """(fd of the parent directory, last component, its lstat), or None when absent."""
        parts = [p for p in rel.split("/") if p and p != "."]
        if not parts or ".." in parts:
            raise InputError(f"{self.name(rel)}: not a path inside the evidence")
        try:
            fd = os.open(self.root, _DIR_FLAGS)
        except OSError as exc:
            raise _os_error(self.name(""), exc) from None
        done: list[str] = []
        try:
            for i, part in enumerate(parts):
                done.append(part)
                try:
                    st = os.stat(part, dir_fd=fd, follow_symlinks=False)
                except (FileNotFoundError, NotADirectoryError):
                    os.close(fd)
                    return None
                if stat.S_ISLNK(st.st_mode):
                    raise InputError(
                        f"{self.name('/'.join(done))}: a symbolic link; replay does not follow links in a bundle"
                    )
                if i == len(parts) - 1:
                    return fd, part, st
                if not stat.S_ISDIR(st.st_mode):
                    os.close(fd)
                    return None
                nfd = os.open(part, _DIR_FLAGS, dir_fd=fd)
                os.close(fd)
                fd = nfd
        except InputError:
            os.close(fd)
            raise
        except OSError as exc:
            os.close(fd)
            raise _os_error(self.name("/".join(done)), exc) from None
        raise AssertionError("unreachable")

    # --- lenient: links followed while they stay inside ---------------------------------------
    def _inside(self, rel: str) -> str | None:
        real = os.path.realpath(os.path.join(self.root, rel))
        if real != self._real and not real.startswith(self._real.rstrip("/") + "/"):
            return None  # a link out of the input: this machine's file, not the reported one's
        return real

    # --- the interface ---------------------------------------------------------------------------
    def stat(self, rel: str) -> os.stat_result | None:
        """What ``rel`` is (links refused when strict; followed inside the input otherwise), or None."""
        if self.strict:
            found = self._walk(rel)
            if found is None:
                return None
            os.close(found[0])
            return found[2]
        real = self._inside(rel)
        if real is None:
            return None
        try:
            return os.stat(real)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise _os_error(self.name(rel), exc) from None

    def is_dir(self, rel: str) -> bool:
        st = self.stat(rel)
        return st is not None and stat.S_ISDIR(st.st_mode)

    def is_file(self, rel: str) -> bool:
        st = self.stat(rel)
        return st is not None and stat.S_ISREG(st.st_mode)

    def read_bytes(self, rel: str, limit: int = MAX_FILE) -> bytes | None:
        """The file's bytes; None when absent or a directory. Links, FIFOs, devices, sockets and
        files over ``limit`` raise ``InputError`` naming the path."""
        name = self.name(rel)
        if self.strict:
            found = self._walk(rel)
            if found is None:
                return None
            dfd, last, st = found
            if stat.S_ISDIR(st.st_mode):
                os.close(dfd)
                return None
            try:
                _check_regular(st, name, limit)
                fd = os.open(last, _FLAGS, dir_fd=dfd)
            except OSError as exc:
                raise _os_error(name, exc) from None
            finally:
                os.close(dfd)
        else:
            real = self._inside(rel)
            if real is None:
                return None
            try:
                st = os.stat(real)
                if stat.S_ISDIR(st.st_mode):
                    return None
                _check_regular(st, name, limit)
                fd = os.open(real, _FLAGS)
            except (FileNotFoundError, NotADirectoryError):
                return None
            except OSError as exc:
                raise _os_error(name, exc) from None
        try:
            return _read_fd(fd, name, limit)
        except OSError as exc:
            raise _os_error(name, exc) from None

    def read(self, rel: str, limit: int = MAX_FILE) -> str | None:
        data = self.read_bytes(rel, limit)
        return None if data is None else decode(data)

    def entries(self, rel: str) -> list[tuple[str, os.stat_result]]:
        """The names in directory ``rel`` with their lstat, sorted; [] when it is not a directory."""
        if self.strict:
            found = self._walk(rel)
            if found is None or not stat.S_ISDIR(found[2].st_mode):
                if found is not None:
                    os.close(found[0])
                return []
            dfd, last, _ = found
            try:
                target: int | str = os.open(last, _DIR_FLAGS, dir_fd=dfd)
            except OSError as exc:
                raise _os_error(self.name(rel), exc) from None
            finally:
                os.close(dfd)
        else:
            real = self._inside(rel)
            if real is None or not os.path.isdir(real):
                return []
            target = real
        out = []
        try:
            with os.scandir(target) as it:
                for i, entry in enumerate(it):
                    if i >= MAX_WALK:
                        raise InputError(f"{self.name(rel)}: more than {MAX_WALK} entries: not evidence")
                    out.append((entry.name, entry.stat(follow_symlinks=False)))
        except OSError as exc:
            raise _os_error(self.name(rel), exc) from None
        finally:
            if isinstance(target, int):
                os.close(target)
        return sorted(out, key=lambda e: e[0])

    def files(self, rel: str, depth: int = 8) -> Iterator[str]:
        """Every file below directory ``rel`` (paths relative to the tree), sorted; strict about links."""
        count = 0

        def walk(sub: str, level: int) -> Iterator[str]:
            nonlocal count
            for name, st in self.entries(sub):
                path = f"{sub}/{name}"
                if stat.S_ISLNK(st.st_mode) and self.strict:
                    raise InputError(f"{self.name(path)}: a symbolic link; replay does not follow links in a bundle")
                if stat.S_ISDIR(st.st_mode) and level < depth:
                    yield from walk(path, level + 1)
                elif not stat.S_ISDIR(st.st_mode):
                    count += 1
                    if count > MAX_WALK:
                        raise InputError(f"{self.name(rel)}: more than {MAX_WALK} files: not evidence")
                    yield path

        yield from walk(rel.rstrip("/"), 0)
