"""Pastes as web pages and tickets mangle them: lines left out as "...", a line glued to the next
sentence. Synthetic lines (labelled) in the shapes of the development set's blog-besthub case."""

from __future__ import annotations

import pytest

from kleak_runbook.parsers.pasted import split_pasted

# synthetic, labelled: /proc/meminfo lines as a blog printed them, with an elision and a glued sentence
ELIDED = """$ cat /proc/meminfo
MemTotal: 65922868 kB
MemFree: 9001452 kB
{elision}
Slab: 39242216 kB
SReclaimable: 38506072 kB
SUnreclaim: 736144 kBRunning slabtop revealed that dentry objects dominated the slab usage.
"""


@pytest.mark.parametrize("elision", ["...", "…", "[...]", "<snip>", "(snipped)", "[ cut ]"])
def test_an_elision_does_not_end_the_block(elision: str) -> None:
    blocks = split_pasted(ELIDED.format(elision=elision))
    assert len(blocks.meminfo) == 1
    for field in ("MemTotal", "MemFree", "Slab", "SReclaimable", "SUnreclaim: 736144 kB"):
        assert field in blocks.meminfo[0]
    assert "Running slabtop" not in blocks.meminfo[0]


def test_a_line_of_prose_still_ends_the_block() -> None:
    blocks = split_pasted(ELIDED.format(elision="and then, later on:"))
    assert len(blocks.meminfo) == 2  # two pastes of meminfo, not one with a gap


def test_a_ticket_that_only_names_a_cache_is_a_memory_ticket() -> None:
    # words alone, no output and no term like "slab" or "leak": still judged, not refused
    blocks = split_pasted("On our 64 GB server the ext4_inode_cache keeps growing and is now 20 GB.\n")
    assert blocks and "ext4_inode_cache" in blocks.described
