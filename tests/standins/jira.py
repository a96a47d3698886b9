"""A stand-in Jira REST v2, checked against Atlassian's documentation:

- Add attachment (https://developer.atlassian.com/cloud/jira/platform/rest/v2/api-group-issue-attachments/#api-rest-api-2-issue-issueidorkey-attachments-post):
  ``POST /rest/api/2/issue/{issueIdOrKey}/attachments``, ``multipart/form-data`` whose file
  parts are all named ``file``; the ``X-Atlassian-Token: no-check`` header is required, else the
  XSRF check blocks the request (403); answers 200 with a JSON array of attachments.
- Add comment (https://developer.atlassian.com/cloud/jira/platform/rest/v2/api-group-issue-comments/#api-rest-api-2-issue-issueidorkey-comment-post):
  ``POST /rest/api/2/issue/{issueIdOrKey}/comment``, JSON ``{"body": "<wiki markup>"}``;
  answers 201 with the comment; an empty body is 400 ``{"errorMessages": [], "errors": {"comment": ...}}``.
- Groups of a user, which the two deployments answer differently (``deployment``):
  Cloud (https://developer.atlassian.com/cloud/jira/platform/rest/v2/api-group-users/#api-rest-api-2-user-groups-get):
  ``GET /rest/api/2/user/groups?accountId=…`` (required) answers a JSON array of ``{"name",
  "groupId", "self"}``; ``username`` is no longer available on Cloud (privacy migration).
  Data Center has no ``/user/groups``; ``GET /rest/api/2/user?username=…&expand=groups``
  answers the user with ``"groups": {"size": n, "items": [{"name", "self"}]}`` (Atlassian KB
  "How to retrieve application access of a user", the same ``expand`` with ``groups``). Both need
  the "Browse users and groups" global permission; an unknown user is 404.
- Authentication (https://developer.atlassian.com/cloud/jira/platform/basic-auth-for-rest-apis/):
  basic auth with the user's e-mail and an API token; Jira Data Center also takes a personal
  access token as ``Authorization: Bearer``. No or bad credentials: 401. An unknown issue: 404
  ``{"errorMessages": ["Issue does not exist or you do not have permission to see it."], "errors": {}}``.
"""

from __future__ import annotations

import base64
import itertools
import re
import secrets
from dataclasses import dataclass
from typing import Any

from standins.base import Call, Reply, StandIn

PATH = re.compile(r"/rest/api/2/issue/([A-Za-z0-9_-]+)/(attachments|comment)")
NOT_FOUND = {"errorMessages": ["Issue does not exist or you do not have permission to see it."], "errors": {}}
NO_USER = {"errorMessages": ["The user does not exist."], "errors": {}}
USER_PATHS = {"cloud": "/rest/api/2/user/groups", "datacenter": "/rest/api/2/user"}


@dataclass(frozen=True)
class Attachment:
    issue: str
    filename: str
    mime_type: str
    data: bytes


@dataclass(frozen=True)
class Comment:
    issue: str
    body: str


class JiraAPI(StandIn):
    service = "Jira"

    def __init__(
        self,
        user: str = "oncall@example.com",
        token: str | None = None,
        issues: set[str] | None = None,
        deployment: str = "cloud",
        groups: dict[str, set[str]] | None = None,
    ):
        super().__init__()
        self.deployment = deployment  # "cloud" or "datacenter": which groups call it answers
        # accountId (Cloud) or username (Data Center) -> the user's groups
        self.groups = (
            groups
            if groups is not None
            else {
                "5b10ac8d82e05b22cc7d4ef5": {"jira-software-users"},
                "5b10a2844c20165700ede21g": {"jira-software-users", "kernel-oncall"},
                "jdoe": {"jira-software-users", "kernel-oncall"},
                "mallory": {"jira-software-users"},
            }
        )
        self.user = user
        self.token = token or f"jira-standin-{secrets.token_hex(8)}"
        self.issues = issues or {"OPS-12", "KERN-7"}
        self.attachments: list[Attachment] = []
        self.comments: list[Comment] = []
        self._ids = itertools.count(10000)

    def env(self) -> dict[str, str]:
        return {"KLEAK_JIRA_URL": self.url, "KLEAK_JIRA_USER": self.user, "KLEAK_JIRA_TOKEN": self.token}

    def _authorised(self, call: Call) -> bool:
        auth = call.header("Authorization") or ""
        if auth.startswith("Basic "):
            try:
                user, _, token = base64.b64decode(auth[6:]).decode().partition(":")
            except ValueError:
                user, token = "", ""
            return user == self.user and token == self.token
        return auth == f"Bearer {self.token}"

    def handle(self, call: Call) -> Reply:
        if call.path in USER_PATHS.values():
            return self._user_groups(call)
        m = PATH.fullmatch(call.path)
        if m is None or call.method != "POST":
            self.violation(call, "not an endpoint this client should call")
            return Reply(404, {"errorMessages": ["Not found"], "errors": {}})
        if not self._authorised(call):
            self.violation(call, "missing or wrong credentials")
            return Reply(401, {"errorMessages": ["You are not authenticated. Authentication required to perform this operation."], "errors": {}})  # fmt: skip
        key, what = m[1], m[2]
        if key not in self.issues:
            return Reply(404, NOT_FOUND)
        return self._attach(call, key) if what == "attachments" else self._comment(call, key)

    def _attach(self, call: Call, key: str) -> Reply:
        if (call.header("X-Atlassian-Token") or "").lower() != "no-check":
            self.violation(call, "attachments without X-Atlassian-Token: no-check")
            return Reply(403, "XSRF check failed")
        if call.content_type != "multipart/form-data":
            self.violation(call, f"attachments must be multipart/form-data, got {call.content_type!r}")
            return Reply(415, {"errorMessages": ["Unsupported media type"], "errors": {}})
        parts = call.parts()
        for p in parts:
            if p.name != "file" or not p.filename:
                self.violation(call, f"multipart part named {p.name!r} (filename {p.filename!r}): must be 'file' with a filename")  # fmt: skip
        files = [p for p in parts if p.name == "file" and p.filename]
        if not files:
            return Reply(400, {"errorMessages": ["No attachments were found in request."], "errors": {}})
        out: list[dict[str, Any]] = []
        for p in files:
            self.attachments.append(Attachment(key, str(p.filename), p.content_type, p.data))
            aid = next(self._ids)
            out.append({
                "self": f"{self.url}/rest/api/2/attachment/{aid}",
                "id": str(aid),
                "filename": p.filename,
                "size": len(p.data),
                "mimeType": p.content_type,
                "content": f"{self.url}/secure/attachment/{aid}/{p.filename}",
            })  # fmt: skip
        return Reply(200, out)

    def _comment(self, call: Call, key: str) -> Reply:
        if call.content_type != "application/json":
            self.violation(call, f"comment must be application/json, got {call.content_type!r}")
            return Reply(415, {"errorMessages": ["Unsupported media type"], "errors": {}})
        try:
            body = call.json()
        except ValueError:
            self.violation(call, "comment body is not JSON")
            return Reply(400, {"errorMessages": ["Unexpected character"], "errors": {}})
        text = body.get("body") if isinstance(body, dict) else None
        if not isinstance(text, str) or not text.strip():
            self.violation(call, "comment without a body string")
            return Reply(400, {"errorMessages": [], "errors": {"comment": "Comment body can not be empty!"}})
        self.comments.append(Comment(key, text))
        cid = next(self._ids)
        return Reply(201, {"self": f"{self.url}/rest/api/2/issue/{key}/comment/{cid}", "id": str(cid), "body": text})

    def _user_groups(self, call: Call) -> Reply:
        if call.path != USER_PATHS[self.deployment]:
            self.violation(
                call, f"Jira {self.deployment} has no such resource (groups: GET {USER_PATHS[self.deployment]})"
            )
            return Reply(404, {"errorMessages": ["Not found"], "errors": {}})
        if call.method != "GET":
            self.violation(call, f"{call.path} takes a GET")
            return Reply(405, {"errorMessages": ["Method not allowed"], "errors": {}})
        if not self._authorised(call):
            self.violation(call, "missing or wrong credentials")
            return Reply(401, {"errorMessages": ["You are not authenticated. Authentication required to perform this operation."], "errors": {}})  # fmt: skip
        query = {k: v[0] for k, v in call.query.items()}
        if self.deployment == "cloud":
            if "username" in query or "key" in query:
                self.violation(call, "username/key are no longer available on Jira Cloud: accountId")
            who = query.get("accountId", "")
            if not who:
                self.violation(call, "user/groups without accountId")
                return Reply(400, {"errorMessages": ["accountId must be provided"], "errors": {}})
            if who not in self.groups:
                return Reply(404, NO_USER)
            return Reply(200, [self._group(g) for g in sorted(self.groups[who])])
        who = query.get("username", "")
        if not who:
            self.violation(call, "user without username")
            return Reply(404, NO_USER)
        if "groups" not in query.get("expand", "").split(","):
            self.violation(call, "user without expand=groups: the answer would carry no groups")
        if who not in self.groups:
            return Reply(404, NO_USER)
        items = [{"name": g, "self": f"{self.url}/rest/api/2/group?groupname={g}"} for g in sorted(self.groups[who])]
        user = {"self": f"{self.url}/rest/api/2/user?username={who}", "key": f"JIRAUSER{len(who)}", "name": who,
                "displayName": who.title(), "active": True, "groups": {"size": len(items), "items": items},
                "expand": "groups,applicationRoles"}  # fmt: skip
        return Reply(200, user)

    def _group(self, name: str) -> dict[str, Any]:
        gid = f"{sum(map(ord, name)):08d}-0000-4000-8000-000000000000"
        return {"name": name, "groupId": gid, "self": f"{self.url}/rest/api/2/group?groupId={gid}"}
