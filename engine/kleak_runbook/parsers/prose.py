"""What a ticket's own words say about memory, for pastes that hold no output to read.

Reporters often state the figure that worried them instead of pasting the file: "Kernel SUnreclaim
is 2.3 GB" in a title, "I use a 4 gb system", "NFS server with 1Gb RAM". ``read_prose`` finds
those figures (kernel-memory fields of /proc/meminfo, and the memory size of the machine) and the
kernel-memory terms the text names, so a paste of words alone is judged or answered with what to
collect, never refused as empty. Figures are never read from lines that hold /proc output.

>>> facts = read_prose('''[BUG] Kernel SUnreclaim is 2.3 GB, dentry is using around 3K slabs
... I use a 4 gb system. And my 3 gb and more is used.''')
>>> facts.fields["SUnreclaim"] // 1024**2, facts.fields["MemTotal"] // 1024**3
(2355, 4)
>>> facts.said
('SUnreclaim is 2.3 GB', '4 gb system')
>>> print(facts.meminfo(), end="")
MemTotal: 4194304 kB
SUnreclaim: 2411724 kB
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import NamedTuple

_UNITS = {"k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
_SIZE = r"(?<![0-9])([0-9]+(?:[,.][0-9]{3})*(?:[.,][0-9]+)?)\s*(kB|KB|KiB|[kKmMgGtT](?:i?[bB])?)\b"
_THOUSANDS = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+")
_DOT_THOUSANDS = re.compile(r"[0-9]{1,3}(?:\.[0-9]{3})+")
# the kernel-memory fields a reporter quotes, joined to their figure by a short connective
_FIELD = re.compile(
    r"\b(MemTotal|MemFree|MemAvailable|Slab unreclaimable|Slab reclaimable|Slab|SUnreclaim|SReclaimable|Percpu|VmallocUsed)\b[`*\"']*:?"
    r"(?:\s*(?:is|was|has|had|now|=|:|of|at|reaches|reached|around|about|~|grows|grew|goes|went|rose|climbed"
    r"|increased|up|to|from|memory|usage|currently|size|total|uses|using|used|shows|showed|reported|reports|too|large|\||\())*\s*[`*]*"
    + _SIZE
    + r"(?:\s+to\s+(?:~\s*)?"  # "SUnreclaim went from 100 MB to 2.3 GB": the figure it reached
    + _SIZE
    + ")?"
)
# the share of slab the same sentence gives in brackets, its unit that of slab's figure when it has none:
# "Slab is at 4GB (3.84 unreclaimable)"
_SLAB_PART = re.compile(
    r"\s*\(\s*(?:~\s*)?([0-9]+(?:[.,][0-9]+)?)\s*(kB|KB|KiB|[kKmMgGtT](?:i?[bB])?)?\s+(?:of it\s+)?(?:is\s+|are\s+)?(un)?reclaimable\b",
    re.I,
)
_FIELD_NAMES = {"Slab unreclaimable": "SUnreclaim", "Slab reclaimable": "SReclaimable"}  # as health checks word them
# the machine's memory: "1Gb RAM", "4 gb system", "16G ram", "256 GB of memory"
_MACHINE = re.compile(
    _SIZE + r"\s+(?:of\s+)?(?:RAM|ram|memory|system|machine|box|server|host|VM|node|instance|laptop|desktop"
    r"|computer|device|board)\b"
    # ... but not a part of it: "1.4 GB of ram was used by slab", "2.5 GB of ram for userspace"
    # ... nor what was lost: "~70MB of memory being lost" per run
    r"(?!\s+(?:was\s+|is\s+|were\s+|are\s+|being\s+|been\s+)?(?:used|left|free|available|for|by|in|lost|leaked"
    r"|leaking|wasted|missing|gone|consumed|taken|usage)\b)",
)
# ... nor memory said to be taken or lost: "you should be down ~7GB of memory", "it uses 2 GB of RAM"
_TAKEN_BEFORE = re.compile(
    r"\b(?:down|lost|lose|losing|leak\w*|missing|wast\w*|eats?|eating|ate|takes?|took|taking|uses?|used|using"
    r"|consum\w*|another|extra|additional|beyond|above|exceed\w*|reach\w*)\s*(?:by\s+|of\s+|up\s+|to\s+)?"
    r"(?:(?:~|about|around|over|nearly|almost)\s*){0,2}$",
    re.I,
)
# the same, named first: "Total RAM: 4,096 MB", "installed memory is 8 GB"
_MACHINE_NAMED = re.compile(r"\b(?:[Tt]otal|[Ii]nstalled|[Pp]hysical)\s+(?:RAM|[Mm]emory)\s*(?::|=|is|of)\s*" + _SIZE)
# words that show the text is about kernel memory (so it is a memory ticket told in words)
_TERMS = re.compile(
    r"\b(SUnreclaim|SReclaimable|Slab|slabtop|slabinfo|Percpu|per-cpu|vmalloc\w*|kmalloc-\w+|kmem\w*"
    r"|memleak|memory leak|leak(?:s|ing|ed)?|OOM|oom-killer|out of memory|MemAvailable|meminfo"
    r"|huge ?pages?|HugePages_\w+|Shmem|tmpfs|page cache|buff/cache|cache and buffers|buffers and cache)\b",
    re.IGNORECASE,
)


# a slab cache as reporters write its name: the generic kmalloc caches, 2.4-era size-N, and named
# caches (``cred_jar``, ``kernfs_node_cache``, ``Acpi-State``) when quoted or followed by "cache"/"slab"
_GENERIC_CACHE = re.compile(r"\b((?:dma-)?kmalloc-(?:rcl-|cg-)?[0-9]+k?|size-[0-9]+)\b")
_QUOTED_CACHE = re.compile(
    r"[`'(]([A-Za-z][\w-]*(?:_cache|_cachep|_jar|_node|_struct|-State|_head))[`')]"
    r"|\b([A-Za-z][\w-]*_(?:cache|cachep|jar)|skbuff_\w+|buffer_head|radix_tree_node|task_struct"
    r"|vm_area_struct|anon_vma(?:_chain)?|mm_struct|names_cache|filp|dentry|dentries)\b"
)
# a size a sentence gives for a cache it names: a cache holding this much is what the ticket is about
# ("/proc/slabinfo lists kmalloc-512 as 30GB"), grown or not
_SIZED = re.compile(_SIZE)
MIN_NAMED_CACHE = 1024**3
# "_cache" words that name no slab cache
# (rt_cache: the IPv4 route cache as /proc/net/rt_cache lists it; its entries are ip_dst_cache objects)
_NOT_CACHES = frozenset(
    {"drop_cache", "page_cache", "swap_cache", "buffer_cache", "buff_cache", "inode_cache_size", "rt_cache"}
)
# what a reporter says a leaking cache does
_GROWS = re.compile(
    r"\b(?:leak\w*|grow\w*|grew|increas\w*|rise|rising|rises|rose|raised|climb\w*|creep\w*|keeps? going up|fill\w* up"
    r"|consum\w*|dominat\w*|occup\w*|wast\w*|problem is (?:in|with)|caused by|introduced by|bisect\w*|allocat\w* all|(?:takes?|took|taking|eats?|ate|eating|fills?|filled|filling|uses?|used|using) (?:up )?all|eat\w*|hog\w*|balloon\w*|explod\w*|most of (?:it|that|this|them|which|(?:the )?(?:memory|slab|RAM))|(?:keeps?|kept|is|was|were|are) going up|goes up|went up)\b",
    re.I,
)
# what a reporter says of memory the kernel should give back and does not: "ext4_inode_cache would
# not go down", "drop_caches did not help", "SUnreclaim is not freed"
_KEPT = re.compile(
    r"\b(?:never|not|n['’]t)\s+(?:(?:be|get|getting|being|been)\s+)?(?:freed|released|reclaimed|returned"
    r"|go(?:es|ing)?\s+down|come\s+down|shrink\w*|decreas\w*|drop(?:s|ped)?|help(?:s|ed)?)\b"
    # and in the active voice: "killing every process doesn't reclaim this memory", "does nothing to free up"
    r"|\b(?:does|did|do|will|would|could|can)(?:\s*n['’]t|\s+not|not)\s+(?:\w+\s+){0,2}?(?:free|release|reclaim|return|give back)"
    r"\w*\s+(?:up\s+)?(?:this|the|that|it|its|any|them)\b|\bdoes nothing to (?:free|release|reclaim)\b",
    re.I,
)
# growth said to go on and on: "grows continuously", "linearly until OOM", "every day", "190 kB/hour"
_STEADY = re.compile(
    r"\bcontinu\w*|\blinear\w*|\bsteadi\w*|\bsteady\b|\bconstant\w*|\bmonoton\w*|\bkeeps?\b|\bnever stops\b"
    r"|\bevery (?:day|hour|week|minute)\b|\bper (?:day|hour|week)\b|\b(?:a|each) (?:day|hour|week)\b|/(?:h|hr|hour|day)\b"
    r"|\buntil (?:the )?(?:OOM|out of memory|reboot|crash|it (?:crashes|freezes|dies))",
    re.I,
)
# the kind of kernel memory a sentence that says something grows names (first match wins)
_KINDS = (
    (
        "slab-unreclaimable",
        re.compile(
            # (inside a metric's name too: node_memory_SUnreclaim_bytes)
            r"(?<![A-Za-z])SUnreclaim(?![a-z])|\bunreclaimable slab\b|\bslab\b(?!:\s*[0-9])|\bkmalloc\b",
            re.I,
        ),
    ),
    ("percpu", re.compile(r"\bper-?cpu\b(?!:)|\bper cpu (?:memory|allocat\w*|counters?|areas?|chunks?|data)\b", re.I)),
    ("vmalloc", re.compile(r"\bvmalloc\w*|\bVmallocUsed\b", re.I)),
    (
        "page-allocator",
        re.compile(
            r"\bpage_frag\w*|\balloc_pages\b|\bpage pool\b|\bpage_owner\b|\bGPUActive\b|\bpage allocator\b"
            # (page tables are pages the page allocator gives: "page table memory leak", an IOMMU's or a process's)
            r"|\bDMA (?:memory|buffers?|pages)\b|\bpage[- ]?tables?\b(?!:)",
            re.I,
        ),
    ),
)
# programs' memory, told in words: huge pages set aside, shared memory and tmpfs
# (Kubernetes' memory-backed emptyDir volume is a tmpfs)
_USER_WORDS = re.compile(
    r"\bhuge ?pages?\b|\bHugePages_\w+|\bShmem\b(?!-rss|:\s*[0-9])|\btmpfs\b|/dev/shm\b|\bemptyDir\b[\s\S]{0,40}?\bmedium\b\W{0,5}Memory\b",
    re.I,
)
# the page cache, told in words: "cache and buffers grow after the backup", "buff/cache holds 40G"
_PAGE_CACHE = re.compile(
    r"\bpage ?cache\b|\bbuff(?:ers?)?/cache\b|\bcache and buffers\b|\bbuffers and cache\b|\bcached memory\b"
    r"|\b(?:file|disk) cache\b|\b(?:in)?active_file\b",
    re.I,
)
# one program's memory, told in words: "(anon-rss: ~28GiB)", "VmRSS jump to 15-30 GiB", "the init
# process is taking 6GB of RAM"
_PROCESS_MEMORY = re.compile(
    r"\b(?:anon-rss|VmRSS|VmData|RSS)\b[:=\s]*(?:(?:of|is|was|at|to|jumps?|jumped|reach\w*|grows?|grew|~|about|around)\s*)*"
    + _SIZE
    + r"|\b(?:process|daemon|service|application|program|app|PID\s*1|init)\b[^.\n]{0,40}?"
    r"\b(?:taking|using|consuming|holding|eating|occupying|uses|takes|consumes|holds|eats|occupies)\s+(?:up\s+)?"
    r"(?:(?:~|about|around|over|more than|almost|nearly|approximately|approx\.?|roughly)\s*)?" + _SIZE,
    re.I,
)
# an output the paste says was taken after the load that took the memory stopped
_AFTER_STOP = re.compile(
    r"\bafter (?:killing|stopping|closing|exiting|quitting|terminating|unloading|removing|deleting)\b"
    r"|\bafter (?:the|it|they|all)\b[\w ]{0,30}?\b(?:was |were |had |has )?(?:killed|stopped|closed|exited|ended|finished|terminated|unloaded|removed|deleted)\b"
    r"|\bonce\b[\w ]{0,30}?\b(?:was |were |had |has )?(?:killed|stopped|closed|exited|ended|finished|terminated)\b",
    re.I,
)
# the reporter looked for the memory in programs and did not find it there
_NO_OWNER = re.compile(
    r"\b(?:could|can|did|do)(?:\s*n['’]t|\s+not|no)\s+(?:find|found|see|tell|account for|explain)\s+(?:where|what|who|which)"
    r"|\bno (?:single )?(?:process|program|application|container)(?:es|s)?\s+(?:is\s+|are\s+)?(?:using|uses|holds?|holding|consum\w*)"
    r"|\bnot (?:used|held|owned) by any (?:process|program)|\bmissing (?:about |around |~)?[0-9]"
    # "no processes to be found consuming it", "not a single process is using more than 0.5%"
    r"|\bno (?:single )?(?:process|program)(?:es|s)?\b[^.\n]{0,30}?\b(?:consum\w*|using|uses|hold\w*|eating)\b"
    r"|\bnot a single (?:process|program)\b[^.\n]{0,20}?\b(?:using|uses|consum\w*|hold\w*)\b"
    # "doesn't go down even after closing all programs", "even if there are no running applications"
    r"|\bafter (?:closing|killing|stopping|quitting|exiting) (?:all|every) (?:the |of the )?(?:programs|applications|apps|processes)\b"
    r"|\bno (?:running )?(?:applications|programs|processes|apps) (?:are )?(?:running|open)?"
    # "the sum of all of the processes does not amount to what the total memory usage supposedly is"
    r"|\b(?:sum|total) of (?:all )?(?:of )?(?:the )?(?:processes|programs)\b[^.\n]{0,40}?"
    r"\b(?:does not|doesn['’]t|do not|don['’]t)\s+(?:add up|amount|match|come close)"
    r"|\b(?:memory|RAM) (?:is |goes |went )?missing\b|\bdisappear\w*"
    # "htop doesn't show memory usage", "top does not show anything using too much RAM"
    r"|\b(?:h?top|ps|glances|smem|atop|btop)\b[^.\n]{0,40}?\b(?:does|did|do|would)(?:\s*n['’]t|\s+not)\s+show"
    r"\s+(?:anything|any\w*|memory|much|high|the memory)",
    re.I,
)
# "tailscaled grows to 7GB+ RAM", "Tailscale using 8GB of memory": a program by its name (not a kind
# of kernel memory, a cache or the machine)
_NAMED_PROGRAM_MEMORY = re.compile(
    r"\b(?P<name>[A-Za-z][\w.-]{2,})[`'\")]?\s+(?:is\s+|was\s+)?(?:using|uses|used|taking|takes|eating|eats|consuming|consumes"
    r"|holding|holds|grows\s+to|grew\s+to|reaches|reached)\s+(?:up\s+)?(?:(?:~|about|around|over|more than|almost"
    r"|nearly)\s*)?" + _SIZE + r"\+?\s*(?:of\s+)?(?:RAM|memory|mem|RSS)\b",
    re.I,
)
# a name in capitals ("HAOS is using 2.4GB of memory", "WSL", "NAS") is a system more often than a program
_SYSTEM_NAME = re.compile(r"^[A-Z0-9]{2,6}$")
_NOT_PROGRAMS = re.compile(
    r"^(?:kernel|slab\w*|SUnreclaim|SReclaimable|Percpu|vmalloc\w*|cache\w*|buff\w*|ARC|ZFS|driver|module|memory"
    r"|system|server|machine|host|box|it|this|that|which|what|and|total|used|free|available|swap|tmpfs|shmem"
    r"|dentr\w*|inode\w*|page|pages|node|VM|container|pod|process|everything|nothing|something|usage"
    r"|Linux|Windows|Ubuntu|Debian|CentOS|RHEL|Fedora|Arch|OS|guest|hypervisor|laptop|desktop|PC|computer|device|board)$",
    re.I,
)
# "tailscaled eats up all memory over time", "Somehow `tailscaled` keeps eating up memory": a program
# by its name said to take the memory, with no size (a kernel thread, a cache or a kind is no program)
_PROGRAM_TAKES_MEMORY = re.compile(
    r"(?:^|[\s`'\"(])(?P<name>[A-Za-z][\w.-]{2,})[`'\")]?\s+(?:keeps\s+|is\s+|was\s+)?(?:eats?|eating|ate|takes?|taking|took"
    r"|consumes?|consuming|hogs?|hogging|grabs?|grabbing)\s+(?:up\s+)?(?:all\s+(?:the\s+|of\s+the\s+)?)?(?:my\s+|our\s+|the\s+)?(?:available\s+)?"
    r"(?:memory|RAM)\b",
    re.I,
)
# "fuse-overlayfs process for every container will eat about 10~15% memory", "many fuse-overlayfs process
# use more than 10% of memory": a program by its name said to hold a share of the memory
_PROGRAM_SHARE = re.compile(
    r"(?:^|[\s`'\"(])(?P<name>[A-Za-z][\w.-]{2,})[`'\")]?\s+(?:process(?:es)?\b[^.\n%]{0,40}?\s)?"
    r"(?:will\s+|would\s+|can\s+|keeps\s+|is\s+|was\s+|are\s+)?(?:eats?|eating|ate|takes?|taking|took|consumes?|consuming"
    r"|uses?|using|used|hogs?|hogging|occup\w+)\s+(?:up\s+)?(?:(?:about|around|~|over|more than|almost|nearly|up to)\s*)?"
    r"(?P<pct>[0-9]{1,3})(?:\s*[~-]\s*[0-9]{1,3})?\s*%\s*(?:of\s+)?(?:the\s+)?(?:total\s+|system\s+)?(?:memory|RAM|mem)\b",
    re.I,
)
MIN_PROGRAM_SHARE = 10  # percent of the memory one program is said to hold
_KERNEL_THREAD = re.compile(r"^(?:kworker|kswapd|ksoftirqd|kthreadd|khugepaged|kcompactd|rcu\w*|jbd2|xfsaild)", re.I)
# "memory usage of init process grows ad infinitum (seen up to 27 GB)"
_MEMORY_OF_PROGRAM = re.compile(
    r"\b(?:memory|RAM|RSS)(?:\s+usage)?\s+of\s+(?:the\s+)?(?P<name>[A-Za-z][\w.-]+)(?:\s+(?:process|daemon|service))?\b"
    r"[^.\n]{0,50}?" + _SIZE,
    re.I,
)
# a row of ps aux / ps faux: USER PID %CPU %MEM VSZ RSS TTY STAT START TIME COMMAND (RSS in KiB)
_PS_ROW = re.compile(
    r"^\S+\s+[0-9]+\s+[0-9.]+\s+[0-9.]+\s+[0-9]+\s+(?P<rss>[0-9]+)\s+\S+\s+\S+\s+\S+\s+[0-9:]+\s+(?P<cmd>\S+)",
    re.M,
)
# a row of top: PID USER PR NI VIRT RES SHR S %CPU %MEM TIME+ COMMAND (RES in KiB, or with m/g/t)
_TOP_ROW = re.compile(
    r"^\s*[0-9]+\s+\S+\s+(?:rt|-?[0-9]+)\s+-?[0-9]+\s+[0-9.]+[kmgtp]?\s+(?P<res>[0-9.]+)(?P<unit>[kmgtp]?)\s+[0-9.]+[kmgtp]?"
    r"\s+[A-Z]\s+[0-9.]+\s+[0-9.]+\s+[0-9:.]+\s+(?P<cmd>\S+)",
    re.M,
)
# a row of the OOM killer's task table: "[  pid  ]   uid  tgid total_vm      rss ... name" (rss in pages),
# after any dmesg stamp; the pid's brackets hold no dot (a stamp's do)
_OOM_TASK_ROW = re.compile(
    r"\[\s*[0-9]+\]\s+-?[0-9]+\s+[0-9]+\s+[0-9]+\s+(?P<rss>[0-9]+)\s+(?:-?[0-9]+\s+)+(?P<cmd>[^\s\[\]]+)\s*$", re.M
)
DOMINANT_TASK_BYTES = 256 * 1024**2  # one task of an OOM task table this large ...
DOMINANT_TASK_RATIO = 10  # ... and this many times the next largest holds the memory
_TOP_UNITS = {"": 1024, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "p": 1024**5}
# the BPF JIT's memory limit reached (bpf_jit_limit): seccomp filters and BPF programs fail to load
# with ENOTSUPP (errno 524) once leaked programs fill the module area they are vmalloc'ed from
_BPF_JIT_FULL = re.compile(
    r"\bbpf_jit_limit\b|\bbpf_jit_charge_modmem\b|(?:seccomp|bpf)[^\n]{0,80}\berrno 524\b"
    r"|\bBPF\b[^\n]{0,80}\bexhaust\w*\s+(?:the\s+)?kernel executable memory",
    re.I,
)
# BPF maps hold memory for the program that made them, sized by its configuration: bpftool's
# '"bytes_memlock": 951429936' (map -j) or "memlock 4096B" (map show), and words that put the memory
# there ("the missing part is percpu memory that is actively used by eBPF")
_BPF_MEMLOCK = re.compile(r'"bytes_memlock"\s*:\s*([0-9]+)|\bmemlock\s+([0-9]+)B\b')
_BPF_HOLDS = re.compile(
    r"\b(?:(?:actively\s+)?(?:used|held|allocated|taken|consumed|charged)\s+(?:by|for|to)\s+(?:the\s+)?\[?e?BPF\b"
    r"|\be?BPF\s+(?:maps?|programs?)\b[^.\n]{0,40}?\b(?:hold|holds|held|use|uses|used|take|takes|consume[sd]?|charged)\b)",
    re.I,
)
# a VM's memory as its hypervisor counts it ("the memory use on Proxmox is currently 3.08 of 4gb",
# "the memory of the Windows system rises" under WSL 2): everything the guest ever touched, its page
# cache included, which the guest does not hand back
_HOST_SIDE = re.compile(
    r"\b(?:Proxmox|PVE|ESXi|vSphere|vCenter|Hyper-V Manager|[Vv][Mm]mem(?:\.exe)?|Task Manager|XCP-ng|XenCenter|Unraid"
    r"|virt-manager|(?P<windows>Windows))\b"
)
_HOST_FIGURE = re.compile(
    r"\b(?:uses?|using|takes?|taking|consum\w*|occup\w*|holds?)\b[^.\n]{0,20}?[0-9]+(?:[.,][0-9]+)?\s*[KMGT]i?B\b"
    r"|\b(?:memory|RAM)\b[^.\n]{0,60}?\b(?:report\w*|show\w*|display\w*|use|usage|used|rises|rose|grows|grew|increase\w*|climb\w*)\b"
    r"|\b(?:report\w*|show\w*|display\w*|takes?|taking|took|consum\w*|eats?|eating|hog\w*|occup\w*)\b[^.\n]{0,30}?"
    r"\b(?:memory|RAM)\b",
    re.I,
)
_GUEST = re.compile(r"\b(?:VMs?|guests?|virtual machines?|WSL ?2?)\b")
# what a container's memory is as its cgroup counts it, and the processes' RSS it is set against
_CGROUP_USAGE = re.compile(
    r"memory\.usage_in_bytes|memory\.current\b|\bkubectl\s+top\b|\b(?:docker|crictl|podman)\s+stats\b"
    r"|\b(?:container|pod|cgroup)(?:'s)?\s+(?:memory\s+)?usage\b",
    re.I,
)
_RSS_WORDS = re.compile(r"\bRSS\b|\bps\s+aux\b|\bprocess(?:es)?\s+(?:itself\s+)?(?:uses?|holds?|takes?)\b", re.I)
# a cgroup's own limit: "its memory limit of 512Mi", "exceeds the memory limit set in docker-compose",
# "the cgroup memory limit", "MemoryMax=", "memory.max", "memory.limit_in_bytes"
_LIMIT_OOM = re.compile(
    r"\b(?:(?:container|pod|cgroup|service|job|task|its|their|the)\s+)(?:memory|mem)\s+limits?\b"
    r"|\b(?:memory|mem)\s+limits?\s+(?:of|set|for|in|on)\s+(?:the\s+|its\s+|their\s+)?(?:[0-9]|container|pod|cgroup|docker|k8s"
    r"|kubernetes|compose|service|job)"
    r"|\bMemory(?:Max|Limit)=|\bmemory\.(?:max|limit_in_bytes)\b|\blimits?:\s*memory\b",
    re.I,
)
_OOM_WORDS_ANY = re.compile(r"\bOOM\w*|\bout of memory\b|\bkilled\b|\bexceed\w*", re.I)
# guests given more memory than the host has (not the vm.overcommit_memory sysctl)
_OVERCOMMIT = re.compile(
    r"\b(?:RAM|memory) contention ratio\b|\bover-?commit(?:ted|ting|ment)?\b(?![_.])|\boversubscri\w+", re.I
)
_KVM = re.compile(r"\bCPU [0-9]+/KVM\b|\bqemu(?:-system-\w+|-kvm)?\b|\bKVM\b")
# a page pool destroyed while its pages are still out ("page_pool_release_retry() stalled pool shutdown: id 51,
# 4032 inflight 26825 sec"): the driver's pages, never returned, held past the pool's end (the page allocator's)
_PAGE_POOL_STALL = re.compile(r"\bstalled pool shutdown\b[^\n]{0,40}?\b[1-9][0-9]* inflight\b")
# pages said never to be given back ("Memory/pages are not freed, when unloading nullblk driver"): memory
# the page allocator gave (huge pages and the page cache's pages are not the kernel's)
_PAGES_KEPT = re.compile(
    r"(?<!huge )(?<!cache )(?<!cached )\bpages\b[^.\n]{0,20}?\b(?:are|were|get|got)\s+(?:not|never)\s+(?:freed|released|returned)\b",
    re.I,
)
# "free memory drops after restarting": less free, the opposite of memory given back
_FREE_WORD = re.compile(r"\b(?:free|available|avail)\b", re.I)
# a 32-bit kernel (the kernel's own memory must fit in its low memory) and the OOM killer
_THIRTY_TWO_BIT = re.compile(
    r"\barmv[567]\w*|\barmhf\b|\b32-?bits?\b|\b32b (?:system|kernel|machine|os)\b|\bi[36]86\b|\bx86_32\b|\bhighmem\b|\blowmem\b",
    re.I,
)
_OOM_WORDS = re.compile(r"\bOOM\b|oom-killer|out of memory", re.I)
# a hypervisor's balloon holding the VM's memory: "vmware-toolbox-cmd stat balloon" and its "17960 MB",
# "the balloon driver has inflated to 6 GB"
_BALLOON = re.compile(r"\bstat balloon\s*\n\s*" + _SIZE + r"|\bballoon\w*\b[^.\n]{0,60}?" + _SIZE, re.I)
# "~30 GB was held by kernel-side allocations": the reporter measured the kernel holding it
_KERNEL_HELD = re.compile(
    _SIZE + r"[^.\n]{0,30}?\b(?:held|used|taken|consumed|allocated)\s+by\s+(?:the\s+)?kernel\b", re.I
)
# the reporter ruled slab out: "no slab usage that points to the memory", "slab looks normal"
_OUTSIDE_SLAB = re.compile(
    r"\bno slab\b|\bnot (?:in )?(?:the )?slab\b|\b(?:is|was)(?:\s*n['’]t|\s+not) an? slab (?:leak|problem|issue)\b|\bslab(?:info|top)? (?:usage )?(?:is|looks|stays|remains|seems)"
    r" (?:fine|normal|small|ok|okay|stable|constant|flat|unchanged)\b",
    re.I,
)
# memory given back when a program stops: "Used RAM drops from 1040 to 923 right after i kill ebpf.plugin"
_RELEASED = re.compile(
    r"\b(?:drops?|dropped|falls?|fell|goes down|went down|is freed|was freed|is released|was released|comes back|came back"
    r"|returns?|returned|frees up|freed up)\b[^.\n]{0,80}?\b(?:after|when|once|as soon as)\b[^.\n]{0,30}?"
    r"\b(?:kill\w*|stop\w*|restart\w*|exit\w*|clos\w*|terminat\w*|unload\w*)",
    re.I,
)
# ZFS's ARC said to hold memory: "about 8GB are currently in use by ARC", "the ARC takes 40 GB"
# dropping the page cache said to fix it: "the only way to fix this is to run: echo 1 > /proc/sys/vm/drop_caches"
_PAGE_CACHE_DROP = re.compile(r"\becho\s+[13]\s*>\s*/proc/sys/vm/drop_caches")
_DROP_FIXES = re.compile(
    r"\b(?:fix\w*|solv\w*|resolv\w*|frees?|freed|releas\w*|clear\w*|brings?\s+(?:it\s+)?back|gives?\s+(?:it\s+)?back"
    r"|goes\s+down|went\s+down|back\s+to\s+normal|helps?|helped|reclaim\w*)\b",
    re.I,
)
_DENIED = re.compile(r"\b(?:no|not|never|cannot|without)\b|n['’]t\b", re.I)
# the reporter saw memory free when it ran out: "I see enough memory is available", "while almost all of
# 64 GB RAM is still free" (not "not enough memory is available")
_FREE_SEEN = re.compile(
    r"\b(?:enough|plenty\s+of|lots\s+of|sufficient)\s+(?:free\s+)?(?:memory|RAM)\s+(?:is\s+|was\s+)?(?:still\s+)?"
    r"(?:available|free|left)\b|\ball\s+of\s+[^.\n]{0,30}?\b(?:is|was)\s+(?:still\s+)?free\b",
    re.I,
)
_ARC_WORDS = re.compile(r"\b(?:ZFS\s+)?ARC\b")
_ARC_ANY_CASE = re.compile(_ARC_WORDS.pattern, re.I)  # "the arc", where the text names ZFS
_ZFS_NAMED = re.compile(r"\b(?:ZFS|zfs|zpool|ZoL|OpenZFS|zfs_arc_max)\b")
_NEGATION = re.compile(r"\b(?:no|not|none|nothing|only|never|less than|under|below)\b|n['’]t\b", re.I)
# /proc/cgroups' count for the memory controller, told in words: "65535 as num_cgroups for memory"
_MEMCGS = re.compile(
    r"\b([0-9][0-9,_]{2,})\s+(?:as\s+)?(?:the\s+)?num_cgroups\s+(?:for|of)\s+(?:the\s+)?memory\b"
    r"|\bnum_cgroups\s+(?:for|of)\s+(?:the\s+)?memory(?:\s+controller)?\s*(?:is|was|=|:|of|at|reached)?\s*([0-9][0-9,_]{2,})\b"
    r"|\b([0-9][0-9,_]{2,})\s+memory\s+cgroups\b"
    # "the number of memory cgroups only dropped marginally from 211_620 to 210_396": the last count
    r"|\bnumber\s+of\s+memory\s+cgroups\b[^.]{0,60}?\bto\s+([0-9][0-9,_]{2,})\b"
    r"|\bnumber\s+of\s+memory\s+cgroups\s+(?:is|was|=|:|of|at|reached)\s*([0-9][0-9,_]{2,})\b"
)
# hard-wrapped lines stay in their sentence, and so does a list that a line ending in ":" introduces
# what a claim of a leak says, and that the kernel is what leaks
_LEAKS = re.compile(r"\b(?:leak\w*|memleak)\b", re.I)
_KERNEL = re.compile(r"\bkernels?\b|\bkmemleak\b|\bdrivers?\b", re.I)  # not "module": Python and Node have them
# slab, or a cache by name, in a sentence
_SLAB_NAMED = re.compile(
    _GENERIC_CACHE.pattern
    + "|"
    + _QUOTED_CACHE.pattern
    + r"|\b(?:SUnreclaim|SReclaimable|slab|dentr(?:y|ies)|inodes?)\b",
    re.I,
)
_RECLAIM_TRIED = re.compile(
    r"drop_caches|vfs_cache_pressure|\bswap\w*|\bpressure\b|\bOOM\b|oom-killer|out of memory|memory (?:is|was) full",
    re.I,
)
# "kmemleak isn't showing anything", "kmemleak reports nothing": a tool that found no leak
_FOUND_NOTHING = re.compile(
    r"(?:n['’]t|\bnot|\bnever)\s+(?:show|report|find|found|detect|list|print|see)\w*\s+(?:anything|any)\b"
    r"|\b(?:shows?|reports?|finds?|found|detects?|detected|lists?|says?)\s+nothing\b|\bnothing\s+(?:in|from)\s+kmemleak\b"
    # "kmemleak won't tell us about alloc_pages() leaks"
    r"|\bkmemleak\s+(?:won['’]t|will not|can['’]t|cannot|doesn['’]t|does not)\s+(?:tell|show|see|report|catch|find|track)",
    re.I,
)
# a backtrace frame in a module: "[<bf3382ec>] fcoe_ctlr_vn_add+0x3c/0x1b4 [libfcoe]"
_MODULE_FRAME = re.compile(
    r"^\s*(?:\[<[0-9a-f]+>\]\s*)?(?P<fn>[A-Za-z_][\w.]*)\+0x[0-9a-f]+/0x[0-9a-f]+\s+\[(?P<mod>[A-Za-z0-9_-]+)\]", re.M
)
_HEDGE = re.compile(r"\b(?:may be|maybe|might|perhaps|possibl[ey]|not sure|wonder\w*)\b", re.I)
# (and at a markdown heading; CJK text ends its sentences with full-width marks and no space)
_SENTENCE = re.compile(r"(?<=[.!?])\s+|(?<=[。！？])\s*|(?<!:)\n\s*\n|\n(?=#{1,6}\s)")
# Chinese and Japanese text puts no space around the Latin words and figures in it ("发现pagecache占用了61G"):
# one is put there, so that words and figures stand alone as they do in English
_CJK = "\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef"
_CJK_EDGE = re.compile(f"(?<=[{_CJK}])(?=[A-Za-z0-9/_])|(?<=[A-Za-z0-9/_])(?=[{_CJK}])")


@dataclass(frozen=True)
class ProseFacts:
    fields: MappingProxyType[str, int] = field(default_factory=lambda: MappingProxyType({}))  # bytes
    said: tuple[str, ...] = ()  # the words each figure was read from
    terms: tuple[str, ...] = ()  # the kernel-memory terms the text names, lower case, first seen first
    # slab caches the words say grow or leak ("kmalloc-32 use rise", "Unreclaimable slab (cred_jar) grows")
    caches: tuple[str, ...] = ()
    memory_cgroups: tuple[int, str] | None = None  # /proc/cgroups' num_cgroups for memory, and the words
    kinds: tuple[str, ...] = ()  # kinds of kernel memory the words say grow, first named first
    user: bool = False  # the words speak of huge pages, Shmem or tmpfs (programs' memory)
    # a sentence says huge pages, Shmem or tmpfs leak or grow: the memory in question is programs'
    user_leak: bool = False
    # a sentence says the kernel (a driver, a module) leaks memory, and whether kmemleak is named
    kernel_leak: bool = False
    kmemleak: bool = False
    # a sentence says slab, or a cache it names, is not given back (drop_caches, memory pressure, the
    # workload stopped): what would be cache if the kernel freed it
    kept: bool = False
    cache: bool = False  # a sentence says the page cache (cache and buffers) grows or holds the memory
    # the words that say one program holds GiBs ("the init process is taking 6GB of RAM")
    process: str | None = None
    # the reporter says no program holds the memory ("could not find where the memory is")
    no_owner: bool = False
    # a sentence says what grows goes on growing (continuously, linearly, until OOM): kinds or caches named
    steady: bool = False
    # the text says an output was taken after the load stopped ("After killing the application:")
    stopped: bool = False
    arc: int | None = None  # bytes the words say ZFS's ARC holds
    # the memory comes back when a program stops: held for a live program, not leaked
    released: bool = False
    # a sentence that says something leaks also says slab does not show it
    outside_slab: bool = False
    # the OOM killer on a 32-bit kernel, told in words (low memory, not RAM, ran out)
    lowmem: bool = False
    balloon: int | None = None  # bytes a hypervisor's balloon driver is said to hold
    # the module whose unloading the ticket says gives the memory back ("rmmod ath11k_ahb ath11k")
    module: str | None = None
    # the reporter says memory was free, or enough available, when it ran out
    free_seen: bool = False
    # the first frame in a module of a leak backtrace the ticket shows (kmemleak's, without its
    # "unreferenced object" header): "fcoe_ctlr_vn_add [libfcoe]"
    leak_frame: str | None = None
    zfs: bool = False  # the text names ZFS (its ARC is memory free calls used)
    # what BPF maps hold by bpftool's count (bytes_memlock summed), or 0 when only words say they hold
    # the memory: kernel memory a live program holds, not leaked; None when neither says so
    bpf: int | None = None
    # the words of a VM's memory as its hypervisor (or Windows, under WSL 2) counts it
    host_view: str | None = None
    # capping ZFS's ARC (zfs_arc_max) is said to have fixed it
    arc_capped: bool = False
    # the one driver lspci -k says serves the device the ticket shows ("Kernel driver in use: tn40xx")
    driver: str | None = None
    # a container's or cgroup's usage set against its processes' RSS ("why is memory.usage_in_bytes >300Mi
    # while rss + cache ~= 150Mi?"): the cgroup counts more than its processes hold
    cgroup_view: bool = False
    # the reporter says the host gave its guests more memory than it has ("I have the RAM contention
    # ratio wrong", "memory is overcommitted"): the guests' memory, programs' memory to the host
    overcommitted: bool = False
    thirty_two: bool = False  # the text tells of a 32-bit kernel (armv7l, i686, "32-bit", HighMem)
    # a program's memory set in its configuration, in bytes, and the words: "innodb_buffer_pool_size = 48G"
    configured: tuple[int, str] | None = None
    # a sentence says memory (RAM, its usage) grows, naming no kind of it ("ram usage shoots up")
    memory_grows: bool = False
    # the slab cache SLUB found still holding objects when it was destroyed (a module unloaded):
    # "BUG cifs_small_rq (Not tainted): Objects remaining on __kmem_cache_shutdown()"
    shutdown_cache: str | None = None
    # a heap profile of a program (Go's pprof): its total and the program, "1747.47MB in nebula"
    heap_profile: tuple[int, str] | None = None
    # a sentence says one program's own memory grows ("the RAM memory consumption of the application
    # increases up to 250MB"), at any size
    program_grows: bool = False
    # pmap rows of a process's mappings ("00005640de29e000   75792   73576   73576 rw---   [ anon ]"): the
    # memory shown is that program's
    pmap: bool = False
    # what says part of the RAM was never handed to the kernel: a device tree's memory node, mem= on
    # the command line, "only 3.2 GB of the 4 GB installed" (MemTotal below the RAM fitted, not used)
    ram_withheld: str | None = None
    # a sentence concludes the reported leak was a false positive ("I think this is a false positive"):
    # kmemleak's report or the leak claimed is withdrawn
    false_positive: bool = False
    # the buffers in question are held by a process's open dma-buf file descriptors ("leaves one
    # additional 16 KiB dmabuf FD open", /proc/self/fdinfo's exp_name): the kernel frees them on close
    fds_held: bool = False
    # a sentence says a container, pod, service or cgroup was OOM-killed at its own memory limit
    # ("keeps getting OOMKilled when it reaches its memory limit of 512Mi"): the cgroup's limit
    limit_oom: bool = False
    # the text is a kernel patch (a mail or a commit: its Signed-off-by and diff) that says it fixes a
    # leak; ``patched`` holds the names it gives (its subject's words, the functions its hunks change)
    patch_fixes_leak: bool = False
    patched: tuple[str, ...] = ()
    patched_functions: tuple[str, ...] = ()  # the functions its hunks change, in order
    # the words that say the leak's fix was confirmed: its reporter tested it ("I can confirm your patch
    # fixes the problem", "Problem is indeed gone in v3.7-rc2 with the proposed generic patch") or its
    # maintainer says it is fixed ("It will be fixed in 5.8")
    fix_confirmed: str | None = None
    # the words that put the memory in dentry and inode caches the kernel reclaims when it needs to
    # ("plenty of memory used by dentry_cache and inode_cache ... This memory will be reclaimed when needed")
    reclaim_told: str | None = None
    # where a thread places the leak: the function its words say lacks the free ("netlbl_domhsh_free_entry()
    # needs to free ..."), and the one a report's title says it is in ("memory leak in map_create")
    free_missing: tuple[str, ...] = ()
    leak_in: tuple[str, ...] = ()
    # the words that say allocations from the contiguous memory area failed ("dmesg is full of cma_alloc
    # errors"): a region set aside at boot, too small or fragmented for what devices keep in it
    cma_failed: str | None = None
    # the driver or module the fixing patch's subject names ("gpu: host1x: Allow entries in BO caches to be
    # freed"): where a leak no trace shows was fixed
    patched_component: str | None = None
    # the words that tell of a high-order allocation (order 4 or more: 64 KiB and up in one piece) failing
    # ("order 5 allocation during ifconfig up ... fails with ENOMEM"): a run that long, not memory, missing
    high_order_failed: str | None = None

    @property
    def leak_fixed(self) -> bool:
        """A fix confirms the leak: the text is its patch, or says the fix was tested or made, or finds
        the free that is missing (the diagnosis a fix is made from)."""
        return self.patch_fixes_leak or self.fix_confirmed is not None or bool(self.free_missing)

    @property
    def fix_said(self) -> str:
        """How the text confirms the fix, as a report says it."""
        if self.patch_fixes_leak:
            return "the text is a kernel patch (signed off, with its diff) that fixes it"
        if self.fix_confirmed:
            return f'its fix was confirmed ("{self.fix_confirmed}")'
        return f"the thread finds the free missing in {self.free_missing[0]}()" if self.free_missing else ""

    def meminfo(self) -> str:
        """The figures as /proc/meminfo lines (what ``parse_meminfo_lines`` reads)."""
        return "".join(f"{k}: {v // 1024} kB\n" for k, v in sorted(self.fields.items()))

    @property
    def kernel_figures(self) -> bool:
        return any(k not in ("MemTotal", "MemFree", "MemAvailable") for k in self.fields)

    @property
    def about_memory(self) -> bool:
        """The words tell of memory: a figure, memory no program holds, or anything ``topics`` names."""
        return bool(self.fields or self.no_owner or self.topics())

    def topics(self) -> tuple[str, ...]:
        """What the words tell of, as a report names it: the terms and caches, then each thing they
        put the memory in (a program's GiBs, the ARC, BPF maps, the page cache, ...), first said first."""
        flagged = (
            ("a program's memory", self.process),
            ("ZFS's ARC", self.arc or self.arc_capped),
            ("BPF maps", self.bpf is not None),
            ("a VM's memory as its host counts it", self.host_view),
            ("a cgroup's usage against its processes' RSS", self.cgroup_view),
            ("guests given more memory than the host has", self.overcommitted),
            ("a program's configured memory", self.configured),
            (f"{self.shutdown_cache} destroyed with objects left", self.shutdown_cache),
            ("a program's heap profile", self.heap_profile),
            ("a program's own memory growing", self.program_grows),
            ("a process's mappings (pmap)", self.pmap),
            ("the page cache", self.cache),
            ("memory given back", self.released),
            ("a VM's balloon", self.balloon),
            ("RAM not handed to the kernel", self.ram_withheld),
            ("a process's open dma-buf FDs", self.fds_held),
            ("a cgroup killed at its own memory limit", self.limit_oom),
            ("dentry and inode caches reclaimed when needed", self.reclaim_told),
            ("a fix confirmed", self.fix_confirmed),
            ("failed CMA allocations", self.cma_failed),
            ("a high-order allocation failing", self.high_order_failed),
        )
        return tuple(
            dict.fromkeys(
                (
                    *self.terms,
                    *self.caches,
                    *(name for name, said in flagged if said),
                    *self.kinds,
                    *(["the OOM killer on a 32-bit kernel"] if self.lowmem else []),
                )
            )
        )

    @property
    def counters(self) -> bool:
        """Kernel-memory figures, or MemTotal with another figure to set against it."""
        return self.kernel_figures or ("MemTotal" in self.fields and len(self.fields) > 1)


def _bytes(number: str, unit: str) -> int:
    """A stated size in bytes: "2,143 MB" has a thousands separator (three digits after the comma),
    "1,5 GB" a decimal comma."""
    scale = 1024 if unit in ("kB", "KB", "KiB") else _UNITS[unit[0].lower()]
    if scale == 1024 and _DOT_THOUSANDS.fullmatch(number):
        return int(number.replace(".", "")) * scale  # "16.244 kB": meminfo's kB are whole, so the dot groups thousands
    digits = number.replace(",", "") if _THOUSANDS.fullmatch(number) else number.replace(",", ".")
    if digits.count(".") > 1:  # "8.977.12": groups of thousands, then the decimal part
        whole, _, part = digits.rpartition(".")
        digits = f"{whole.replace('.', '')}.{part}"
    value = float(digits) * scale
    return round(value) if math.isfinite(value) else 0  # a run of digits beyond any memory: no size


def read_prose(text: str) -> ProseFacts:
    """The first figure stated for each field, the first stated size of the machine, and the terms."""
    text = _CJK_EDGE.sub(" ", text)
    if _MEMLEAK_TOOL.search(text):
        text = re.sub(r"\b[Mm]emleak\b", "memleak_tool", text)  # bcc's tool by name, not a claim that something leaks
    fields: dict[str, int] = {}
    said: list[str] = []
    terms: dict[str, None] = {}
    for line in text.splitlines():
        for m in _FIELD.finditer(line):
            name = _FIELD_NAMES.get(m.group(1), m.group(1))
            if name not in fields:
                number, unit = (m.group(4), m.group(5)) if m.group(4) else (m.group(2), m.group(3))
                fields[name] = _bytes(number, unit)
                said.append(m.group(0).strip())
            part = _SLAB_PART.match(line, m.end()) if name == "Slab" else None
            if part is not None:  # "Slab is at 4GB (3.84 unreclaimable)": the part in the unit of the whole
                which = "SReclaimable" if part.group(3) is None else "SUnreclaim"
                if which not in fields:
                    fields[which] = _bytes(part.group(1), part.group(2) or m.group(5) or m.group(3))
                    said.append(f"{m.group(0).strip()}{part.group(0)}")
        machine = next(
            (m for m in _MACHINE.finditer(line) if not _TAKEN_BEFORE.search(line, 0, m.start())), None
        ) or _MACHINE_NAMED.search(line)
        if machine is not None and "MemTotal" not in fields and machine.group(2)[0].lower() in "gmt":
            fields["MemTotal"] = _bytes(machine.group(1), machine.group(2))
            said.append(machine.group(0).strip())
        for t in _TERMS.finditer(line):
            terms.setdefault(t.group(1).lower(), None)
    count = _MEMCGS.search(text)
    memcgs = (int(re.sub(r"[,_]", "", next(g for g in count.groups() if g))), count.group(0).strip()) if count else None
    sentences = _SENTENCE.split(text)
    caches, kinds = _growing(sentences)
    watched = [m.group(1) for m in _GREPPED_CACHE.finditer(text) if m.group(1) not in _NOT_CACHES]
    if watched and (caches or kinds or any(_GROWS.search(x) for x in sentences)):
        # a cache the reporter greps out of /proc/slabinfo while telling of growth is the one watched
        # grow (words may call the problem by another name: "rt_cache leak", for ip_dst_cache)
        caches = tuple(dict.fromkeys([*watched, *caches]))
    if _BPF_JIT_FULL.search(text) and "vmalloc" not in kinds:
        kinds = (*kinds, "vmalloc")  # the JIT's programs are vmalloc'ed: a kind named by the failure itself
    if (_PAGE_POOL_STALL.search(text) or _PAGES_KEPT.search(text)) and "page-allocator" not in kinds:
        kinds = (*kinds, "page-allocator")
    stated = _claims(sentences)
    claims = [x for x in stated if _LEAKS.search(x)]  # the sentences that say something leaks
    patch = _patch(text)
    fixes, patched, patched_functions = patch.fixes_leak, patch.names, patch.functions
    confirmed = _fix_confirmed(stated)
    if not fixes and confirmed is None and "Signed-off-by:" not in text:
        patched = patched_functions = ()  # a diff offered, untried: it names nothing yet
    return ProseFacts(
        MappingProxyType(fields),
        tuple(said),
        tuple(terms),
        caches,
        memcgs,
        kinds,
        bool(_USER_WORDS.search(text)),
        # a sentence that ties a leak to them, hedged or not ("possible memory leak caused by emptyDir.medium.Memory")
        any(_USER_WORDS.search(x) and _LEAKS.search(x) for x in sentences),
        any(_KERNEL.search(x) for x in claims)
        or any(_bytes(m.group(1), m.group(2)) >= 1024**3 for x in stated for m in _KERNEL_HELD.finditer(x)),
        # (or its own words: "unreferenced object 0x...", "unreferenced objects (leaks)")
        any(
            re.search(r"\bkmemleak\b|\bunreferenced objects?\b", x, re.I) and not _FOUND_NOTHING.search(x)
            for x in sentences
        ),
        _kept(stated),
        any(
            _PAGE_CACHE.search(x)
            and (_GROWS.search(x) or any(_bytes(m.group(1), m.group(2)) >= 1024**3 for m in _SIZED.finditer(x)))
            for x in stated
        )
        or _page_cache_dropped(stated),
        _process(text, stated),
        any(_NO_OWNER.search(x) for x in stated),
        any(
            _GROWS.search(x) and _STEADY.search(x) and (_SLAB_NAMED.search(x) or any(p.search(x) for _, p in _KINDS))
            for x in stated
        ),
        bool(_AFTER_STOP.search(text)),
        _arc(text),
        any(m and not _FREE_WORD.search(x[: m.start()]) for x in stated for m in [_RELEASED.search(x)]),
        bool(claims) and any(_OUTSIDE_SLAB.search(x) for x in stated),
        bool(_THIRTY_TWO_BIT.search(text) and _OOM_WORDS.search(text)) and not claims,  # no leak claimed
        _balloon(text),
        _unloaded_module(stated) if claims else None,
        any(
            not re.search(r"\b(?:not|no|never)\s+(?:\w+\s+)?$|n['’]t\s+(?:\w+\s+)?$", x[: m.start()])
            for x in stated
            for m in _FREE_SEEN.finditer(x)
        ),
        next(
            (f"{m['fn']} [{m['mod']}]" for m in _MODULE_FRAME.finditer(text))
            if re.search(r"kmemleak|\bunreferenced objects?\b", text, re.I)  # CONFIG_DEBUG_KMEMLEAK too
            else iter(()),
            None,
        ),
        bool(_ZFS_NAMED.search(text)),
        _bpf(text, stated),
        _host_view(text, stated),
        _arc_capped(stated),
        _driver(text),
        any(_CGROUP_USAGE.search(x) and _RSS_WORDS.search(x) for x in sentences),
        any(_OVERCOMMIT.search(x) and not _DENIED.search(x) for x in stated)
        and bool(_GUEST.search(text) or _KVM.search(text)),
        bool(_THIRTY_TWO_BIT.search(text)),
        _configured(text),
        any(_MEMORY_GROWS.search(x) for x in stated),
        next((m.group(1) or m.group(2) for m in _SHUTDOWN.finditer(text)), None),
        _heap_profile(text),
        any(_PROGRAM_GROWS.search(x) for x in stated)
        or bool(_PROGRAM_GROWS_ZH.search(text))
        or _top_rows_grow(text)
        or any(_a_program(m["name"]) for x in stated for m in _NAMED_PROGRAM_GROWS.finditer(x)),
        len(_PMAP_ROW.findall(text)) >= 3 or bool(_PROC_MAPS.search(text)),
        _ram_withheld(text, stated),
        any(
            m
            and not _NOT_FALSE_POSITIVE.search(x[: m.start()])
            and not re.search(r"\bnot\b|n't\b|\bno\b", m.group(0))
            # (a guess is no conclusion: "This is likely a false positive ... If it persists ... a real leak")
            and not _GUESSED.search(x, max(0, m.start() - 30), m.end())
            for x in stated
            for m in [_FALSE_POSITIVE.search(x)]
        ),
        any(_DMABUF_FD.search(x) for x in stated),
        any(_LIMIT_OOM.search(x) and _OOM_WORDS_ANY.search(x) and not _DENIED.search(x) for x in stated),
        fixes,
        patched,
        patched_functions,
        confirmed,
        _reclaim_told(stated),
        _free_missing(text),
        tuple(dict.fromkeys(m.group(1) for m in _LEAK_IN.finditer(text))),
        next(
            (_sentence_of(x, m) for x in stated for m in [_CMA_FAILED.search(x)] if m and not _DENIED.search(x)), None
        ),
        patch.component if fixes else None,
        _high_order_failed(text),
    )


# a process's dma-buf file descriptors: "one additional 16 KiB dmabuf FD open", "dma-buf fds leak"
_DMABUF_FD = re.compile(r"\bdma-?bufs?\b[^.\n]{0,20}?\bf(?:d|ds|iles?)\b|\bFDs?\b[^.\n]{0,20}?\bdma-?bufs?\b", re.I)


# a kernel patch as mailed or committed: its sign-off, and what its subject (or first line) and the
# function context of its hunks ("@@ -1025,8 +1025,10 @@ static struct aa_profile *unpack_profile(")
# name ("apparmor: Fix memory leak in unpack_profile()")
_SIGNED_OFF = re.compile(r"^[ \t]*Signed-off-by: [^\n<]{1,200}<[^>\s@]{1,100}@[^>\s]{1,200}>", re.M)
_SUBJECT = re.compile(r"^Subject: (?:Re: )?(?:\[[^\]]*\]\s*)*(.+(?:\n[ \t]+.+)*)", re.M)  # with its folded lines
_HUNK = re.compile(
    r"^@@ -[0-9]{1,12}(?:,([0-9]{1,12}))? \+[0-9]{1,12}(?:,([0-9]{1,12}))? @@ "
    # (its function's line wrapped by a mail client: "@@ -1581,13 +1582,9 @@ static void \nnvmet_tcp_free_cmd_data_in_buffers(")
    r"(?:[^\n(]{0,200}?\b(?:void|int|bool|long|char|u(?:8|16|32|64)|\w+_t|struct \w+ ?\*?)[ \t]*\n(?=[A-Za-z_]\w*\())?"
    r"[^\n(]{0,200}?\b([A-Za-z_]\w{0,100})\(",
    re.M,
)
# a line a hunk adds that calls what frees or lets go of something ("+\t\tnvmet_tcp_free_cmd_buffers(cmd);",
# "+\tkfree(dmub_srv);", "+\tput_device(dev);"): the free that was missing
_ADDS_FREE = re.compile(
    r"^\+(?!\+\+)[^\n]{0,200}?\b\w*(?:free|put|release|destroy|drop|cleanup|fini|uninit|unref|dispose|unmap)\w*\s*\(",
    re.M | re.I,
)
_PROTOTYPE = re.compile(r"[^\n]*\);[ \t]*$", re.M)  # the rest of a hunk header's line: "(struct x *x);"
_HUNK_END = re.compile(r"^(?:@@ -[0-9]|diff --git |From: |-- $)", re.M)
_QUOTED = re.compile(r"^(?:>\s?)+", re.M)
# its diff: git's headers, or a code review's excerpt of it, C lines added and removed ("+\tif (shouldfree)
# fuse_request_free(req);", "-\t\treq->end(fc, req, status);")
_DIFF = re.compile(r"^(?:diff --git |\+\+\+ b/|@@ -[0-9])", re.M)
_ADDED_C = re.compile(r"^\+[ \t]+[^\n]{0,200}[;{}][ \t]*$", re.M)
_REMOVED_C = re.compile(r"^-[ \t]+[^\n]{0,200}[;{}][ \t]*$", re.M)
# (or says what it frees was never freed: "Memory/pages are not freed, when unloading nullblk driver")
_LEAK_WORD = re.compile(
    r"\bleak\w*|\bkmemleak\b|\b(?:memory|pages?|objects?|buffers?)\b[^.\n]{0,30}?\b(?:is|are|was|were|get|gets)\s+"
    r"(?:not|never)\s+(?:freed|released)\b|\b(?:is|are)n't\s+(?:freed|released)\b",
    re.I,
)


def _hunks(text: str, said: set[str]) -> tuple[str, ...]:
    """The functions a diff's hunks change, the fix's first: one its subject names, then one that adds a free
    (or a put, a release) that was missing, then one that adds lines, before one that only moves or drops them."""
    hunks = []
    for m in _HUNK.finditer(text):
        if _PROTOTYPE.match(text, m.end()):
            continue  # (git labels the hunk with a prototype before it, "static void foo(struct x *x);": no function of it)
        end = _HUNK_END.search(text, m.end())
        body = text[m.end() : end.start() if end else len(text)]
        old, new, fn = m.groups()
        hunks.append((fn not in said, _ADDS_FREE.search(body) is None, int(new or 1) <= int(old or 1), fn))
    return tuple(dict.fromkeys(h[-1] for h in sorted(hunks, key=lambda h: h[:3])))


class _Patch(NamedTuple):
    fixes_leak: bool = False  # a kernel patch whose subject or message speaks of a leak
    names: tuple[str, ...] = ()  # the names its subject and hunks give
    functions: tuple[str, ...] = ()  # the functions it changes, the fix's first
    component: str | None = None  # the driver or module its subject's prefix names ("gpu: host1x: ...")


def _patch(text: str) -> _Patch:
    """The kernel patch the text holds, mailed (quoted in a reply too) or committed: a patch whose
    subject or message speaks of a leak is that leak's fix. A diff no one signed off ("Can you try with
    the patch below") gives the functions its hunks change, and is no fix by itself."""
    text = _QUOTED.sub("", text) if ">" in text else text
    signed = _SIGNED_OFF.search(text) if "Signed-off-by:" in text else None
    if signed is None:
        if not re.search(r"^diff --git ", text, re.M):
            return _Patch()
        functions = _hunks(text, set())
        return _Patch(False, functions, functions)
    # its subject: that of the mail that carries the sign-off (a thread's report before it has its own,
    # "memory leak in smc_create", where the patch says "Fix sock leak when release after smc_shutdown()")
    subject = next(reversed(list(_SUBJECT.finditer(text, 0, signed.start()))), None) or _SUBJECT.search(text)
    # its diff, or a mail that says it is a patch ("[PATCH net]") where an archive or an excerpt cut the diff
    mailed = subject is not None and re.match(r"Subject: (?:Re: )?\[(?:RFC\s+)?PATCH", subject.group(0)) is not None
    if not (mailed or _DIFF.search(text) or (_ADDED_C.search(text) and _REMOVED_C.search(text))):
        return _Patch()
    title = " ".join(subject.group(1).split()) if subject else text.lstrip().split("\n", 1)[0]
    body = text[: text.find("\n---\n")] if "\n---\n" in text else text
    # (a function its subject names, "Fix a memory leak in update_exclusive_cpumask()", first)
    said = set(re.findall(r"[A-Za-z_]\w{2,}", title))
    called = re.findall(r"\b([A-Za-z_]\w{2,})\(\)", title)
    functions = tuple(dict.fromkeys([*called, *_hunks(text, said)]))
    names = tuple(dict.fromkeys([*re.findall(r"[A-Za-z_]\w{2,}", title), *functions]))
    paths = re.findall(r"^\+\+\+ b/(\S+)", text, re.M)
    tool = _TEST_PATCH.search(subject.group(0) if subject else title) or (
        paths and all(_TEST_PATH.match(p) for p in paths)
    )
    if tool:  # a test suite's or a tool's patch ("[LTP] ... improve the memory leak detection")
        return _Patch(False, names, functions)
    leak = bool(_LEAK_WORD.search(title) or _LEAK_WORD.search(body))
    return _Patch(leak, names, functions, _component(title))


# the part of the kernel a patch's subject names before its summary: "gpu: host1x: Allow entries ...",
# "IB/rdmavt: Free ...", "btrfs: raid56: fix ...", "netfilter: nft_flow_offload: ..." (the first element of
# its prefixes that is not a subsystem's or an architecture's name)
_PREFIXES = re.compile(r"^((?:[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*:\s+)+)")
_CATEGORIES = frozenset(
    re.split(
        r"\s+",
        "mm block net fs kernel lib arch x86 arm64 arm powerpc s390 riscv mips sched cgroup cgroups locking rcu init"
        " ipc security crypto sound drivers core driver-core base revert treewide gpu drm media usb wifi hid input"
        " scsi nvme pci acpi platform iio staging clk soc firmware dmaengine spi i2c gpio pinctrl phy tty serial mfd"
        " regulator remoteproc rpmsg thermal cpufreq pm bluetooth netfilter ipv4 ipv6 tcp udp ib rdma dt-bindings"
        " misc char video fbdev virtio vfio iommu mmc mtd hwmon leds power watchdog",
    )
)


def _component(title: str) -> str | None:
    prefixes = _PREFIXES.match(title)
    if prefixes is None:
        return None
    elements = [e.strip() for part in prefixes.group(1).split(":") for e in part.split("/") if e.strip()]
    first = next((e for e in elements if e.lower() not in _CATEGORIES), None)
    return first if first is not None and re.fullmatch(r"[a-z][a-z0-9_-]{1,30}", first) else None


# a patch to a test suite or a tool, not to the kernel: its list's tag or its subject's, or where its diff goes
_TEST_PATCH = re.compile(
    r"\[LTP\]|\b(?:selftests?|kselftests?|testcases?|ltp|kunit)\b|\bleak\s+(?:detect\w*|check\w*|tests?|report\w*)\b",
    re.I,
)
_TEST_PATH = re.compile(r"(?:testcases|tools|lib/tst_|include/tst_|selftests)/?")


# a fix of the leak confirmed in words: its reporter tested it, or its maintainer says it is fixed
_FIX_CONFIRMED = re.compile(
    # "I can confirm your patch fixes the problem", "the driver update fixed the problem", "the patch below fixes this"
    r"\b(?:patch|patches|patchset|fix|commit|series|update|upgrade|change)\b(?:\s+(?:below|above|attached))?\s+"
    r"(?:fix(?:es|ed)|solve[sd]|resolve[sd]|cure[sd])\s+(?:it|this|(?:the|this|my|our|that)\s+(?:\w+\s+){0,2}?"
    r"(?:leak|leaks|problem|issue|bug|OOMs?))\b"
    # "Problem is indeed gone in v3.7-rc2 with the proposed generic patch", "the leak was fixed by commit ..."
    r"|\b(?:problem|leak|leaks|issue|bug|OOMs?)\s+(?:is|was|are|were|has been|have been|got)\s+(?:\w+\s+)?"
    r"(?:gone|fixed|resolved|solved)\s+(?:\w+\s+){0,2}?(?:in|with|by|after|since)\s+(?:\S+\s+){0,4}?"
    r"(?:patch\w*|fix|commit|v?[0-9]+\.[0-9]+\S*|kernel|update|upgrade|build|release)\b"
    # a maintainer's "I fixed the leaks, but forgot to submit the patch", "A fix has been found", and the
    # reporter's "Thanks Larry for doing QA and fixing the problem!"
    r"|\bI(?:'ve| have)?\s+fixed\s+(?:the|this|these|that|those)\s+(?:leaks?|problems?|issues?|bugs?)\b"
    r"|\b(?:a|the)\s+fix\s+has\s+been\s+(?:found|made|committed|pushed|applied)\b"
    r"|\bthanks?\b[^.\n]{0,40}?\bfor\s+(?:\w+\s+){0,4}?fixing\s+(?:the|this)\s+(?:problem|leak|issue|bug)\b"
    # "I applied the patch ... and I can confirm this issue has been resolved"
    r"|\bconfirm(?:ed|s)?\s+(?:that\s+)?(?:this|the|my|our)\s+(?:issue|problem|leak|bug)\s+(?:has been|is|was|got)\s+"
    r"(?:now\s+)?(?:resolved|fixed|solved|gone)\b"
    # "Confirmed that this patch (now in v5.2-rc6) addresses the prepare_creds leak", "there's a fix going to
    # 5.3-rc2"
    r"|\bconfirm\w*\s+(?:that\s+)?(?:this|the|your)\s+(?:patch|fix|commit|change)\b(?:[^.\n]|\.(?=\w)){0,40}?"
    r"\b(?:addresses|fixes|resolves|solves|cures)\b"
    r"|\bfix\s+(?:is\s+)?(?:going|queued|headed|on its way)\s+(?:in)?to\s+(?:v?[0-9]+\.[0-9]+|mainline|stable|Linus)"
    # "Feel free to resubmit with Tested-by: <me>", "Feel free to add my Tested-by"
    r"|\b(?:feel free to|please|you can|go ahead and)\s+(?:\w+\s+){0,3}?(?:add|include|resubmit with|use)\s+(?:my\s+)?"
    r"Tested-by\b"
    # "This had fixed the leak."
    r"|\b(?:this|that|it)\s+(?:has|had)\s+(?:indeed\s+)?fixed\s+the\s+(?:\w+\s+)?(?:leaks?|problem|issue)\b"
    # the leak gone once the fix is in, said with a negation that denies the leak, not the fix ("denies"):
    r"|(?P<denies>"
    # syzbot: "syzbot has tested the proposed patch and the reproducer did not trigger any issue"
    r"\btested\s+the\s+proposed\s+patch\s+and\s+the\s+reproducer\s+did\s+not\s+trigger\s+any\s+issue"
    # "With your patch, the below kmemleak issue cannot be reproduced now", "With the patch applied I have not seen
    # the memleak since"
    r"|\bwith\s+(?:your|the|this|that)\s+(?:patch|fix|change)\w*\b[^.\n]{0,60}?\b(?:cannot|can't|can not|could not"
    r"|couldn't|no longer)\s+(?:be\s+)?reproduc\w*"
    # "I run various tests with your patch and I don't see leaks anymore"
    r"|\bwith\s+(?:your|the|this|that)\s+(?:patch|fix|change)\w*\s+(?:applied\s*)?,?\s*(?:and\s+)?(?:I|we)\s+(?:have\s+not"
    r"|haven't|did\s+not|didn't|do\s+not|don't|no\s+longer|never)\s+(?:\w+\s+){0,2}?(?:seen|see|saw|get|got|observed?|hit)\s+"
    r"(?:(?:the|any|a)\s+)?(?:\w+\s+)?(?:mem)?leaks?\b)"
    # "It will be fixed in 5.8", "this has been fixed by commit 1fa89ffbc045"
    r"|\b(?:it|this)\s+(?:will be|is|has been|was|got)\s+fixed\s+(?:in|by|with)\s+"
    r"(?:v?[0-9]+\.[0-9]+|commit|the (?:patch|commit|fix))"
    # "Well, yes, 2.6.16-rc1 has this fixed."
    r"|\b(?:v?[0-9]+\.[0-9]+[\w.-]*|upstream|mainline)\s+has\s+(?:this|it|that|the\s+(?:leak|bug|problem))\s+fixed\b"
    # "the final patchset has been merged into 5.3", "There are patches lined up in the -mm tree for this exact
    # issue", "Thanks for fixing this. - Merged"
    r"|\b(?:patch(?:es|set)?|fix(?:es)?|series)\b[^.\n]{0,30}?\b(?:has been|have been|was|were|got|is|are)\s+"
    r"(?:now\s+|already\s+)?(?:merged|applied|queued|lined up)\b"
    r"|\bpatch(?:es|set)?\s+(?:lined up|queued)\s+(?:in|for)\b|\bthanks? (?:you )?for fixing\b[^\n]{0,30}?\bmerged\b"
    # "you need this patch to fix a bio leak", "all memory leaks fixed"
    r"|\bpatch\s+to\s+fix\s+(?:a|the|this)\s+(?:\w+\s+){0,2}?leak\b|\ball\s+(?:\w+\s+)?leaks\s+(?:are\s+)?fixed\b",
    re.I,
)
# what a fixed leak is not: a similar one, others, or a fix merely hoped for ("Similar one was fixed in -rc4",
# "A few kernel memory leaks have recently been fixed ... I still get 2 others")
_OTHER_FIX = re.compile(r"\b(?:similar|another|other|others|few|some|if|unless|whether|once)\b", re.I)


# "the massive memory leak where the system lost several gigabytes of RAM after each 10min test is now gone.
# Which means that the kernel patch was in the right direction.": gone, with the change named beside it
_LEAK_GONE = re.compile(
    r"\b(?:leak|problem|issue)\b[^.\n]{0,120}?\b(?:is|was)\s+(?:now\s+|indeed\s+|completely\s+)?gone\b", re.I
)
_CHANGE = re.compile(r"\b(?:patch\w*|fix|commit|update[ds]?|upgrad\w+|new (?:kernel|driver|firmware|build))\b", re.I)


def _sentence_of(text: str, m: re.Match[str], most: int = 200) -> str:
    """The sentence of ``text`` the match is in (the match alone when that is longer than ``most``)."""
    start = text.rfind(". ", 0, m.start())
    end = text.find(". ", m.end())
    said = text[start + 2 if start >= 0 else 0 : end + 1 if end >= 0 else len(text)].strip()
    said = _POST_HEADER.sub("", said)  # a thread's "vrv · comment · 2016-06-30" before the post's words
    return said if len(said) <= most else m.group(0)


_POST_HEADER = re.compile(r"^.{0,80}? · [\w ]{1,30} · [0-9]{4}-[0-9]{2}-[0-9]{2}\s+")


def _fix_confirmed(stated: list[str]) -> str | None:
    """The words that say the leak reported was fixed: a tested fix or a maintainer's "fixed in"."""
    for i in range(len(stated)):
        # (with the next sentence, "Thanks for fixing this. - Merged", and as one line where a mail wrapped it)
        x = " ".join(_QUOTED.sub("", " ".join(stated[i : i + 2])).split())
        m = _FIX_CONFIRMED.search(x)
        if m is None:
            continue
        # (a denial inside the words, unless they deny the leak itself: "With your patch, ... cannot be reproduced
        # now", "With the patch applied I have not seen the memleak")
        end = m.start() if m.group("denies") else m.end()
        if _DENIED.search(x, max(0, m.start() - 30), end):
            continue
        if not _OTHER_FIX.search(x, max(0, m.start() - 40), m.start()):
            return _sentence_of(x, m)
    for i, x in enumerate(stated):
        gone = _LEAK_GONE.search(x)
        near = " ".join(stated[max(0, i - 1) : i + 2])
        if gone is not None and not _DENIED.search(gone.group(0)) and _CHANGE.search(near):
            return " ".join(gone.group(0).split())
    return None


# dentry and inode caches (or slab, which free counts as used), in the same or the next sentence as the
# kernel reclaiming them when it needs the memory: "you'll see plenty of memory used by dentry_cache and
# inode_cache and that's expected. This memory will be reclaimed when needed"
_RECLAIMABLE_NAMED = re.compile(r"\b(?:dentry_cache|inode_cache|dentr(?:y|ies)|inode caches?|[di]cache)\b", re.I)
_RECLAIMED_WHEN = re.compile(
    r"\b(?:will|would|can|could|gets?|is|are)\s+(?:be\s+)?(?:reclaimed|freed|released|given back|dropped)\s+"
    r"(?:\w+\s+)?(?:when|if|under|on|as)\s+(?:\w+\s+){0,3}?(?:needed|needs? it|pressure|demand|required)\b",
    re.I,
)
_SLAB_COUNTED_USED = re.compile(r"\bcache,?\s+Slab\b[^.\n]{0,40}\bcount\w*\s+(?:it\s+|them\s+)?as\s+used\b", re.I)


# a function said to lack the free: "netlbl_domhsh_free_entry() needs to free ...", "foo_remove() forgets to
# put the device", "the missing kfree() in foo_exit()"
_FREE_MISSING = re.compile(
    r"\b([A-Za-z_]\w{2,100})\(\)\s+(?:also\s+)?(?:needs?|has|should|must|forgets?|forgot|fails?|failed|neglects?)\s+to\s+"
    r"(?:also\s+)?(?:k?free|release|put|destroy|drop|clean\s*up)\b"
    # "free_watch() is missing a kfree() to actually free the watch"
    r"|\b([A-Za-z_]\w{2,100})\(\)\s+(?:is\s+)?missing\s+(?:a\s+|the\s+|an\s+)?(?:k?v?free|put|release|\w+_(?:free|put|release))\b"
    r"|\bmissing\s+(?:a\s+|the\s+)?(?:k?free|put|release|\w+_(?:free|put|release))\w*(?:\(\))?\s+(?:call\s+)?in\s+"
    r"([A-Za-z_]\w{2,100})\(\)"
    # "we never free it in free_raid_bio_pointers()", "I can't find the batadv_tvlv_handler_unregister for
    # BATADV_TVLV_MCAST_TRACKER in batadv_mcast_free()"
    r"|\b(?:never|not|don't|doesn't|do not|does not)\s+(?:k?free|release|put)\w*\s+(?:it|them|this|that|the\s+\w+)\s+"
    r"in\s+([A-Za-z_]\w{2,100})\(\)"
    r"|\b(?:can't|cannot|can not|don't|do not)\s+(?:find|see)\s+(?:the|a|any)\s+\w*(?:free|put|release|unregister|destroy)"
    r"\w*\b[^.]{0,80}?\bin\s+([A-Za-z_]\w{2,100})\(\)"
)
# what makes a finding a guess: "maybe foo() needs to free it?", "I wonder if ..."
_GUESSED = re.compile(
    r"\b(?:maybe|perhaps|might|possibly|probably|likely|guess|wonder|not sure|could it be|whether)\b", re.I
)


def _free_missing(text: str) -> tuple[str, ...]:
    """The functions the text finds the free missing in, guesses and questions left out."""
    found: dict[str, None] = {}
    for m in _FREE_MISSING.finditer(text):
        before = text[max(0, m.start() - 60) : m.start()]
        after = text[m.end() : m.end() + 120]
        if _GUESSED.search(before.rsplit(".", 1)[-1]) or after.split(".", 1)[0].rstrip().endswith("?"):
            continue
        found.setdefault(next(g for g in m.groups() if g), None)
    return tuple(found)


# "dmesg is full of cma_alloc errors", "CMA alloc failed", "cma: cma_alloc: alloc failed, req-size: 4 pages"
_CMA_FAILED = re.compile(
    r"\bcma_alloc\w*\b[^.\n]{0,40}?\b(?:fail\w*|errors?)\b|\b(?:fail\w*|errors?)\b[^.\n]{0,20}?\bcma_alloc\b"
    r"|\bCMA\s+(?:alloc\w*|allocations?)\s+(?:fail\w*|errors?)\b",
    re.I,
)
# "order 5 allocation", "an order-9 allocation", "order:4 allocations"
_HIGH_ORDER = re.compile(r"\border[- :]?(?:[4-9]|1[0-9])\s+(?:\w+\s+)?allocations?\b", re.I)
_ALLOC_FAILED = re.compile(
    r"\bCannot allocate memory\b|\bENOMEM\b|\ballocation failures?\b|\bfail(?:s|ed|ing|ure)?\b", re.I
)


def _high_order_failed(text: str) -> str | None:
    """The words that say a high-order allocation failed: the order named, and a failure told."""
    m = _HIGH_ORDER.search(text)
    if m is None or not _ALLOC_FAILED.search(text):
        return None
    return " ".join(m.group(0).split())


# a report's title naming the function a leak is in (syzbot's "memory leak in map_create"), written as code,
# or a maintainer's "the memory leak happens in acpi_ps_get_next_arg()"
_LEAK_IN = re.compile(
    r"\bleak\s+(?:(?:happens|occurs|is|lies)\s+)?in\s+([a-z_][a-z0-9]*_\w+|[A-Za-z_]\w{2,100}(?=\(\)))"
)


def _reclaim_told(stated: list[str]) -> str | None:
    """The words that put the memory in caches the kernel reclaims when it needs it."""
    for i, x in enumerate(stated):
        m = _SLAB_COUNTED_USED.search(x)
        if m is not None:
            return " ".join(m.group(0).split())
        m = _RECLAIMED_WHEN.search(x)
        named = _RECLAIMABLE_NAMED.search(x) or (i and _RECLAIMABLE_NAMED.search(stated[i - 1]))
        if m is not None and named and not _DENIED.search(x, max(0, m.start() - 20), m.start()):
            return " ".join(m.group(0).split())
    return None


# a device tree's memory node with its size ("memory@0 { device_type = "memory"; reg = <0x00 0x00 0x00 0x40000000>;")
_DT_MEMORY = re.compile(r"\bmemory@[0-9a-f]+\s*\{[^}]{0,120}?\breg\s*=\s*<[^>]+>", re.S)
_MEM_PARAM = re.compile(r"(?<![\w-])mem=[0-9]+[KMG]\b")
# "the system only sees 3.2 GB of the 4 GB installed", "only 3 GB is usable", "detects 4GB instead of 8GB"
_N_GB = r"~?[0-9]+(?:[.,][0-9]+)?\s*[GM]i?B?\b"
_RAM_SEEN = re.compile(
    r"\b(?:sees?|detects?|recogni[sz]es?|reports?|shows?)\s+(?:only\s+|just\s+)?"
    + _N_GB
    + r"[^.\n]{0,20}?\b(?:instead of\s+(?:the\s+|my\s+)?"
    + _N_GB
    + r"|(?:of|out of)\s+(?:the\s+|my\s+)?"
    + _N_GB
    + r"\s*(?:of\s+)?(?:RAM\s+|memory\s+)?(?:installed|physical|fitted|on board))"
    + r"|\b(?:only|just)\s+"
    + _N_GB
    + r"\s+(?:of\s+(?:\w+\s+){0,3})?(?:is\s+|are\s+)?(?:usable|visible|detected"
    r"|recogni[sz]ed|available to (?:the )?(?:OS|system|kernel|Linux))\b",
    re.I,
)


# memory a boot reserves for devices, as its log says ("ion_carveout reserve: 160m@0 256m@0", "Reserved
# memory: created CMA memory pool at 0x..., size 256 MiB", "cma: Reserved 256 MiB at ..."), under a
# complaint that the system shows less RAM than it has: that memory is the devices', not lost
_RESERVED_AT_BOOT = re.compile(
    r"\bion_carveout reserve:[^\n]*|\bReserved memory: created [\w ]*?pool at [^\n]*|\bcma: Reserved [0-9]+ [KMG]iB[^\n]*",
    re.I,
)
_LESS_RAM = re.compile(
    r"\bless (?:RAM|memory)\b[^.\n]{0,30}?\bthan\b|\b(?:RAM|memory) (?:is |shows? |reported )?(?:less|lower|smaller) than\b",
    re.I,
)


# the memory the crashkernel= parameter sets aside for a kdump kernel: "RAM being reserved for kdump";
# the boot's own line, "Reserving 161MB of memory at 704MB for crashkernel (System RAM: 4095MB)"
_CRASHKERNEL = re.compile(r"\bcrash ?kernel\b|\bkdump\b|\bcrashdump\b", re.I)
_CRASHKERNEL_LINE = re.compile(r"\bReserving [0-9]+MB of memory at [0-9]+MB for crashkernel[^\n]*")
_LOG_LINE = re.compile(r"^\s*(?:<\d+>)?\[\s*[0-9]+\.[0-9]+\][^\n]*$", re.M)


# "it hides 1/8th of the memory from `/proc/meminfo` MemTotal" (a KASAN kernel: its shadow is an eighth of RAM)
_KASAN_SHADOW = re.compile(
    r"\bKASAN\b[^.]{0,80}?\bhid(?:es|ing|den|e)\s+(?:\w+\s+){0,2}?(?:1/8|an?\s+eighth|one[- ]eighth|12\.5\s*%)\w*[^.]{0,60}?"
    r"\bMemTotal\b",
    re.I,
)


def _ram_withheld(text: str, stated: list[str]) -> str | None:
    """The words that show RAM the kernel was never given (so never used, nor lost)."""
    dt = _DT_MEMORY.search(text)
    if dt is not None:
        return "the device tree's memory node: " + " ".join(dt.group(0).split())[:120]
    param = _MEM_PARAM.search(text)
    if param is not None and re.search(r"\bcmdline\b|\bkernel (?:command line|parameters?|args)\b|\bGRUB", text, re.I):
        return f"{param.group(0)} on the kernel command line"
    seen = next((m for x in stated for m in [_RAM_SEEN.search(x)] if m), None)
    if seen is not None:
        return " ".join(seen.group(0).split())
    shadow = next((m for x in stated for m in [_KASAN_SHADOW.search(x)] if m), None)
    if shadow is not None:  # KASAN's shadow memory, an eighth of RAM set aside at boot
        return "KASAN's shadow memory, set aside at boot: " + " ".join(shadow.group(0).split())[:120]
    reserved = _RESERVED_AT_BOOT.search(text)
    if reserved is not None and any(_LESS_RAM.search(x) for x in stated):
        return "reserved at boot for devices: " + " ".join(reserved.group(0).split())[:120]
    if not _CRASHKERNEL.search(text):
        return None
    lines = [x for line in text.splitlines() if not _LOG_LINE.match(line) for x in _SENTENCE.split(line)]
    for words in lines:  # the reporter's own sentences (a title too), not a log line they quote
        if (
            _CRASHKERNEL.search(words)
            and re.search(r"\breserv\w*", words, re.I)
            and not (_DENIED.search(words) or _HEDGE.search(words) or words.rstrip().endswith("?"))
        ):
            line = _CRASHKERNEL_LINE.search(text)
            return "the crashkernel= reservation for kdump" + (f" ({' '.join(line.group(0).split())})" if line else "")
    return None


_FALSE_POSITIVE = re.compile(
    r"\b(?:is|was|are|were|be|it's|its|a|as|the)\s+(?:\w+\s+){0,2}?false[- ](?:positives?|alarms?)\b"
    # "Our automatic jobs keep throwing thus false positives"
    r"|\bkeeps?\s+(?:throw|report|giv|produc|rais)ing\s+(?:\w+\s+){0,2}?false[- ](?:positives|alarms)\b"
    r"|\bmisjudg\w*\b",
    re.I,
)
_NOT_FALSE_POSITIVE = re.compile(r"\b(?:not|isn't|wasn't|aren't|no|never|rule out|if)\b[^.]{0,20}$", re.I)


def _heap_profile(text: str) -> tuple[int, str] | None:
    """The total of a program's heap profile (pprof's "Showing nodes accounting for ..., N% of X total")."""
    m = _PPROF.search(text)
    if m is None:
        return None
    program = re.search(r"^\s*File:\s*(\S+)", text, re.M)
    return _bytes(m.group(1), m.group(2)), program.group(1) if program else "a program"


def _driver(text: str) -> str | None:
    """The driver lspci -k names for the devices shown, when they all have the same one."""
    drivers = set(re.findall(r"^\s*Kernel driver in use:\s*([\w-]+)\s*$", text, re.M))
    return drivers.pop() if len(drivers) == 1 else None


# memory a program is configured to take: a database's buffer pool or cache, a JVM's heap, redis's maxmemory
_CONFIGURED = re.compile(
    r"\b(?P<key>innodb_buffer_pool_size|shared_buffers|effective_cache_size|maxmemory|MaxHeapSize)\b[`'\"]?\s*[=:]?\s*"
    + _SIZE
    + r"|(?P<jvm>-Xmx)([0-9]+)([kKmMgGtT])\b"
)


def _configured(text: str) -> tuple[int, str] | None:
    """The largest memory a program's configuration gives it (a GiB or more), and its words."""
    best: tuple[int, str] | None = None
    for m in _CONFIGURED.finditer(text):
        if m.group("key") == "effective_cache_size":
            continue  # a planner hint, not memory taken
        size = _bytes(m.group(2), m.group(3)) if m.group("key") else _bytes(m.group(5), m.group(6))
        if size >= 1024**3 and (best is None or size > best[0]):
            best = (size, " ".join(m.group(0).split()))
    return best


_MEMORY_GROWS = re.compile(
    r"\b(?:memory|RAM|ram)(?: usage| use| consumption)?\s+(?:\w+\s+){0,2}?(?:shoots? up|jump\w*|grows?|grew|rises|rose|climbs?|increases?)\b"
    r"|\bconsumes? (?:a lot of|lots of|all|most of the) (?:memory|RAM)\b",
    re.I,
)


_SHUTDOWN = re.compile(
    # (a memcg's copy names its cgroup after the cache, "kmalloc-256(0:3546...)"; a paste may stop
    # before "on __kmem_cache_shutdown()": SLUB says "Objects remaining" nowhere else)
    r"\bBUG ([^\s(]+)(?:\([0-9]+:[^)\s]*\))? \([^)]*\): Objects remaining\b"
    r"|\bkmem_cache_destroy (\S+?):? Slab cache still has objects"
)
_PROGRAM_GROWS = re.compile(
    r"\b(?:memory|RAM)(?: memory)? (?:consumption|usage|use|footprint) of (?:the|this|our|my|its) (?:application|process"
    r"|program|daemon|service|app)\b[^.\n]{0,40}?\b(?:increas\w*|grows?|grew|rises|rose|climbs?|keeps? growing)\b"
    # top's or ps's own figure of one process said to grow: "the VIRT value in top was increasing"
    r"|\b(?:VIRT|RES|RSS|VSZ)\b(?: value| column| size)?(?: in (?:top|htop|ps))?\s+(?:\w+\s+){0,2}?"
    r"(?:increas\w*|grow\w*|grew|rising|rises|rose|climb\w*|leak\w*)\b",
    re.I,
)
# "the memory usage of hostapd and netifd grows more than 10x": programs by their names
_NAMED_PROGRAM_GROWS = re.compile(
    r"\b(?:memory|RAM)(?: memory)? (?:consumption|usage|use|footprint) of (?P<name>[A-Za-z][\w.-]{2,})"
    r"(?:\s+(?:and|&)\s+[A-Za-z][\w.-]{2,})?(?:\s+(?:process(?:es)?|daemons?|services?))?\s+(?:keeps?\s+|steadily\s+)?"
    r"(?:increas\w*|grow\w*|grew|rises|rising|rose|climb\w*)\b",
    re.I,
)
# the same in Chinese: "进程的GPU MEM部分从200m增长到2g" (the process's memory grew from ... to ...)
_PROGRAM_GROWS_ZH = re.compile(
    r"进程[^。\n]{0,20}?(?:内存|MEM|mem)[^。\n]{0,30}?(?:增长|增加|上涨|变大)"
    # "监控 /proc/$PID/status VmRSS 每 10 秒约增 1.7MB" (a process's VmRSS rises by ... every 10 s)
    r"|\bVmRSS\b[^。\n]{0,20}?(?:增长|增加|上涨|约?增)"
)


def _top_rows_grow(text: str) -> bool:
    """top's rows of one command pasted again later with its resident memory doubled or more: that
    program's own memory grows."""
    seen: dict[str, list[float]] = {}
    for m in _TOP_ROW.finditer(text):
        seen.setdefault(m.group("cmd"), []).append(float(m.group("res")) * _TOP_UNITS[m.group("unit")])
    return any(len(v) >= 2 and v[-1] >= 2 * max(v[0], 1) for v in seen.values())


# a process's mappings read from /proc: "cat /proc/APPLICATION_PID_HERE/maps | grep mxc_vpu | wc -l"
_PROC_MAPS = re.compile(r"/proc/(?!sys/)[^/\s]+/s?maps\b")
_PMAP_ROW = re.compile(r"^\s*(?:[0-9]+\s+)?[0-9a-f]{8,16}\s+[0-9]+(?:\s+[0-9-]+){0,2}\s+[r-][w-][x-][sp-]-?\s+\S", re.M)
_PPROF = re.compile(r"Showing nodes accounting for [0-9.]+\s*[kKMGT]?B, [0-9.]+% of " + _SIZE + r" total")


def _host_view(text: str, stated: list[str]) -> str | None:
    """The sentence that gives a VM's memory as its hypervisor shows it (Windows counts as one only
    where the text is about WSL): not the guest's own count."""
    if not _GUEST.search(text):
        return None
    wsl = bool(re.search(r"\bWSL ?2?\b", text))
    for sentence in stated:
        for m in _HOST_SIDE.finditer(sentence):
            if (wsl or not m.group("windows")) and _HOST_FIGURE.search(sentence):
                line = sentence[sentence.rfind("\n", 0, m.start()) + 1 :].split("\n", 1)[0]
                words = " ".join(re.sub(r"^[#>*\s-]*(?:@\S+\s+)?", "", line).split())
                return words if len(words) <= 160 else words[:157].rsplit(" ", 1)[0] + " ..."
    return None


def _bpf(text: str, stated: list[str]) -> int | None:
    """The memory BPF maps hold: bpftool's bytes_memlock summed over the maps listed, else 0 when a
    sentence that claims no leak puts the memory in eBPF's maps or programs."""
    held = sum(int(m.group(1) or m.group(2)) for m in _BPF_MEMLOCK.finditer(text))
    if held:
        return held
    return 0 if any(_BPF_HOLDS.search(x) and not _LEAKS.search(x) for x in stated) else None


def _claims(sentences: list[str]) -> list[str]:
    """The sentences that state something: "Is it a kernel memory leak?" asks, it does not claim,
    and nor does "there may be some driver caused memory leak"."""
    return [x for x in sentences if not x.rstrip().endswith("?") and not _HEDGE.search(x)]


def _clause(sentence: str, m: re.Match[str]) -> str:
    """The part of ``sentence`` on the match's own line, up to the match's end."""
    return sentence[sentence.rfind("\n", 0, m.start()) + 1 : m.end()]


_VMRSS = re.compile(r"\bVmRSS:?\s+([0-9]+)\s*kB", re.I)


def _rss_series(text: str) -> str | None:
    """VmRSS printed again and again for one process (a loop over /proc/PID/status): three values or
    more that end a tenth or more above where they began, near their peak, are that program's
    memory growing."""
    values = [int(m.group(1)) * 1024 for m in _VMRSS.finditer(text)]
    pids = set(re.findall(r"/proc/([0-9]+)/status", text))
    if len(values) < 3 or len(pids) > 1 or values[-1] < 1.1 * values[0] or values[-1] < max(values) * 0.95:
        return None
    return f"a process's VmRSS grows from {values[0] // 1024**2} MiB to {values[-1] // 1024**2} MiB"


def _either_size(m: re.Match[str]) -> int:
    """The size, in bytes, a pattern of two alternatives each ending in ``_SIZE`` matched (groups 1-2, else 3-4)."""
    return _bytes(m.group(1), m.group(2)) if m.group(1) else _bytes(m.group(3), m.group(4))


# memcached's own slab classes, as its "stats slabs" or memcached-tool list them: a program's allocator
# (its "Slab OOMs" are its own pages running out), not the kernel's slab
_MEMCACHED_SLABS = re.compile(r"^\s*STAT [0-9]+:chunk_size [0-9]+|\bmemcached-tool\b|\bstats slabs\b", re.M)


def _a_program(name: str) -> bool:
    """A name the words give as a program's: not a kernel thread, a cache, a kind of memory or the machine."""
    return not (
        _NOT_PROGRAMS.match(name)
        or _SYSTEM_NAME.match(name)
        or _KERNEL_THREAD.match(name)
        or _SLAB_NAMED.fullmatch(name)
        or _GENERIC_CACHE.fullmatch(name)
        or name.lower().endswith(("_cache", "cache", "_cachep"))
    )


def _process(text: str, stated: list[str]) -> str | None:
    """The words that say one program holds a GiB or more, in a sentence that does not deny it
    ("no process uses more than 1 GB" says the opposite), or a ps row of one with that RSS; or
    memcached's own slab classes."""
    if re.search(r"\bmemcached\b", text, re.I) and _MEMCACHED_SLABS.search(text):
        return "memcached's own slab classes (stats slabs, memcached-tool): memory of the memcached process"
    for sentence in stated:
        said = [(m, _either_size(m)) for m in _PROCESS_MEMORY.finditer(sentence)] + [
            (m, _bytes(m.group(2), m.group(3)))
            for m in [*_NAMED_PROGRAM_MEMORY.finditer(sentence), *_MEMORY_OF_PROGRAM.finditer(sentence)]
            if not _NOT_PROGRAMS.match(m.group("name")) and not _SYSTEM_NAME.match(m.group("name"))
        ]
        for m, size in said:
            if size >= 1024**3 and not _NEGATION.search(_clause(sentence, m)):
                return m.group(0).replace("`", "").strip()
    for sentence in stated:
        for m in [
            *_PROGRAM_TAKES_MEMORY.finditer(sentence),
            *(m for m in _PROGRAM_SHARE.finditer(sentence) if int(m.group("pct")) >= MIN_PROGRAM_SHARE),
        ]:
            if _a_program(m.group("name")) and not _NEGATION.search(_clause(sentence, m)):
                return re.sub(r"[`'\"()]", "", m.group(0)).strip()
    rows = [(int(m.group("rss")) * 1024, m.group("cmd"), "ps") for m in _PS_ROW.finditer(text)]
    rows += [
        (round(float(m.group("res")) * _TOP_UNITS[m.group("unit")]), m.group("cmd"), "top")
        for m in _TOP_ROW.finditer(text)
    ]
    tasks = sorted(
        ((int(m.group("rss")) * 4096, m.group("cmd")) for m in _OOM_TASK_ROW.finditer(text)),
        key=lambda t: t[0],
        reverse=True,
    )
    rows += [(rss, cmd, "OOM task table") for rss, cmd in tasks]
    rows += [
        (
            round(float(m.group("n")) * _TOP_UNITS[m.group("u").lower()]),
            m.group("name"),
            "systemd-oomd's current memory usage",
        )
        for m in _OOMD_CANDIDATE.finditer(text)
    ]
    rss, cmd, tool = max(rows, default=(0, "", ""))
    if len(tasks) >= 3 and tasks[0][0] >= DOMINANT_TASK_BYTES and tasks[0][0] >= DOMINANT_TASK_RATIO * tasks[1][0]:
        # the OOM killer's task table with one task holding ten times any other: where the memory
        # went, at any size (a router's 1 GiB, a small VM's)
        (big, name), (second, _) = tasks[0], tasks[1]
        return (
            f"{name.rsplit('/', 1)[-1]} at {big / 1024**2:.0f} MiB RSS, {big / max(second, 1):.0f}"
            " times any other task (OOM task table)"
        )
    if rss >= 1024**3:
        what = "" if "usage" in tool else " RSS"  # (a cgroup's usage counts its page cache too)
        return f"{cmd.rsplit('/', 1)[-1]} at {rss / 1024**3:.1f} GiB{what} ({tool})"
    # busybox top (routers, small boards) gives each process's share of memory: one holding a third
    # or more of a small box is where its memory is, at any size
    share, cmd = max(((int(m.group("pct")), m.group("cmd")) for m in _BUSYBOX_TOP_ROW.finditer(text)), default=(0, ""))
    if share >= 30:
        return f"{cmd.split()[0].rsplit('/', 1)[-1]} at {share}% of memory (busybox top's %VSZ)"
    return _rss_series(text)


# systemd-oomd's candidates: "Path: /system.slice/nix-daemon.service" and, a few lines on, "Current Memory Usage: 43.3G"
_OOMD_CANDIDATE = re.compile(
    r"\bPath: (?P<name>/\S+)(?:[^\n]*\n){1,5}?[^\n]*\bCurrent Memory Usage: (?P<n>[0-9]+(?:\.[0-9]+)?)(?P<u>[KMGT])\b"
)
# busybox top: "  PID  PPID USER     STAT   VSZ %VSZ %CPU COMMAND", a row "2592     1 root     S     254m  52%   0% /bin/vmtoolsd"
_BUSYBOX_TOP_ROW = re.compile(
    r"^\s*[0-9]+\s+[0-9]+\s+\S+\s+[RSDZTIW][<NLs+]*\s+[0-9]+(?:\.[0-9]+)?[mg]?\s+(?P<pct>[0-9]{1,3})%"
    r"\s+(?:[0-9]+\s+)?[0-9]+%\s+(?P<cmd>\S.*)$",
    re.M,
)


def _arc(text: str) -> int | None:
    """The size a sentence says ZFS's ARC holds ("about 8GB are currently in use by ARC"; "the arc ...
    now 8.5G" where the text names ZFS, so that the ARC CPUs' name is not read as it)."""
    arc = _ARC_ANY_CASE if _ZFS_NAMED.search(text) else _ARC_WORDS
    for line in text.splitlines():  # a line: a paste's words lose the blank lines between paragraphs
        sentence = line.strip()
        if arc.search(sentence) and not sentence.endswith("?") and not _HEDGE.search(sentence):
            sizes = [_bytes(m.group(1), m.group(2)) for m in _SIZED.finditer(sentence)]
            held = [n for n in sizes if n >= 1024**3]
            if held:
                return min(held)  # "16GB total, about 8GB in use by ARC": the smaller is the ARC's
    return None


_ARC_CAP = re.compile(r"\bzfs_arc_max\b|\barc (?:cache )?(?:max(?:imum)?|limit)\b", re.I)
_HELPED = re.compile(r"\b(?:helped|helps|fixed|fixes|solved|solves|resolved|cured)\b", re.I)


def _arc_capped(stated: list[str]) -> bool:
    """A sentence that caps ZFS's ARC (zfs_arc_max), and it or one of the two after it says that
    helped and does not deny it: the memory was the ARC's."""
    for i, sentence in enumerate(stated):
        if _ARC_CAP.search(sentence):
            for after in stated[i : i + 3]:
                m = _HELPED.search(after)
                if m and not _DENIED.search(after[: m.start()]):
                    return True
    return False


_RMMOD = re.compile(r"\b(?:rmmod|modprobe\s+-r)\s+((?:[A-Za-z][\w-]*\s*)+)")


def _unloaded_module(stated: list[str]) -> str | None:
    """The module a sentence says must be unloaded to get the memory back (the last one rmmod
    names: the core module, after its bus glue)."""
    for sentence in stated:
        m = _RMMOD.search(sentence)
        if m and re.search(r"\b(?:reclaim\w*|recover\w*|free\w*|gives? back|releas\w*)\b", sentence, re.I):
            return m.group(1).split()[-1]
    return None


def _balloon(text: str) -> int | None:
    """The size a hypervisor's balloon is said to hold (a GiB or more)."""
    return next((size for m in _BALLOON.finditer(text) if (size := _either_size(m)) >= 1024**3), None)


def _page_cache_dropped(stated: list[str]) -> bool:
    """A sentence says that dropping the page cache (``echo 1`` or ``3 > drop_caches``) fixes it, or
    gives the memory back, and does not deny it ("can't be freed by echo 3 > drop_caches")."""
    return any(_PAGE_CACHE_DROP.search(x) and _DROP_FIXES.search(x) and not _DENIED.search(x) for x in stated)


def _kept(stated: list[str]) -> bool:
    """Slab, or a cache named, said not to be given back, and something that should have freed it
    said to have been tried (drop_caches, vfs_cache_pressure, swapping, memory pressure, the OOM
    killer): "not freed" alone is often only what free's "used" column seemed to say."""
    kept = [x for x in stated if _KEPT.search(x)]
    return any(_SLAB_NAMED.search(x) for x in kept) and any(_RECLAIM_TRIED.search(x) for x in kept)


_MEMLEAK_TOOL = re.compile(r"(?:\./|/)memleak\b|\bbcc\b|libbpf-tools|\bmemleak(?:\.py)? -[a-zA-Z]")
_GUESS = re.compile(r"\b(?:is it|is this|is that|could it be|might it be|would it be|maybe it is)\b", re.I)


# "plenty of memory used by dentry_cache and inode_cache": where the memory is, grown or not
_HELD_BY = re.compile(r"\b(?:memory|RAM)\s+(?:is\s+|being\s+)?(?:used|held|taken|occupied)\s+by\b", re.I)


def _growing(sentences: list[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The caches, and the kinds of kernel memory, named in sentences that say something grows or
    leaks, first named first."""
    caches: dict[str, None] = {}
    kinds: dict[str, None] = {}
    before = ""
    for sentence in sentences:
        sentence, before = _with_referent(sentence, before), sentence
        grows = bool(_GROWS.search(sentence) or _KEPT.search(sentence))
        held = grows or bool(_HELD_BY.search(sentence))  # names the caches that hold it, not a kind that grows
        if sentence.rstrip().endswith("?") and _GUESS.search(sentence):
            continue  # "which structure occupies so much memory, is it dentry&inode?": a guess names nothing
        if not held and not any(_bytes(m.group(1), m.group(2)) >= MIN_NAMED_CACHE for m in _SIZED.finditer(sentence)):
            continue  # a cache named with a size of a GiB or more is what the ticket is about, grown or not
        for m in _GENERIC_CACHE.finditer(sentence):
            caches.setdefault(m.group(1), None)
        # (a sentence about a process's memory names the process in backticks: "VIRT ... for `camera_node`")
        for m in _QUOTED_CACHE.finditer("" if _PROGRAM_GROWS.search(sentence) else sentence):
            name = m.group(1) or m.group(2)
            if name not in _NOT_CACHES:
                caches.setdefault("dentry" if name == "dentries" else name, None)
        if not grows or _OTHER_TICKET.search(sentence):
            continue  # ("this might be the same as bug #149 (about vmalloc)": another ticket's kind)
        named = [
            (m.start(), kind)
            for kind, pattern in _KINDS
            for m in [pattern.search(sentence)]
            if m and not (kind == "slab-unreclaimable" and _OUTSIDE_SLAB.search(sentence))  # "no slab usage"
        ]
        for _at, kind in sorted(named):
            kinds.setdefault(kind, None)
    # a cache given a size of its own ("the kmalloc-512 slab has some 1.3GB in it alone") comes
    # before those only named, the biggest first
    sized: dict[str, int] = {}
    for sentence in sentences:
        for m in _CACHE_SIZED.finditer(sentence):
            sized[m.group(1)] = max(sized.get(m.group(1), 0), _bytes(m.group(2), m.group(3)))
    order = sorted(caches, key=lambda c: -sized.get(c, 0))
    return tuple(order), tuple(kinds)


# a cache's rows picked out of /proc/slabinfo: "grep ip_dst_cache /proc/slabinfo"
_GREPPED_CACHE = re.compile(r"\bgrep\s+(?:-\w+\s+)*['\"]?\^?([A-Za-z][\w-]*[A-Za-z0-9])['\"]?\s+/proc/slabinfo\b")
# a sentence that likens the ticket to another one names that one's kind, not its own
_OTHER_TICKET = re.compile(
    r"\b(?:same as|similar to|duplicate of|related to)\b.{0,20}?(?:\bbug\b|\bissue\b|#[0-9]+)", re.I
)
_CACHE_SIZED = re.compile(_GENERIC_CACHE.pattern + r"[^.,;:\n0-9]{0,30}?" + _SIZE)
# "I've observed a leak in this": the sentence points back at what the one before named
_POINTS_BACK = re.compile(
    r"\b(?:leak\w*|grow\w*|grew)\s+(?:in|of|with|from)\s+(?:this|it|that|them|these)\b"
    # "... see the graph of node_memory_SUnreclaim_bytes. If the graph constantly grows, ..."
    r"|\b(?:(?:the|this|that|its)\s+)?(?:graph|metric|curve|chart|counter)\s+(?:\w+\s+)?(?:grows|grew|rises|increases|climbs|keeps)",
    re.I,
)


def _with_referent(sentence: str, before: str) -> str:
    """A sentence that says something leaks "in this", naming no kind itself, read with the sentence
    before it ("Linux has a separate per CPU counter. I've observed a leak in this")."""
    if before and _POINTS_BACK.search(sentence) and not any(p.search(sentence) for _, p in _KINDS):
        return f"{before} {sentence}"
    return sentence


def parse_words(text: str) -> ProseFacts:
    """The parser of a ticket's words kept as evidence (the lines that hold no output)."""
    return read_prose(text)
