"""``kleak-runbook replay A B C``: saved evidence of many hosts gives one fleet summary."""

from __future__ import annotations

import json
from pathlib import Path

from support.cli import run_kleak

SAMPLES = Path(__file__).parent.parent / "samples"
LAB = SAMPLES / "lab-debian-6.1"
CASES = Path(__file__).parent.parent / "cases"
TICKET = CASES / "gh-open-cas-892-kmalloc-2048-meminfo" / "input.txt"  # one snapshot: no rate
BAD = Path(__file__).parent.parent / "bad_inputs" / "pasted-binary.bin"


def _replay(tmp_path: Path, *inputs: Path, fmt: str = "text") -> tuple[int, str, str, Path]:
    out = tmp_path / "fleet"
    run = run_kleak("replay", *map(str, inputs), "--out", str(out), "--format", fmt, env=_env(), cwd=tmp_path)
    return run.returncode, run.stdout, run.stderr, out


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "KLEAK_DEBUG"}


def _fleet(out: Path) -> dict:
    return json.loads((out / "fleet.json").read_text(encoding="utf-8"))


def test_leaks_are_ranked_grouped_and_linked(tmp_path: Path) -> None:
    inputs = [LAB / "kmalloc-leak", LAB / "vmalloc-leak", LAB / "healthy", LAB / "dentry-growth", TICKET, BAD]
    code, stdout, stderr, out = _replay(tmp_path, *inputs)
    assert code == 1, stderr
    doc = _fleet(out)
    assert doc["hosts"] == 5 and doc["verdicts"]["leak"] == 2
    assert {x["host"]: x["verdict"] for x in doc["host_lines"]}["healthy"] == "no-leak"
    # ranked by rate: the vmalloc leak grows 1.03 MiB/s, kmalloc 0.96 MiB/s; a snapshot (the
    # ticket, whatever its verdict) has no rate and comes last
    assert [x["host"] for x in doc["leaking"]][:2] == ["vmalloc-leak", "kmalloc-leak"]
    assert doc["leaking"][0]["rate"] > doc["leaking"][1]["rate"] > 900_000
    assert all(x["rate"] is None for x in doc["leaking"][2:])
    groups = {g["label"]: g for g in doc["by_culprit"]}
    assert groups["kmalloc-4k"]["hosts"] == ["kmalloc-leak"]
    assert groups["leaky"]["hosts"] == ["vmalloc-leak"]  # the module, a group of its own
    release = groups["kmalloc-4k"]["release"]
    assert release["value"] == "6.1.0-50-amd64" and release["members"] == 1 and release["of_members"] == 1
    # the others with a known kernel: the three other lab hosts run it, the ticket names none
    assert (release["others"], release["of_others"]) == (3, 3)
    assert doc["unreadable_inputs"][0]["input"] == str(BAD)
    assert stderr.count("\n") == 1 and str(BAD) in stderr and "Traceback" not in stderr
    md = (out / "fleet.md").read_text(encoding="utf-8")
    assert "1 of 1 hosts leaking `kmalloc-4k` run 6.1.0-50-amd64; 3 of 3 others do" in md
    assert "kmalloc-4k" in stdout and "fleet.md" in stdout and "kmalloc-leak" in stdout
    for line in doc["host_lines"]:
        assert (out / line["report"]).is_file(), line
        assert f"]({line['report']})" in md
    svg = (out / "fleet.svg").read_text(encoding="utf-8")
    assert svg.startswith("<svg") and "6.1.0-50-amd64" in svg


def test_same_host_twice_gets_two_reports(tmp_path: Path) -> None:
    code, _, stderr, out = _replay(tmp_path, LAB / "healthy", LAB / "healthy")
    assert code == 0, stderr
    assert sorted(x["host"] for x in _fleet(out)["host_lines"]) == ["healthy", "healthy#2"]
    assert (out / "healthy" / "report.md").is_file() and (out / "healthy_2" / "report.md").is_file()


def test_exit_code_three_when_no_leak_but_an_input_has_no_verdict(tmp_path: Path) -> None:
    code, stdout, stderr, _out = _replay(tmp_path, LAB / "healthy", BAD)
    assert code == 3, stderr
    assert "not read" in stdout


def test_nothing_readable_is_a_usage_error(tmp_path: Path) -> None:
    code, _, stderr, _ = _replay(tmp_path, BAD, tmp_path)
    assert code == 2
    assert "none of the inputs could be read" in stderr and "Traceback" not in stderr


def test_json_is_the_list_of_documents(tmp_path: Path) -> None:
    code, stdout, _, out = _replay(tmp_path, LAB / "kmalloc-leak", LAB / "healthy", fmt="json")
    assert code == 1
    docs = json.loads(stdout)
    assert sorted(d["host"] for d in docs) == ["healthy", "kmalloc-leak"]
    assert (out / "fleet.md").is_file()
