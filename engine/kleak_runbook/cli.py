"""The ``kleak-runbook`` command: run, replay, validate, list. The only module that exits.

Exit codes: 0 no leak; 1 leak or suspected leak; 2 usage error or invalid runbook/input;
3 no verdict (host unreachable, evidence missing, timeout, interrupted).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NoReturn

from kleak_runbook import __version__
from kleak_runbook.decide import lint
from kleak_runbook.decide import runbook as rbmod
from kleak_runbook.decide.finish import finish
from kleak_runbook.decide.walker import Walker
from kleak_runbook.deliver.directory import ReportDirectory
from kleak_runbook.errors import KleakError, UsageError
from kleak_runbook.evidence.collector import Collector
from kleak_runbook.evidence.store import EvidenceStore
from kleak_runbook.probes import CONSENTS
from kleak_runbook.progress import Progress


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"kleak-runbook: error: {message} (see --help)\n")
        raise SystemExit(2)


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
            help="runbook param (e.g. min_growth_bytes_per_s=100000) or ansible_* variable",
        )
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
    run.add_argument("--port", type=int, help="SSH port")
    run.add_argument("--forks", type=int, default=20, help="hosts in parallel (default 20)")
    run.add_argument("--samples", type=int, help="samples per sampling step (default from the runbook: 3)")
    run.add_argument("--interval", type=float, help="seconds between samples (default from the runbook: 5)")
    run.add_argument(
        "--allow-intrusive",
        action="append",
        default=[],
        metavar="NAME[,NAME]",
        help=f"consent to intrusive probes: {', '.join(CONSENTS)}",
    )
    run.add_argument("-v", "--verbose", action="count", default=0, help="Ansible verbosity")
    common(run)

    rep = sub.add_parser("replay", help="run a runbook offline on saved evidence")
    rep.add_argument(
        "path",
        type=Path,
        help="a report/bundle directory, a snapshot directory (e.g. an unpacked sosreport), a sosreport tarball, or a text file with pasted outputs",
    )
    common(rep)

    val = sub.add_parser("validate", help="check runbooks without running them")
    val.add_argument("runbooks", nargs="+")

    sub.add_parser("list", help="the bundled runbooks and what each needs")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "validate":
            return _validate(args.runbooks)
        if args.command == "list":
            return _list()
        return _walk(args)
    except KleakError as exc:
        sys.stderr.write(f"kleak-runbook: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("kleak-runbook: interrupted\n")
        return 3
    except Exception as exc:  # a bug: one line for the user, the traceback on request
        if os.environ.get("KLEAK_DEBUG"):
            raise
        sys.stderr.write(
            f"kleak-runbook: internal error: {type(exc).__name__}: {exc} "
            "(set KLEAK_DEBUG=1 for the traceback, and please report it)\n"
        )
        return 3


def _validate(names: list[str]) -> int:
    bad = 0
    for name in names:
        path = rbmod.resolve(name)
        problems = rbmod.validate(path)
        for p in problems:
            sys.stderr.write(f"{p}\n")
        if problems:
            bad += 1
            continue
        for warning in lint.warnings(rbmod.load(path)):
            sys.stderr.write(f"{warning}\n")
        print(f"{path}: ok")
    return 2 if bad else 0


def _list() -> int:
    for path in rbmod.bundled():
        rb = rbmod.load(path)
        intrusive = ", ".join(f"--allow-intrusive {p}" for p in rb.intrusive_probes) or "none"
        print(f"{rb.name}  ({path})")
        print(f"  {rb.description}")
        print(f"  needs root: {'yes (or --become): slabinfo/vmallocinfo' if rb.needs_root else 'no'}")
        print(f"  intrusive steps: {intrusive}")
        print(f"  params: {', '.join(f'{k}={v}' for k, v in rb.params.items()) or 'none'}")
    return 0


def _params(pairs: list[str], rb: rbmod.Runbook) -> tuple[dict[str, Any], dict[str, str]]:
    params: dict[str, Any] = {}
    ansible_vars: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"-e {pair!r}: expected KEY=VALUE")
        if key.startswith("ansible_"):
            ansible_vars[key] = value
            continue
        if key not in rb.params:
            known = ", ".join(rb.params) or "none"
            raise UsageError(f"-e {key}: not a param of runbook {rb.name} (params: {known})")
        default = rb.params[key]
        try:
            if isinstance(default, bool):
                params[key] = value.lower() in ("1", "true", "yes", "on")
            elif isinstance(default, int):
                params[key] = int(value)
            elif isinstance(default, float):
                params[key] = float(value)
            else:
                params[key] = value
        except ValueError:
            raise UsageError(f"-e {key}={value}: expected a {type(default).__name__}") from None
    return params, ansible_vars


def _stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def _walk(args: argparse.Namespace) -> int:
    rb = rbmod.load(rbmod.resolve(args.runbook))
    params, ansible_vars = _params(args.extra_vars, rb)
    progress = Progress(enabled=not args.quiet and (args.progress or sys.stderr.isatty()))
    live = args.command == "run"
    collector: Collector
    replay_root: Path | None = None
    single: str | None
    if live:
        from kleak_runbook.evidence.ansible import AnsibleCollector, Target

        consent = frozenset(n.strip() for a in args.allow_intrusive for n in a.split(",") if n.strip())
        unknown = consent - set(CONSENTS)
        if unknown:
            raise UsageError(f"--allow-intrusive {', '.join(sorted(unknown))}: unknown (known: {', '.join(CONSENTS)})")
        if args.host and args.inventory:
            raise UsageError("--host and -i are exclusive: use -i with --limit for several hosts")
        if args.limit and not args.inventory:
            raise UsageError("--limit needs -i INVENTORY")
        if args.samples is not None and args.samples < 1:
            raise UsageError("--samples must be at least 1")
        if args.interval is not None and args.interval < 0:
            raise UsageError("--interval must not be negative")
        for inv in args.inventory:
            if not Path(inv).exists():
                raise UsageError(f"-i {inv}: no such inventory file")
        single = None if args.inventory else (args.host or "localhost")
        target = Target(
            host=single,
            inventory=args.inventory,
            limit=args.limit,
            user=args.user,
            port=args.port,
            private_key=args.private_key,
            become=args.become,
            become_user=args.become_user,
            extra_vars=ansible_vars,
            forks=args.forks,
            verbose=args.verbose,
        )
        collector = AnsibleCollector(target, progress)
        samples, interval = args.samples, args.interval
    else:
        from kleak_runbook.evidence.replay import ReplayCollector

        consent = frozenset()
        replayer = ReplayCollector(args.path)
        collector, single, replay_root = replayer, replayer.host, replayer.root
        samples, interval = None, None

    stamp = _stamp()
    base = args.out

    def report_dir(host: str) -> Path:
        if single is not None:
            return base or Path("kleak-reports") / f"{'replay-' if not live else ''}{_safe(host)}-{stamp}"
        return (base or Path("kleak-reports") / stamp) / _safe(host)

    stores: dict[str, EvidenceStore] = {}

    def store_for(host: str) -> EvidenceStore:
        if host not in stores:
            root = report_dir(host) / "evidence" if live else None
            if root is not None and root.exists() and any(root.iterdir()):
                raise UsageError(f"{root}: already holds evidence; choose another --out")
            stores[host] = EvidenceStore(host, root)
        return stores[host]

    walker = Walker(rb, collector, store_for, params, consent, samples=samples, interval=interval, say=progress.say)
    header = {
        "runbook": rb.name,
        "runbook_file": rb.file,
        "tool": f"kleak-runbook {__version__}",
        "consent": sorted(consent),
        "started_at": stamp,
    }
    try:
        walks = walker.run([single] if single is not None else None)
    except KeyboardInterrupt:
        for store in stores.values():
            store.finalize({**header, "interrupted": True})
        progress.done()
        kept = ", ".join(str(s.root) for s in stores.values() if s.root)
        sys.stderr.write(f"kleak-runbook: interrupted; evidence collected so far is kept in {kept or 'nothing'}\n")
        return 3
    finally:
        progress.done()
        collector.close()
    docs = []
    sink = ReportDirectory()
    for host, walk in walks.items():
        walk.store.finalize(header)
        rdir = report_dir(host)
        extra = {} if live else {"replayed_from": str(args.path)}
        evidence_dir = walk.store.root if live else replay_root
        result = finish(walk, rb.name, sorted(consent), evidence_dir, extra)
        sink.deliver(result, rdir)
        doc = result.document()
        doc["report_dir"] = str(rdir)
        docs.append(doc)
    if args.format == "json":
        payload: Any = docs[0] if single is not None and len(docs) == 1 else docs
        print(json.dumps(payload, indent=2, ensure_ascii=False))
    else:
        for doc in docs:
            _print_summary(doc)
    codes = [d["exit_code"] for d in docs]
    return 1 if 1 in codes else (3 if 3 in codes else 0)


def _safe(host: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in host)


def _print_summary(doc: dict[str, Any]) -> None:
    kind = "" if doc["kind"] in ("none", "unknown") else f" ({doc['kind']})"
    print(f"{doc['host']}: {doc['verdict'].upper()}{kind}")
    if doc["summary"]:
        print(f"  {doc['summary']}")
    for c in doc["culprits"][:3]:
        growth = f", {c['growth_bytes_per_s'] / 1024:+.1f} KiB/s" if c.get("growth_bytes_per_s") else ""
        print(f"  culprit: {c['name']} ({c['type']}, {c['bytes'] / 1048576:.1f} MiB{growth})")
    for b in doc["known_bugs"][:3]:
        print(f"  known issue: {b['title']} [{b['id']}]")
    if doc["evidence_gaps"]:
        print(f"  evidence gaps: {', '.join(sorted({g['item'] for g in doc['evidence_gaps']}))}")
    print(f"  report: {Path(doc['report_dir']) / 'report.md'}")


if __name__ == "__main__":
    sys.exit(main())
