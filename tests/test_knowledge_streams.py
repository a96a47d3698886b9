"""Distribution-stream ranges: Ubuntu ranges are per series (base version), derivative Ubuntu
kernels and series without an Ubuntu range fall back to the kernel.org ranges on the exact upstream
version, the "~" bounds take in HWE rebuilds, and every distribution fixed build names its source."""

from __future__ import annotations

import re

import pytest

from kleak_runbook.decide.knowledge import bundled_knowledge_dir, load_knowledge
from kleak_runbook.derive.kversion import Range, check, identify

ENTRIES = load_knowledge(bundled_knowledge_dir())
# an Ubuntu range for one series (noble, 6.8.0) next to kernel.org ranges
RANGES = [Range("any", "5.10", "5.15.161"), Range("ubuntu", "6.8.0-0", "6.8.0-44.44~")]


def test_series_without_an_ubuntu_range_is_judged_on_the_exact_upstream_version() -> None:
    jammy = identify("5.15.0-91-generic", version_signature="Ubuntu 5.15.0-91.101-generic 5.15.131")
    result = check(jammy, RANGES)
    assert (result.affected, result.range, result.version) == (True, RANGES[0], "5.15.131")


def test_series_with_an_ubuntu_range_is_judged_on_it() -> None:
    noble = identify("6.8.0-31-generic", "#31-Ubuntu SMP", "ubuntu")
    assert check(noble, RANGES).range == RANGES[1]
    assert check(identify("6.8.0-44-generic", "#44-Ubuntu SMP", "ubuntu"), RANGES).affected is False


def test_without_an_exact_upstream_version_the_ubuntu_ranges_still_decide() -> None:
    # uname -v gives the build but not the upstream stable version: no fallback to kernel.org
    jammy = identify("5.15.0-91-generic", "#101-Ubuntu SMP", "ubuntu")
    assert check(jammy, RANGES).affected is False


@pytest.mark.parametrize(("build", "affected"), [("101~20.04.1", True), ("131~20.04.1", False), ("131", False)])
def test_tilde_bound_takes_in_the_hwe_rebuild(build: str, affected: bool) -> None:
    ranges = [Range("ubuntu", "5.15.0-0", "5.15.0-121.131~")]
    abi = "5.15.0-91" if build.startswith("101") else "5.15.0-121"
    assert check(identify(f"{abi}-generic", f"#{build}-Ubuntu SMP", "ubuntu"), ranges).affected is affected


def test_derivative_ubuntu_kernel_is_judged_on_kernel_org_ranges() -> None:
    # linux-aws 5.15.0-1050.55 sorts after every generic 5.15.0 build: the generic series range
    # would call it fixed; its upstream version (synthetic here) decides instead
    ranges = [Range("any", "5.10", "5.15.161"), Range("ubuntu", "5.15.0-0", "5.15.0-121.131~")]
    aws = identify("5.15.0-1050-aws", version_signature="Ubuntu 5.15.0-1050.55-aws 5.15.150")
    assert (check(aws, ranges).affected, check(aws, ranges).range) == (True, ranges[0])
    generic = identify("5.15.0-125-generic", version_signature="Ubuntu 5.15.0-125.135-generic 5.15.150")
    assert check(generic, ranges).affected is False


def test_every_distribution_fixed_build_names_its_errata_or_release() -> None:
    unsourced = []
    for entry in ENTRIES:
        links = " ".join(entry.links)
        for r in entry.affected:
            errata = re.search(r"RH[SB]A-\d{4}:\d+", r.note or "") and "redhat.com" in links
            if r.stream.startswith("el") and r.to_before and ".el" in r.to_before and not errata:
                unsourced.append(f"{entry.id}: {r}")
            ubuntu_bound = r.stream == "ubuntu" and (r.to_before or "").endswith("~")
            if ubuntu_bound and "ubuntu.com/security" not in links:
                unsourced.append(f"{entry.id}: {r}")
            advisory = re.search(r"SUSE-SU-\d{4}:\d+-\d+", r.note or "") and "suse.com/security/cve" in links
            if r.stream == "suse" and r.to_before and not advisory:
                unsourced.append(f"{entry.id}: {r}")
    assert not unsourced, unsourced


def test_suse_ranges_are_per_code_stream_and_leave_azure_builds_out() -> None:
    """A SUSE range runs from its code stream's kernel-default numbering to the fixed build as uname -r
    shows it (no package rebuild number), so no build of another code stream, and no -azure build
    (numbered lower), is inside it."""
    # kernel-azure builds named in the same SUSE advisories (SLES 12 SP5, 15 SP2, SP3, SP4)
    azure = ["4.12.14-16.200-azure", "5.3.18-18.75-azure", "5.3.18-150300.38.88-azure", "5.14.21-150400.14.34-azure"]
    for entry in ENTRIES:
        for r in entry.affected:
            if r.stream != "suse" or not r.to_before:
                continue
            assert r.start and r.to_before.startswith(r.start + "."), (entry.id, r)
            assert r.to_before.count(".") == r.start.count(".") + 1, (entry.id, r)
            assert not any(check(identify(build), [r]).affected for build in azure), (entry.id, r)
    mempolicy = next(e for e in ENTRIES if e.id == "mempolicy-shared-policy-replace-leak")
    sp5 = check(identify("5.14.21-150500.55.39-default"), mempolicy.affected)
    assert sp5.range is not None and (sp5.range.start, sp5.range.to_before) == (
        "5.14.21-150500.55",
        "5.14.21-150500.55.97",
    )
    # SUSE names no SP6 fix: no range, so no match (a SUSE kernel never takes the kernel.org ranges)
    assert check(identify("6.4.0-150600.23.7-default"), mempolicy.affected).affected is False
