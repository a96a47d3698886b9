"""The parse stage: one host's evidence texts → typed values, each text parsed once per run.

Every parser is reached through the spec registry (``evidence.specs``), with the form the text
has (``slabtop`` output parses straight to ``SlabInfo``). A text that does not parse becomes an
``error`` gap naming the file and sample, never an exception that stops the run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from kleak_runbook.errors import ParseError
from kleak_runbook.evidence.specs import SPECS
from kleak_runbook.evidence.store import EvidenceStore, Probe


@dataclass(frozen=True)
class ParsedSample:
    index: int
    wall: str | None
    uptime: float | None  # the host's monotonic clock at the sample, when known
    values: Mapping[str, Any]  # spec -> parsed value
    # spec -> the form its text had, when not its own ("oom", "free", ...)
    forms: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class HostEvidence:
    """What a host's evidence says, typed: the input of the derive stage."""

    host: str
    samples: tuple[ParsedSample, ...]
    static: Mapping[str, Any]  # spec -> parsed value
    texts: Mapping[str, str]  # spec -> raw static text (identity strings are quoted as they are)
    probes: Mapping[str, Probe]  # raw probe records: each probe module interprets its own

    def with_spec(self, spec: str) -> list[ParsedSample]:
        return [s for s in self.samples if spec in s.values]


class HostParser:
    """Parses one host's store; call ``parse()`` after each step: only new texts are parsed."""

    def __init__(self, store: EvidenceStore) -> None:
        self.store = store
        self._samples: dict[tuple[int, str], Any] = {}
        self._static: dict[str, Any] = {}
        self._failed: set[tuple[int, str]] = set()

    def _parse(self, spec: str, text: str, form: str, where: str) -> Any:
        try:
            return SPECS[spec].parser(form or None)(text)
        except ParseError as exc:
            self.store.add_gap(spec, "error", f"{where}: {exc}")
        except (ValueError, OverflowError, IndexError) as exc:  # a parser's own bug must not end the run
            self.store.add_gap(spec, "error", f"{where}: {spec}: unreadable ({type(exc).__name__}: {exc})")
        return None

    def parse(self) -> HostEvidence:
        store = self.store
        samples = []
        for s in store.samples:
            values: dict[str, Any] = {}
            for spec, text in s.texts.items():
                key = (s.index, spec)
                if key not in self._samples and key not in self._failed:
                    where = f"samples/{s.index:03d}/{SPECS[spec].relpath}"
                    value = self._parse(spec, text, s.forms.get(spec, ""), where)
                    if value is None:
                        self._failed.add(key)
                    else:
                        self._samples[key] = value
                if key in self._samples:
                    values[spec] = self._samples[key]
            uptime = s.uptime if s.uptime is not None else values.get("uptime")
            forms = MappingProxyType({k: v for k, v in s.forms.items() if k in values})
            samples.append(ParsedSample(s.index, s.wall, uptime, MappingProxyType(values), forms))
        for spec, text in (*store.static.items(), *store.history.items()):  # history: Prometheus, earlier runs
            if spec not in self._static:
                where = f"static/{SPECS[spec].relpath}"
                self._static[spec] = self._parse(spec, text, store.static_forms.get(spec, ""), where)
        static = {k: v for k, v in self._static.items() if v is not None}
        return HostEvidence(
            host=store.host,
            samples=tuple(samples),
            static=MappingProxyType(static),
            texts=MappingProxyType(dict(store.static)),
            probes=MappingProxyType(dict(store.probes)),
        )
