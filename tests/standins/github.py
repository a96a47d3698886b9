"""A stand-in GitHub REST API, checked against GitHub's documentation:

- Create an issue comment (https://docs.github.com/en/rest/issues/comments#create-an-issue-comment):
  ``POST /repos/{owner}/{repo}/issues/{issue_number}/comments``, JSON ``{"body": "..."}``;
  answers 201 with the comment (``id``, ``html_url``, ``body``, ...). A body over 65,536
  characters is 422 ``{"message": "Validation Failed", "errors": [{"resource": "IssueComment",
  "code": "custom", "field": "body", "message": "body is too long (maximum is 65536 characters)"}]}``.
- Headers (https://docs.github.com/en/rest/using-the-rest-api/getting-started-with-the-rest-api):
  ``Authorization: Bearer <token>`` (or ``token <token>``), ``Accept: application/vnd.github+json``,
  ``X-GitHub-Api-Version: 2022-11-28`` (an unsupported version is 400), a ``User-Agent`` (required).
  No token: 401 ``Requires authentication``; a bad one: 401 ``Bad credentials``; an unknown
  repository or issue: 404 ``Not Found``. GitHub Enterprise serves the same under ``/api/v3``.
"""

from __future__ import annotations

import itertools
import re
import secrets
from dataclasses import dataclass

from standins.base import Call, Reply, StandIn

PATH = re.compile(r"(?:/api/v3)?/repos/([^/]+)/([^/]+)/issues/([0-9]+)/comments")
API_VERSIONS = ("2022-11-28",)
MAX_BODY = 65536
DOCS = "https://docs.github.com/rest"


@dataclass(frozen=True)
class IssueComment:
    issue: str  # owner/repo#n
    body: str


def _error(message: str, **extra: object) -> dict[str, object]:
    return {"message": message, "documentation_url": DOCS, **extra}


class GitHubAPI(StandIn):
    service = "GitHub"

    def __init__(self, token: str | None = None, issues: set[str] | None = None) -> None:
        super().__init__()
        self.token = token or f"ghp_standin{secrets.token_hex(10)}"
        self.issues = issues or {"acme/ops#12", "acme/kernel#3"}
        self.comments: list[IssueComment] = []
        self._ids = itertools.count(1_000_001)

    def env(self) -> dict[str, str]:
        return {"KLEAK_GITHUB_API_URL": self.url, "KLEAK_GITHUB_TOKEN": self.token}

    def handle(self, call: Call) -> Reply:
        m = PATH.fullmatch(call.path)
        if m is None or call.method != "POST":
            self.violation(call, "not an endpoint this client should call")
            return Reply(404, _error("Not Found"))
        if not call.header("User-Agent"):
            self.violation(call, "no User-Agent")
            return Reply(403, "Request forbidden by administrative rules. Please make sure your request has a User-Agent header")  # fmt: skip
        auth = call.header("Authorization") or ""
        if not auth:
            self.violation(call, "no Authorization")
            return Reply(401, _error("Requires authentication"))
        if auth not in (f"Bearer {self.token}", f"token {self.token}"):
            self.violation(call, "wrong token")
            return Reply(401, _error("Bad credentials"))
        if call.header("Accept") != "application/vnd.github+json":
            self.violation(call, f"Accept {call.header('Accept')!r}, GitHub asks for application/vnd.github+json")
        version = call.header("X-GitHub-Api-Version")
        if version is None:
            self.violation(call, "no X-GitHub-Api-Version")
        elif version not in API_VERSIONS:
            self.violation(call, f"unsupported X-GitHub-Api-Version {version!r}")
            return Reply(400, _error(f"Unsupported 'X-GitHub-Api-Version' header: {version}"))
        issue = f"{m[1]}/{m[2]}#{m[3]}"
        if issue not in self.issues:
            return Reply(404, _error("Not Found"))
        return self._comment(call, issue)

    def _comment(self, call: Call, issue: str) -> Reply:
        if call.content_type != "application/json":
            self.violation(call, f"Content-Type {call.content_type!r}, not application/json")
        try:
            data = call.json()
        except ValueError:
            self.violation(call, "body is not JSON")
            return Reply(400, _error("Problems parsing JSON"))
        body = data.get("body") if isinstance(data, dict) else None
        if not isinstance(body, str):
            self.violation(call, "no body string")
            return Reply(422, _error('Invalid request.\n\n"body" wasn\'t supplied.', status="422"))
        if len(body) > MAX_BODY:
            self.violation(call, f"body of {len(body)} characters, over GitHub's {MAX_BODY}")
            err = {"resource": "IssueComment", "code": "custom", "field": "body",
                   "message": f"body is too long (maximum is {MAX_BODY} characters)"}  # fmt: skip
            return Reply(422, _error("Validation Failed", errors=[err], status="422"))
        self.comments.append(IssueComment(issue, body))
        cid = next(self._ids)
        owner_repo, n = issue.split("#")
        return Reply(201, {
            "id": cid,
            "url": f"{self.url}/repos/{owner_repo}/issues/comments/{cid}",
            "html_url": f"https://github.example/{owner_repo}/issues/{n}#issuecomment-{cid}",
            "body": body,
            "user": {"login": "kleak-bot"},
        })  # fmt: skip
