"""One ``run`` or ``replay``: the collector, the walk, the decide stage and the report sinks.

Returns the exit code; ``cli`` turns it into the process exit. A Ctrl-C anywhere still ends
with a report per host (verdict ``inconclusive``, "interrupted after N of M samples") next to
the evidence collected so far, and the bundle says it was interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from kleak_runbook import __version__
from kleak_runbook.decide import runbook as rbmod
from kleak_runbook.decide.walker import Walker
from kleak_runbook.errors import UsageError
from kleak_runbook.evidence.collector import Collector
from kleak_runbook.evidence.store import EvidenceStore
from kleak_runbook.long_window import LongWindow, chart_for, judge, partial_writer
from kleak_runbook.paths import env_knowledge_dirs
from kleak_runbook.post import Posting
from kleak_runbook.probes import CONSENTS
from kleak_runbook.progress import Progress

if TYPE_CHECKING:
    from kleak_runbook.decide.knowledge import Entry
    from kleak_runbook.report.fleet import Fleet

LOCAL = ("localhost", "127.0.0.1-local")

# What judging needs and collecting does not: imported, loaded and compiled while Ansible starts up
# (the collector's while_waiting), on the core Ansible's start-up leaves idle, so the first SSH exec
# does not wait for them; imported where used all the same, which makes the warm-up an optimisation.
_JUDGING = (
    "kleak_runbook.decide.finish",
    "kleak_runbook.decide.context",
    "kleak_runbook.deliver.directory",
    "kleak_runbook.report.markdown",
)


def _warm_imports() -> None:
    import importlib

    from kleak_runbook.evidence.specs import SAMPLED, SPECS, STATIC

    for name in _JUDGING:
        importlib.import_module(name)
    for spec in (*SAMPLED, *STATIC):
        getattr(SPECS[spec].parse, "resolve", lambda: None)()


def _start_history(window: LongWindow, host: str, report_dir: Path) -> None:
    """Start the history fetch, its thread's imports done first here (the fetch summarizes earlier
    runs with the judging's own modules): two threads importing the same modules at once wait
    on each other's module locks, and an import cycle between them could see a module half-made."""
    import importlib

    importlib.import_module("kleak_runbook.derive.baseline")
    window.start(host, report_dir)


def _warm_template() -> None:
    from kleak_runbook.report.markdown import environment

    environment().get_template("report.md.j2")


class _Knowledge:
    """The knowledge base, loaded once: while Ansible starts up for a live run, when first needed
    otherwise. Directories the user names (``--knowledge``, ``KLEAK_KNOWLEDGE``) are loaded before
    anything runs, so a broken entry of theirs stops the run there, not at the end."""

    def __init__(self, dirs: list[str]) -> None:
        self.dirs = [Path(d) for d in dirs]
        self._entries: tuple[Entry, ...] | None = None
        if self.dirs or env_knowledge_dirs():
            self.load()

    def load(self) -> tuple[Entry, ...]:
        if self._entries is None:
            from kleak_runbook.decide.knowledge import load_all

            self._entries = load_all(self.dirs)
        return self._entries


def _vars_file(path: str) -> dict[str, Any]:
    """``-e @vars.yml``, as Ansible takes it: a YAML (or JSON) mapping of variables."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"-e @{path}: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else path
        raise UsageError(f"-e @{where}: not valid YAML") from None
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        raise UsageError(f"-e @{path}: expected a mapping of variable names to values")
    return data


def params_of(pairs: list[str], rb: rbmod.Runbook) -> tuple[dict[str, Any], dict[str, Any]]:
    """(runbook params, ansible_* variables) from ``-e KEY=VALUE`` and ``-e @FILE``."""
    raw: list[tuple[str, Any]] = []
    for pair in pairs:
        if pair.startswith("@"):
            raw += list(_vars_file(pair[1:]).items())
            continue
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"-e {key or pair}: expected KEY=VALUE or @FILE")
        raw.append((key, value))
    params: dict[str, Any] = {}
    ansible_vars: dict[str, Any] = {}
    for key, value in raw:
        if key.startswith("ansible_"):
            ansible_vars[key] = value
            continue
        if key not in rb.params:
            known = ", ".join(rb.params) or "none"
            raise UsageError(f"-e {key}: not a param of runbook {rb.name} (params: {known})")
        default = rb.params[key]
        text = str(value)
        try:
            if isinstance(default, bool):
                params[key] = text.lower() in ("1", "true", "yes", "on")
            elif isinstance(default, int):
                params[key] = int(text)
            elif isinstance(default, float):
                params[key] = float(text)
                if params[key] != params[key] or params[key] in (float("inf"), float("-inf")):
                    raise ValueError(text)
            else:
                params[key] = text
        except ValueError:
            raise UsageError(f"-e {key}: expected a {type(default).__name__}, got {text[:40]!r}") from None
    return params, ansible_vars


def _stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def safe_name(host: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in host)


def _check_out(out: Path | None) -> None:
    """--out must be a directory we can write, checked before anything runs."""
    if out is None:
        return
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out {out}: cannot create the report directory ({exc.strerror or exc})") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise UsageError(f"--out {out}: not writable")


def _target(args: argparse.Namespace, ansible_vars: dict[str, Any]) -> Any:
    from kleak_runbook.evidence.ansible import Target

    if args.host and args.inventory:
        raise UsageError("--host and -i are exclusive: use -i with --limit for several hosts")
    if args.limit and not args.inventory:
        raise UsageError("--limit needs -i INVENTORY")
    if getattr(args, "execution_node", None) and not args.inventory:
        raise UsageError("--execution-node needs -i INVENTORY")
    for inv in args.inventory:
        if not Path(inv).exists():
            raise UsageError(f"-i {inv}: no such inventory file")
    host = None if args.inventory else (args.host or "localhost")
    if host in LOCAL and (args.port is not None or args.private_key):
        raise UsageError(f"--port and --private-key do not apply to {host}: it is run over the local connection")
    # with execution nodes the key is read on the nodes, not here
    if args.private_key and not getattr(args, "execution_node", None) and not Path(args.private_key).is_file():
        raise UsageError(f"--private-key {args.private_key}: no such file")
    return Target(
        host=host,
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


def walk(args: argparse.Namespace) -> int:
    if args.command == "replay" and isinstance(args.path, list):
        if len(args.path) > 1:
            from kleak_runbook.fleet_session import replay_many

            return replay_many(args)
        args.path = args.path[0]
    rb = rbmod.load(rbmod.resolve(args.runbook))
    params, ansible_vars = params_of(args.extra_vars, rb)
    knowledge = _Knowledge(args.knowledge)
    posting = Posting.prepare(args.post)  # a bad --post target or missing token stops the run here too
    live = args.command == "run"
    progress = Progress(enabled=not args.quiet and (args.progress or sys.stderr.isatty()))
    collector: Collector
    replay_root: Path | None = None
    single: str | None
    lw: LongWindow | None = None
    if live:
        consent = frozenset(n.strip() for a in args.allow_intrusive for n in a.split(",") if n.strip())
        unknown = consent - set(CONSENTS)
        if unknown:
            raise UsageError(f"--allow-intrusive {', '.join(sorted(unknown))}: unknown (known: {', '.join(CONSENTS)})")
        target = _target(args, ansible_vars)
        _check_out(args.out)
        # a bad --prometheus, --baseline or --watch stops the run here
        lw = LongWindow.prepare(args, os.environ, {**rb.params, **params})
        from kleak_runbook.evidence.ansible import AnsibleCollector

        collector = AnsibleCollector(target, progress)
        # done while ansible-playbook starts up, not before it or after the collection (runner._while_waiting)
        collector.while_waiting += [_warm_imports, knowledge.load, _warm_template]
        if args.inventory:  # a fleet: no --limit that lists every host, execution nodes
            from kleak_runbook.evidence.hostgroup import fleet_collector

            collector = fleet_collector(collector, progress, args)
        single = None if args.inventory else (args.host or "localhost")
        samples, interval = lw.sampling(args.samples, args.interval, rb.steps[rb.start].interval)
    else:
        from kleak_runbook.evidence.replay import ReplayCollector

        consent = frozenset()
        replayer = ReplayCollector(args.path)
        try:
            _check_out(args.out)
        except UsageError:
            replayer.close()
            raise
        collector, single, replay_root = replayer, replayer.host, replayer.root
        samples, interval = None, None

    stamp = _stamp()
    base = args.out

    def report_dir(host: str) -> Path:
        if single is not None:
            return base or Path("kleak-reports") / f"{'replay-' if not live else ''}{safe_name(host)}-{stamp}"
        return (base or Path("kleak-reports") / stamp) / safe_name(host)

    stores: dict[str, EvidenceStore] = {}

    def store_for(host: str) -> EvidenceStore:
        if host not in stores:
            root = report_dir(host) / "evidence" if live else None
            if root is not None and root.exists() and any(root.iterdir()):
                raise UsageError(f"{root}: already holds evidence; choose another --out")
            stores[host] = EvidenceStore(host, root)
        return stores[host]

    attached: set[str] = set()

    def attach_history(host: str) -> None:
        """Prometheus history and earlier runs, once the host answered and before the first rule
        reads its store: waiting for them is not on the way to the first SSH exec."""
        if lw is not None and host not in attached:
            attached.add(host)
            lw.attach(host, store_for(host), report_dir(host))

    walker = Walker(
        rb,
        collector,
        store_for,
        params,
        consent,
        samples=samples,
        interval=interval,
        say=progress.say,
        prepare=attach_history,
    )
    header = {
        "runbook": rb.name,
        "runbook_file": rb.file,
        "tool": f"kleak-runbook {__version__}",
        "consent": sorted(consent),
        "started_at": stamp,
    }
    interrupted: str | None = None
    walker_args = {"runbook": rb, "params": params, "consent": consent, "samples": samples, "interval": interval}

    def finish_host(host_walk: Any, store: EvidenceStore, extra: dict[str, Any], chart: str | None = None) -> Any:
        from kleak_runbook.decide.finish import finish

        return finish(host_walk, rb.name, sorted(consent), store.root, extra, knowledge=knowledge.load(), chart=chart)

    if lw is not None:
        if single is not None:  # fetched while Ansible starts (attach starts it if that never came)
            host, host_dir, window = single, report_dir(single), lw
            waiting = getattr(collector, "while_waiting", None)
            if waiting is not None:
                waiting.insert(0, lambda: _start_history(window, host, host_dir))
            else:
                window.start(host, host_dir)
        lw.watch_reports(partial_writer(walker_args, stores, report_dir, finish_host), progress.say)
    try:
        walker.run([single] if single is not None else None)
    except KeyboardInterrupt:
        interrupted = walker.interruption(max((len(s.samples) for s in stores.values()), default=0))
    finally:
        progress.done()
        collector.close()
        if lw is not None:
            lw.close()
    watch_cut = interrupted if lw is not None and lw.watch_s and interrupted else None
    interrupted = None if watch_cut else interrupted  # a watch ended by Ctrl-C is judged on what it sampled
    docs: list[dict[str, Any]] = []
    from kleak_runbook.decide.finish import finish
    from kleak_runbook.deliver.directory import ReportDirectory

    sink = ReportDirectory()
    fleet: Fleet | None = None
    if single is None:  # the fleet summary's module only for a fleet
        from kleak_runbook.report.fleet import Fleet

        fleet = Fleet(base or Path("kleak-reports") / stamp)
    for host, store in stores.items() if live else ((h, w.store) for h, w in walker.walks.items()):
        host_walk = judge(walker_args, stores, host) if watch_cut else walker.walk_for(host, store)
        store.finalize({**header, **({"interrupted": interrupted} if interrupted else {})})
        rdir = report_dir(host)
        extra = {} if live else {"replayed_from": str(args.path)}
        if watch_cut:
            extra["watch"] = f"ended by Ctrl-C {watch_cut}: judged on the samples taken"
        evidence_dir = store.root if live else replay_root
        result = finish(
            host_walk,
            rb.name,
            sorted(consent),
            evidence_dir,
            extra,
            interrupted=interrupted,
            knowledge=knowledge.load(),
            chart=lw.chart(host_walk.context, rdir) if lw is not None else chart_for(host_walk.context, rdir),
        )
        sink.deliver(result, rdir)
        if posting is not None and not interrupted:  # after Ctrl-C the user wants out, not a 20 s upload
            # stderr: stdout may be the JSON document; a failed target is one line there and the
            # run's own exit code stands (README, "Exit codes")
            posting.send(rdir, sys.stderr)
        if fleet is not None:
            fleet.add(result, rdir)
            if args.format != "json":  # a fleet keeps one small line per host, not every document
                docs.append({"report_dir": str(rdir)})
                continue
        doc = result.document()
        doc["report_dir"] = str(rdir)
        docs.append(doc)
    if interrupted:
        if fleet is not None and fleet.lines:  # what the fleet looked like so far
            from kleak_runbook.report.fleet import write as write_fleet

            write_fleet(fleet)
        kept = ", ".join(d["report_dir"] for d in docs) or "nothing was collected"
        sys.stderr.write(f"kleak-runbook: interrupted {interrupted}; reports and evidence so far: {kept}\n")
        return 3
    if fleet is not None:  # an inventory: the fleet summary, not a page per host
        fleet.node_incidents = list(getattr(collector, "incidents", []))
        from kleak_runbook.fleet_session import conclude

        code = conclude(fleet, args.format, docs)
        return code
    if args.format == "json":
        payload: Any = docs[0] if single is not None and len(docs) == 1 else docs
        print(json.dumps(payload, indent=2, ensure_ascii=False))
    else:
        for doc in docs:
            print_summary(doc)
    codes = [d["exit_code"] for d in docs]
    return 1 if 1 in codes else (3 if 3 in codes else 0)


def print_summary(doc: dict[str, Any]) -> None:
    kind = "" if doc["kind"] in ("none", "unknown") else f" ({doc['kind']})"
    print(f"{doc['host']}: {doc['verdict'].upper()}{kind}")
    if doc["summary"]:
        print(f"  {doc['summary']}")
    for label, c in [("culprit", c) for c in doc["culprits"][:3]] + [("largest", c) for c in doc["largest"][:3]]:
        growth = f", {c['growth_bytes_per_s'] / 1024:+.1f} KiB/s" if c.get("growth_bytes_per_s") else ""
        # a culprit named only in a ticket's words has no size of its own: say so rather than "0.0 MiB"
        size = f"{c['bytes'] / 1048576:.1f} MiB" if c["bytes"] or growth else "size not in the evidence"
        print(f"  {label}: {c['name']} ({c['type']}, {size}{growth})")
    for b in doc["known_bugs"][:3]:
        print(f"  known issue: {b['title']} [{b['id']}]")
    if doc["evidence_gaps"]:
        print(f"  evidence gaps: {', '.join(sorted({g['item'] for g in doc['evidence_gaps']}))}")
    print(f"  report: {Path(doc['report_dir']) / 'report.md'}")
