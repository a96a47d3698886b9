"""Who may run what: allowed hosts, the strict chat command grammar, and intrusive consents.

A chat user never aims the tool at an arbitrary address or passes Ansible options: a host must
look like a host name and match a configured pattern, and the command text has exactly one form.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass

from kleak_runbook.probes import CONSENTS

# A host name, an IPv4 address or a bare IPv6 address; never a leading '-' (an option) or '@' (a file).
HOST_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,252}$")
USAGE = "usage: /kleak HOST [samples=N] [allow=drop_caches,trace,kmemleak]"


class Refused(Exception):
    """A request that is understood and refused; ``status`` is the HTTP status, ``reason`` one line."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


@dataclass(frozen=True)
class Request:
    """What a trigger asks for, after validation; the only fields that reach a command line."""

    host: str
    samples: int | None = None
    consents: tuple[str, ...] = ()
    runbook: str = "kernel-memory-leak"


def check_host(host: str, patterns: tuple[str, ...]) -> str:
    """The host if it is well-formed and allowed; Refused(403) otherwise."""
    if not HOST_RE.match(host):
        raise Refused(400, f"not a host name: {host[:60]!r}")
    if not any(fnmatch.fnmatchcase(host.lower(), p.lower()) for p in patterns):
        raise Refused(403, f"host {host} is not in the allowed hosts")
    return host


def parse_command(text: str, max_samples: int) -> Request:
    """``HOST [samples=N] [allow=a,b]`` and nothing else; Refused(400) with the usage line otherwise."""
    words = text.split()
    if not words or not HOST_RE.match(words[0]):
        raise Refused(400, USAGE)
    samples: int | None = None
    consents: tuple[str, ...] = ()
    seen: set[str] = set()
    for word in words[1:]:
        key, sep, value = word.partition("=")
        if not sep or key in seen or key not in ("samples", "allow"):
            raise Refused(400, USAGE)
        seen.add(key)
        if key == "samples":
            if not value.isascii() or not value.isdigit() or not 1 <= int(value) <= max_samples:
                raise Refused(400, f"samples takes 1 to {max_samples}; {USAGE}")
            samples = int(value)
        else:
            consents = parse_consents(value.split(","))
    return Request(words[0], samples, consents)


def parse_consents(names: list[str]) -> tuple[str, ...]:
    wanted = tuple(sorted({n.strip() for n in names if n.strip()}))
    unknown = [n for n in wanted if n not in CONSENTS]
    if unknown:
        raise Refused(400, f"unknown consent {unknown[0][:30]!r} (known: {', '.join(CONSENTS)})")
    return wanted


@dataclass(frozen=True)
class Granted:
    """The consents a requester may give, ``via`` which grants (``slack-group:S0614TZR7``), and
    ``unchecked``: why a membership that might have granted more could not be checked (denied)."""

    consents: tuple[str, ...] = ()
    via: tuple[str, ...] = ()
    unchecked: str | None = None


NO_GRANT = Granted()


def check_consents(wanted: tuple[str, ...], granted: Granted, who: str) -> None:
    """Intrusive probes only for those configured to consent to them."""
    denied = [c for c in wanted if c not in granted.consents]
    if denied:
        why = f" ({granted.unchecked})" if granted.unchecked else ""
        raise Refused(403, f"{who} may not consent to {', '.join(denied)}{why}")


def strip_port(instance: str) -> str:
    """``db7:9100`` -> ``db7``; ``[::1]:9100`` -> ``::1``; a bare IPv6 address is kept whole."""
    if instance.startswith("["):
        return instance[1:].split("]", 1)[0]
    if instance.count(":") == 1:
        return instance.split(":", 1)[0]
    return instance
