"""Who may give intrusive consents through a group: members of Slack user groups
(``usergroups.users.list``, bot token) and of Jira groups (Jira REST with the sinks' Jira
credentials). Answers are kept ``group_cache_s`` (60 s); a lookup that fails grants nothing
(fail closed) and says why, so the refusal and the audit log carry the reason.

Jira documents two calls: Cloud ``GET /rest/api/2/user/groups?accountId=…`` (a JSON array of
``{name, groupId, self}``); Data Center, which has no ``/user/groups``, ``GET /rest/api/2/user?
username=…&expand=groups`` (``groups: {size, items: [{name, self}]}``). A webhook's ``user`` names
which: Cloud sends ``accountId``, Data Center ``name``. Both need "Browse users and groups".
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from kleak_runbook.deliver.http import DeliveryError, call, one_line
from kleak_runbook.deliver.jira import credentials
from kleak_runbook.deliver.targets import DeliverSettings
from kleak_runbook.errors import UsageError
from kleak_runbook.probes import CONSENTS
from kleak_runbook.serve.policy import Granted
from kleak_runbook.serve.settings import Settings

LOOKUP_TIMEOUT_S = 2  # inside Slack's 3 s for the acknowledgement


class LookupFailed(Exception):
    """A membership that could not be checked; the message says why, in one line, without secrets."""


class TTLCache:
    """Answers kept ``ttl`` seconds; failures are not kept, so the next request asks again."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._kept: dict[str, tuple[float, frozenset[str]]] = {}
        self._lock = threading.Lock()

    def get(self, key: str, fetch: Callable[[], frozenset[str]]) -> frozenset[str]:
        now = time.monotonic()
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None and kept[0] > now:
                return kept[1]
        value = fetch()
        if self.ttl > 0:
            with self._lock:
                self._kept[key] = (now + self.ttl, value)
        return value


class SlackGroups:
    """Members of a Slack user group, by ``usergroups.users.list`` (scope ``usergroups:read``)."""

    def __init__(self, token: str, api_url: str, ttl: float) -> None:
        self.client = WebClient(
            token=token,
            base_url=api_url if api_url.endswith("/") else api_url + "/",
            timeout=LOOKUP_TIMEOUT_S,
            retry_handlers=[],  # no retry: a 429 or a timeout denies now, inside Slack's 3 s
        )
        self.cache = TTLCache(ttl)

    def members(self, group: str) -> frozenset[str]:
        return self.cache.get(group, lambda: self._fetch(group))

    def _fetch(self, group: str) -> frozenset[str]:
        why = f"could not check Slack user group {group}"
        try:
            answer = self.client.usergroups_users_list(usergroup=group)
        except SlackApiError as exc:
            status = getattr(exc.response, "status_code", None)
            error = exc.response.get("error") if status == 200 and hasattr(exc.response, "get") else None
            raise LookupFailed(f"{why}: Slack answered {one_line(str(error)) if error else f'HTTP {status}'}") from None
        except (SlackClientError, OSError) as exc:
            raise LookupFailed(f"{why}: Slack call failed ({type(exc).__name__})") from None
        users = answer.get("users")
        if not isinstance(users, list):
            raise LookupFailed(f"{why}: Slack's answer has no users list")
        return frozenset(u for u in users if isinstance(u, str))


class JiraGroups:
    """Groups of a Jira user (Cloud: by account ID; Data Center: by user name)."""

    def __init__(self, base_url: str, user: str | None, token: str, ttl: float) -> None:
        self.api = f"{base_url.rstrip('/')}/rest/api/2"
        self.auth, self.headers = credentials(user, token)
        self.cache = TTLCache(ttl)

    def of(self, account_id: str | None, username: str | None) -> frozenset[str]:
        if account_id:
            return self.cache.get(f"cloud:{account_id}", lambda: self._cloud(account_id))
        if username:
            return self.cache.get(f"dc:{username}", lambda: self._data_center(username))
        raise LookupFailed("could not check Jira groups: the webhook names no user (accountId or name)")

    def _get(self, path: str, params: dict[str, str], who: str) -> Any:
        try:
            resp = call(
                "GET",
                f"{self.api}/{path}",
                label=f"Jira groups of {who}",
                service="Jira",
                timeout=LOOKUP_TIMEOUT_S,
                expect=(200,),
                retries=0,
                auth=self.auth,
                headers=self.headers,
                params=params,
            )
            return resp.json()
        except DeliveryError as exc:
            raise LookupFailed(f"could not check {exc.message}") from None
        except ValueError:
            raise LookupFailed(f"could not check Jira groups of {who}: the answer is not JSON") from None

    def _cloud(self, account_id: str) -> frozenset[str]:
        body = self._get("user/groups", {"accountId": account_id}, account_id[:80])
        if not isinstance(body, list):
            raise LookupFailed(f"could not check Jira groups of {account_id[:80]}: expected a list of groups")
        return frozenset(str(g.get("name")) for g in body if isinstance(g, dict) and g.get("name"))

    def _data_center(self, username: str) -> frozenset[str]:
        body = self._get("user", {"username": username, "expand": "groups"}, username[:80])
        groups = body.get("groups") if isinstance(body, dict) else None
        items = groups.get("items") if isinstance(groups, dict) else None
        if not isinstance(items, list):
            raise LookupFailed(f"could not check Jira groups of {username[:80]}: the answer has no groups")
        return frozenset(str(g.get("name")) for g in items if isinstance(g, dict) and g.get("name"))


class Grants:
    """The consents a Slack user or a Jira user may give, from users and groups in the settings."""

    def __init__(self, settings: Settings, sinks: DeliverSettings) -> None:
        self.settings = settings
        slack, jira = settings.slack, settings.jira
        self.slack_groups: SlackGroups | None = None
        self.jira_groups: JiraGroups | None = None
        if slack.intrusive_groups:
            if slack.bot_token is None or not slack.bot_token.get_secret_value():
                raise UsageError("setting slack.intrusive_groups: needs KLEAK_SLACK_BOT_TOKEN (usergroups:read)")
            token = slack.bot_token.get_secret_value()
            self.slack_groups = SlackGroups(token, slack.api_url, slack.group_cache_s)
        if jira.intrusive_groups:
            if not sinks.jira_url or not sinks.jira_token:
                raise UsageError("setting jira.intrusive_groups: needs KLEAK_JIRA_URL and KLEAK_JIRA_TOKEN")
            self.jira_groups = JiraGroups(sinks.jira_url, sinks.jira_user, sinks.jira_token, jira.group_cache_s)

    def slack(self, user_id: str, wanted: tuple[str, ...]) -> Granted:
        if user_id and user_id in self.settings.slack.intrusive_users:
            return Granted(CONSENTS, ("slack-user",))
        groups = self.slack_groups
        return _by_groups(self.settings.slack.intrusive_groups, wanted, "slack-group",
                          lambda g: groups is not None and user_id in groups.members(g))  # fmt: skip

    def jira(self, user: dict[str, Any], wanted: tuple[str, ...]) -> Granted:
        groups = self.jira_groups
        mine: list[frozenset[str] | LookupFailed] = []  # one lookup gives all of the user's groups

        def member(group: str) -> bool:
            if groups is None:
                return False
            if not mine:
                account, name = user.get("accountId"), user.get("name")
                try:
                    mine.append(groups.of(str(account) if account else None, str(name) if name else None))
                except LookupFailed as exc:
                    mine.append(exc)
            if isinstance(mine[0], LookupFailed):
                raise mine[0]
            return group in mine[0]

        return _by_groups(self.settings.jira.intrusive_groups, wanted, "jira-group", member)


def _by_groups(
    grants: dict[str, tuple[str, ...]], wanted: tuple[str, ...], kind: str, member: Callable[[str], bool]
) -> Granted:
    """The consents of the groups the user is in, asking only about groups that would add a wanted one."""
    consents: set[str] = set()
    via: list[str] = []
    unchecked: list[str] = []
    for group, gives in grants.items():
        if not (set(gives) & set(wanted)) - consents:
            continue
        try:
            if member(group):
                consents |= set(gives)
                via.append(f"{kind}:{group}")
        except LookupFailed as exc:
            if str(exc) not in unchecked:
                unchecked.append(str(exc))
    return Granted(tuple(sorted(consents)), tuple(via), "; ".join(unchecked) or None)
