"""ansible-runner's pty close without the fixed 0.1 s sleep, and with ptyprocess's semantics kept
(real child processes through ptyprocess, as ansible-runner spawns ansible-playbook)."""

from __future__ import annotations

import ptyprocess

from kleak_runbook.evidence.ansible import AnsibleCollector


def _read_to_eof(p: ptyprocess.PtyProcess) -> None:
    try:
        while p.read(4096):
            pass
    except EOFError:
        pass


def test_exited_child_is_reaped_and_the_patch_is_undone() -> None:
    original = ptyprocess.PtyProcess.close
    with AnsibleCollector._prompt_close():
        assert ptyprocess.PtyProcess.close is not original
        p = ptyprocess.PtyProcess.spawn(["sh", "-c", "echo done; exit 3"])
        _read_to_eof(p)
        p.close()
        assert p.closed and not p.isalive() and p.exitstatus == 3
        assert p.delayafterclose == 0.0  # it had exited: nothing left to wait for
    assert ptyprocess.PtyProcess.close is original


def test_child_that_outlives_its_pty_is_waited_for_as_before() -> None:
    # closes its terminal and keeps running a while: after EOF, ptyprocess waits for the child's
    # own exit (a blocking waitpid), and so does the patched close; nothing is killed early
    with AnsibleCollector._prompt_close():
        p = ptyprocess.PtyProcess.spawn(["sh", "-c", "exec >/dev/null 2>&1 </dev/null; sleep 1; exit 4"])
        _read_to_eof(p)
        p.close(force=True)
        assert p.closed and not p.isalive() and p.exitstatus == 4
