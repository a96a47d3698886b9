"""Settings of ``kleak-runbook serve``: one typed object from a YAML file plus environment overrides.

Validated at start-up so a bad setting stops the server with one line, never at the first request.
Secrets are ``SecretStr`` (they print as ``**********``) and may come from ``NAME_FILE``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from kleak_runbook.errors import UsageError
from kleak_runbook.probes import CONSENTS
from kleak_runbook.secrets import read_secret

SLACK_API = "https://slack.com/api/"
SLACK_GROUP = re.compile(r"S[A-Z0-9]{2,30}")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RunSettings(_Model):
    samples: int | None = Field(default=None, ge=1, le=100)
    interval: float | None = Field(default=None, ge=0, le=3600)
    max_samples: int = Field(default=20, ge=1, le=100)
    timeout_s: float = Field(default=1800, gt=0)
    user: str | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    become: bool = False
    private_key: Path | None = None
    runbooks: tuple[str, ...] = ("kernel-memory-leak",)


class QueueSettings(_Model):
    backend: Literal["sqlite", "redis"] = "sqlite"
    redis_url: str = "redis://127.0.0.1:6379/0"
    workers: int = Field(default=2, ge=1, le=64)


class Limits(_Model):
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    body_timeout_s: float = Field(default=10, gt=0)
    rate_per_minute: float = Field(default=30, gt=0)
    rate_burst: int = Field(default=20, ge=1)


def _grants(groups: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """Each group's consents are known consent names (an empty list would grant nothing: refused)."""
    for group, consents in groups.items():
        unknown = [c for c in consents if c not in CONSENTS]
        if unknown or not consents:
            raise ValueError(f"group {group[:60]!r}: expected a list of consents out of {', '.join(CONSENTS)}")
    return groups


class SlackSettings(_Model):
    signing_secret: SecretStr | None = None
    bot_token: SecretStr | None = None
    api_url: str = SLACK_API
    intrusive_users: tuple[str, ...] = ()
    # Slack user group ID -> the consents its members may give (membership: usergroups.users.list)
    intrusive_groups: dict[str, tuple[str, ...]] = {}
    group_cache_s: float = Field(default=60, ge=0, le=3600)
    response_url_prefixes: tuple[str, ...] = ("https://hooks.slack.com/",)

    @field_validator("intrusive_groups")
    @classmethod
    def _slack_groups(cls, groups: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        bad = [g for g in groups if not SLACK_GROUP.fullmatch(g)]
        if bad:
            raise ValueError(f"{bad[0][:60]!r} is not a Slack user group ID (S0614TZR7)")
        return _grants(groups)


class AlertmanagerSettings(_Model):
    host_labels: tuple[str, ...] = ("instance", "nodename", "host")
    bearer_token: SecretStr | None = None
    basic_user: str | None = None
    basic_password: SecretStr | None = None
    notify: tuple[str, ...] = ()
    dedupe_s: float = Field(default=300, ge=0)


class JiraSettings(_Model):
    secret: SecretStr | None = None
    label: str = "kleak"
    host_field: str | None = None
    # Jira group name -> the consents its members may give, by labelling the issue PREFIX<consent>
    intrusive_groups: dict[str, tuple[str, ...]] = {}
    consent_label_prefix: str = Field(default="kleak-allow-", pattern=r"^[^\s]{1,60}$")
    group_cache_s: float = Field(default=60, ge=0, le=3600)

    @field_validator("intrusive_groups")
    @classmethod
    def _jira_groups(cls, groups: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        bad = [g for g in groups if not g.strip() or len(g) > 255]
        if bad:
            raise ValueError(f"{bad[0][:60]!r} is not a Jira group name")
        return _grants(groups)


class GithubSettings(_Model):
    secret: SecretStr | None = None
    repos: tuple[str, ...] = ()
    intrusive_users: tuple[str, ...] = ()


class ApiToken(_Model):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,40}$")
    token: SecretStr
    consents: tuple[str, ...] = ()


class Settings(_Model):
    state_dir: Path = Path("kleak-serve")
    base_url: str | None = None
    hosts: tuple[str, ...] = ()
    runs: RunSettings = RunSettings()
    queue: QueueSettings = QueueSettings()
    limits: Limits = Limits()
    slack: SlackSettings = SlackSettings()
    alertmanager: AlertmanagerSettings = AlertmanagerSettings()
    jira: JiraSettings = JiraSettings()
    github: GithubSettings = GithubSettings()
    api_tokens: tuple[ApiToken, ...] = ()


# environment variable -> (section, key); secrets also from NAME_FILE
ENV: dict[str, tuple[str | None, str]] = {
    "KLEAK_SLACK_SIGNING_SECRET": ("slack", "signing_secret"),
    "KLEAK_SLACK_BOT_TOKEN": ("slack", "bot_token"),
    "KLEAK_SLACK_API_URL": ("slack", "api_url"),
    "KLEAK_SERVE_HOSTS": (None, "hosts"),
    "KLEAK_SERVE_STATE_DIR": (None, "state_dir"),
    "KLEAK_SERVE_BASE_URL": (None, "base_url"),
    "KLEAK_SERVE_QUEUE": ("queue", "redis_url"),
    "KLEAK_ALERTMANAGER_TOKEN": ("alertmanager", "bearer_token"),
    "KLEAK_ALERTMANAGER_USER": ("alertmanager", "basic_user"),
    "KLEAK_ALERTMANAGER_PASSWORD": ("alertmanager", "basic_password"),
    "KLEAK_JIRA_WEBHOOK_SECRET": ("jira", "secret"),
    "KLEAK_GITHUB_WEBHOOK_SECRET": ("github", "secret"),
    "KLEAK_SLACK_INTRUSIVE_GROUPS": ("slack", "intrusive_groups"),
    "KLEAK_JIRA_INTRUSIVE_GROUPS": ("jira", "intrusive_groups"),
}
SECRET_ENV: tuple[str, ...] = ("KLEAK_SLACK_SIGNING_SECRET", "KLEAK_SLACK_BOT_TOKEN", "KLEAK_ALERTMANAGER_TOKEN")
SECRET_ENV += ("KLEAK_ALERTMANAGER_PASSWORD", "KLEAK_JIRA_WEBHOOK_SECRET", "KLEAK_GITHUB_WEBHOOK_SECRET")
SECRET_ENV += ("KLEAK_API_TOKEN",)


def groups_from_env(value: str) -> dict[str, list[str]]:
    """``GROUP=consent+consent;GROUP2=consent`` (a bare ``GROUP``: every consent), the environment's
    form of ``intrusive_groups`` (``;`` between groups, as a Jira group name may hold a comma).

    >>> groups_from_env("S0614TZR7=drop_caches+trace; kernel-oncall")
    {'S0614TZR7': ['drop_caches', 'trace'], 'kernel-oncall': ['drop_caches', 'kmemleak', 'trace']}
    """
    groups: dict[str, list[str]] = {}
    for item in value.split(";"):
        group, sep, consents = item.strip().rpartition("=") if "=" in item else (item.strip(), "", "")
        if group:
            groups[group.strip()] = [c.strip() for c in consents.split("+") if c.strip()] if sep else list(CONSENTS)
    return groups


def _env_value(name: str, env: dict[str, str]) -> str | None:
    if name in env:
        return env[name]
    path = env.get(f"{name}_FILE") if name in SECRET_ENV else None
    if not path:
        return None
    return read_secret(path, f"{name}_FILE {path}")


def _read_files(data: dict[str, Any], where: str) -> None:
    """``key_file: PATH`` in the config file stands for ``key: <contents of PATH>`` (secrets stay out of it)."""
    for key in [k for k in data if isinstance(k, str) and k.endswith("_file")]:
        path = data.pop(key)
        try:
            data[key[: -len("_file")]] = Path(str(path)).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"{where}{key} {path}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None
    for key, value in data.items():
        if isinstance(value, dict):
            _read_files(value, f"{where}{key}.")
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, dict):
                    _read_files(item, f"{where}{key}[{i}].")


def _config(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--config {path}: {getattr(exc, 'strerror', None) or exc}") from None
    except yaml.YAMLError:
        raise UsageError(f"--config {path}: not valid YAML") from None
    if not isinstance(data, dict):
        raise UsageError(f"--config {path}: expected a mapping of settings")
    _read_files(data, "")
    return data


def load(path: Path | None, env: dict[str, str] | None = None, state_dir: Path | None = None) -> Settings:
    """The config file, then the environment over it, then ``--state-dir``; raises UsageError with one line."""
    env = dict(os.environ) if env is None else env
    data = _config(path)
    for name, (section, key) in ENV.items():
        value = _env_value(name, env)
        if value is None:
            continue
        target = data if section is None else data.setdefault(section, {})
        if not isinstance(target, dict):
            raise UsageError(f"setting {section}: expected a mapping")
        if key == "hosts":
            target[key] = [h.strip() for h in value.split(",") if h.strip()]
        else:
            target[key] = groups_from_env(value) if key == "intrusive_groups" else value
    token = _env_value("KLEAK_API_TOKEN", env)
    if token:
        tokens = [t for t in data.get("api_tokens") or [] if isinstance(t, dict) and t.get("name") != "env"]
        data["api_tokens"] = [*tokens, {"name": "env", "token": token}]
    if state_dir is not None:
        data["state_dir"] = str(state_dir)
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "settings"
        raise UsageError(f"setting {where}: {err['msg']}") from None
