"""HTTP for the sinks that use requests (Jira, GitHub, webhooks, Slack's response_url): one
call with a timeout, bounded retries on 429, and errors as one line that names the target and
never the secret or the full URL (a Slack response_url or a webhook path is a credential).
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests

from kleak_runbook import __version__
from kleak_runbook.errors import KleakError

USER_AGENT = f"kleak-runbook/{__version__}"
MAX_RETRIES = 2  # on 429: three calls in all
MAX_RETRY_AFTER_S = 30.0  # a longer Retry-After fails now rather than stalling a run's end for minutes
DETAIL_CHARS = 160


class DeliveryError(KleakError):
    """A report could not be delivered to a target (exit 3; the report stays on disk)."""

    exit_code = 3


def site(url: str) -> str:
    """``https://host:port`` of a URL: what a message may show of it."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def retry_after_s(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def detail(resp: requests.Response) -> str:
    """The service's own short reason, from the JSON error shapes of Slack, GitHub and Jira."""
    try:
        body: Any = resp.json()
    except ValueError:
        return one_line(resp.text)
    if not isinstance(body, dict):
        return ""
    parts: list[str] = []
    for key in ("error", "message"):  # Slack, GitHub
        if isinstance(body.get(key), str):
            parts.append(body[key])
    for item in body.get("errors") or []:  # GitHub: [{field, code, message}]
        if isinstance(item, dict):
            parts.append(str(item.get("message") or f"{item.get('field')} {item.get('code')}"))
    msgs = body.get("errorMessages")  # Jira
    if isinstance(msgs, list):
        parts += [str(m) for m in msgs]
    if isinstance(body.get("errors"), dict):  # Jira: {field: reason}
        parts += [f"{k}: {v}" for k, v in body["errors"].items()]
    return one_line("; ".join(parts))


def one_line(text: str) -> str:
    """A service's text as part of a one-line message: whitespace collapsed, cut short."""
    text = " ".join(text.split())
    return text if len(text) <= DETAIL_CHARS else text[: DETAIL_CHARS - 1] + "…"


def call(
    method: str,
    url: str,
    *,
    label: str,
    service: str,
    timeout: float,
    expect: tuple[int, ...] = (200, 201, 202, 204),
    retries: int = MAX_RETRIES,
    **kwargs: Any,
) -> requests.Response:
    """One API call; ``label`` names the target in errors; ``retries`` bounds the retries of a 429.
    Files given in ``kwargs`` are re-read on a retry, so pass bytes, not open files."""
    headers = {"User-Agent": USER_AGENT, **kwargs.pop("headers", {})}
    for attempt in range(retries + 1):
        try:
            # redirects are not followed: requests drops Authorization on a host change, and a
            # POST turned into a GET would "succeed" without delivering anything
            resp = requests.request(method, url, headers=headers, timeout=timeout, allow_redirects=False, **kwargs)
        except requests.Timeout:
            raise DeliveryError(f"{label}: {service} at {site(url)} did not answer within {timeout:g} s") from None
        except requests.ConnectionError:
            raise DeliveryError(f"{label}: cannot connect to {service} at {site(url)}") from None
        except requests.RequestException as exc:
            raise DeliveryError(f"{label}: request to {service} failed ({type(exc).__name__})") from None
        if resp.status_code == 429 and attempt < retries:
            wait = retry_after_s(resp.headers.get("Retry-After"))
            wait = 1.0 if wait is None else wait
            if wait <= MAX_RETRY_AFTER_S:
                time.sleep(wait)
                continue
        if resp.status_code in expect:
            return resp
        break
    why = detail(resp)
    if resp.status_code == 429:
        after = resp.headers.get("Retry-After")
        why = f"rate limited{f', retry after {after} s' if after else ''}"
    raise DeliveryError(f"{label}: {service} answered HTTP {resp.status_code}{f' ({why})' if why else ''}")
