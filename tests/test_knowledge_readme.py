"""runbooks/knowledge/README.md lists every bundled entry, and the list stays true."""

from __future__ import annotations

import re

from kleak_runbook.decide.knowledge import bundled_knowledge_dir, entry_table, load_knowledge

README = bundled_knowledge_dir() / "README.md"
BLOCK = re.compile(r"<!-- entries:begin -->\n(.*?)<!-- entries:end -->", re.S)


def test_readme_table_matches_the_entries() -> None:
    found = BLOCK.search(README.read_text(encoding="utf-8"))
    assert found, f"{README}: no <!-- entries:begin --> ... <!-- entries:end --> block"
    expected = entry_table(load_knowledge(bundled_knowledge_dir()))
    assert found.group(1) == expected, (
        f"{README} lists other entries than runbooks/knowledge/*.yaml; replace its table with:\n\n{expected}"
    )


def test_table_rows() -> None:
    entries = load_knowledge(bundled_knowledge_dir())
    rows = entry_table(entries).splitlines()
    assert len(rows) == 2 + len(entries)
    by_id = {row.split("|")[1].strip(" `"): row for row in rows[2:]}
    assert set(by_id) == {e.id for e in entries}
    assert by_id["rhel7-negative-dentry-oom"] == (
        "| `rhel7-negative-dentry-oom` | slab-reclaimable | el7 | el7 3.10.0-1127.el7; el8 4.18.0-553.62.1.el8_10 | no |"
    )
    assert by_id["vmallocused-reads-zero"] == "| `vmallocused-reads-zero` | any (trap) | any | any 5.3 | yes |"
    assert by_id["memcg-dying-cgroups-percpu"] == (
        "| `memcg-dying-cgroups-percpu` | percpu | any, el7, el8, el9, el10, ubuntu, suse | — | yes |"
    )
