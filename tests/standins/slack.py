"""A stand-in Slack Web API, checked against Slack's documentation:

- Web API basics (https://docs.slack.dev/apis/web-api/): ``POST {base}/api/<method>``; the token
  as ``Authorization: Bearer`` or, in a form body, a ``token`` field (never inside a JSON body);
  bodies ``application/x-www-form-urlencoded``, ``multipart/form-data`` or ``application/json``;
  errors are HTTP 200 ``{"ok": false, "error": "..."}`` (``not_authed``, ``invalid_auth``);
  rate limits are HTTP 429 with ``Retry-After``.
- chat.postMessage (https://docs.slack.dev/reference/methods/chat.postMessage): ``channel`` (a
  name or an ID) and one of ``text``/``blocks``/``attachments`` (else ``no_text``); the answer
  carries the channel's ID and the message ``ts``.
- The upload flow (https://docs.slack.dev/reference/methods/files.getUploadURLExternal and
  .../files.completeUploadExternal), three steps in order: getUploadURLExternal with
  ``filename`` and ``length`` returns ``upload_url`` and ``file_id``; the bytes are POSTed to
  that very URL (raw or multipart), ``length`` of them; completeUploadExternal with ``files``, a
  JSON array of ``{"id", "title"}``, and optionally ``channel_id`` (an ID, not a ``#name``) and
  ``thread_ts`` (a message in that channel).
- usergroups.users.list (https://docs.slack.dev/reference/methods/usergroups.users.list): a
  read method, so GET is taken as well as POST (slack-sdk's WebClient POSTs every method, this
  one with its arguments in the query string), scope ``usergroups:read``; ``usergroup`` (an ID
  such as ``S0604QSJC``) is required; answers ``{"ok": true, "users": ["U…", …]}``, or ``no_such_subteam`` for an unknown
  group.
- Slash command replies (https://docs.slack.dev/interactivity/handling-user-interaction#message_responses):
  a JSON POST to the command's ``response_url`` with ``text`` and ``response_type``
  (``in_channel`` or ``ephemeral``); no token.
"""

from __future__ import annotations

import itertools
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from standins.base import Call, Reply, StandIn

CONTENT_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data", "application/json")
READ_METHODS = ("usergroups.users.list",)  # may be called with GET


@dataclass
class Upload:
    file_id: str
    filename: str
    length: int
    upload_url: str
    data: bytes | None = None
    title: str | None = None
    channel_id: str | None = None
    thread_ts: str | None = None
    completed: bool = False


@dataclass
class Message:
    channel: str
    ts: str
    text: str
    args: dict[str, Any] = field(default_factory=dict)


class SlackAPI(StandIn):
    service = "Slack"

    def __init__(
        self,
        token: str | None = None,
        channels: dict[str, str] | None = None,
        usergroups: dict[str, list[str]] | None = None,
    ) -> None:
        super().__init__()
        self.usergroups = usergroups or {"S0614TZR7": ["U0KERNEL1", "U0KERNEL2"], "S0ONCALL1": ["U0ONCALL1"]}
        self.token = token or f"xoxb-standin-{secrets.token_hex(8)}"
        self.channels = channels or {"oncall": "C0KLEAK01", "kernel": "C0KLEAK02"}  # name → ID
        self.messages: list[Message] = []
        self.uploads: dict[str, Upload] = {}  # file_id → upload
        self.responses: list[dict[str, Any]] = []  # what arrived at response_urls
        self._ids = itertools.count(1)
        self._response_paths: set[str] = set()

    def env(self) -> dict[str, str]:
        return {"KLEAK_SLACK_API_URL": f"{self.url}/api/", "KLEAK_SLACK_BOT_TOKEN": self.token}

    def response_url(self) -> str:
        """A slash command's response_url, as Slack would hand one out."""
        path = f"/commands/T0KLEAK/{next(self._ids)}/{secrets.token_hex(12)}"
        self._response_paths.add(path)
        return self.url + path

    @property
    def completed(self) -> list[Upload]:
        return [u for u in self.uploads.values() if u.completed]

    def handle(self, call: Call) -> Reply:
        if call.path.startswith("/upload/"):
            return self._upload(call)
        if call.path.startswith("/commands/"):
            return self._respond(call)
        if not call.path.startswith("/api/"):
            self.violation(call, "not a Web API path")
            return Reply(404, "Not Found")
        method = call.path[len("/api/") :]
        if call.method != "POST" and not (call.method == "GET" and method in READ_METHODS):
            self.violation(call, f"{method} must be POSTed")
        args, error = self._args(call)
        if error:
            return Reply(200, {"ok": False, "error": error})
        handler = {
            "chat.postMessage": self._post_message,
            "files.getUploadURLExternal": self._get_upload_url,
            "files.completeUploadExternal": self._complete_upload,
            "usergroups.users.list": self._usergroup_users,
        }.get(method)
        if handler is None:
            self.violation(call, f"unknown method {method}")
            return Reply(200, {"ok": False, "error": "unknown_method"})
        return handler(call, args)

    def _args(self, call: Call) -> tuple[dict[str, Any], str | None]:
        """The method's arguments and an auth/content error, as Slack decides them."""
        ctype = call.content_type
        if call.body and ctype not in CONTENT_TYPES:
            self.violation(call, f"Content-Type {ctype!r} is none of {CONTENT_TYPES}")
            return {}, "invalid_form_data"
        if ctype == "application/json":
            try:
                args = call.json()
            except ValueError:
                self.violation(call, "body is not JSON")
                return {}, "invalid_json"
            if not isinstance(args, dict):
                self.violation(call, "JSON body is not an object")
                return {}, "invalid_json"
            if "token" in args:
                self.violation(call, "token inside a JSON body (Slack takes it only in the Authorization header)")
            token = None
        else:
            args = call.form()
            token = args.pop("token", None)
        if "token" in call.query:
            self.violation(call, "token in the query string (Slack refuses it there; send Authorization: Bearer)")
        auth = call.header("Authorization") or ""
        if auth.startswith("Bearer "):
            token = auth[len("Bearer ") :]
        if not token:
            self.violation(call, "no token")
            return args, "not_authed"
        if token != self.token:
            self.violation(call, "wrong token")
            return args, "invalid_auth"
        return args, None

    def _channel_id(self, channel: str) -> str | None:
        if channel.startswith("#"):
            return self.channels.get(channel[1:])
        return channel if channel in self.channels.values() else None

    def _post_message(self, call: Call, args: dict[str, Any]) -> Reply:
        channel = str(args.get("channel") or "")
        if not channel:
            self.violation(call, "chat.postMessage without channel")
            return Reply(200, {"ok": False, "error": "channel_not_found"})
        if not any(args.get(k) for k in ("text", "blocks", "attachments")):
            self.violation(call, "chat.postMessage without text, blocks or attachments")
            return Reply(200, {"ok": False, "error": "no_text"})
        cid = self._channel_id(channel)
        if cid is None:
            return Reply(200, {"ok": False, "error": "channel_not_found"})
        ts = f"17000000{next(self._ids):02d}.000100"
        self.messages.append(Message(cid, ts, str(args.get("text") or ""), args))
        return Reply(200, {"ok": True, "channel": cid, "ts": ts, "message": {"text": args.get("text"), "ts": ts}})

    def _get_upload_url(self, call: Call, args: dict[str, Any]) -> Reply:
        filename, length = args.get("filename"), str(args.get("length") or "")
        if not filename or not length.isdigit() or int(length) <= 0:
            self.violation(call, f"getUploadURLExternal needs filename and a positive length, got {args}")
            return Reply(200, {"ok": False, "error": "invalid_arguments"})
        file_id = f"F0KLEAK{next(self._ids):04d}"
        url = f"{self.url}/upload/v1/{secrets.token_urlsafe(16)}"
        self.uploads[file_id] = Upload(file_id, str(filename), int(length), url)
        return Reply(200, {"ok": True, "upload_url": url, "file_id": file_id})

    def _upload(self, call: Call) -> Reply:
        upload = next((u for u in self.uploads.values() if u.upload_url == self.url + call.path), None)
        if upload is None:
            self.violation(call, "upload to a URL files.getUploadURLExternal did not hand out")
            return Reply(404, "Not Found")
        if call.method != "POST":
            self.violation(call, "the upload URL takes a POST")
        if upload.data is not None:
            self.violation(call, "second upload to the same URL")
        parts = call.parts()
        data = next((p.data for p in parts if p.filename), None) if parts else call.body
        if data is None or len(data) != upload.length:
            self.violation(call, f"uploaded {len(data or b'')} bytes, getUploadURLExternal said {upload.length}")
        upload.data = data or b""
        return Reply(200, f"OK - {len(upload.data)}")

    def _complete_upload(self, call: Call, args: dict[str, Any]) -> Reply:
        raw = args.get("files")
        try:
            files = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            files = None
        if not isinstance(files, list) or not files or not all(isinstance(f, dict) and f.get("id") for f in files):
            self.violation(call, f"completeUploadExternal files must be a JSON array of {{id, title}}, got {raw!r}")
            return Reply(200, {"ok": False, "error": "invalid_arguments"})
        channel_id, thread_ts = args.get("channel_id"), args.get("thread_ts")
        if channel_id is not None and channel_id not in self.channels.values():
            self.violation(call, f"channel_id {channel_id!r} is not a channel ID")
            return Reply(200, {"ok": False, "error": "channel_not_found"})
        if thread_ts and not any(m.ts == thread_ts and m.channel == channel_id for m in self.messages):
            self.violation(call, f"thread_ts {thread_ts} is no message in {channel_id}")
        done = []
        for f in files:
            upload = self.uploads.get(str(f["id"]))
            if upload is None or upload.data is None:
                self.violation(call, f"file {f['id']} completed before its bytes were uploaded (step 2)")
                return Reply(200, {"ok": False, "error": "file_not_found"})
            upload.title, upload.channel_id, upload.thread_ts, upload.completed = (
                f.get("title"),
                channel_id,
                thread_ts,
                True,
            )
            done.append({"id": upload.file_id, "title": upload.title or upload.filename, "name": upload.filename})
        return Reply(200, {"ok": True, "files": done})

    def _usergroup_users(self, call: Call, args: dict[str, Any]) -> Reply:
        group = str(args.get("usergroup") or "")
        if not group:
            self.violation(call, "usergroups.users.list without usergroup")
            return Reply(200, {"ok": False, "error": "invalid_arguments"})
        if group not in self.usergroups:
            return Reply(200, {"ok": False, "error": "no_such_subteam"})
        return Reply(200, {"ok": True, "users": list(self.usergroups[group])})

    def _respond(self, call: Call) -> Reply:
        if call.path not in self._response_paths:
            self.violation(call, "POST to a response_url that was never handed out")
            return Reply(404, "Not Found")
        if call.method != "POST" or call.content_type != "application/json":
            self.violation(call, f"response_url takes a JSON POST, got {call.method} {call.content_type!r}")
            return Reply(400, "invalid_payload")
        try:
            body = call.json()
        except ValueError:
            self.violation(call, "response_url body is not JSON")
            return Reply(400, "invalid_payload")
        if not isinstance(body, dict) or (not body.get("text") and not body.get("blocks")):
            self.violation(call, "response_url message without text or blocks")
            return Reply(400, "no_text")
        if body.get("response_type", "ephemeral") not in ("in_channel", "ephemeral"):
            self.violation(call, f"response_type {body.get('response_type')!r}")
        self.responses.append(body)
        return Reply(200, {"ok": True})
