"""Parse a kernel build configuration (``/boot/config-<release>``, ``zcat /proc/config.gz``).

Used to say why a probe cannot run (no ``CONFIG_DEBUG_KMEMLEAK``, no ``CONFIG_PAGE_OWNER``) and
what would enable it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from kleak_runbook.errors import ParseError

SPEC = "kconfig"

_OPTION = re.compile(r"^CONFIG_([A-Za-z0-9_]+)=(.*)$")


def _name(name: str) -> str:
    return name[7:] if name.startswith("CONFIG_") else name


@dataclass(frozen=True)
class KernelConfig:
    # Names without the CONFIG_ prefix; strings unquoted. "is not set" options are absent.
    options: Mapping[str, str]

    def enabled(self, name: str) -> bool:
        """Built in (``=y``) or as a module (``=m``); ``name`` with or without ``CONFIG_``."""
        return self.options.get(_name(name)) in ("y", "m")

    def value(self, name: str) -> str | None:
        return self.options.get(_name(name))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and _name(name) in self.options


def parse_kconfig(text: str) -> KernelConfig:
    """Parse kernel .config text.

    >>> cfg = parse_kconfig('''#
    ... # Linux/x86 6.18.44 Kernel Configuration
    ... #
    ... CONFIG_CC_VERSION_TEXT="gcc (GCC) 15.3.0"
    ... CONFIG_SLUB_DEBUG=y
    ... # CONFIG_PAGE_OWNER is not set
    ... CONFIG_HAVE_DEBUG_KMEMLEAK=y
    ... # CONFIG_DEBUG_KMEMLEAK is not set
    ... ''')
    >>> cfg.enabled("SLUB_DEBUG"), cfg.enabled("CONFIG_DEBUG_KMEMLEAK"), cfg.value("PAGE_OWNER")
    (True, False, None)
    >>> cfg.value("CC_VERSION_TEXT")
    'gcc (GCC) 15.3.0'
    """
    options: dict[str, str] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            # comments, section titles and "# CONFIG_X is not set"
            continue
        m = _OPTION.match(stripped)
        if m is None:
            raise ParseError(SPEC, f"expected 'CONFIG_NAME=value', got {stripped[:60]!r}", line=lineno)
        value = m[2]
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        options[m[1]] = value
    return KernelConfig(options)
