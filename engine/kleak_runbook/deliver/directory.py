"""The report directory sink: ``report.md`` and ``result.json`` next to ``evidence/``."""

from __future__ import annotations

import json
from pathlib import Path

from kleak_runbook.decide.result import Result
from kleak_runbook.report.markdown import render


class ReportDirectory:
    def deliver(self, result: Result, report_dir: Path) -> str:
        report_dir.mkdir(parents=True, exist_ok=True)
        doc = result.document()
        (report_dir / "result.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        (report_dir / "report.md").write_text(render(result), encoding="utf-8")
        return str(report_dir / "report.md")
