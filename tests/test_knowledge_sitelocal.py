"""Site-local knowledge (``--knowledge DIR``, ``KLEAK_KNOWLEDGE``): loaded, checked and matched like the
bundled entries; ``validate_knowledge`` lists every problem; missing evidence gives ``version-only``."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from kleak_runbook.decide.knowledge import (
    BUNDLED,
    KNOWLEDGE_ENV,
    bundled_knowledge_dir,
    check_knowledge,
    env_knowledge_dirs,
    load_all,
    load_knowledge,
    validate_knowledge,
)
from kleak_runbook.decide.known_bugs import bugs_for_kernel, default_entries, known_bugs
from kleak_runbook.derive.kernel import Kernel
from kleak_runbook.derive.kversion import identify
from kleak_runbook.errors import RunbookError

GIB = 1024**3

SITE = """\
# an in-house module's leak, known only to this site
- id: acme-widget-slab-leak
  title: acme_widget cache grows on the ACME storage driver before 2.4
  kind: slab-unreclaimable
  verified: false
  affected:
    - stream: el8
      from: "4.18.0-477"
      to_before: "4.18.0-553"
    - stream: any
      from: "6.1"
      to_before: "6.1.100"
  fixed_in:
    - stream: el8
      version: "4.18.0-553.el8_10"
  signature: "'acme_widget' in slab.caches and slab.caches['acme_widget'].bytes > mem_total // 10"
  show:
    - label: acme_widget slab
      expr: "slab.caches['acme_widget'].bytes"
      unit: bytes
  workaround: unload acme_widget when idle
  fix: ACME driver 2.4
  escalate_to: ACME storage support
  links:
    - https://example.org/acme/KB-1234
"""

EL8 = "4.18.0-513.5.1.el8_9.x86_64"


def site(tmp_path: Path, text: str = SITE, name: str = "site.yaml", folder: str = "site") -> Path:
    directory = tmp_path / folder
    directory.mkdir(exist_ok=True)
    (directory / name).write_text(text, encoding="utf-8")
    return directory


def kernel(release: str) -> Kernel:
    return Kernel(release=release, identity=identify(release))


def host(widget_bytes: int | None) -> dict[str, Any]:
    """A rule context: 32 GiB, 8 GiB unreclaimable slab, and the acme_widget cache unless None."""
    ctx: dict[str, Any] = {
        "mem_total": 32 * GIB,
        "kmem": {"slab_unreclaimable": 8 * GIB},
        "meminfo": {"SUnreclaim": 8 * GIB},
    }
    if widget_bytes is not None:
        caches = {"acme_widget": SimpleNamespace(objects=widget_bytes // 512, bytes=widget_bytes)}
        ctx["slab"] = SimpleNamespace(caches=caches)
    return ctx


# -- loading -----------------------------------------------------------------------------------------


def test_site_local_directory_loads_after_the_bundled_entries(tmp_path: Path) -> None:
    directory = site(tmp_path)
    entries = load_all([directory], environ={})
    bundled = load_knowledge(bundled_knowledge_dir())
    assert [e.id for e in entries] == [*(e.id for e in bundled), "acme-widget-slab-leak"]
    mine = entries[-1]
    assert (mine.source, mine.file, mine.line) == (str(directory), str(directory / "site.yaml"), 2)
    assert mine.reads == ("slab", "mem_total")
    assert {e.source for e in entries[:-1]} == {BUNDLED}


def test_knowledge_env_variable_names_directories(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = site(tmp_path)
    second = site(tmp_path, SITE.replace("acme-widget-slab-leak", "acme-widget-2"), folder="more")
    value = os.pathsep.join([str(first), "", str(second)])  # empty parts are ignored
    assert env_knowledge_dirs({KNOWLEDGE_ENV: value}) == (first, second)
    ids = [e.id for e in load_all(environ={KNOWLEDGE_ENV: value})]
    assert ids[-2:] == ["acme-widget-slab-leak", "acme-widget-2"]
    # the default entries of known_bugs and bugs_for_kernel follow the variable
    monkeypatch.setenv(KNOWLEDGE_ENV, value)
    assert [e.id for e in default_entries()][-2:] == ["acme-widget-slab-leak", "acme-widget-2"]
    assert "acme-widget-2" in {b["id"] for b in bugs_for_kernel(EL8)}
    monkeypatch.delenv(KNOWLEDGE_ENV)
    assert "acme-widget-2" not in {e.id for e in default_entries()}


def test_same_directory_named_twice_is_read_once(tmp_path: Path) -> None:
    directory = site(tmp_path)
    entries = load_all([directory, bundled_knowledge_dir()], environ={KNOWLEDGE_ENV: str(directory)})
    assert len(entries) == len(load_knowledge(bundled_knowledge_dir())) + 1


def test_a_single_file_can_be_named(tmp_path: Path) -> None:
    file = site(tmp_path) / "site.yaml"
    (entry,) = (e for e in load_all([file], environ={}) if e.source != BUNDLED)
    assert entry.source == str(file.parent)


# -- matching ----------------------------------------------------------------------------------------


def test_site_local_entry_matches_like_a_bundled_one(tmp_path: Path) -> None:
    entries = load_all([site(tmp_path)], environ={})
    found = {b["id"]: b for b in known_bugs(kernel(EL8), host(6 * GIB), "slab-unreclaimable", entries)}
    bug = found["acme-widget-slab-leak"]
    assert bug["confidence"] == "matched" and bug["needs"] == []
    assert bug["why"] == ("kernel 4.18.0-513.5.1.el8_9 is in el8 [4.18.0-477, 4.18.0-553); acme_widget slab: 6.0 GiB")
    assert bug["source"] == str(tmp_path / "site")
    assert "acme-widget-slab-leak" not in {
        b["id"] for b in known_bugs(kernel(EL8), host(1 * GIB), "slab-unreclaimable", entries)
    }
    assert "acme-widget-slab-leak" not in {
        b["id"]
        for b in known_bugs(kernel("4.18.0-553.5.1.el8_10.x86_64"), host(6 * GIB), "slab-unreclaimable", entries)
    }
    # the CLI passes the entries; without them only bundled (+ KLEAK_KNOWLEDGE) ones are used
    assert "acme-widget-slab-leak" not in {
        b["id"] for b in known_bugs(kernel(EL8), host(6 * GIB), "slab-unreclaimable")
    }


def test_site_local_entry_without_its_evidence_is_version_only(tmp_path: Path) -> None:
    entries = load_all([site(tmp_path)], environ={})
    found = {b["id"]: b for b in known_bugs(kernel(EL8), host(None), "slab-unreclaimable", entries)}
    bug = found["acme-widget-slab-leak"]
    assert bug["confidence"] == "version-only"
    assert bug["needs"] == ["slabinfo"]
    assert bug["why"] == (
        "kernel 4.18.0-513.5.1.el8_9 is in el8 [4.18.0-477, 4.18.0-553); "
        "version matches; evidence /proc/slabinfo (slab) would confirm it"
    )


def test_bundled_entry_without_its_evidence_names_what_would_confirm_it() -> None:
    release = "3.10.0-1062.18.1.el7.x86_64"
    ctx = {"cmdline": SimpleNamespace(has=lambda *_args: False)}  # no /proc/cgroups collected
    found = {b["id"]: b for b in known_bugs(kernel(release), ctx, "slab-unreclaimable")}
    bug = found["rhel7-memcg-kmem-accounting-leak"]
    assert (bug["confidence"], bug["needs"]) == ("version-only", ["cgroups"])
    assert bug["why"].endswith("; version matches; evidence /proc/cgroups (cgroups) would confirm it")
    # with nothing collected, every piece of evidence the signature reads is named, in reading order
    bare = {b["id"]: b for b in known_bugs(kernel(release), {}, "slab-unreclaimable")}
    assert bare["rhel7-memcg-kmem-accounting-leak"]["needs"] == ["cmdline", "cgroups"]
    assert (
        "evidence /proc/cmdline (cmdline), /proc/cgroups (cgroups) would confirm it"
        in (bare["rhel7-memcg-kmem-accounting-leak"]["why"])
    )


def test_full_match_keeps_matched() -> None:
    release = "3.10.0-1062.18.1.el7.x86_64"
    ctx = {
        "cmdline": SimpleNamespace(has=lambda *_args: False),
        "cgroups": SimpleNamespace(memory=SimpleNamespace(num_cgroups=12000)),
    }
    bug = {b["id"]: b for b in known_bugs(kernel(release), ctx, "slab-unreclaimable")}[
        "rhel7-memcg-kmem-accounting-leak"
    ]
    assert (bug["confidence"], bug["needs"], bug["source"]) == ("matched", [], "bundled")


# -- problems ----------------------------------------------------------------------------------------


def test_broken_site_local_file_names_file_and_line(tmp_path: Path) -> None:
    directory = site(tmp_path, SITE.replace('from: "6.1"', "from: 6.1"))  # a float to YAML
    with pytest.raises(RunbookError) as caught:
        load_all([directory], environ={})
    assert str(caught.value).startswith(f"{directory / 'site.yaml'}:11: [0](acme-widget-slab-leak).affected[1].from:")
    assert "must be a quoted string" in caught.value.reason


def test_duplicate_id_across_bundled_and_site_local(tmp_path: Path) -> None:
    bundled = {e.id: e for e in load_knowledge(bundled_knowledge_dir())}["vmallocused-reads-zero"]
    directory = site(tmp_path, SITE.replace("acme-widget-slab-leak", "vmallocused-reads-zero"))
    with pytest.raises(RunbookError) as caught:
        load_all([directory], environ={})
    assert str(caught.value) == (
        f"{directory / 'site.yaml'}:2: vmallocused-reads-zero: "
        f"duplicate id, first defined at {bundled.file}:{bundled.line} (bundled)"
    )


def test_duplicate_id_between_two_site_local_directories(tmp_path: Path) -> None:
    first, second = site(tmp_path), site(tmp_path, folder="other")
    with pytest.raises(
        RunbookError,
        match=r"other/site\.yaml:2: acme-widget-slab-leak: duplicate id, first defined at .*site/site\.yaml:2$",
    ):
        load_all([second], environ={KNOWLEDGE_ENV: str(first)})


def test_missing_directory_from_the_environment(tmp_path: Path) -> None:
    with pytest.raises(
        RunbookError, match=rf"{tmp_path / 'nope'}: knowledge directory not found \(named in KLEAK_KNOWLEDGE\)"
    ):
        load_all(environ={KNOWLEDGE_ENV: str(tmp_path / "nope")})


BROKEN = (
    SITE.replace("kind: slab-unreclaimable", "kind: slab")  # line 4
    .replace("verified: false", "verified: maybe")  # line 5
    .replace('from: "4.18.0-477"', "from: 4.18")  # line 8
    .replace("    - https://example.org/acme/KB-1234", "    - see KB-1234")  # line 25 (reported at links:, 24)
)
DUPLICATE_AND_BAD_YAML = """\
- id: negative-dentry-bloat
  title: already bundled
  kind: any
  verified: false
  affected:
    - {stream: any, from: "5.0"}
  workaround: none
  fix: none
  escalate_to: nobody
  links: [https://example.org/x]
"""


def test_validate_lists_every_problem(tmp_path: Path) -> None:
    directory = site(tmp_path, BROKEN, name="a.yaml")
    (directory / "b.yaml").write_text(DUPLICATE_AND_BAD_YAML, encoding="utf-8")
    (directory / "c.yaml").write_text("- id: x\n  title: [unclosed\n", encoding="utf-8")
    problems = validate_knowledge([directory, tmp_path / "missing"])
    where = [(Path(p.file).name, p.line) for p in problems]
    assert where == [
        ("a.yaml", 4),
        ("a.yaml", 5),
        ("a.yaml", 8),
        ("a.yaml", 24),
        ("b.yaml", 1),
        ("c.yaml", 3),
        ("missing", None),
    ]
    reasons = [p.reason for p in problems]
    assert "kind is one of" in reasons[0]
    assert reasons[1] == "must be true or false"
    assert "must be a quoted string" in reasons[2]
    assert reasons[3].startswith("not a URL")
    assert reasons[4].startswith("duplicate id, first defined at ") and reasons[4].endswith("(bundled)")
    assert reasons[5].startswith("YAML syntax error")
    assert reasons[6] == "knowledge directory not found"
    # without the bundled entries to compare with, the id is no problem
    assert len(validate_knowledge([directory], against_bundled=False)) == 5


def test_validate_good_directory(tmp_path: Path) -> None:
    directory = site(tmp_path)
    assert validate_knowledge([directory]) == []
    entries, problems = check_knowledge([directory])
    assert ([e.id for e in entries], problems) == (["acme-widget-slab-leak"], [])
    assert validate_knowledge([bundled_knowledge_dir()]) == []


def test_evidence_present_but_field_missing_says_why() -> None:
    release = "4.18.0-513.5.1.el8_9.x86_64"
    ctx = {"kmem": {}, "cgroups": SimpleNamespace(memory=SimpleNamespace(num_cgroups=5000))}  # no Percpu
    bug = {b["id"]: b for b in known_bugs(kernel(release), ctx, "percpu")}["memcg-dying-cgroups-percpu"]
    assert (bug["confidence"], bug["needs"]) == ("version-only", [])
    assert "; version matches; the evidence signature `cgroups.memory.num_cgroups > 1000 and kmem.percpu" in bug["why"]
    assert bug["why"].endswith("could not be checked (ExpressionError: 'dict object' has no attribute 'percpu')")
