"""The streaming vmallocinfo parser gives exactly what the line-by-line reference gives.

``parse_vmallocinfo`` totals callers with one regex pass per chunk and falls back to the line
parser (``_parse_line``, the parser before the fast path) for any chunk it cannot read that way;
these tests hold both to the same answer on every real capture under tests/samples and
tests/cases, and on the shapes that force the fallback.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kleak_runbook.errors import ParseError
from kleak_runbook.parsers import vmallocinfo as vm
from kleak_runbook.parsers.pasted import split_pasted

TESTS = Path(__file__).resolve().parents[1]
CAPTURES = sorted((TESTS / "samples").rglob("vmallocinfo"))
PASTED = [
    TESTS / "cases/gh-coreos-bugs-2516-pcpu-vmalloc/input.txt",
    TESTS / "cases/gh-open-cas-410-vmallocinfo/input.txt",
]


def _reference(text: str) -> list[vm.VmallocArea]:
    """The parser as it was before streaming: every line through ``_parse_line``."""
    areas: list[vm.VmallocArea] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            area = vm._parse_line(line)
        except ValueError:
            area = None
        if area is not None:
            areas.append(area)
        elif not areas:
            raise ParseError(vm.SPEC, "not vmallocinfo", line=lineno)
    return areas


def _same(text: str) -> None:
    try:
        want = _reference(text)
    except ParseError as exc:
        with pytest.raises(ParseError) as err:
            vm.parse_vmallocinfo(text)
        assert err.value.line == exc.line
        return
    info = vm.parse_vmallocinfo(text)
    assert list(info.areas) == want
    assert info.area_count == len(want)
    by_caller: dict[str, tuple[int, int]] = {}
    modules: dict[str, str | None] = {}
    for a in want:  # the old by_caller(), and derive's first-module-per-caller map
        count, total = by_caller.get(a.key, (0, 0))
        by_caller[a.key] = (count + 1, total + (a.pages * 4096 if a.pages is not None else a.size))
        key = f"{a.function} [{a.module}]" if a.function and a.module else a.function or a.caller
        modules.setdefault(key, a.module)
    assert list(info.by_caller().items()) == list(by_caller.items())  # same order too: it breaks ties
    assert info.modules == modules
    assert info.vmalloc_bytes() == sum(a.pages for a in want if a.pages is not None) * 4096


def test_captures_are_many_and_real() -> None:
    assert len(CAPTURES) >= 50 and all(p.stat().st_size > 10_000 for p in CAPTURES)


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: str(p.relative_to(TESTS)))
def test_every_capture(path: Path) -> None:
    _same(path.read_text())


@pytest.mark.parametrize("path", PASTED, ids=lambda p: p.parent.name)
def test_pasted_tickets(path: Path) -> None:
    blocks = split_pasted(path.read_text())
    assert blocks.vmallocinfo
    for text in blocks.vmallocinfo:
        _same(text)


def test_small_chunks_cut_everywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vm, "_CHUNK", 97)
    text = (TESTS / "samples/lab-debian-6.1/vmalloc-leak/samples/002/proc/vmallocinfo").read_text()
    _same(text)
    _same(text.rstrip("\n"))


LINES = (TESTS / "samples/lab-debian-6.1/healthy/samples/000/proc/vmallocinfo").read_text().splitlines(keepends=True)


@pytest.mark.parametrize(
    "odd",
    [
        "garbage in the middle\n",
        "  0x0000000000001000-0x0000000000002000    4096 indented+0x1/0x2 pages=1 vmalloc\n",
        "0x0000000000001000-0x0000000000002000    4096 bad_pages+0x1/0x2 pages=x vmalloc\n",
        "0x0000000000001000-0x0000000000002000    4096 bad_phys+0x1/0x2 phys=0xzz ioremap\n",
        "0x0000000000001000-0x0000000000002000 99999999999999999999 too_big+0x1/0x2 vmap\n",
        "0x0000000000001000-0x0000000000002000 4096abc glued+0x1/0x2 vmap\n",
        "0X0000000000001000-0x0000000000002000    4096 upper_x+0x1/0x2 vmap\n",
        "0x0000000000001000-0x0000000000002000\x1f4096 unit_separator+0x1/0x2 vmap\n",
        "0x0000000000001000-0x0000000000002000    4096 +0x1/0x2 [mod] pages=1 vmalloc\n",
        "0x0000000000001000-0x0000000000002000    4096 0xffffffffc0b3d056 [leaky] pages=1 vmalloc\n",
        "0x0000000000001000-0x0000000000002000    4096 unpurged vm_area pages=3\n",
        "0x0000000000001000-0x0000000000002000    4096\n",
        "0x0000000000001000-0x0000000000002000    4096   \n",
        "\t \n",
        "0x0000000000001000-0x0000000000002000    4096 caf\u00e9+0x1/0x2 vmap\n",  # not ASCII: line parser
        "0x0000000000001000-0x0000000000002000    4096 cr+0x1/0x2 vmap\r\n",  # a break splitlines() knows
        "0x0000000000001000-0x0000000000002000    4096 ff+0x1/0x2\x0cvmap\n",
        "0x00001000-0x00002000    4096 narrow+0x1/0x2 pages=1 vmalloc\n",  # a 32-bit kernel's addresses
        "0x0000000000001000-0x0000000000002000\t4096\ttabs+0x1/0x2 pages=1 vmalloc\n",
        "0x0000000000001000-0x0000000000002000 \n",  # no size after the addresses
    ],
)
def test_odd_lines_anywhere(odd: str) -> None:
    for at in (0, 1, 150, len(LINES)):
        _same("".join([*LINES[:at], odd, *LINES[at:]]))


def test_not_vmallocinfo_names_the_line() -> None:
    with pytest.raises(ParseError) as err:
        vm.parse_vmallocinfo("\n\nMemTotal:  100 kB\n" + "".join(LINES))
    assert err.value.line == 3
