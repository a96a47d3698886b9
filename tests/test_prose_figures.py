"""Figures and caches a ticket states in words (parsers.prose): the forms reporters write them in.

Sentences are modelled on the development set's tickets (tests/cases), shortened; each assertion
fails without the rule it names."""

from __future__ import annotations

from kleak_runbook.parsers.prose import read_prose

GiB = 1024**3
MiB = 1024**2


def test_thousands_separator_is_not_a_decimal_comma() -> None:
    facts = read_prose("│   └── SUnreclaim:     2,143 MB (cannot be freed!)\n")
    assert facts.fields["SUnreclaim"] == 2143 * MiB
    assert read_prose("Slab is 1,5 GB\n").fields["Slab"] == round(1.5 * GiB)


def test_machine_size_named_first_and_other_nouns() -> None:
    assert read_prose("Total RAM: 4,096 MB\n").fields["MemTotal"] == 4096 * MiB
    assert read_prose("the kernel was eating 2.1 GB on a 4 GB node\n").fields["MemTotal"] == 4 * GiB


def test_a_cache_stated_at_a_gib_or_more_is_what_the_ticket_is_about() -> None:
    assert read_prose("cat /proc/slabinfo lists kmalloc-512 as 30GB on a 32 GB machine.\n").caches == ("kmalloc-512",)
    assert read_prose("ext4_inode_cache was using ~170 MB.\n").caches == ()  # small and not said to grow


def test_consuming_and_dominating_are_what_a_leaking_cache_does() -> None:
    assert read_prose("kmalloc-32 consumes more than 6GB, other caches less than 2GB.\n").caches == ("kmalloc-32",)
    text = "The OOMs are dominated by unreclaimable kernel networking slab caches:\n\n- `skbuff_small_head`\n"
    facts = read_prose(text)
    assert facts.caches == ("skbuff_small_head",) and facts.kinds == ("slab-unreclaimable",)


def test_a_big_figure_alone_names_no_kind() -> None:
    assert read_prose("Slab is 1,5 GB on this box.\n").kinds == ()


def test_a_leak_of_huge_pages_or_tmpfs_is_programs_memory() -> None:
    facts = read_prose("HugePages_Free is 1022, which indicates that 2 pages are leaked by helloworld.\n")
    assert facts.user and facts.user_leak and not facts.kernel_leak
    assert not read_prose("I disabled huge pages. The box still leaks memory.\n").user_leak  # not the same sentence


def test_a_claim_that_the_kernel_leaks() -> None:
    facts = read_prose("After 4.18 the kernel has a huge memory leak. Here is the output of kmemleak.\n")
    assert facts.kernel_leak and facts.kmemleak
    facts = read_prose("Each blkid run would leak ~30MB inside the kernel.\n")
    assert facts.kernel_leak and not facts.kmemleak
    assert not read_prose("My Java app leaks memory; RSS grows all day.\n").kernel_leak


def test_a_question_claims_nothing() -> None:
    assert not read_prose("The server runs out of memory: is it a kernel memory leak?\n").kernel_leak


def test_a_module_of_some_language_is_not_the_kernel() -> None:
    assert not read_prose("The requests module leaks memory in our Python service.\n").kernel_leak


def test_a_cache_not_given_back_when_reclaim_was_tried() -> None:
    # tests/cases/gh-rpi-2829-ext4-inode-cache-not-reclaimed, shortened
    text = (
        "even when the kernel was agressively swapping, the ext4_inode_cache would not go down."
        ' "echo 3 > /proc/sys/vm/drop_caches" did not help.\n'
    )
    facts = read_prose(text)
    assert facts.kept and facts.caches == ("ext4_inode_cache",)
    assert not read_prose("the dentry cache is not freed.\n").kept  # nothing was tried that should free it
    assert not read_prose("drop_caches did not help with my app.\n").kept  # names no slab


def test_filler_words_between_a_field_and_its_figure_and_table_cells() -> None:
    assert read_prose("Slab memory usage of around 90 GB\n").fields["Slab"] == 90 * GiB
    facts = read_prose("| MemTotal | 128.00 GiB | 128.00 GiB |\n| MemAvailable | **39.77 GiB** | 14.20 GiB |\n")
    assert facts.fields["MemTotal"] == 128 * GiB and facts.fields["MemAvailable"] == round(39.77 * GiB)
    assert facts.counters and not facts.kernel_figures


def test_most_of_it_names_what_holds_slab() -> None:
    assert read_prose("According to slabtop most of it is used for dentry entries:\n").caches == ("dentry",)
    assert read_prose("Kernel memory is occupied with inode_cache and dentry.\n").caches == ("inode_cache", "dentry")


def test_kmalloc_named_as_the_cause_is_slab() -> None:
    assert read_prose("I found out that the leak is caused by kmalloc.\n").kinds == ("slab-unreclaimable",)


def test_one_program_holding_gibs_and_its_denial() -> None:
    assert read_prose("Memory cgroup out of memory: Killed process libvirtd (anon-rss: ~28GiB)\n").process
    assert read_prose("Systemd init process  is taking 6GB of RAM, causing the kernel to kill\n").process
    assert read_prose("No process is using more than 1 GB.\n").process is None
    assert read_prose("the daemon is using 300 MB.\n").process is None  # not what fills a host


def test_page_cache_growth_in_words() -> None:
    assert read_prose("Munin's memory graph shows increase of cache and buffers after backup.\n").cache
    assert not read_prose("The page cache is small.\n").cache


def test_a_hedged_or_asked_leak_is_no_claim_and_kmemleak_that_found_nothing() -> None:
    assert not read_prose("There may be some driver caused memory leak in the kernel.\n").kernel_leak
    assert read_prose("The kernel driver leaks memory.\n").kernel_leak
    facts = read_prose("Huge memory leak in the Linux kernel. Interestingly, kmemleak isn't showing anything.\n")
    assert facts.kernel_leak and not facts.kmemleak
    assert read_prose("kmemleak reports 200 unreferenced objects from the driver.\n").kmemleak


def test_steady_growth_in_words_and_dotted_thousands() -> None:
    # tests/cases/gh-openwrt-23610-sunreclaim-ipq40xx, shortened
    facts = read_prose("SUnreclaim grows from ~14.500 kB after boot, continuing linearly until OOM reboot.\n")
    assert facts.fields["SUnreclaim"] == 14500 * 1024 and facts.steady and facts.kinds == ("slab-unreclaimable",)
    assert not read_prose("SUnreclaim grew after the test.\n").steady
    assert read_prose("Slab is 2.500 GB\n").fields["Slab"] == round(2.5 * GiB)  # a decimal point, in GB


def test_the_reporter_found_no_program_holding_it() -> None:
    assert read_prose("We checked the meminfo, top and slabtop, could not found where the memory is.\n").no_owner
    assert read_prose("I'm missing about 10GB of memory.\n").no_owner
    assert not read_prose("The memory is used by mysqld.\n").no_owner


def test_an_output_taken_after_the_load_stopped() -> None:
    # tests/cases/gh-boundarydevices-57-android-sunreclaim-growth, shortened
    assert read_prose("After killing the application:\nSlab: 80956 kB\n").stopped
    assert read_prose("once the containers were stopped the memory stayed\n").stopped
    assert not read_prose("After running the application for 10-15 minutes:\n").stopped


def test_a_program_by_its_name_and_a_ps_row() -> None:
    assert read_prose("tailscaled grows to 7GB+ RAM and 70% CPU over few minutes\n").process
    assert read_prose("Tailscale using 8GB of memory\n").process
    assert read_prose("Slab using 8GB of memory\n").process is None  # a kind of kernel memory, not a program
    assert read_prose("the kernel is using 8GB of RAM\n").process is None
    # tests/cases/gh-open-vm-tools-452-vmtoolsd-ps, one row of ps faux
    row = "root      5494  0.0 12.8 1137192 1050264 ?     Sl   May06 107:16 /usr/local/bin/vmtoolsd\n"
    assert read_prose(row).process == "vmtoolsd at 1.0 GiB RSS (ps)"
    small = "root      1865  0.0  1.0  85300  5360 ?        Sl   14:29   0:00 /usr/local/bin/vmtoolsd\n"
    assert read_prose(small).process is None


def test_the_arc_in_words() -> None:
    assert read_prose("I have 16GB total memory, about 8GB are currently in use by ARC:\n").arc == 8 * GiB
    assert read_prose("Is the ARC using 8GB?\n").arc is None


def test_a_top_row() -> None:
    # tests/cases/gh-vgough-encfs-185-free-top, two rows of top (RES with a unit, and in KiB)
    rows = (
        " 2843 zma       20   0 9906720 6.007g    544 S   7.0 78.3  15:02.10 encfs\n"
        " 9957 zma       20   0 1844552 446772  66308 S   7.0  5.6   3:03.25 firefox\n"
    )
    assert read_prose(rows).process == "encfs at 6.0 GiB RSS (top)"
    assert read_prose(rows.splitlines()[1] + "\n").process is None


def test_top_shows_nothing_is_no_owner() -> None:
    # tests/cases/gh-haos-3958-free-used-balloon, shortened
    assert read_prose("Glances doesn't show anything abnormal, htop doesn't show memory usage.\n").no_owner
    assert not read_prose("htop shows firefox using most of it.\n").no_owner


def test_health_check_wording_memory_of_a_program_bpf_jit_and_memory_given_back() -> None:
    # tests/cases/gh-nhc-72-sunreclaim-check, gh-systemd-35394-pid1-ps-growth, gh-ecs-ami-124-seccomp-errno524-prose,
    # gh-netdata-10949-ebpf-kernel-mem-prose, each one line
    nhc = "check_hw_slab_unreclaimable:  Slab unreclaimable is too large (13424716 kB > 5242880 kB).\n"
    assert read_prose(nhc).fields["SUnreclaim"] == 13424716 * 1024
    assert read_prose("memory usage of init process grows ad infinitum (seen up to 27 GB)\n").process
    assert read_prose("memory usage of the kernel grows to 27 GB\n").process is None
    seccomp = "error loading seccomp filter into kernel: error loading seccomp filter: errno 524: unknown\n"
    assert read_prose(seccomp).kinds == ("vmalloc",)
    assert read_prose("Used RAM drops from 1040 to 923 right after i kill ebpf.plugin process (117 MB).\n").released
    assert not read_prose("Used RAM drops from 1040 to 923 overnight.\n").released


def test_a_leak_the_reporter_says_slab_does_not_show() -> None:
    # tests/cases/gh-mt76-458-mt7610e-kmemleak, shortened
    text = (
        "I'm seeing a pretty serious memory leak whenever I enable the 5G radio.\n\n"
        "There is nothing conclusive in /proc/meminfo, no slab usage that points to the memory and kmemleak"
        " doesn't identify enough leaks to account for the missing memory.\n"
    )
    facts = read_prose(text)
    assert facts.outside_slab and "slab-unreclaimable" not in facts.kinds
    assert not read_prose("The slab looks normal to me.\n").outside_slab  # no leak claimed


def test_less_free_memory_after_a_restart_is_not_memory_given_back() -> None:
    assert not read_prose("Free memory drops to 200MB after restarting the service.\n").released
    assert read_prose("Linux using 6GB of RAM\n").process is None  # the system, not a program


def test_32_bit_oom_balloon_and_a_cache_allocating_all_memory() -> None:
    # tests/cases/gh-rpi-5395-armv7-early-oom-prose, blog-megocollector-vmw-balloon, gh-o11s-open80211s-55-skbuff-oom
    assert read_prose("On armv7 builds the OOM killer triggers at 10-50% of memory.\n").lowmem
    assert not read_prose("On armv7 the kernel leaks memory until the OOM killer runs.\n").lowmem  # a leak claimed
    assert read_prose("[root@server1~]# vmware-toolbox-cmd stat balloon\n17960 MB\n").balloon == 17960 * MiB
    assert read_prose("found that **skbuff_head_cache** allocating all system memory.\n").caches == (
        "skbuff_head_cache",
    )


def test_process_rss_series_page_cache_in_a_cgroup_kernel_held_and_bpf_executable_memory() -> None:
    # tests/cases/gh-go-fuse-110-loopback-rss, gh-kumomta-549-cgroup-inactive-file,
    # gh-livelockscreen-24-nvidia-kms-oom, gh-cilium-47730-bpf-prog-leak, shortened
    series = "".join(f"Di 12. Jul 08:3{i}:05 CEST 2016 VmRSS: {97608 + 2500 * i} kB\n" for i in range(6))
    assert read_prose(series).process == "a process's VmRSS grows from 95 MiB to 107 MiB"
    two = "/proc/1/status:VmRSS:   38096 kB\n/proc/11/status:VmRSS:   74748 kB\n/proc/12/status:VmRSS: 9 kB\n"
    assert read_prose(two).process is None  # three processes, not one growing
    assert read_prose("on a real pod memory.current was ~51GB while inactive_file was ~46GB.\n").cache
    assert read_prose("Every process held 213 MB. ~30 GB was held by kernel-side allocations.\n").kernel_leak
    assert read_prose("# Host datapath BPF programs leak, exhausting kernel executable memory\n").kinds == ("vmalloc",)


def test_the_commit_a_regression_was_bisected_to_names_its_kind() -> None:
    # tests/cases/gh-tempesta-411-page-allocator, one sentence
    text = "It appears the the problem is in the commit 6b6e899 named `Page allocator for socket buffers`.\n"
    assert read_prose(text).kinds == ("page-allocator",)


def test_the_module_whose_unloading_gives_memory_back() -> None:
    # tests/cases/gh-openwrt-24416-ath11k-prose, shortened
    text = (
        "ath11k slowly leaks RX SKB/DMA memory. Free memory drifts down; the only recovery is reloading the"
        " driver (`rmmod ath11k_ahb ath11k; modprobe ...`), which reclaims the memory.\n"
    )
    facts = read_prose(text)
    assert facts.module == "ath11k" and facts.kinds == ("page-allocator",)
    assert read_prose("I ran rmmod foo and then it crashed.\n").module is None  # no leak claimed, nothing given back


def test_a_program_said_to_eat_the_memory_with_no_size() -> None:
    # tests/cases/gh-tailscale-7571-tailscaled-rss, two sentences
    assert read_prose("tailscaled eats up all memory over time, container gets killed\n").process
    assert read_prose("Somehow `tailscaled` keeps eating up memory:\n").process == "tailscaled keeps eating up memory"
    for kernel_side in ("the kernel eats up all memory", "ext4_inode_cache eats all memory", "kworker eats memory"):
        assert read_prose(kernel_side + "\n").process is None, kernel_side
    assert read_prose("nginx does not eat all memory\n").process is None


def test_a_leak_in_this_points_back_at_the_sentence_before() -> None:
    # tests/cases/gh-munin-1355-percpu (synthetic line breaks kept out: one paragraph)
    text = "Linux has a separate per CPU counter. I've observed a leak in this, which was attributed to apps.\n"
    assert read_prose(text).kinds == ("percpu",)
    assert read_prose("Linux has a separate per CPU counter. The app leaks.\n").kinds == ()
    assert read_prose("Load per cpu grows every day.\n").kinds == ()


def test_the_oom_task_tables_biggest_process() -> None:
    # tests/cases/gh-lru-marie-6-mprime-oom, two rows of the task table (rss in pages)
    rows = (
        "[   134.428090] [   4071]  1000  4071    23794     1387        1     1386         0    77824      142           200 xdg-dbus-proxy\n"
        "[   134.428091] [   4076]  1000  4076 14983560 11204801 11203232     1569         0 118214656  3073656           200 mprime\n"
    )
    assert read_prose(rows).process == "mprime at 42.7 GiB RSS (OOM task table)"
    assert read_prose(rows.splitlines()[0] + "\n").process is None  # 5 MiB: nobody's memory to speak of


def test_a_memory_backed_emptydir_is_tmpfs_even_when_a_leak_is_hedged() -> None:
    # tests/cases/gh-k8s-72759-emptydir-tmpfs, its title
    facts = read_prose("Nodes may die due to possible memory leak caused by emptyDir.medium.Memory\n")
    assert facts.user and facts.user_leak
    assert not read_prose("emptyDir volumes on disk fill up\n").user


def test_dropping_the_page_cache_said_to_fix_it() -> None:
    # tests/cases/gh-podman-19905-stats-page-cache, shortened
    text = "the only way to fix this is to manually run the following command on the host:\n\n$ sudo sh -c 'echo 1 > /proc/sys/vm/drop_caches'\n"
    assert read_prose(text).cache
    # tests/cases/gh-opensuse-sysconfig-4-shmem-stamps: denied
    assert not read_prose("Shmem increases much, and it can't be freed by echo 3 > /proc/sys/vm/drop_caches.\n").cache


def test_oom_counter_lines_name_no_kind_and_a_stalled_page_pool_does() -> None:
    # tests/cases/blog-krunch-oom-frag-2612: a 2.6.12 OOM's pageset header and counters, read as words
    text = "DMA per-cpu:\ncpu 0 hot: low 2, high 6, batch 1\nActive:20 inactive:23 free:1631 slab:874 mapped:20\nit grows\n"
    assert read_prose(text).kinds == ()
    assert read_prose("per-cpu memory grows every day\n").kinds == ("percpu",)
    # tests/cases/gh-libreqos-551-page-pool-inflight, one dmesg line
    line = (
        "[Tue Sep 24 22:56:32 2024] page_pool_release_retry() stalled pool shutdown: id 51, 4032 inflight 26825 sec\n"
    )
    assert read_prose(line).kinds == ("page-allocator",)
    assert read_prose(line.replace("4032 inflight", "0 inflight")).kinds == ()


def test_kmemleaks_own_words_and_more_ways_of_saying_no_program_holds_it() -> None:
    # tests/cases/gh-tempesta-2412-kmemleak-seccomp: its title, no "kmemleak" in it
    facts = read_prose("unreferenced objects (leaks) on daily remote tests with debug kernel\n")
    assert facts.kernel_leak and facts.kmemleak
    # tests/cases/blog-waff-linux-ate-my-memory and blog-dedoimedo-top-missing
    assert read_prose(
        "A server reporting very high memory usage, yet, no processes to be found consuming it.\n"
    ).no_owner
    assert read_prose("Checking PS, not a single process is using more than 0.5% memory.\n").no_owner
    text = "the sum of all of the processes does not amount to what the total memory usage supposedly is.\n"
    assert read_prose(text).no_owner and read_prose(text).about_memory
    assert not read_prose("The processes add up to what top says.\n").no_owner


def test_the_module_a_leak_trace_names() -> None:
    # tests/cases/gh-hardkernel-360-fcoe-kmemleak, shortened: frames without kmemleak's header
    text = (
        "So I decided to build with DEBUG_KMEMLEAK. So there seems to be two leak points:\n"
        "    [<c08085e0>] __napi_alloc_skb+0x90/0x120\n"
        "    [<c06366c0>] r8152_poll+0x308/0xf90\n"
        "    [<bf3382ec>] fcoe_ctlr_vn_add+0x3c/0x1b4 [libfcoe]\n"
    )
    assert read_prose(text).leak_frame == "fcoe_ctlr_vn_add [libfcoe]"
    assert read_prose(text.replace("DEBUG_KMEMLEAK", "debugging")).leak_frame is None  # no leak report


def test_a_system_in_capitals_is_no_program_and_an_oom_lines_shmem_rss_is_no_shmem() -> None:
    # tests/cases/gh-haos-2180-vm-memory-climbs: the whole VM, not a program in it
    assert read_prose("HAOS is using about 2.4GB of memory after a reboot.\n").process is None
    assert read_prose("mysqld is using about 2.4GB of memory after a reboot.\n").process
    # tests/cases/gh-rpi-5551-32bit-oom-kills: the OOM killer's line counts each victim's shmem-rss
    kill = "Out of memory: Killed process 13021 (kodi.bin) total-vm:1099788kB, anon-rss:148084kB, shmem-rss:0kB\n"
    assert not read_prose(kill).user
    assert read_prose("Shmem keeps growing until OOM\n").user


def test_a_metric_named_in_one_sentence_and_said_to_grow_in_the_next() -> None:
    # tests/cases/gh-deckhouse-1386-systemd-cgroup-sunreclaim, two sentences
    text = (
        "To highlight the problem see the graph on `node_memory_SUnreclaim_bytes` metric. If graph constantly grows,"
        " it is problem with memory leak.\n"
    )
    assert read_prose(text).kinds == ("slab-unreclaimable",)
    assert read_prose("See the graph on our dashboard. If graph constantly grows, call us.\n").kinds == ()


def test_memory_kept_after_closing_every_program_is_no_programs() -> None:
    # tests/cases/gh-nixpkgs-124040-free-suspend
    assert read_prose("This usage doesn't reduced even after closing all programs and become to half ram.\n").no_owner
    assert read_prose(
        "Even if there are no running applications at the time, memory consumption still increases.\n"
    ).no_owner
    assert not read_prose("After closing all programs the memory came back.\n").process


def test_kernels_in_the_plural_are_the_kernel() -> None:
    # tests/cases/gh-linuxkit-1365-hvsock-free, its title
    assert read_prose("Newer stable kernels leak memory on Hyper-V with lots of Hyper-V socket activity\n").kernel_leak
