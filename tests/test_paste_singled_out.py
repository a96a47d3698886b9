"""What a poster singled out: kmemleak's backtrace quoted without its object's header, and one module's
vmallocinfo rows grepped out in a ticket that says it leaks. Inputs are the real cases named (tests/cases);
each verdict goes through the real CLI."""

from __future__ import annotations

from pathlib import Path

from test_paste_judgement import replay

from kleak_runbook.parsers.kmemleak import parse_kmemleak
from kleak_runbook.parsers.pasted import kmemleak_report

CASES = Path(__file__).parent / "cases"


def _case(name: str) -> str:
    return (CASES / name / "input.txt").read_text(encoding="utf-8")


def test_a_kmemleak_backtrace_without_its_header_is_one_object(tmp_path: Path) -> None:
    """tests/cases/gh-rpi-linux-3759-kmemleak-vchiq-initialise: "there is below kmemleak trace" and
    only the backtrace."""
    text = _case("gh-rpi-linux-3759-kmemleak-vchiq-initialise")
    objects = parse_kmemleak(kmemleak_report(text) or "")
    assert len(objects) == 1 and objects[0].size == 0
    assert objects[0].backtrace[1].key == "vchiq_initialise [vchiq]"
    _, doc = replay(text, tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("suspected-leak", "slab-unreclaimable")
    assert [c["name"] for c in doc["culprits"][:2]] == ["vchiq_initialise [vchiq]", "vchiq"]
    # a backtrace in a ticket that does not speak of kmemleak is some other trace
    assert kmemleak_report(text.replace("kmemleak", "warning")) is None


def test_one_modules_vmalloc_rows_in_a_ticket_that_says_it_leaks(tmp_path: Path) -> None:
    """tests/cases/gh-open-cas-410-vmallocinfo: `grep vmalloc /proc/vmallocinfo | grep cas_cache`
    under "the cas_cache memory leak"."""
    text = _case("gh-open-cas-410-vmallocinfo")
    _, doc = replay(text, tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("suspected-leak", "vmalloc")
    assert doc["culprits"][0]["name"] == "_raw_ram_init [cas_cache]"
    assert "the vmallocinfo rows it shows are all cas_cache's (108 KiB" in doc["summary"]
    # the same rows with no word of a leak are small areas of a module, nothing more
    (tmp_path / "b").mkdir()
    _, doc = replay(text.replace("memory leak", "memory use").replace("leak", "use"), tmp_path / "b")
    assert doc["verdict"] == "no-leak"
