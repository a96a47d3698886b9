"""The page_owner probe aggregates by stack on the host with awk; it must agree with the Python
aggregator (parsers/page_owner.py) on the same real page_owner text (tests/samples/public/)."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest

from kleak_runbook.derive.kernel import Kernel
from kleak_runbook.derive.metrics import Metrics
from kleak_runbook.evidence.store import Probe
from kleak_runbook.parsers.page_owner import aggregate_page_owner
from kleak_runbook.probes.base import ProbeInputs
from kleak_runbook.probes.page_owner import AWK, interpret

PUBLIC = Path(__file__).parent / "samples" / "public"


@pytest.mark.parametrize("name", ["page_owner-memstrack-13.txt", "page_owner-android-6.12.txt"])
def test_awk_aggregate_matches_python(name: str) -> None:
    text = (PUBLIC / name).read_text()
    # keep only the records (the mail's prose between them is not page_owner output)
    records = [b for b in text.split("\n\n") if b.startswith("Page allocated")]
    raw = "\n\n".join(records) + "\n"
    out = subprocess.run(
        "LC_ALL=C awk " + shlex.quote(AWK),
        shell=True,
        input=raw,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    probe = Probe("page_owner", ran=True, phases={"data": {"commands/page_owner_by_stack": out}})
    ours = interpret(probe, ProbeInputs(Kernel(), Metrics(None, 0, 0.0, None), None))
    theirs = aggregate_page_owner(raw.splitlines())
    assert ours.available and ours.details["records"] == theirs.records == len(records)
    assert sum(s.bytes for s in ours.sites) == theirs.pages * 4096
    assert sorted(s.bytes // 4096 for s in ours.sites) == sorted(s.pages for s in theirs.stacks)
    for site in ours.sites:  # no non-frame line slipped into a stack
        assert not any(f.startswith(("PFN", "Slab cache", "Charged", "Page ")) for f in site.stack), site.stack
