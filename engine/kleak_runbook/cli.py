"""The ``kleak-runbook`` command: run, replay, validate, list. The only module that exits.

Exit codes: 0 no leak; 1 leak or suspected leak; 2 usage error or invalid runbook/input;
3 no verdict (host unreachable, evidence missing, timeout, interrupted). With an inventory or
several replay inputs (a fleet): 1 if any host leaks, else 3 if any host has no verdict, else 0.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from kleak_runbook import __version__, history_cmd, long_window, post, session
from kleak_runbook.errors import KleakError
from kleak_runbook.probes import CONSENTS

MAX_SAMPLES = 10_000
MAX_INTERVAL_S = 24 * 3600


def _whole(name: str, lo: int, hi: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} takes a whole number, not {text[:20]!r}") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{name} {value}: out of range ({lo} to {hi})")
        return value

    return parse


def _interval(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--interval takes seconds, not {text[:20]!r}") from None
    if not 0 <= value <= MAX_INTERVAL_S:  # also false for nan; inf is out of range
        raise argparse.ArgumentTypeError(f"--interval {text}: out of range (0 to {MAX_INTERVAL_S} seconds)")
    return value


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"kleak-runbook: error: {message} (see --help)\n")
        raise SystemExit(2)


def knowledge_option(sp: argparse.ArgumentParser) -> None:
    sp.add_argument(
        "--knowledge",
        action="append",
        default=[],
        metavar="DIR",
        help="a directory of site-local knowledge entries (repeatable; also $KLEAK_KNOWLEDGE)",
    )


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="kleak-runbook", description="Find out whether a Linux host is losing memory to the kernel.")
    p.add_argument("--version", action="version", version=f"kleak-runbook {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            "--runbook",
            "-r",
            default="kernel-memory-leak",
            help="bundled runbook name or path to a YAML runbook (default: kernel-memory-leak)",
        )
        sp.add_argument("--out", "-o", type=Path, help="report directory (default: ./kleak-reports/<host>-<time>)")
        sp.add_argument(
            "--format",
            choices=("text", "json"),
            default="text",
            help="json prints the result document on stdout",
        )
        sp.add_argument(
            "-e",
            "--extra-vars",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="runbook param (e.g. min_growth_bytes_per_s=100000) or ansible_* variable; @FILE reads them "
            "from a YAML file (secrets belong there, not on the command line)",
        )
        knowledge_option(sp)
        post.add_post_option(sp)
        sp.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")
        sp.add_argument("--progress", action="store_true", help="progress on stderr even when not a terminal")

    run = sub.add_parser("run", help="run a runbook on live hosts over Ansible")
    run.add_argument("--host", "-H", help="one host (localhost uses the local connection; default: localhost)")
    run.add_argument("-i", "--inventory", action="append", default=[], help="Ansible inventory (repeatable)")
    run.add_argument("--limit", "-l", help="host pattern within the inventory")
    run.add_argument("-u", "--user", help="remote user")
    run.add_argument("--become", "-b", action="store_true", help="become root (sudo) on the host")
    run.add_argument("--become-user", help="user to become (default root)")
    run.add_argument("--private-key", "--key-file", dest="private_key", help="SSH private key file")
    run.add_argument("--port", type=_whole("--port", 1, 65535), help="SSH port")
    run.add_argument("--forks", type=_whole("--forks", 1, 1000), default=20, help="hosts in parallel (default 20)")
    run.add_argument(
        "--samples",
        type=_whole("--samples", 1, MAX_SAMPLES),
        help="samples per sampling step (default from the runbook: 4)",
    )
    run.add_argument("--interval", type=_interval, help="seconds between samples (default from the runbook: 5)")
    run.add_argument(
        "--allow-intrusive",
        action="append",
        default=[],
        metavar="NAME[,NAME]",
        help=f"consent to intrusive probes: {', '.join(CONSENTS)}",
    )
    run.add_argument("-v", "--verbose", action="count", default=0, help="Ansible verbosity")
    run.add_argument(
        "--execution-node",
        action="append",
        default=[],
        metavar="USER@HOST[:PORT][=GROUP]",
        help="run the plays on this node over SSH with ansible-runner's streaming (repeatable; with -i): "
        "a node takes its GROUP's hosts, the rest are split evenly; a node that dies has its hosts run again elsewhere",
    )
    run.add_argument(
        "--node-runner",
        default="ansible-runner",
        metavar="PATH",
        help="ansible-runner on the execution nodes (default: ansible-runner on the node's PATH)",
    )
    long_window.add_options(run)
    common(run)

    rep = sub.add_parser("replay", help="run a runbook offline on saved evidence")
    rep.add_argument(
        "path",
        type=Path,
        nargs="+",
        help="several inputs (one per host) write a fleet summary too; each is a report/bundle directory, a snapshot directory (e.g. an unpacked sosreport), a sosreport tarball, or a text file with pasted outputs",
    )
    common(rep)

    bugs = sub.add_parser("bugs", help="the known kernel bugs that apply to one kernel")
    bugs.add_argument("path", nargs="?", help="saved evidence that names the kernel (bundle, report, sosreport, text)")
    bugs.add_argument("--kernel", "-k", help="a kernel release as uname -r prints it")
    bugs.add_argument("--kernel-version-file", help="a file with /proc/version or uname -a output")
    bugs.add_argument("--version-signature", help="Ubuntu's /proc/version_signature, for its upstream version")
    bugs.add_argument("--os-release-id", help="os-release ID (debian, ubuntu, rhel, ...) when the release needs it")
    bugs.add_argument("--format", choices=("text", "json"), default="text")
    knowledge_option(bugs)

    val = sub.add_parser("validate", help="check runbooks without running them")
    val.add_argument("runbooks", nargs="+", help="runbooks, and knowledge files or directories")

    sub.add_parser("list", help="the bundled runbooks and what each needs")
    history_cmd.add_parser(sub)
    from kleak_runbook import serve  # its parser only: the service libraries load when it runs

    serve.add_parser(sub)
    post.add_parser(sub)
    return p


def _open_fds() -> dict[int, tuple[int, int]] | None:
    """This process's open file descriptors and what each is (device, inode); None without /proc."""
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return None
    fds: dict[int, tuple[int, int]] = {}
    for name in names:
        try:
            st = os.fstat(int(name))
        except (OSError, ValueError):
            continue  # the listing's own descriptor, closed by now
        fds[int(name)] = (st.st_dev, st.st_ino)
    return fds


_INHERITED = _open_fds()  # what the process was started with (a shell's pipes, a terminal)


def _exit_now(code: int) -> None:
    """End the process with ``code`` without the interpreter's teardown, when that loses nothing.

    Tearing down the modules a run loads (Ansible's runner, Jinja2, YAML, ...) takes 30-50 ms of
    CPU after the report is written, on every run. What the interpreter would still do that
    matters is done here, in its order: threads are waited for (none may be running), exit
    callbacks run (weakref finalizers such as temporary directories, logging), standard output
    and error are flushed. A file this process opened for writing and left open could hold
    buffered data its finalizer would flush: if there is one, or anything here fails, this
    returns and the interpreter exits as usual."""
    import threading

    shutdown = getattr(threading, "_shutdown", None)
    exitfuncs = getattr(__import__("atexit"), "_run_exitfuncs", None)
    if _INHERITED is None or shutdown is None or exitfuncs is None or threading.active_count() != 1:
        return
    try:
        shutdown()  # the exit callbacks of threading users (concurrent.futures)
        exitfuncs()
        for fd, ident in (_open_fds() or {-1: (0, 0)}).items():
            if fd < 0 or (fd > 2 and _INHERITED.get(fd) != ident and _writable(fd)):
                return
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:  # a broken pipe, ...: the usual exit reports it as before
        return
    os._exit(code)


def _writable(fd: int) -> bool:
    import fcntl

    try:
        return fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE != os.O_RDONLY
    except OSError:
        return False  # closed since it was listed


def main(argv: Sequence[str] | None = None) -> int:
    """The command; with no ``argv`` (the console script: this process's own command line) the
    process ends here once everything is written (``_exit_now``)."""
    code = _main(argv)
    if argv is None:
        _exit_now(code)
    return code


def _main(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "validate":
            return _validate(args.runbooks)
        if args.command == "list":
            return _list()
        if args.command == "post":
            return post.run(args)
        if args.command == "serve":
            from kleak_runbook import serve

            return serve.main(args)
        if args.command == "history":
            return history_cmd.run(args)
        if args.command == "bugs":
            from kleak_runbook import bugs

            return bugs.run(args)
        return session.walk(args)
    except KleakError as exc:
        sys.stderr.write(f"kleak-runbook: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("kleak-runbook: interrupted\n")
        return 3
    except BrokenPipeError:  # `kleak-runbook ... | head`: the reader left; the report is on disk
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush does not fail again
        return 0
    except Exception as exc:  # a bug: one line for the user, the traceback on request
        if os.environ.get("KLEAK_DEBUG"):
            raise
        sys.stderr.write(
            f"kleak-runbook: internal error: {type(exc).__name__}: {exc} "
            "(set KLEAK_DEBUG=1 for the traceback, and please report it)\n"
        )
        return 3


def _is_knowledge(path: Path) -> bool:
    """A knowledge directory, or a YAML file of entries (a list, or a mapping with ``affected``)."""
    if path.is_dir():
        return True
    try:
        with path.open("rb") as fh:  # only the start: the file may be anything (/dev/zero)
            head = fh.read(65536).decode("utf-8", errors="replace")
    except OSError:
        return False
    return any(line.startswith(("- id:", "affected:")) for line in head.splitlines())


def _validate(names: list[str]) -> int:
    from kleak_runbook.decide import runbook as rbmod
    from kleak_runbook.decide.knowledge import check_knowledge

    bad = 0
    for name in names:
        path = rbmod.resolve(name)
        if _is_knowledge(path):
            entries, problems = check_knowledge([path])
            for p in problems:
                sys.stderr.write(f"{p}\n")
            bad += bool(problems)
            if not problems:
                print(f"{path}: ok ({len(entries)} knowledge entries)")
            continue
        problems = rbmod.validate(path)
        for p in problems:
            sys.stderr.write(f"{p}\n")
        if problems:
            bad += 1
            continue
        from kleak_runbook.decide import lint

        for warning in lint.warnings(rbmod.load(path)):
            sys.stderr.write(f"{warning}\n")
        print(f"{path}: ok")
    return 2 if bad else 0


def _list() -> int:
    from kleak_runbook.decide import runbook as rbmod

    for path in rbmod.bundled():
        rb = rbmod.load(path)
        intrusive = ", ".join(f"--allow-intrusive {p}" for p in rb.intrusive_probes) or "none"
        print(f"{rb.name}  ({path})")
        print(f"  {rb.description}")
        print(f"  needs root: {'yes (or --become): slabinfo/vmallocinfo' if rb.needs_root else 'no'}")
        print(f"  intrusive steps: {intrusive}")
        print(f"  params: {', '.join(f'{k}={v}' for k, v in rb.params.items()) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
