"""Parse ``/proc/cmdline`` into arguments split the way the kernel splits them."""

from __future__ import annotations

from dataclasses import dataclass


def _norm(name: str) -> str:
    # the kernel treats '-' and '_' in parameter names alike (kernel/params.c parameq)
    return name.replace("-", "_")


@dataclass(frozen=True)
class KernelCmdline:
    args: tuple[str, ...]  # as written, quotes included; arguments after "--" go to init

    def _pairs(self) -> list[tuple[str, str | None]]:
        pairs: list[tuple[str, str | None]] = []
        for arg in self.args:
            if arg == "--":
                break
            key, sep, value = arg.partition("=")
            if sep and len(value) >= 2 and value[0] == '"' and value[-1] == '"':
                value = value[1:-1]
            pairs.append((key.strip('"'), value if sep else None))
        return pairs

    def params(self) -> dict[str, str | None]:
        """Kernel parameters before ``--``: ``key=value`` -> value (quotes removed), bare ``key`` -> None."""
        return dict(self._pairs())

    @property
    def init_args(self) -> tuple[str, ...]:
        """What follows ``--``: passed to init, not kernel parameters."""
        return self.args[self.args.index("--") + 1 :] if "--" in self.args else ()

    def has(self, name: str, value: str | None = None) -> bool:
        """Whether parameter ``name`` is set (to ``value``, if given; the last occurrence counts)."""
        wanted = _norm(name)
        for key, found in reversed(self._pairs()):
            if _norm(key) == wanted:
                return value is None or found == value
        return False


def parse_cmdline(text: str) -> KernelCmdline:
    """Parse ``/proc/cmdline``; a double-quoted value with spaces stays one argument.

    >>> cmd = parse_cmdline("root=/dev/vda rw console=ttyS0 net.ifnames=1 \\n")
    >>> cmd.args
    ('root=/dev/vda', 'rw', 'console=ttyS0', 'net.ifnames=1')
    >>> cmd.params()["rw"], cmd.has("console", "ttyS0")
    (None, True)
    >>> parse_cmdline('dyndbg="file mm/slub.c +p" quiet').params()["dyndbg"]
    'file mm/slub.c +p'
    """
    args: list[str] = []
    current: list[str] = []
    in_quote = False
    for char in text.strip():
        if char == '"':
            in_quote = not in_quote
        elif char.isspace() and not in_quote:
            if current:
                args.append("".join(current))
                current = []
            continue
        current.append(char)
    if current:
        args.append("".join(current))
    return KernelCmdline(tuple(args))
