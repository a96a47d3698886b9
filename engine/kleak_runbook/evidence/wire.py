"""The collection wire format: a POSIX sh script that prints evidence between markers.

One ``raw`` Ansible task runs one script in one exec; no Python is needed on the target.
Each item is framed by ``<marker> BEGIN <item>`` and ``<marker> END <item> status=... bytes=N
lines=N``, the counts computed by the same ``awk`` that copied the text, so a reply that
ansible-runner truncated (its ``MAX_EVENT_RES``) or a stream cut short cannot pass as evidence.
"""

from __future__ import annotations

import re
import secrets
import shlex
from dataclasses import dataclass

# Copies stdin between the markers, counting bytes and lines; stops at $3 bytes (the item's
# size limit) and then says status=toolarge instead of ok, so a huge file is never half-read.
_COPY = (
    'LC_ALL=C awk -v m="$M" -v nm="$1" -v max="$3" '
    "'{if (n+length($0)+1 > max+0) {big=1; exit} print; n+=length($0)+1} "
    'END{if (big) printf "\\n%s END %s status=toolarge max=%d\\n", m, nm, max; '
    'else printf "%s END %s status=ok bytes=%d lines=%d\\n", m, nm, n, NR}\''
)
# The same for files, read by awk itself (status name path max in ARGV, four by four): one awk for
# every file of a batch, not one per file (a fork and an exec each: ~1 ms, the most of a sample's
# time on the host after Ansible's own). mawk ends its program at a read error (a directory, EIO),
# so awk says on stderr which file it is on ("@kl@<i>", "@kl@<i>+" once that file's END is out,
# "@kl@end"); kl_files reads that back, reports the file it died on as status=error rc=<awk's exit
# status>, passes on awk's own message to stderr, and goes on with the next file: what one awk per
# file gave. Everything is flushed after each file, so an END is out before its "+". The shell
# still decides missing and denied (test -e, -r) before awk runs; awk prints their lines in order.
_FILES = (
    'LC_ALL=C awk -v m="$M" \'BEGIN{for (i = 1; i + 3 < ARGC; i += 4) {'
    'printf "@kl@%d\\n", i > "/dev/stderr"; fflush("/dev/stderr"); nm = ARGV[i + 1]; '
    'if (ARGV[i] != "read") print m " END " nm " status=" ARGV[i]; '
    'else {f = ARGV[i + 2]; max = ARGV[i + 3] + 0; n = 0; k = 0; big = 0; print m " BEGIN " nm; '
    "while ((r = (getline line < f)) > 0) {if (n + length(line) + 1 > max) {big = 1; break} "
    "print line; n += length(line) + 1; k++} close(f); "
    'if (big) printf "\\n%s END %s status=toolarge max=%d\\n", m, nm, max; '
    'else if (r < 0) printf "\\n%s END %s status=error\\n", m, nm; '
    'else printf "%s END %s status=ok bytes=%d lines=%d\\n", m, nm, n, k + 0} '
    'fflush(); printf "@kl@%d+\\n", i > "/dev/stderr"; fflush("/dev/stderr")} '
    'print "@kl@end" > "/dev/stderr"; exit}\' "$@" 2>&1 1>&3 3>&-'
)

_PRELUDE = f"""M={{marker}}
kl_files() {{
  kl_n=$#
  while [ "$kl_n" -ge 3 ]; do
    if [ ! -e "$2" ]; then kl_s=missing; elif [ ! -r "$2" ]; then kl_s=denied; else kl_s=read; fi
    set -- "$@" "$kl_s" "$1" "$2" "$3"; shift 3; kl_n=$((kl_n - 3))
  done
  shift "$kl_n"
  while [ $# -ge 4 ]; do
    {{ kl_k=$({_FILES}); }} 3>&1
    kl_rc=$?
    case $kl_k in *@kl@end*) return 0 ;; esac
    kl_at=${{kl_k##*@kl@}}; kl_i=${{kl_at%%[!0-9]*}}; kl_at=${{kl_at#"$kl_i"}}
    shift $(( ${{kl_i:-1}} - 1 ))
    case $kl_at in
      +*) ;;
      *) if [ "$1" != read ]; then echo "$M END $2 status=$1"; else printf '\\n%s END %s status=error rc=%s\\n' "$M" "$2" "$kl_rc"; fi
         if [ -n "$kl_i" ]; then kl_at=${{kl_at#?}}; fi; if [ -n "$kl_at" ]; then printf '%s\\n' "$kl_at" >&2; fi ;;
    esac
    shift 4
  done
}}
kl_cmd() {{
  if command -v timeout >/dev/null 2>&1; then kl_out=$(timeout "$4" sh -c "$2" 2>/dev/null | head -c $(($3 + 1)))
  else kl_out=$(eval "$2" 2>/dev/null | head -c $(($3 + 1))); fi; kl_rc=$?
  if [ -z "$kl_out" ]; then echo "$M END $1 status=missing rc=$kl_rc"; return 0; fi
  echo "$M BEGIN $1"
  printf '%s\\n' "$kl_out" | {_COPY}
}}
kl_time() {{
  echo "$M TIME $(date -u +%Y-%m-%dT%H:%M:%S.%NZ 2>/dev/null) $(cat /proc/uptime 2>/dev/null)"
}}
"""

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
DEFAULT_TIMEOUT_S = 60


def new_marker() -> str:
    return "KLEAK-" + secrets.token_hex(6)


@dataclass
class ScriptBuilder:
    """Builds one script; items are named ``<prefix><relpath>`` so the reply says where each goes."""

    marker: str
    lines: list[str]
    label: str = ""

    @classmethod
    def new(cls, batch: str, marker: str | None = None) -> ScriptBuilder:
        m = marker or new_marker()
        return cls(m, [_PRELUDE.replace("{marker}", m), f'echo "$M BATCH {batch}"'], batch)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.lines.append(f"sleep {seconds:g}")

    def timestamp(self) -> None:
        self.lines.append("kl_time")

    def file(self, item: str, host_path: str, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        """Copy a file, at most ``max_bytes`` of it (a larger one is reported as ``toolarge``)."""
        args = f"{shlex.quote(item)} {shlex.quote(host_path)} {int(max_bytes)}"
        if self.lines and self.lines[-1].startswith("kl_files "):
            self.lines[-1] += f" {args}"  # files in a row: one line of the script
        else:
            self.lines.append(f"kl_files {args}")

    def command(
        self, item: str, command: str, max_bytes: int = DEFAULT_MAX_BYTES, timeout_s: int = DEFAULT_TIMEOUT_S
    ) -> None:
        """Run a read-only command for at most ``timeout_s`` seconds and copy at most ``max_bytes`` of its output."""
        self.lines.append(f"kl_cmd {shlex.quote(item)} {shlex.quote(command)} {int(max_bytes)} {int(timeout_s)}")

    def action(self, name: str, command: str) -> None:
        """Run a host-changing command (only for consented probes); report rc and elapsed ms."""
        self.lines.append(
            f"kl_t0=$(date +%s%N); ( {command} ) 2>/dev/null; kl_rc=$?; kl_t1=$(date +%s%N); "
            f'echo "$M ACTION {name} rc=$kl_rc ns=$((kl_t1-kl_t0))"'
        )

    def render(self) -> str:
        script = "\n".join([*self.lines, 'echo "$M DONE"', ""])
        # Ansible templates strings it passes around; a script must never look like Jinja.
        assert not any(t in script for t in ("{{", "{%", "{#")), "script would be templated"
        return script

    def as_raw_command(self) -> str:
        return "/bin/sh -c " + shlex.quote(self.render())


@dataclass(frozen=True)
class Item:
    name: str
    status: str  # ok | missing | denied | error | truncated | toolarge
    text: str | None
    detail: str = ""


@dataclass(frozen=True)
class Reply:
    batch: str | None
    times: tuple[tuple[str, float | None], ...]  # (wall clock ISO, uptime seconds)
    items: tuple[Item, ...]
    actions: tuple[tuple[str, dict[str, str]], ...]
    complete: bool


_KV = re.compile(r"(\w+)=(\S*)")


def decode(stdout: str, marker: str) -> Reply:
    """Split a script's stdout into items, checking every item's byte and line counts."""
    batch: str | None = None
    times: list[tuple[str, float | None]] = []
    items: list[Item] = []
    actions: list[tuple[str, dict[str, str]]] = []
    complete = False
    current: str | None = None
    body: list[str] = []
    prefix = marker + " "
    for raw_line in stdout.split("\n"):
        line = raw_line[:-1] if raw_line.endswith("\r") else raw_line
        if not line.startswith(prefix):
            if current is not None:
                body.append(line)
            continue
        word, _, rest = line[len(prefix) :].partition(" ")
        if word == "BEGIN":
            if current is not None:
                items.append(Item(current, "truncated", None, "next item began before END"))
            current, body = rest, []
        elif word == "END":
            name, _, tail = rest.partition(" ")
            fields = dict(_KV.findall(tail))
            items.append(_finish(name, fields, body if current == name else None))
            current, body = None, []
        elif word == "TIME":
            parts = rest.split()
            wall = parts[0] if parts else ""
            up = _float(parts[1]) if len(parts) > 1 else None
            times.append((wall, up))
        elif word == "ACTION":
            name, _, tail = rest.partition(" ")
            actions.append((name, dict(_KV.findall(tail))))
        elif word == "BATCH":
            batch = rest
        elif word == "DONE":
            complete = True
    if current is not None:
        items.append(Item(current, "truncated", None, "output ended inside the item"))
    return Reply(batch, tuple(times), tuple(items), tuple(actions), complete)


def _finish(name: str, fields: dict[str, str], body: list[str] | None) -> Item:
    status = fields.get("status", "error")
    if status == "toolarge":
        limit = int(fields.get("max") or 0)
        size = f"{limit // 1048576} MiB" if limit >= 1048576 else f"{limit} bytes"
        return Item(name, status, None, f"larger than the {size} limit")
    if status != "ok":
        rc = fields.get("rc")
        return Item(name, status, None, f"rc={rc}" if rc else "")
    if body is None:
        return Item(name, "truncated", None, "END without BEGIN")
    text = "\n".join(body) + "\n" if body else ""
    want_bytes, want_lines = int(fields.get("bytes") or 0), int(fields.get("lines") or 0)
    got_bytes = len(text.encode("utf-8", "surrogateescape"))
    if got_bytes != want_bytes or len(body) != want_lines:
        return Item(
            name,
            "truncated",
            None,
            f"got {got_bytes} bytes/{len(body)} lines, host sent {want_bytes}/{want_lines}",
        )
    return Item(name, "ok", text)


def _float(s: str) -> float | None:
    try:
        return float(s)
    except ValueError:
        return None
