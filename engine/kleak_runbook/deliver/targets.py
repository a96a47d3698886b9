"""Delivery targets: a string such as ``slack:#oncall`` or ``jira:OPS-12`` names a sink; this
module parses it, builds the sink from ``DeliverSettings`` and sends a saved report. What
``post``, ``run --post`` and the server call.

    slack:#channel  slack:C0123ABC      chat.postMessage, report.md uploaded in the thread
    slack-response:<response_url>       a slash command's reply (no bot token needed)
    jira:KEY-123                        comment, report.md and the evidence tar.gz attached
    github:owner/repo#12                the report as an issue or pull request comment
    webhook:https://…                   the result document and a summary as JSON
    webhook:env:NAME                    the same, to the URL in $NAME (or the file $NAME_FILE names),
                                        so a URL that carries its secret stays off the command line
                                        (slack-response:env:NAME likewise)
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from kleak_runbook.deliver import ReportSink
from kleak_runbook.deliver.http import DeliveryError, site
from kleak_runbook.deliver.jira import MAX_ATTACHMENT_BYTES
from kleak_runbook.deliver.saved import SavedReport, bundle_tarball, summary_text
from kleak_runbook.errors import UsageError
from kleak_runbook.secrets import read_secret

__all__ = [
    "DeliverSettings",
    "DeliveryError",
    "Target",
    "bundle_tarball",
    "check",
    "deliver",
    "parse_target",
    "summary_text",
]

SCHEMES = ("slack", "slack-response", "jira", "github", "webhook")
URL_SCHEMES = ("webhook", "slack-response")  # their URL is a credential: also from the environment
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")
SLACK_CHANNEL = re.compile(r"#[a-z0-9][a-z0-9._-]{0,79}|[CGD][A-Z0-9]{2,30}")
JIRA_KEY = re.compile(r"[A-Z][A-Z0-9_]{0,49}-[1-9][0-9]{0,9}")
GITHUB_ISSUE = re.compile(r"([A-Za-z0-9](?:[A-Za-z0-9-]{0,38}))/([A-Za-z0-9._-]{1,100})#([1-9][0-9]{0,9})")


@dataclass(frozen=True)
class DeliverSettings:
    """Where the APIs are and the secrets to call them; secrets never appear in ``repr``."""

    slack_bot_token: str | None = field(default=None, repr=False)
    slack_api_url: str = "https://slack.com/api/"
    jira_url: str | None = None
    jira_user: str | None = None
    jira_token: str | None = field(default=None, repr=False)
    github_api_url: str = "https://api.github.com"
    github_token: str | None = field(default=None, repr=False)
    webhook_token: str | None = field(default=None, repr=False)
    jira_max_attachment_bytes: int = MAX_ATTACHMENT_BYTES
    timeout_s: float = 20.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> DeliverSettings:
        """``KLEAK_*`` variables; each secret also as ``*_FILE`` (a file holding it, e.g. a
        mounted secret). ``KLEAK_DELIVER_TIMEOUT`` sets the per-call timeout in seconds."""
        env = os.environ if env is None else env
        timeout = env.get("KLEAK_DELIVER_TIMEOUT") or "20"
        try:
            timeout_s = float(timeout)
        except ValueError:
            timeout_s = -1.0
        if not 0 < timeout_s <= 600:
            raise UsageError(f"KLEAK_DELIVER_TIMEOUT={timeout[:20]!r}: expected seconds, more than 0 and at most 600")
        cap = env.get("KLEAK_JIRA_MAX_ATTACHMENT_BYTES") or str(MAX_ATTACHMENT_BYTES)
        if not cap.isascii() or not cap.isdigit() or int(cap) < 1:
            raise UsageError(f"KLEAK_JIRA_MAX_ATTACHMENT_BYTES={cap[:20]!r}: expected a number of bytes, e.g. 10485760")
        return cls(
            slack_bot_token=_secret(env, "KLEAK_SLACK_BOT_TOKEN"),
            slack_api_url=env.get("KLEAK_SLACK_API_URL") or cls.slack_api_url,
            jira_url=env.get("KLEAK_JIRA_URL") or None,
            jira_user=env.get("KLEAK_JIRA_USER") or None,
            jira_token=_secret(env, "KLEAK_JIRA_TOKEN"),
            github_api_url=env.get("KLEAK_GITHUB_API_URL") or cls.github_api_url,
            github_token=_secret(env, "KLEAK_GITHUB_TOKEN"),
            webhook_token=_secret(env, "KLEAK_WEBHOOK_TOKEN"),
            jira_max_attachment_bytes=int(cap),
            timeout_s=timeout_s,
        )

    def secrets(self) -> list[str]:
        return [s for s in (self.slack_bot_token, self.jira_token, self.github_token, self.webhook_token) if s]


def _secret(env: Mapping[str, str], name: str) -> str | None:
    value, path = env.get(name), env.get(f"{name}_FILE")
    if value and path:
        raise UsageError(f"{name} and {name}_FILE are both set: set one")
    if not path:
        return value or None
    text = read_secret(path, f"{name}_FILE={path}")
    if not text:
        raise UsageError(f"{name}_FILE={path}: the file is empty")
    return text


@dataclass(frozen=True)
class Target:
    scheme: str
    value: str  # what follows "scheme:"

    @property
    def label(self) -> str:
        """The target as messages show it: a URL's path is left out (Slack's response_url and
        many webhook URLs carry their credential in the path)."""
        if self.scheme in ("webhook", "slack-response"):
            return f"{self.scheme}:{site(self.value)}/…"
        return f"{self.scheme}:{self.value}"


def _url_ok(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname) and not any(c.isspace() for c in value)


def _url_from_env(scheme: str, name: str, env: Mapping[str, str]) -> str:
    """``webhook:env:NAME``: the URL in ``$NAME``, or in the file ``$NAME_FILE`` names; never shown."""
    where = f"--to {scheme}:env:{name[:100]}"
    if not ENV_NAME.fullmatch(name):
        raise UsageError(f"{where}: expected an environment variable name")
    value, path = env.get(name), env.get(f"{name}_FILE")
    if value and path:
        raise UsageError(f"{where}: {name} and {name}_FILE are both set: set one")
    if path:
        value = read_secret(path, f"{where}: {name}_FILE={path}")
    if not value:
        raise UsageError(f"{where}: {name} (or {name}_FILE) is not set")
    if not _url_ok(value.strip()):
        raise UsageError(f"{where}: the value of {name} is not an http(s) URL")
    return value.strip()


def parse_target(text: str, env: Mapping[str, str] | None = None) -> Target:
    """``scheme:value`` checked for syntax; a bad one is a ``UsageError`` (exit 2). A URL target
    may name an environment variable instead (``webhook:env:NAME``), read from ``env``."""
    scheme, sep, value = text.partition(":")
    shown = f"{scheme}:…" if scheme in URL_SCHEMES else text[:80]
    if not sep or scheme not in SCHEMES:
        raise UsageError(f"--to {text[:80]}: unknown target (use {', '.join(s + ':…' for s in SCHEMES)})")
    if scheme in URL_SCHEMES and value.startswith("env:"):
        value = _url_from_env(scheme, value[len("env:") :], os.environ if env is None else env)
    ok = {
        "slack": lambda v: SLACK_CHANNEL.fullmatch(v) is not None,
        "slack-response": _url_ok,
        "jira": lambda v: JIRA_KEY.fullmatch(v) is not None,
        "github": lambda v: GITHUB_ISSUE.fullmatch(v) is not None,
        "webhook": _url_ok,
    }[scheme](value)
    if not ok:
        expected = {
            "slack": "slack:#channel or slack:C0123ABC",
            "slack-response": "slack-response:https://hooks.slack.com/commands/…",
            "jira": "jira:KEY-123",
            "github": "github:owner/repo#12",
            "webhook": "webhook:https://host/path or webhook:env:NAME",
        }[scheme]
        raise UsageError(f"--to {shown}: bad target (expected {expected})")
    return Target(scheme, value)


def check(target: Target, settings: DeliverSettings) -> ReportSink:
    """The sink for ``target``; a missing setting is a ``UsageError`` naming the variable."""

    def need(value: str | None, variable: str) -> str:
        if not value:
            raise UsageError(f"--to {target.label}: needs {variable}")
        return value

    t, s, v = target, settings, target.value
    if t.scheme == "slack":
        from kleak_runbook.deliver.slack import SlackChannel

        token = need(s.slack_bot_token, "KLEAK_SLACK_BOT_TOKEN (or _FILE); without a bot token use slack-response:")
        return SlackChannel(v, t.label, token, s.slack_api_url, s.timeout_s)
    if t.scheme == "slack-response":
        from kleak_runbook.deliver.slack import SlackResponseUrl

        return SlackResponseUrl(v, t.label, s.timeout_s)
    if t.scheme == "jira":
        from kleak_runbook.deliver.jira import JiraIssue

        base = need(s.jira_url, "KLEAK_JIRA_URL")
        token = need(s.jira_token, "KLEAK_JIRA_TOKEN (or _FILE)")
        return JiraIssue(v, t.label, base, s.jira_user, token, s.timeout_s, s.jira_max_attachment_bytes)
    if t.scheme == "github":
        from kleak_runbook.deliver.github import GitHubIssue

        m = GITHUB_ISSUE.fullmatch(v)
        assert m is not None  # parse_target checked it
        token = need(s.github_token, "KLEAK_GITHUB_TOKEN (or _FILE)")
        return GitHubIssue(m[1], m[2], int(m[3]), t.label, s.github_api_url, token, s.timeout_s)
    from kleak_runbook.deliver.webhook import Webhook

    return Webhook(v, t.label, s.webhook_token, s.timeout_s)


def _scrub(message: str, settings: DeliverSettings) -> str:
    """Belt and braces: a service that echoes a credential back must not get it printed."""
    for secret in settings.secrets():
        message = message.replace(secret, "***")
    return message


def deliver(target: str, report_dir: Path, settings: DeliverSettings, link: str | None = None) -> str:
    """Send the report in ``report_dir`` to ``target``; return where it went, in one line.

    Raises ``UsageError`` (exit 2) for a bad target, a missing setting or a directory that is
    not a report, and ``DeliveryError`` (exit 3) when the service refuses or cannot be reached.
    """
    sink = check(parse_target(target), settings)
    report = SavedReport.load(report_dir, link)
    try:
        return sink.send(report)
    except DeliveryError as exc:
        raise DeliveryError(_scrub(exc.message, settings)) from None
