"""Parsers named lazily in evidence.specs (imported on first use) all exist under their names."""

from __future__ import annotations

import importlib

from kleak_runbook.evidence.specs import SPECS, _Lazy


def test_every_lazy_parser_resolves() -> None:
    lazies = [p for spec in SPECS.values() for p in (spec.parse, *spec.forms.values()) if isinstance(p, _Lazy)]
    assert len(lazies) >= 20
    for lazy in lazies:
        module, _, name = lazy.target.partition(":")
        assert callable(getattr(importlib.import_module(f"kleak_runbook.parsers.{module}"), name)), lazy


def test_a_lazy_parser_parses_like_the_function() -> None:
    from kleak_runbook.parsers.meminfo import parse_meminfo

    text = "MemTotal:       16384 kB\nMemFree:         1024 kB\n"
    assert SPECS["meminfo"].parse(text) == parse_meminfo(text)
