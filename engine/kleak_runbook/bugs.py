"""``kleak-runbook bugs``: the known kernel bugs that apply to one kernel, from its version alone.

The kernel comes from ``--kernel RELEASE`` (with ``--version-signature`` / ``--os-release-id``
where the stream needs them), from ``--kernel-version-file`` (a saved /proc/version or
``uname -a``), or from saved evidence (a bundle, report, sosreport or pasted text). Exit code 1
when at least one bug (not a reading trap) applies, 0 when none does.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from kleak_runbook.decide.knowledge import load_all
from kleak_runbook.decide.known_bugs import bugs_for_kernel
from kleak_runbook.derive.kernel import Kernel
from kleak_runbook.errors import UsageError


def _static_texts(path: Path) -> dict[str, str]:
    """The static evidence texts (version, uname, ...) of saved evidence, by spec name."""
    from kleak_runbook.evidence.collector import Request
    from kleak_runbook.evidence.replay import ReplayCollector
    from kleak_runbook.evidence.store import EvidenceStore

    collector = ReplayCollector(path)
    try:
        store = EvidenceStore(collector.host)
        collector.collect(Request(step="bugs"), None, lambda _h: store)
        return dict(store.static)
    finally:
        collector.close()


def _kernel(args: argparse.Namespace) -> tuple[str, str | None, str | None, str | None]:
    """(release, /proc/version text, version_signature, os-release ID) from the options."""
    if sum(x is not None for x in (args.kernel, args.kernel_version_file, args.path)) != 1:
        raise UsageError("bugs takes one of --kernel RELEASE, --kernel-version-file FILE or an evidence PATH")
    if args.kernel is not None:
        release = args.kernel.strip()
        if not release or any(c.isspace() for c in release) or not release[0].isdigit():
            raise UsageError(
                f"--kernel {args.kernel!r}: expected a release as uname -r prints it, e.g. 5.15.0-91-generic"
            )
        return release, None, args.version_signature, args.os_release_id
    if args.kernel_version_file is not None:
        try:
            text = Path(args.kernel_version_file).read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise UsageError(f"--kernel-version-file {args.kernel_version_file}: {exc.strerror}") from None
        kernel = Kernel.of(proc_version=text if text.startswith("Linux version") else None, uname=text)
        if kernel.release is None:
            raise UsageError(f"{args.kernel_version_file}: neither /proc/version nor uname -a output")
        return kernel.release, text, args.version_signature, args.os_release_id
    texts = _static_texts(Path(args.path))
    kernel = Kernel.of_texts(texts)
    if kernel.release is None:
        raise UsageError(f"{args.path}: the evidence does not say which kernel it is (no /proc/version or uname)")
    return kernel.release, texts.get("version"), kernel.version_signature, kernel.distro_id


def run(args: argparse.Namespace) -> int:
    release, proc_version, signature, os_id = _kernel(args)
    entries = load_all([Path(d) for d in args.knowledge])
    found = bugs_for_kernel(release, proc_version, signature, os_id, entries=entries)
    if args.format == "json":
        print(json.dumps({"kernel": release, "known_bugs": found}, indent=2, ensure_ascii=False))
    else:
        _print(release, found)
    return 1 if any(not b["trap"] for b in found) else 0


def _print(release: str, found: list[dict[str, Any]]) -> None:
    bugs = [b for b in found if not b["trap"]]
    print(
        f"kernel {release}: {len(bugs)} known bug(s) apply" + (f", {len(found) - len(bugs)} note(s)" if found else "")
    )
    for b in found:
        tag = "note" if b["trap"] else ("bug" if b["verified"] else "bug, unverified")
        print(f"- [{b['id']}] {b['title']} ({tag}, {b['kind']})")
        print(f"  why: {b['why']}")
        if b.get("fixed_in"):
            print(f"  fixed in: {', '.join(b['fixed_in'])}")
        print(f"  fix: {b['fix']}")
        print(f"  workaround: {b['workaround']}")
