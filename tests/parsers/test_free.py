"""free's output (parsers/free.py): the header-less old layout."""

from __future__ import annotations

import pytest

from kleak_runbook.errors import ParseError
from kleak_runbook.parsers.free import parse_free

# gh-openzfs-732: free -m pasted without its header row (procps before 3.3.10)
_NO_HEADER = """Mem:         16062      12391       3671          0          0         43
-/+ buffers/cache:      12347       3714
Swap:            0          0          0
"""


def test_headerless_old_layout() -> None:
    mi = parse_free("$ free -m\n" + _NO_HEADER)
    assert mi["MemTotal"] == 16062 * 1024**2 and mi["MemFree"] == 3671 * 1024**2 and mi["Cached"] == 43 * 1024**2


def test_headerless_without_buffers_line_is_refused() -> None:
    # six values alone fit the new layout (total used free shared buff/cache available) as well
    with pytest.raises(ParseError):
        parse_free(_NO_HEADER.splitlines()[0])


def test_headerless_whose_used_and_free_do_not_add_up_is_refused() -> None:
    with pytest.raises(ParseError):
        parse_free(_NO_HEADER.replace("12391", "2391"))
