"""Where a fixed leak is: the patch's own subject (that of the mail carrying its sign-off, not the
report's before it), a mailed "[PATCH]" whose diff an archive cut, the hunk that adds the missing
free, a diff its reporter tried and confirmed ("With your patch, ... cannot be reproduced now"), the
function a maintainer says lacks the free, and the function a report's title puts the leak in. Inputs
are the real cases named (tests/cases: mailing-list threads); each verdict goes through the real CLI.
The short texts are synthetic edge cases, labelled as such."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from test_paste_judgement import replay

from kleak_runbook.parsers.pasted import split_pasted
from kleak_runbook.parsers.prose import ProseFacts, read_prose

CASES = Path(__file__).parent / "cases"


def _case(name: str) -> str:
    return (CASES / name / "input.txt").read_text(encoding="utf-8")


def _words(text: str) -> ProseFacts:
    """The words of a ticket as replay reads them (outputs taken out, mail encodings undone)."""
    return read_prose(split_pasted(text).words or "")


def _names(doc: dict) -> list[str]:
    return [c["name"] for c in doc["culprits"]]


def test_the_patch_subject_is_that_of_the_mail_that_carries_it(tmp_path: Path) -> None:
    """ml-linux-s390-20220328-smc-create-sock-leak-after-shutdown-kmemleak: syzbot's "memory leak in
    smc_create (2)", then Tony Lu's "[PATCH net] net/smc: Fix sock leak when release after smc_shutdown()".
    The report's subject names a frame of the trace; the patch's names the code it fixes."""
    text = _case("ml-linux-s390-20220328-smc-create-sock-leak-after-shutdown-kmemleak")
    facts = read_prose(text)
    assert facts.patch_fixes_leak and facts.patched_functions[0] == "smc_shutdown"
    assert "smc_create" not in facts.patched
    _, doc = replay(text, tmp_path)
    assert (doc["verdict"], doc["kind"], _names(doc)[0]) == ("leak", "slab-unreclaimable", "smc_shutdown")
    # ml-selinux-20190723-policydb-read-roles-init-leak: the reply to syzbot's "memory leak in policydb_read"
    # comes first; "[PATCH] selinux: fix memory leak in policydb_init()" changes rangetr_cmp's neighbourhood
    # (a hunk git labels with the function before it) and policydb_init: the subject's function first
    (tmp_path / "b").mkdir()
    _, doc = replay(_case("ml-selinux-20190723-policydb-read-roles-init-leak"), tmp_path / "b")
    assert (doc["verdict"], _names(doc)[0]) == ("leak", "policydb_init")


def test_a_mailed_patch_whose_diff_was_cut(tmp_path: Path) -> None:
    """ml-amdgfx-20240213-dm-sw-fini-dmub-srv-kmemleak: "[PATCH] drm/amd/display: Fix memory leak in
    dm_sw_fini()" with its kmemleak report and sign-off, the diff cut by the archive, and "Applied.
    Thanks!": the leak is fixed where the subject says, not in dm_dmub_sw_init that allocated it."""
    text = _case("ml-amdgfx-20240213-dm-sw-fini-dmub-srv-kmemleak")
    assert "diff --git" not in text
    facts = read_prose(text)
    assert facts.patch_fixes_leak and facts.patched_functions == ("dm_sw_fini",)
    _, doc = replay(text, tmp_path)
    assert (doc["verdict"], doc["kind"], _names(doc)[:2]) == (
        "leak",
        "slab-unreclaimable",
        ["dm_sw_fini", "dm_dmub_sw_init [amdgpu]"],
    )
    # a "[PATCHv3]" is a patch too (ml-linux-block-20250716-kyber-init-hctx-nr-hw-queues-kmemleak), and the
    # memory kvmalloc gave above kmalloc's frames is slab: only a trace into vmalloc itself is vmalloc's
    (tmp_path / "b").mkdir()
    text = _case("ml-linux-block-20250716-kyber-init-hctx-nr-hw-queues-kmemleak")
    assert read_prose(text).patch_fixes_leak
    _, doc = replay(text, tmp_path / "b")
    assert (doc["verdict"], doc["kind"]) == ("leak", "slab-unreclaimable")
    # synthetic: a mail that is no patch, with a sign-off quoted and no "[PATCH]" or diff, fixes nothing
    mail = "Subject: Re: memory leak in foo_bar()\n\nI see a memory leak.\n\nSigned-off-by: A B <a@b.org>\n"
    assert not read_prose(mail).patch_fixes_leak


def test_the_subject_names_a_function_the_hunks_do_not(tmp_path: Path) -> None:
    """ml-linux-mips-20220310-pgd-free-order1-pgd-page-leak-octeon: "MIPS: pgalloc: fix memory leak caused
    by pgd_free()", whose hunk git labels pud_populate (the function before the new pgd_free)."""
    text = _case("ml-linux-mips-20220310-pgd-free-order1-pgd-page-leak-octeon")
    assert read_prose(text).patched_functions[0] == "pgd_free"
    _, doc = replay(text, tmp_path)
    assert (doc["verdict"], _names(doc)[0]) == ("leak", "pgd_free")


def test_pages_a_patch_says_are_never_freed(tmp_path: Path) -> None:
    """ml-linux-block-20230605-null-blk-memory-backed-pages-not-freed: "Memory/pages are not freed, when
    unloading nullblk driver", free -h before and after, the patch adding null_free_device_storage() to
    null_destroy_dev(), and "Applied, thanks!": a leak of the page allocator's pages, fixed there."""
    text = _case("ml-linux-block-20230605-null-blk-memory-backed-pages-not-freed")
    facts = read_prose(text)
    assert facts.patch_fixes_leak and facts.kinds == ("page-allocator",)
    _, doc = replay(text, tmp_path)
    assert (doc["verdict"], doc["kind"], _names(doc)) == ("leak", "page-allocator", ["null_destroy_dev"])
    # synthetic: the page cache's pages and huge pages are no kernel allocation
    assert "page-allocator" not in read_prose("The page cache pages are not freed.").kinds
    assert "page-allocator" not in read_prose("After the test the huge pages were not freed.").kinds


def test_a_diff_its_reporter_tried_and_confirmed(tmp_path: Path) -> None:
    """ml-linux-block-20240407-nvmet-tcp-sgl-misattributed-loop-kmemleak: Sagi Grimberg's "Can you try with
    the patch below" (no sign-off; its hunk headers wrapped by the mail: "static void" on one line,
    "nvmet_tcp_free_cmd_data_in_buffers(" on the next), then Yi Zhang's "With your patch, the below kmemleak
    issue cannot be reproduced now". The hunk that adds the missing free comes before the one that only
    adds a comment."""
    text = _case("ml-linux-block-20240407-nvmet-tcp-sgl-misattributed-loop-kmemleak")
    facts = _words(text)  # (its quoted-printable "no=\nw" read as "now")
    assert not facts.patch_fixes_leak and facts.leak_fixed
    _, doc = replay(text, tmp_path)
    assert (doc["verdict"], doc["kind"], _names(doc)[0]) == (
        "leak",
        "slab-unreclaimable",
        "nvmet_tcp_free_cmd_data_in_buffers",
    )
    # the same thread without the reporter's answer: a diff offered and not tried names nothing
    (tmp_path / "b").mkdir()
    untried = text.replace("With your patch, the below kmemleak issue cannot be reproduced now.", "")
    facts = _words(untried)
    assert facts.fix_confirmed is None and facts.patched_functions == ()
    _, doc = replay(untried, tmp_path / "b")
    assert doc["verdict"] == "suspected-leak"


@pytest.mark.parametrize(
    ("sentence", "confirmed"),
    [  # synthetic sentences, each beside "memory leak" so the text speaks of a leak
        ("With your patch, the below kmemleak issue cannot be reproduced now.", True),
        ("Thanks for the debug and fix, confirmed the issue was fixed with this change.", True),
        ("The kmemleak issue cannot be reproduced now.", False),  # no fix named
        ("With your patch I still cannot boot.", False),
        # bugzilla 215197, comment 10
        ("With the patch applied I have not seen the memleak since, even when taking actions provoking it.", True),
        ("The leak is not gone with the patch.", False),
        ("With your patch I still see the leak.", False),
    ],
)
def test_what_a_tried_fix_is(sentence: str, confirmed: bool) -> None:
    facts = read_prose(f"There is a memory leak in foo_bar. {sentence}")
    assert (facts.fix_confirmed is not None) is confirmed, facts.fix_confirmed


def test_the_function_a_thread_says_lacks_the_free(tmp_path: Path) -> None:
    """ml-selinux-20200813-netlbl-mgmt-addrsel-kmemleak: kmemleak's trace through netlbl_mgmt_add_common,
    Paul Moore's "netlbl_domhsh_free_entry() needs to free netlbl_dom_map->netlbl_dommap_def->addrsel", his
    patch (diff cut) and "Applied and queued up for -stable"."""
    text = _case("ml-selinux-20200813-netlbl-mgmt-addrsel-kmemleak")
    assert read_prose(text).free_missing[0] == "netlbl_domhsh_free_entry"
    _, doc = replay(text, tmp_path)
    assert (doc["verdict"], _names(doc)[:2]) == ("leak", ["netlbl_domhsh_free_entry", "netlbl_mgmt_add_common"])
    # synthetic phrasings
    assert read_prose("The missing kfree() in foo_exit() leaks it.").free_missing == ("foo_exit",)
    assert read_prose("foo_remove() forgets to put the device.").free_missing == ("foo_remove",)
    assert read_prose("foo() needs to be called first.").free_missing == ()


def test_the_function_a_reports_title_puts_the_leak_in(tmp_path: Path) -> None:
    """ml-bpf-20251116-map-create-exclusive-map-leak: syzbot's "[syzbot] [bpf?] memory leak in map_create"
    shows every piece of a hash map (bucket arrays, per-CPU counters, bpf_mem_alloc's caches) allocated
    under map_create; the fix ("bpf: Plug a potential exclusive map memory leak", diff cut) names no
    function, and was applied. The frame the title names, common to all the traces, comes first."""
    text = _case("ml-bpf-20251116-map-create-exclusive-map-leak")
    assert "map_create" in read_prose(text).leak_in
    _, doc = replay(text, tmp_path)
    assert (doc["verdict"], doc["kind"], _names(doc)[0]) == ("leak", "slab-unreclaimable", "map_create")
    # synthetic: "a leak in the kernel" names no function
    assert read_prose("There is a memory leak in the kernel.").leak_in == ()


def _replay_file(path: Path, out: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "kleak_runbook.cli", "replay", str(path), "--out", str(out), "-q", "--format=json"]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_text_in_an_8_bit_encoding_or_with_replacement_characters_is_read(tmp_path: Path) -> None:
    """ml-selinux-20221216-inet-create-selinux-sk-kmemleak holds the replacement characters a mail client
    left where it flattened the trace (168 of them in 10,007 characters): text, not a binary file. So is
    a mail body in iso-8859-1 (synthetic: a meminfo paste with a latin-1 signature)."""
    path = CASES / "ml-selinux-20221216-inet-create-selinux-sk-kmemleak" / "input.txt"
    assert path.read_text(encoding="utf-8").count("\ufffd") > 100
    proc = _replay_file(path, tmp_path / "r")
    assert proc.returncode in (0, 1, 3), proc.stderr
    assert json.loads(proc.stdout)["verdict"]
    latin = tmp_path / "latin.txt"
    signature = "Gr\u00fc\u00dfe, Jos\u00e9 \u00a0\u00e0 bient\u00f4t. " * 20
    meminfo = "MemTotal: 16000000 kB\nMemFree: 8000000 kB\nSlab: 100000 kB\nSUnreclaim: 50000 kB\n"
    latin.write_bytes(f"{signature}\n{meminfo}".encode("latin-1"))
    proc = _replay_file(latin, tmp_path / "l")
    assert proc.returncode in (0, 1, 3), proc.stderr
    # bytes with control characters all through them stay a binary file (synthetic)
    junk = tmp_path / "junk.txt"
    junk.write_bytes(b"MemTotal: 1 kB\n" + bytes(range(1, 32)) * 50 + b"\xff\xfe" * 100)
    proc = _replay_file(junk, tmp_path / "j")
    assert proc.returncode == 2 and "a binary file, not text" in proc.stderr


def test_a_maintainers_finding_of_the_missing_free(tmp_path: Path) -> None:
    """ml-linux-btrfs-20240116-syzbot-leak-in-corrupted-batadv-tvlv: syzbot's "[btrfs?] memory leak in
    corrupted", and batman-adv's maintainer: "I can't find the batadv_tvlv_handler_unregister for
    BATADV_TVLV_MCAST_TRACKER in batadv_mcast_free()": the diagnosis confirms the leak and names where."""
    text = _case("ml-linux-btrfs-20240116-syzbot-leak-in-corrupted-batadv-tvlv")
    facts = _words(text)
    assert facts.free_missing == ("batadv_mcast_free",) and facts.leak_fixed
    _, doc = replay(text, tmp_path)
    assert (doc["verdict"], _names(doc)[:2]) == ("leak", ["batadv_mcast_free", "batadv_tvlv_handler_register"])
    assert "finds the free missing in batadv_mcast_free()" in doc["summary"]
    # ml-linux-btrfs-20260126-raid56-stripe-uptodate-bitmap-kmemleak: "We allocate the bitmap but we never free
    # it in free_raid_bio_pointers()", and the hunk git labels with a prototype before it
    # ("static void scrub_rbio_work_locked(struct work_struct *work);"), which names no function of the fix
    (tmp_path / "b").mkdir()
    text = _case("ml-linux-btrfs-20260126-raid56-stripe-uptodate-bitmap-kmemleak")
    facts = _words(text)
    assert "scrub_rbio_work_locked" not in facts.patched_functions
    _, doc = replay(text, tmp_path / "b")
    assert (doc["verdict"], _names(doc)[0]) == ("leak", "free_raid_bio_pointers")
    # synthetic: a guess or a question finds nothing
    assert read_prose("Maybe foo_exit() needs to free the buffer.").free_missing == ()
    assert read_prose("Does foo_exit() fail to free the buffer?").free_missing == ()


@pytest.mark.parametrize(
    "sentence",
    [  # real sentences: linux-nfs 2019-06 (prepare_creds), linux-btrfs 2019-07 (extent_state)
        "Confirmed that this patch (now in v5.2-rc6) addresses the prepare_creds leak.",
        "the lock and flush ordered range  leaks were fixed just today  by patch : btrfs: fix extent_state leak",
        "There are memory leaks of struct extent_state introduced in 5.3 pull and there's a fix going to 5.3-rc2.",
    ],
)
def test_more_ways_a_thread_confirms_a_fix(sentence: str) -> None:
    assert read_prose(f"kmemleak reports a memory leak. {sentence}").fix_confirmed


def test_a_bugzilla_diff_its_reporter_tested(tmp_path: Path) -> None:
    """ml-linux-bluetooth-20211202-bug215197-rtl8xxxu-c2hcmd-skb-kmemleak: kmemleak's rx skbs from
    rtl8xxxu_submit_rx_urb; comment 8's "100% untested patch" moves dev_kfree_skb(skb) into the loop of
    rtl8xxxu_c2hcmd_callback; comment 10: "With the patch applied I have not seen the memleak since"."""
    _, doc = replay(_case("ml-linux-bluetooth-20211202-bug215197-rtl8xxxu-c2hcmd-skb-kmemleak"), tmp_path)
    assert (doc["verdict"], doc["kind"], _names(doc)[:2]) == (
        "leak",
        "slab-unreclaimable",
        ["rtl8xxxu_c2hcmd_callback", "rtl8xxxu_submit_rx_urb [rtl8xxxu]"],
    )


def test_syzbot_tested_the_fix_for_a_missing_kfree(tmp_path: Path) -> None:
    """ml-linux-security-module-20220320-syzbot-keyctl-watch-key-kmemleak: David Howells, "free_watch() is
    missing a kfree() to actually free the watch", then "syzbot has tested the proposed patch and the
    reproducer did not trigger any issue"."""
    text = _case("ml-linux-security-module-20220320-syzbot-keyctl-watch-key-kmemleak")
    facts = _words(text)
    assert facts.free_missing == ("free_watch",) and facts.fix_confirmed
    _, doc = replay(text, tmp_path)
    assert (doc["verdict"], _names(doc)[:2]) == ("leak", ["free_watch", "keyctl_watch_key"])


def test_a_frames_source_wrapped_onto_its_own_line(tmp_path: Path) -> None:
    """ml-linux-security-module-20240220-smack-fsconfig-transmute-kmemleak: syzkaller's frames wrapped by the
    mail ("[<...>] kmemleak_alloc_recursive" then "include/linux/kmemleak.h:42 [inline]" at the line's
    start): the trace goes on past them, to the code that allocated (not kmemleak's own hook)."""
    text = _case("ml-linux-security-module-20240220-smack-fsconfig-transmute-kmemleak")
    assert "\ninclude/linux/kmemleak.h:42 [inline]" in text
    _, doc = replay(text, tmp_path)
    assert doc["verdict"] == "suspected-leak" and _names(doc)[0] == "__do_sys_fsconfig"
    # ml-selinux-20190723-policydb-read-roles-init-leak: "/./include/linux/kmemleak.h:43 [inline]", quoted
    (tmp_path / "b").mkdir()
    _, doc = replay(_case("ml-selinux-20190723-policydb-read-roles-init-leak"), tmp_path / "b")
    assert _names(doc)[:2] == ["policydb_init", "roles_init"]


def test_a_false_positive_only_guessed_withdraws_nothing(tmp_path: Path) -> None:
    """ml-linux-security-module-20251225-prepare-creds-netlink-socket-kmemleak: "This is likely a false
    positive caused by RCU delayed freeing of struct cred ... If it persists across multiple scans, then it
    might be a real leak", and the maintainer asks for confirmation: the report stands, suspected."""
    text = _case("ml-linux-security-module-20251225-prepare-creds-netlink-socket-kmemleak")
    assert not _words(text).false_positive
    _, doc = replay(text, tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("suspected-leak", "slab-unreclaimable")
    # synthetic: said as a conclusion, it withdraws the report
    assert read_prose("After more scans: this is a false positive, the object is freed by RCU.").false_positive


def test_a_test_suites_patch_is_no_kernel_fix(tmp_path: Path) -> None:
    """ml-ltp-20240701-perf-event-open03-memavailable-false-positive: LTP's "perf_event_open03.c:95: TFAIL:
    Likely kernel memory leak detected", "Our automatic jobs keep throwing thus false positives", and
    "[LTP] [PATCH] perf_event_open: improve the memory leak detection": the test is fixed, not the kernel."""
    text = _case("ml-ltp-20240701-perf-event-open03-memavailable-false-positive")
    facts = _words(text)
    assert not facts.patch_fixes_leak and facts.false_positive
    _, doc = replay(text, tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("no-leak", "none")
    # synthetic: a kernel patch whose diff goes only to the selftests is no kernel fix either
    selftest = (
        "Subject: [PATCH] bpf: fix a memory leak\n\nSigned-off-by: A B <a@b.org>\n---\n"
        "diff --git a/tools/testing/selftests/bpf/x.c b/tools/testing/selftests/bpf/x.c\n"
        "+++ b/tools/testing/selftests/bpf/x.c\n@@ -1,3 +1,4 @@ static int t(void)\n+\tfree(p);\n"
    )
    assert not read_prose(selftest).patch_fixes_leak


def test_tested_fixes_for_traces_the_mail_left_empty(tmp_path: Path) -> None:
    """ml-linux-pci-20230830-coalesced-host-bridge-window-resource-kmemleak: five kmemleak objects whose
    "backtrace:" is empty, Bjorn's "Can you please try the following" diff to pci_register_host_bridge(), and
    Kalle Valo's "I run various tests with your patch and I don't see leaks anymore"."""
    text = _case("ml-linux-pci-20230830-coalesced-host-bridge-window-resource-kmemleak")
    assert _words(text).fix_confirmed
    _, doc = replay(text, tmp_path)
    assert (doc["verdict"], _names(doc)[0]) == ("leak", "pci_register_host_bridge")
    # ml-linux-input-20230508-hiddev-class-create-subsys-ref-kmemleak: "This had fixed the leak."
    (tmp_path / "b").mkdir()
    _, doc = replay(_case("ml-linux-input-20230508-hiddev-class-create-subsys-ref-kmemleak"), tmp_path / "b")
    assert doc["verdict"] == "leak"


def test_where_a_maintainer_says_the_leak_happens(tmp_path: Path) -> None:
    """ml-linux-acpi-20240327-thermald-osc-acpi-ps-get-next-arg-kmemleak: Armin Wolf, "the memory leak happens
    in acpi_ps_get_next_arg()", then the reporter: "This seems fixes the leak indeed ... Feel free to resubmit
    with Tested-by: <me>"."""
    text = _case("ml-linux-acpi-20240327-thermald-osc-acpi-ps-get-next-arg-kmemleak")
    facts = _words(text)
    assert "acpi_ps_get_next_arg" in facts.leak_in and facts.fix_confirmed
    _, doc = replay(text, tmp_path)
    assert (doc["verdict"], _names(doc)[:2]) == ("leak", ["acpi_ps_get_next_arg", "acpi_ps_alloc_op"])
