"""Tests for the kernel config parser."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from kleak_runbook.errors import ParseError
from kleak_runbook.parsers.kconfig import parse_kconfig

# Synthetic, labelled: the options the lab notes report for the lab's Debian 6.1 kernel (SLUB_DEBUG=y,
# no DEBUG_KMEMLEAK, no PAGE_OWNER, HIST_TRIGGERS=y), in the format of /boot/config-*.
LAB_SNIPPET = """\
#
# Automatically generated file; DO NOT EDIT.
# Linux/x86 6.1.0 Kernel Configuration
#
CONFIG_CC_VERSION_TEXT="gcc-12 (Debian 12.2.0-14) 12.2.0"
CONFIG_LOCALVERSION=""
CONFIG_MEMCG_KMEM=y
CONFIG_SLUB=y
CONFIG_SLUB_DEBUG=y
# CONFIG_SLUB_DEBUG_ON is not set
CONFIG_DEBUG_FS=y
# CONFIG_PAGE_OWNER is not set
CONFIG_HAVE_DEBUG_KMEMLEAK=y
# CONFIG_DEBUG_KMEMLEAK is not set
CONFIG_HIST_TRIGGERS=y
CONFIG_KVM=m
CONFIG_LOG_BUF_SHIFT=18
CONFIG_ARCH_MMAP_RND_BITS_MIN=28
CONFIG_ILLEGAL_POINTER_VALUE=0xdead000000000000
"""


def test_lab_facts() -> None:
    cfg = parse_kconfig(LAB_SNIPPET)
    assert cfg.enabled("SLUB_DEBUG") and cfg.enabled("CONFIG_HIST_TRIGGERS") and cfg.enabled("KVM")
    assert not cfg.enabled("DEBUG_KMEMLEAK") and not cfg.enabled("PAGE_OWNER")
    assert "DEBUG_KMEMLEAK" not in cfg and "CONFIG_HAVE_DEBUG_KMEMLEAK" in cfg
    assert cfg.value("KVM") == "m" and cfg.value("LOG_BUF_SHIFT") == "18"
    assert cfg.value("CC_VERSION_TEXT") == "gcc-12 (Debian 12.2.0-14) 12.2.0"
    assert cfg.value("LOCALVERSION") == "" and not cfg.enabled("LOCALVERSION")
    assert cfg.value("ILLEGAL_POINTER_VALUE") == "0xdead000000000000"
    assert len(cfg.options) == 12


def _host_config() -> str | None:
    proc = Path("/proc/config.gz")
    if proc.is_file():
        return gzip.decompress(proc.read_bytes()).decode()
    boot = sorted(Path("/boot").glob("config-*")) if Path("/boot").is_dir() else []
    return boot[-1].read_text() if boot else None


HOST_CONFIG = _host_config()


@pytest.mark.skipif(HOST_CONFIG is None, reason="no /proc/config.gz or /boot/config-* on this host")
def test_this_hosts_config() -> None:
    # Real text: whatever kernel runs the tests (written on a 6.18 Firecracker VM).
    assert HOST_CONFIG is not None
    cfg = parse_kconfig(HOST_CONFIG)
    not_set = sum(1 for line in HOST_CONFIG.splitlines() if line.endswith(" is not set"))
    assert len(cfg.options) > 500 and not_set > 100
    assert all(line.partition("=")[0][7:] in cfg for line in HOST_CONFIG.splitlines() if line.startswith("CONFIG_"))
    assert (
        cfg.enabled("SLUB") or cfg.enabled("SLAB") or "SLUB_TINY" in cfg or cfg.enabled("64BIT") or cfg.enabled("MMU")
    )


def test_escaped_string_crlf_and_errors() -> None:
    # synthetic edge case: Kconfig escapes quotes and backslashes inside string values
    cfg = parse_kconfig('CONFIG_CMDLINE="console=ttyS0 \\"quiet\\" C:\\\\x"\r\n')
    assert cfg.value("CMDLINE") == 'console=ttyS0 "quiet" C:\\x'
    assert parse_kconfig("").options == {}
    with pytest.raises(ParseError) as err:
        parse_kconfig(LAB_SNIPPET + "SLUB_DEBUG=y\n")
    assert err.value.spec == "kconfig" and err.value.line == 20
