"""The console script ends its process without the interpreter's teardown only when that loses nothing.

``cli.main()`` with no arguments (the console script) calls ``_exit_now``: exit callbacks run,
standard output and error are flushed, then ``os._exit``. With a thread still running, or a file
this process opened for writing still open, it returns and the interpreter exits as usual. Each
case runs in a child process: ``_exit_now`` ends or stops the process it runs in.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

JSON = ("--format", "json")
PRELUDE = "import atexit, os, sys, threading\nfrom kleak_runbook import cli\n"


def _child(body: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PRELUDE + body],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        check=False,
    )


def test_nothing_left_to_do_ends_at_once_with_the_code_and_every_byte(tmp_path: Path) -> None:
    done = _child(
        "atexit.register(lambda: print('atexit ran'))\n"
        "sys.stdout.write('x' * 100000)\n"  # still in the buffer: flushed, not lost
        "sys.stderr.write('to stderr')\n"
        "cli._exit_now(5)\n"
        "print('returned')\n",
        tmp_path,
    )
    assert done.returncode == 5
    assert done.stdout == "x" * 100000 + "atexit ran\n"
    assert done.stderr == "to stderr"


def test_a_file_opened_for_writing_and_left_open_keeps_the_usual_exit(tmp_path: Path) -> None:
    done = _child(
        "fh = open('left-open', 'w')\nfh.write('buffered')\ncli._exit_now(5)\nprint('returned')\nsys.exit(7)\n",
        tmp_path,
    )
    assert done.returncode == 7 and done.stdout == "returned\n"
    assert (tmp_path / "left-open").read_text() == "buffered"  # flushed by the usual teardown


def test_a_file_open_for_reading_does_not_stop_it(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("x")
    done = _child("fh = open('data')\ncli._exit_now(4)\nsys.exit(7)\n", tmp_path)
    assert done.returncode == 4


def test_a_running_thread_keeps_the_usual_exit(tmp_path: Path) -> None:
    done = _child(
        "import time\nev = threading.Event()\n"
        "t = threading.Thread(target=lambda: (ev.wait(), open('thread-wrote', 'w').write('yes')))\nt.start()\n"
        "cli._exit_now(5)\nprint('returned')\nev.set()\nsys.exit(7)\n",
        tmp_path,
    )
    assert done.returncode == 7 and done.stdout == "returned\n"
    assert (tmp_path / "thread-wrote").read_text() == "yes"


def test_a_failed_flush_keeps_the_usual_exit(tmp_path: Path) -> None:
    """A reader that left (`kleak-runbook ... | head`): the usual exit reports it, as before."""
    done = _child(
        "import io\n"
        "class Gone(io.StringIO):\n"
        "    def flush(self):\n"
        "        raise BrokenPipeError(32, 'Broken pipe')\n"
        "sys.stdout = Gone()\ncli._exit_now(5)\nsys.stdout = sys.__stdout__\nprint('returned')\nsys.exit(7)\n",
        tmp_path,
    )
    assert done.returncode == 7 and done.stdout == "returned\n"


def test_in_process_callers_get_the_code_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests and other callers pass argv: main returns, nothing ends their process."""
    from kleak_runbook import cli

    called: list[int] = []
    monkeypatch.setattr(cli, "_exit_now", called.append)
    assert cli.main(["list"]) == 0
    assert called == []


def test_the_console_script_replays_a_bundle_the_same_way(tmp_path: Path) -> None:
    bundle = Path(__file__).parent / "samples" / "this-machine"
    if not bundle.is_dir():
        pytest.skip("no sample bundle")
    docs = []
    for k, code in enumerate(
        (
            "from kleak_runbook.cli import main; sys.exit(main())",  # the console script: fast exit
            "from kleak_runbook.cli import main; sys.exit(main(sys.argv[1:]))",  # argv given: usual exit
        )
    ):
        out = tmp_path / f"out{k}"
        done = subprocess.run(
            [sys.executable, "-c", "import sys\n" + code, "replay", str(bundle), "--out", str(out), "-q", *JSON],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        doc = json.loads(done.stdout)
        assert done.returncode == doc["exit_code"]
        assert (out / "report.md").is_file() and (out / "result.json").is_file()
        doc.pop("report_dir")
        doc.pop("finished_at", None)
        doc.pop("started_at", None)
        docs.append(doc)
    assert docs[0] == docs[1]
