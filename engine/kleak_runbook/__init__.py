"""kleak-runbook: find out whether a Linux host is losing memory to the kernel, and which kind."""

from __future__ import annotations

__version__ = "0.1.0"
