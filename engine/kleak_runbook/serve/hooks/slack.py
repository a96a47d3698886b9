"""``POST /hooks/slack``: the ``/kleak HOST [samples=N] [allow=…]`` slash command.

The signature is checked on the raw body (slack-sdk's ``SignatureVerifier``: v0 HMAC-SHA256,
timestamp within 5 minutes, constant-time) before any field is read; a signature seen before
is a replay. ``allow=…`` needs a user in ``slack.intrusive_users`` or in one of
``slack.intrusive_groups`` (``groups.py``). The answer within Slack's 3 s is the acknowledgement; the result follows through
the sinks (bot token: chat.postMessage + files_upload_v2; else the command's response_url).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from slack_sdk.signature import SignatureVerifier
from starlette.concurrency import run_in_threadpool

from kleak_runbook.deliver.targets import SLACK_CHANNEL
from kleak_runbook.serve.hooks import source
from kleak_runbook.serve.policy import Granted, Refused, parse_command
from kleak_runbook.serve.service import Service

REPLAY_WINDOW_S = 600  # longer than the verifier's 5 minutes: a replay is always caught by one of them


def router(service: Service) -> APIRouter:
    r = APIRouter()
    cfg = service.settings.slack
    verifier = SignatureVerifier(cfg.signing_secret.get_secret_value()) if cfg.signing_secret else None

    @r.post("/hooks/slack", summary="Slack slash command /kleak")
    async def slack_command(request: Request) -> dict[str, Any]:
        body = await request.body()
        src = source(request)
        if verifier is None:
            raise service.refuse("slack", "-", src, {}, Refused(404, "Slack is not configured here"))
        timestamp = request.headers.get("x-slack-request-timestamp")
        signature = request.headers.get("x-slack-signature")
        if not verifier.is_valid(body, timestamp, signature):
            raise service.refuse("slack", "-", src, {}, Refused(401, "bad or stale Slack signature"))
        if not service.store.first_time(f"slack:{signature}", REPLAY_WINDOW_S):
            raise service.refuse("slack", "-", src, {}, Refused(401, "replayed Slack request"))
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()}
        who = f"slack:{form.get('user_id', '-')}"
        try:
            service.limit("slack", who, src)
            try:
                req = parse_command(form.get("text", ""), service.settings.runs.max_samples)
                targets = _targets(service, form)
            except Refused as refusal:
                raise service.refuse("slack", who, src, {"text": form.get("text", "")[:200]}, refusal) from None
            granted = Granted()
            if req.consents:  # a group's membership is a Slack API call: off the event loop
                granted = await run_in_threadpool(service.grants.slack, form.get("user_id", ""), req.consents)
            run, joined = service.submit(req, "slack", who, src, targets, granted)
        except Refused as refusal:  # audited; Slack shows the user a reply only with status 200
            return {"response_type": "ephemeral", "text": f"kleak: refused: {refusal.reason}"}
        verb = "already running on" if joined else "running on"
        link = service.link(run.id)
        return {"response_type": "in_channel", "text": f"kleak: {verb} {run.host}… <{link}|run {run.id}>"}

    return r


def _targets(service: Service, form: dict[str, str]) -> tuple[str, ...]:
    """Where the result goes: the channel with a bot token, else the command's response_url."""
    cfg = service.settings.slack
    channel = form.get("channel_id", "")
    if cfg.bot_token and SLACK_CHANNEL.fullmatch(channel):
        return (f"slack:{channel}",)
    url = form.get("response_url", "")
    if url and any(url.startswith(p) for p in cfg.response_url_prefixes):
        return (f"slack-response:{url}",)
    raise Refused(400, "no way to answer: the command has no usable channel_id or response_url")
