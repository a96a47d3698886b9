"""Which Ansible program a collection uses: one batch is an ad-hoc ``raw`` call, several are the
looped playbook; the script and the variables reach it the same way either way."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from kleak_runbook.evidence import runner
from kleak_runbook.evidence.ansible import Target
from kleak_runbook.evidence.collector import Request
from kleak_runbook.evidence.wire import ScriptBuilder


class FakeRunner:
    """Stands in for the ansible_runner module: records what it was asked to run."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def run(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        return SimpleNamespace(status="successful", rc=0)


def _play(tmp_path: Path, batches: int, monkeypatch: pytest.MonkeyPatch, script_bytes: int = 0) -> dict[str, Any]:
    fake = FakeRunner()
    monkeypatch.setitem(__import__("sys").modules, "ansible_runner", fake)
    builders = {}
    for i in range(batches):
        b = ScriptBuilder.new(f"measure sample {i + 1}/{batches}")
        b.file("sample/proc/meminfo", "/proc/meminfo")
        if script_bytes:
            b.command("static/commands/big", "echo " + "x" * script_bytes)
        builders[b.marker] = b
    private = tmp_path / f"private-{batches}-{script_bytes}"
    target = Target(host="localhost", extra_vars={"ansible_become_password": "s3cret"})
    runner.run_play(target, tmp_path, [], private, builders, None, lambda _e: False, Request(step="measure"))
    (call,) = fake.calls
    call["extravars"] = json.loads((private / "env" / "extravars").read_text())
    call["scripts"] = [b.as_raw_command() for b in builders.values()]
    return call


def test_one_batch_is_an_adhoc_raw_call(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    call = _play(tmp_path, 1, monkeypatch)
    assert (call["module"], call["host_pattern"]) == ("raw", "all") and "playbook" not in call
    assert call["module_args"] == call["scripts"][0]
    assert "--task-timeout=30" in call["cmdline"]
    assert call["extravars"] == {"ansible_become_password": "s3cret"}  # secrets: the 0600 file, not argv
    assert "s3cret" not in json.dumps({k: v for k, v in call.items() if k != "extravars"}, default=str)


def test_several_batches_loop_in_the_playbook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    call = _play(tmp_path, 3, monkeypatch)
    assert call["playbook"].endswith("collect.yml") and "module" not in call
    assert [b["command"] for b in call["extravars"]["kleak_batches"]] == call["scripts"]
    assert "--task-timeout" not in call["cmdline"]


def test_a_script_too_long_for_an_argument_goes_through_the_playbook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    call = _play(tmp_path, 1, monkeypatch, script_bytes=runner.MAX_ADHOC_SCRIPT)
    assert "playbook" in call and len(call["extravars"]["kleak_batches"][0]["command"]) > runner.MAX_ADHOC_SCRIPT


def test_the_run_is_cancelled_once_every_reply_is_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    answered: list[bool] = []
    polls: list[bool] = []

    class Polling(FakeRunner):
        def run(self, **kwargs: Any) -> Any:
            polls.append(kwargs["cancel_callback"]())  # still waiting: Ansible runs on
            answered.append(True)
            polls.append(kwargs["cancel_callback"]())  # every reply in: stop it now
            return SimpleNamespace(status="canceled", rc=254)

    monkeypatch.setitem(__import__("sys").modules, "ansible_runner", Polling())
    b = ScriptBuilder.new("measure sample 1/1")
    b.file("sample/proc/meminfo", "/proc/meminfo")
    runner.run_play(Target(host="localhost"), tmp_path, [], tmp_path / "p", {b.marker: b}, None,
                    lambda _e: False, Request(step="measure"), finished=lambda: bool(answered))  # fmt: skip
    assert polls == [False, True]


def test_work_while_waiting_runs_once_in_this_thread_and_never_fails_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    ran: list[str] = []

    def broken() -> None:
        raise RuntimeError("a warm-up that fails is done again where it is needed")

    idle: list[Any] = [lambda: ran.append(threading.current_thread().name), broken]
    polls: list[bool] = []

    class Polling(FakeRunner):
        def run(self, **kwargs: Any) -> Any:
            polls.extend(kwargs["cancel_callback"]() for _ in range(3))
            return SimpleNamespace(status="successful", rc=0)

    monkeypatch.setitem(__import__("sys").modules, "ansible_runner", Polling())
    b = ScriptBuilder.new("measure sample 1/1")
    runner.run_play(Target(host="localhost"), tmp_path, [], tmp_path / "p", {b.marker: b}, None,
                    lambda _e: False, Request(step="measure"), idle=idle)  # fmt: skip
    assert ran == [threading.main_thread().name] and idle == [] and polls == [False, False, False]
