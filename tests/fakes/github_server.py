"""A loopback fake of the GitHub REST endpoints ml-gate uses, served over real HTTP.

Endpoints (each in GitHub's OpenAPI description, see tests/github_openapi_operations.json):
`GET /user`, `POST /graphql` (`viewer { login }`), `GET|POST /repos/{o}/{r}/issues/{n}/comments`,
`PATCH /repos/{o}/{r}/issues/comments/{id}`, `GET /repos/{o}/{r}/issues/{n}/events`,
`GET /repos/{o}/{r}/commits[/{ref}[/pulls]]`, `GET /repos/{o}/{r}/pulls[/{n}]`,
`POST /repos/{o}/{r}/check-runs`, `PATCH /repos/{o}/{r}/check-runs/{id}` (github_checks.py);
optionally under `/api/v3` like GitHub Enterprise Server (GraphQL then at `/api/graphql`).

How it behaves like GitHub, and where that comes from:
- 401 `Bad credentials` for an unknown token on any path, before any 404 (REST docs,
  "Troubleshooting": authentication is checked first; @octokit/fixtures records the same).
- `x-ratelimit-limit/-remaining/-used/-reset/-resource` on every reply (REST docs, "Rate limits
  for the REST API"; the OpenAPI description's `x-rate-limit` headers).
- `Link` pagination in the `/repositories/{id}/...` form GitHub really sends (recorded traffic in
  @octokit/fixtures), and that form is served; `per_page` is clamped to 100 (OpenAPI: "max 100").
- 422 `Validation Failed` with the detail in `errors[]` (OpenAPI `validation-error` schema;
  "Body is too long (maximum is 65536 characters)").
- 403 `Unable to create comment because issue is locked.` on a locked PR (REST docs for
  create-an-issue-comment; the `issues.locked` webhook example).
- 403 secondary rate limit with `retry-after` (REST docs, "secondary rate limits"; the OpenAPI
  description of create-an-issue-comment warns of them); 429 with `Retry-After`.
- A response lost after the work was done (a 502 from a proxy), possibly several in a row.
- `GET /user` is refused to installation and workflow tokens (`Resource not accessible by
  integration`); GraphQL `viewer` answers for every token (`<slug>[bot]` for an App).
- `GET /commits/{sha}/pulls` does not list a fork's pull request (the case GitHub's empty
  `workflow_run.pull_requests` leaves to `GET /pulls?head=owner:branch`).
Tokens map to identities; failures are injected per route for the next N requests; every request
is recorded (the token itself never is).

    with FakeGitHub() as gh:
        gh.fail_next("create_comment", 403)
        client = GitHubClient(WORKFLOW_TOKEN, api_url=gh.api_url, repository=gh.repository)
"""

from __future__ import annotations

import json
import re
import threading
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from fakes.github_checks import CheckRuns

WORKFLOW_TOKEN = "ghs_FakeWorkflowToken0123456789abcdefXYZ"
READONLY_TOKEN = "ghs_FakeForkReadOnlyToken0123456789abcdef"
PERSONAL_TOKEN = "ghp_FakePersonalToken0123456789abcdefXYZ"
PERSONAL_LOGIN = "octocat"
BOT_LOGIN = "github-actions[bot]"
REPOSITORY = "octo-org/ml-project"
NOT_ACCESSIBLE = "Resource not accessible by integration"

LOCKED = "Unable to create comment because issue is locked."
REPOSITORY_ID = 123456
RATE_LIMIT = 5000
_REPO = r"^/(?:repos/([^/]+/[^/]+)|repositories/(\d+))"
ROUTES = (
    "user",
    "graphql",
    "list_comments",
    "create_comment",
    "update_comment",
    "list_events",
    "list_commits",
    "get_commit",
    "commit_pulls",
    "list_pulls",
    "get_pull",
    "create_check_run",
    "update_check_run",
)
_PATTERNS = [
    ("GET", re.compile(r"^/user$"), "user"),
    ("POST", re.compile(r"^/graphql$"), "graphql"),
    ("GET", re.compile(_REPO + r"/issues/(\d+)/comments$"), "list_comments"),
    ("POST", re.compile(_REPO + r"/issues/(\d+)/comments$"), "create_comment"),
    ("PATCH", re.compile(_REPO + r"/issues/comments/(\d+)$"), "update_comment"),
    ("GET", re.compile(_REPO + r"/issues/(\d+)/events$"), "list_events"),
    ("GET", re.compile(_REPO + r"/commits$"), "list_commits"),
    ("GET", re.compile(_REPO + r"/commits/([^/]+)/pulls$"), "commit_pulls"),
    ("GET", re.compile(_REPO + r"/commits/([^/]+)$"), "get_commit"),
    ("GET", re.compile(_REPO + r"/pulls$"), "list_pulls"),
    ("GET", re.compile(_REPO + r"/pulls/(\d+)$"), "get_pull"),
    ("POST", re.compile(_REPO + r"/check-runs$"), "create_check_run"),
    ("PATCH", re.compile(_REPO + r"/check-runs/(\d+)$"), "update_check_run"),
]
_EPOCH = datetime(2024, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Identity:
    login: str
    can_call_user: bool = True  # the workflow token's /user is 403
    can_write: bool = True  # a fork PR's token is read-only
    can_graphql: bool = True  # GraphQL `viewer` answers for every kind of token


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str  # as sent, including any /api/v3 prefix, without the query
    query: dict[str, list[str]]
    headers: dict[str, str]  # Authorization keeps only its scheme: "Bearer <redacted>"
    body: Any
    route: str | None
    login: str | None  # the identity the token mapped to


@dataclass
class _Failure:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    message: str = ""
    disconnect: bool = False
    after: bool = False  # handle the request, then answer with the failure (a lost response)
    errors: list[Any] | None = None  # a 422's `errors[]`


class FakeGitHub:
    def __init__(
        self, *, repository: str = REPOSITORY, prefix: str = "", pulls: tuple[int, ...] = (1, 2, 3)
    ) -> None:
        self.repository = repository
        self.prefix = prefix.rstrip("/")
        self.pulls = set(pulls)
        self.tokens: dict[str, Identity] = {
            WORKFLOW_TOKEN: Identity(BOT_LOGIN, can_call_user=False),
            READONLY_TOKEN: Identity(BOT_LOGIN, can_call_user=False, can_write=False),
            PERSONAL_TOKEN: Identity(PERSONAL_LOGIN),
        }
        self.requests: list[Recorded] = []
        self._comments: dict[int, list[dict[str, Any]]] = defaultdict(list)
        self._events: dict[int, list[dict[str, Any]]] = defaultdict(list)
        self.history: list[str] = []  # the default branch's commits, newest first
        self.parents: dict[str, list[str]] = {}  # sha -> parents; default: the next in history
        self.pull_requests: dict[int, dict[str, Any]] = {}
        self.tags: dict[str, str] = {}  # tag name -> commit sha
        self.locked: set[int] = set()
        self.checks = CheckRuns(repository)  # check runs: tests/fakes/github_checks.py
        self.rate_remaining = RATE_LIMIT
        self._failures: dict[str, deque[_Failure]] = defaultdict(deque)
        self._next_id = 1_000
        self._clock = _EPOCH
        self._lock = threading.RLock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> FakeGitHub:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeGitHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def api_url(self) -> str:
        return self.url + self.prefix

    # -- state ------------------------------------------------------------------------------

    def add_token(
        self,
        token: str,
        login: str,
        *,
        can_call_user: bool = True,
        can_write: bool = True,
        can_graphql: bool = True,
    ) -> None:
        self.tokens[token] = Identity(login, can_call_user, can_write, can_graphql)

    def add_pull(
        self,
        number: int,
        *,
        head_sha: str,
        base_sha: str,
        head_ref: str = "feature",
        base_ref: str = "main",
        head_repo: str | None = None,
        labels: tuple[str, ...] = (),
        state: str = "open",
    ) -> dict[str, Any]:
        """A pull request, shaped like `GET /repos/{o}/{r}/pulls/{n}` (the fields ml-gate reads
        and a few around them, as in the OpenAPI `pull-request` schema)."""
        head_full = head_repo or self.repository

        def repo(full: str) -> dict[str, Any]:
            return {
                "full_name": full,
                "name": full.split("/")[1],
                "owner": {"login": full.split("/")[0]},
            }

        pull = {
            "number": number,
            "state": state,
            "locked": number in self.locked,
            "title": f"PR {number}",
            "html_url": f"https://github.com/{self.repository}/pull/{number}",
            "labels": [{"name": name} for name in labels],
            "head": {
                "label": f"{head_full.split('/')[0]}:{head_ref}",
                "ref": head_ref,
                "sha": head_sha,
                "repo": repo(head_full),
            },
            "base": {
                "label": f"{self.repository.split('/')[0]}:{base_ref}",
                "ref": base_ref,
                "sha": base_sha,
                "repo": repo(self.repository),
            },
        }
        with self._lock:
            self.pulls.add(number)
            self.pull_requests[number] = pull
        return pull

    def lock(self, pr: int) -> None:
        with self._lock:
            self.locked.add(pr)

    def add_comment(self, pr: int, body: str, login: str = "a-stranger") -> dict[str, Any]:
        """Seed a comment (as if posted earlier by `login`); returns a copy."""
        with self._lock:
            self.pulls.add(pr)
            return dict(self._create(pr, body, login))

    def comments(self, pr: int) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(c, user=dict(c["user"])) for c in self._comments[pr]]

    def add_event(self, pr: int, event: dict[str, Any]) -> None:
        with self._lock:
            self.pulls.add(pr)
            self._events[pr].append({"id": len(self._events[pr]) + 1, **event})

    def requests_to(self, route: str) -> list[Recorded]:
        return [r for r in self.requests if r.route == route]

    # -- failure injection (route: one of ROUTES, or "*" for any) ---------------------------

    def fail_next(
        self,
        route: str,
        status: int,
        *,
        count: int = 1,
        headers: dict[str, str] | None = None,
        message: str | None = None,
        errors: list[Any] | None = None,
    ) -> None:
        default = {
            401: "Bad credentials",
            403: NOT_ACCESSIBLE,
            404: "Not Found",
            422: "Validation Failed",
            429: "Too Many Requests",
        }
        text = message or default.get(status, "Server Error")
        self._queue(route, _Failure(status, headers or {}, text, errors=errors), count)

    def lose_response_next(self, route: str, status: int = 502, *, count: int = 1) -> None:
        """Carry out the next `count` requests to `route`, then answer `status` each time
        (a proxy timed out after GitHub did the work)."""
        self._queue(route, _Failure(status, {}, "Server Error", after=True), count)

    def rate_limit_next(self, route: str, *, retry_after: int, count: int = 1) -> None:
        """429 with a Retry-After header."""
        self.fail_next(route, 429, count=count, headers={"Retry-After": str(retry_after)})

    def secondary_rate_limit_next(
        self, route: str, *, retry_after: int | None = None, reset_at: int | None = None
    ) -> None:
        """403 secondary limit (with `retry-after`) or exhausted primary limit (`reset_at`)."""
        headers = {"x-ratelimit-remaining": "0"} if reset_at is not None else {}
        if reset_at is not None:
            headers["x-ratelimit-reset"] = str(reset_at)
        if retry_after is not None:
            headers["retry-after"] = str(retry_after)
        message = "You have exceeded a secondary rate limit. Please wait a few minutes."
        self.fail_next(route, 403, headers=headers, message=message)

    def disconnect_next(self, route: str, *, count: int = 1) -> None:
        """Close the connection without answering (the client sees a connection error)."""
        self._queue(route, _Failure(0, disconnect=True), count)

    def clear_failures(self) -> None:
        with self._lock:
            self._failures.clear()

    def _queue(self, route: str, failure: _Failure, count: int) -> None:
        if route != "*" and route not in ROUTES:
            raise ValueError(f"unknown route {route!r}; expected one of {ROUTES} or '*'")
        with self._lock:
            self._failures[route].extend([failure] * count)

    def _take_failure(self, route: str | None) -> _Failure | None:
        with self._lock:
            for key in (route, "*"):
                if key and self._failures[key]:
                    return self._failures[key].popleft()
        return None

    # -- behaviour ----------------------------------------------------------------------------

    def _create(self, pr: int, body: str, login: str) -> dict[str, Any]:
        self._next_id += 1
        self._clock += timedelta(minutes=1)
        stamp = self._clock.strftime("%Y-%m-%dT%H:%M:%SZ")
        comment = {
            "id": self._next_id,
            "node_id": f"IC_{self._next_id}",
            "body": body,
            "user": {"login": login, "type": "Bot" if login.endswith("[bot]") else "User"},
            "html_url": f"https://github.com/{self.repository}/pull/{pr}#issuecomment-{self._next_id}",
            "created_at": stamp,
            "updated_at": stamp,
        }
        self._comments[pr].append(comment)
        return comment

    def rate_headers(self, *, graphql: bool = False) -> dict[str, str]:
        """`x-ratelimit-*` as GitHub sends them on every reply (one request used each)."""
        with self._lock:
            self.rate_remaining = max(0, self.rate_remaining - 1)
            remaining = self.rate_remaining
        return {
            "x-ratelimit-limit": str(RATE_LIMIT),
            "x-ratelimit-remaining": str(remaining),
            "x-ratelimit-used": str(RATE_LIMIT - remaining),
            "x-ratelimit-reset": str(int(_EPOCH.timestamp()) + 3600),
            "x-ratelimit-resource": "graphql" if graphql else "core",
        }

    def graphql_path(self) -> str:
        # api.github.com/graphql; GHES: /api/v3 for REST, /api/graphql for GraphQL
        return (self.prefix.removesuffix("/v3") or "") + "/graphql"

    def strip_prefix(self, path: str) -> str | None:
        if path == self.graphql_path():
            return "/graphql"
        if self.prefix:
            return path[len(self.prefix) :] if path.startswith(self.prefix + "/") else None
        return path

    def handle(self, method: str, raw_path: str, body: Any, identity: Identity | None) -> _Reply:
        split = urlsplit(raw_path)
        query = parse_qs(split.query)
        if identity is None:  # authentication first: an unknown token never learns what exists
            return _Reply(401, {"message": "Bad credentials"})
        path = self.strip_prefix(split.path)
        route, groups = _match(method, path or "")
        if route is None or path is None:
            return _Reply(404, {"message": "Not Found"})
        if route == "user":
            if not identity.can_call_user:
                return _Reply(403, {"message": NOT_ACCESSIBLE})
            return _Reply(200, {"login": identity.login, "id": 1, "type": "User"})
        if route == "graphql":
            return self._graphql(body, identity)
        repository = groups[0] or (self.repository if groups[1] == str(REPOSITORY_ID) else None)
        if repository != self.repository:
            return _Reply(404, {"message": "Not Found"})
        path = (
            f"/repositories/{REPOSITORY_ID}" + path.split(f"/{self.repository}", 1)[-1]
            if groups[0]
            else path
        )
        with self._lock:
            return self._repo_route(
                route, groups[2] if len(groups) > 2 else "", path, query, body, identity
            )

    def _repo_route(
        self, route: str, arg: str, path: str, query: dict[str, list[str]], body: Any, who: Identity
    ) -> _Reply:
        if route in ("create_check_run", "update_check_run"):
            if not who.can_write:  # a read-only token: no `checks: write`
                return _Reply(403, {"message": NOT_ACCESSIBLE})
            if route == "create_check_run":
                return _Reply(*self.checks.create(body))
            return _Reply(*self.checks.update(int(arg), body))
        if route == "list_commits":
            return self._commits(path, query)
        if route == "get_commit":
            sha = self.tags.get(arg, arg)
            if sha not in self.history and sha not in self.parents:
                return _Reply(422, {"message": f"No commit found for SHA: {arg}"})
            return _Reply(200, self._commit(sha))
        if route == "commit_pulls":
            # Only PRs whose head is in this repository: a fork's PR is not listed.
            found = [
                p
                for p in self.pull_requests.values()
                if p["head"]["sha"] == arg and p["head"]["repo"]["full_name"] == self.repository
            ]
            return _Reply(200, found)
        if route == "list_pulls":
            head = query.get("head", [""])[0]
            state = query.get("state", ["open"])[0]
            found = [
                p
                for p in self.pull_requests.values()
                if (not head or p["head"]["label"] == head) and state in ("all", p["state"])
            ]
            return self._page(path, query, found)
        number = int(arg)
        if route == "get_pull":
            pull = self.pull_requests.get(number)
            return _Reply(200, pull) if pull else _Reply(404, {"message": "Not Found"})
        if route in ("create_comment", "update_comment") and not who.can_write:
            return _Reply(403, {"message": NOT_ACCESSIBLE})
        if route == "update_comment":
            return self._update(number, body)
        if number not in self.pulls:
            return _Reply(404, {"message": "Not Found"})
        if route == "create_comment":
            if number in self.locked:
                return _Reply(403, {"message": LOCKED})
            error = _validate_body(body)
            return error or _Reply(201, self._create(number, body["body"], who.login))
        items = self._comments[number] if route == "list_comments" else self._events[number]
        return self._page(path, query, items)

    def _graphql(self, body: Any, identity: Identity) -> _Reply:
        query = body.get("query", "") if isinstance(body, dict) else ""
        if not identity.can_graphql:
            return _Reply(403, {"message": NOT_ACCESSIBLE})
        if "viewer" not in query:
            return _Reply(200, {"errors": [{"message": "only `viewer` is faked"}]})
        return _Reply(200, {"data": {"viewer": {"login": identity.login}}})

    def _commit(self, sha: str) -> dict[str, Any]:
        return {
            "sha": sha,
            "commit": {"message": f"commit {sha[:7]}"},
            "parents": [{"sha": p} for p in self._parents_of(sha)],
        }

    def _parents_of(self, sha: str) -> list[str]:
        if sha in self.parents:
            return self.parents[sha]
        if sha in self.history:
            i = self.history.index(sha)
            return self.history[i + 1 : i + 2]
        return []

    def _commits(self, path: str, query: dict[str, list[str]]) -> _Reply:
        """`GET /commits?sha=X`: every commit reachable from X (all parents, not only the
        first), newest first in the order of `history` (the date order GitHub uses)."""
        sha = query.get("sha", [""])[0]
        if sha not in self.history:  # OpenAPI list-commits: 404 (422 is get-commit's answer)
            return _Reply(404, {"message": f"No commit found for SHA: {sha}"})
        reachable, todo = set(), [sha]
        while todo:
            current = todo.pop()
            if current not in reachable:
                reachable.add(current)
                todo.extend(self._parents_of(current))
        items = [self._commit(s) for s in self.history if s in reachable]
        return self._page(path, {**query, "sha": [sha]}, items)

    def _update(self, comment_id: int, body: Any) -> _Reply:
        # Like GitHub, anyone with write access may edit any comment: the client must not.
        for comment in (c for thread in self._comments.values() for c in thread):
            if comment["id"] == comment_id:
                error = _validate_body(body)
                if error:
                    return error
                self._clock += timedelta(minutes=1)
                comment["body"] = body["body"]
                comment["updated_at"] = self._clock.strftime("%Y-%m-%dT%H:%M:%SZ")
                return _Reply(200, comment)
        return _Reply(404, {"message": "Not Found"})

    def _page(self, path: str, query: dict[str, list[str]], items: list[Any]) -> _Reply:
        per_page = max(1, min(int(query.get("per_page", ["30"])[0]), 100))  # OpenAPI: max 100
        page = max(int(query.get("page", ["1"])[0]), 1)
        last = max((len(items) + per_page - 1) // per_page, 1)
        chunk = [dict(i) for i in items[(page - 1) * per_page : page * per_page]]
        links = []

        def link(n: int, rel: str) -> str:
            extra = {k: v[0] for k, v in query.items() if k not in ("page", "per_page")}
            params = urlencode({**extra, "per_page": per_page, "page": n})
            return f'<{self.api_url}{path}?{params}>; rel="{rel}"'

        if page < last:
            links += [link(page + 1, "next"), link(last, "last")]
        if page > 1:
            links += [link(1, "first"), link(page - 1, "prev")]
        return _Reply(200, chunk, {"Link": ", ".join(links)} if links else {})


@dataclass
class _Reply:
    status: int
    payload: Any
    headers: dict[str, str] = field(default_factory=dict)


def _match(method: str, path: str) -> tuple[str | None, tuple[str, ...]]:
    for verb, pattern, route in _PATTERNS:
        found = pattern.match(path)
        if found and verb == method:
            return route, found.groups()
    return None, ()


def _validate_body(body: Any) -> _Reply | None:
    if not isinstance(body, dict) or not isinstance(body.get("body"), str):
        return _Reply(422, {"message": 'Invalid request.\n\n"body" wasn\'t supplied.'})
    if len(body["body"]) > 65_536:
        return _Reply(422, validation_failed("Body is too long (maximum is 65536 characters)"))
    return None


def validation_failed(*messages: str) -> dict[str, Any]:
    """A 422 body as GitHub sends it (OpenAPI `validation-error`)."""
    return {
        "message": "Validation Failed",
        "errors": [
            {"resource": "IssueComment", "code": "custom", "field": "body", "message": m}
            for m in messages
        ],
        "documentation_url": "https://docs.github.com/rest/issues/comments#create-an-issue-comment",
    }


def _make_handler(fake: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # no 40 ms delayed-ACK stalls on keep-alive connections

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def do_PATCH(self) -> None:
            self._serve()

        def log_message(self, format: str, *args: Any) -> None:  # silence stderr
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode("utf-8", "replace")
            scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
            identity = fake.tokens.get(token) if scheme.lower() in ("bearer", "token") else None
            headers = {k: v for k, v in self.headers.items() if k.lower() != "authorization"}
            if scheme:
                headers["Authorization"] = f"{scheme} <redacted>"
            split = urlsplit(self.path)
            route = _match(self.command, fake.strip_prefix(split.path) or "")[0]
            fake.requests.append(
                Recorded(
                    method=self.command,
                    path=split.path,
                    query=parse_qs(split.query),
                    headers=headers,
                    body=body,
                    route=route,
                    login=identity.login if identity else None,
                )
            )
            failure = fake._take_failure(route)
            if failure and failure.disconnect:
                self.close_connection = True
                return
            if failure and failure.after:
                fake.handle(self.command, self.path, body, identity)
            if failure:
                payload: dict[str, Any] = {"message": failure.message}
                if failure.errors is not None:
                    payload["errors"] = failure.errors
                reply = _Reply(failure.status, payload, failure.headers)
            else:
                reply = fake.handle(self.command, self.path, body, identity)
            self._send(reply)

        def _send(self, reply: _Reply) -> None:
            data = json.dumps(reply.payload).encode()
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("X-GitHub-Request-Id", f"FAKE:{len(fake.requests)}")
            headers = {**fake.rate_headers(graphql=self.path.endswith("/graphql")), **reply.headers}
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

    return Handler
