"""Slack sinks: a bot message in a channel with report.md uploaded in its thread (slack-sdk's
``WebClient``: ``chat.postMessage``, then ``files_upload_v2``, the three-step upload flow), or,
without a bot token, a reply to a slash command's ``response_url``.
"""

from __future__ import annotations

import math
import time
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry import ConnectionErrorRetryHandler, RetryHandler, RetryState
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse

from kleak_runbook.deliver.http import MAX_RETRIES, MAX_RETRY_AFTER_S, DeliveryError, call, one_line, retry_after_s
from kleak_runbook.deliver.saved import SavedReport, summary_text


class BoundedRateLimit(RetryHandler):
    """Retry a 429 after its Retry-After, at most ``MAX_RETRIES`` times and never for a wait
    longer than ``MAX_RETRY_AFTER_S`` (slack-sdk's own handler sleeps whatever Slack says)."""

    def __init__(self) -> None:
        super().__init__(max_retry_count=MAX_RETRIES)

    @staticmethod
    def _wait(response: HttpResponse | None) -> float | None:
        if response is None:
            return None
        for key, values in response.headers.items():
            if key.lower() == "retry-after" and values:
                return retry_after_s(values[0])
        return 1.0

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        wait = self._wait(response)
        return response is not None and response.status_code == 429 and wait is not None and wait <= MAX_RETRY_AFTER_S

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        time.sleep(self._wait(response) or 0.0)
        state.next_attempt_requested = True
        state.increment_current_attempt()


def message_text(report: SavedReport) -> str:
    """Slack mrkdwn: the summary, and the run's page as a link when there is one."""
    text = summary_text(report.doc)
    if report.link:
        text += f"\n<{report.link}|Run page and full report>"
    return text


class SlackChannel:
    """``slack:#channel`` or ``slack:C0123ABC``."""

    def __init__(self, channel: str, label: str, token: str, api_url: str, timeout: float) -> None:
        self.channel, self.label = channel, label
        self.client = WebClient(
            token=token,
            base_url=api_url if api_url.endswith("/") else api_url + "/",
            timeout=max(1, math.ceil(timeout)),
            retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=1), BoundedRateLimit()],
        )

    def send(self, report: SavedReport) -> str:
        try:
            posted = self.client.chat_postMessage(
                channel=self.channel, text=message_text(report), unfurl_links=False, unfurl_media=False
            )
            # files.completeUploadExternal takes a channel ID only; chat.postMessage resolved the name
            channel_id, ts = posted.get("channel"), posted.get("ts")
            if not isinstance(channel_id, str) or not isinstance(ts, str):
                raise DeliveryError(f"{self.label}: Slack's chat.postMessage answer has no channel and ts")
            self.client.files_upload_v2(
                channel=channel_id,
                thread_ts=ts,
                filename=f"{report.stem}-report.md",
                title=f"kleak-runbook report: {report.host}",
                content=report.markdown,
                snippet_type="markdown",
            )
        except SlackApiError as exc:
            raise DeliveryError(f"{self.label}: Slack answered {_slack_error(exc.response)}") from None
        except (SlackClientError, OSError) as exc:  # urllib: URLError, timeouts, the upload step's HTTPError
            raise DeliveryError(f"{self.label}: Slack call failed ({_reason(exc)})") from None
        return f"Slack channel {self.channel} (message {ts}, report.md in its thread)"


class SlackResponseUrl:
    """``slack-response:<response_url>``: a slash command's reply, for servers with no bot token."""

    def __init__(self, url: str, label: str, timeout: float) -> None:
        self.url, self.label, self.timeout = url, label, timeout

    def send(self, report: SavedReport) -> str:
        body = {"response_type": "in_channel", "replace_original": False, "text": message_text(report)}
        call("POST", self.url, json=body, label=self.label, service="Slack", timeout=self.timeout, expect=(200,))
        return "the Slack command's channel (response_url)"


def _slack_error(response: Any) -> str:
    status = getattr(response, "status_code", None)
    error = response.get("error") if hasattr(response, "get") else None
    if status == 429:
        return f"HTTP 429 (rate limited{', retry after ' + _retry_after(response) + ' s' if _retry_after(response) else ''})"
    return f"HTTP {status} ({one_line(str(error))})" if error else f"HTTP {status}"


def _retry_after(response: Any) -> str:
    for key, value in (getattr(response, "headers", None) or {}).items():
        if key.lower() == "retry-after":
            return str(value[0] if isinstance(value, list) else value)
    return ""


def _reason(exc: Exception) -> str:
    """A short cause without the URL (an upload URL carries a one-time credential)."""
    code = getattr(exc, "code", None)
    if isinstance(code, int):
        return f"HTTP {code}"
    reason = getattr(exc, "reason", None)
    if isinstance(reason, (TimeoutError, OSError)):
        exc = reason
    if isinstance(exc, TimeoutError):
        return "timed out"
    return type(exc).__name__
