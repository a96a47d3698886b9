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
