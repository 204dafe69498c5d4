"""A loopback fake of the GitHub REST endpoints ml-gate uses, served over real HTTP.

Endpoints: `GET /user`, `GET|POST /repos/{o}/{r}/issues/{n}/comments` (paginated with `Link`),
`PATCH /repos/{o}/{r}/issues/comments/{id}`, `GET /repos/{o}/{r}/issues/{n}/events`, optionally
under `/api/v3` like GitHub Enterprise Server. Tokens map to identities; failures are injected
per route for the next N requests; every request is recorded (the token itself never is).

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

WORKFLOW_TOKEN = "ghs_FakeWorkflowToken0123456789abcdefXYZ"
READONLY_TOKEN = "ghs_FakeForkReadOnlyToken0123456789abcdef"
PERSONAL_TOKEN = "ghp_FakePersonalToken0123456789abcdefXYZ"
PERSONAL_LOGIN = "octocat"
BOT_LOGIN = "github-actions[bot]"
REPOSITORY = "octo-org/ml-project"
NOT_ACCESSIBLE = "Resource not accessible by integration"

ROUTES = (
    "user",
    "list_comments",
    "create_comment",
    "update_comment",
    "list_events",
    "list_commits",
)
_PATTERNS = [
    ("GET", re.compile(r"^/user$"), "user"),
    ("GET", re.compile(r"^/repos/([^/]+/[^/]+)/issues/(\d+)/comments$"), "list_comments"),
    ("POST", re.compile(r"^/repos/([^/]+/[^/]+)/issues/(\d+)/comments$"), "create_comment"),
    ("PATCH", re.compile(r"^/repos/([^/]+/[^/]+)/issues/comments/(\d+)$"), "update_comment"),
    ("GET", re.compile(r"^/repos/([^/]+/[^/]+)/issues/(\d+)/events$"), "list_events"),
    ("GET", re.compile(r"^/repos/([^/]+/[^/]+)/commits$"), "list_commits"),
]
_EPOCH = datetime(2024, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Identity:
    login: str
    can_call_user: bool = True  # the workflow token's /user is 403
    can_write: bool = True  # a fork PR's token is read-only


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
        self, token: str, login: str, *, can_call_user: bool = True, can_write: bool = True
    ) -> None:
        self.tokens[token] = Identity(login, can_call_user, can_write)

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
    ) -> None:
        default = {403: NOT_ACCESSIBLE, 404: "Not Found", 429: "Too Many Requests"}
        failure = _Failure(status, headers or {}, message or default.get(status, "Server Error"))
        self._queue(route, failure, count)

    def lose_response_next(self, route: str, status: int = 502) -> None:
        """Carry out the next request to `route`, then answer `status` (GitHub timed out
        after doing the work)."""
        self._queue(route, _Failure(status, {}, "Server Error", after=True), 1)

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

    def handle(self, method: str, raw_path: str, body: Any, identity: Identity | None) -> _Reply:
        split = urlsplit(raw_path)
        path, query = split.path, parse_qs(split.query)
        if self.prefix:
            if not path.startswith(self.prefix + "/"):
                return _Reply(404, {"message": "Not Found"})
            path = path[len(self.prefix) :]
        route, groups = _match(method, path)
        if route is None:
            return _Reply(404, {"message": "Not Found"})
        if identity is None:
            return _Reply(401, {"message": "Bad credentials"})
        if route == "user":
            if not identity.can_call_user:
                return _Reply(403, {"message": NOT_ACCESSIBLE})
            return _Reply(200, {"login": identity.login, "id": 1, "type": "User"})
        if groups[0] != self.repository:
            return _Reply(404, {"message": "Not Found"})
        if route == "list_commits":
            return self._commits(path, query)
        number = int(groups[1])
        with self._lock:
            if route in ("create_comment", "update_comment") and not identity.can_write:
                return _Reply(403, {"message": NOT_ACCESSIBLE})
            if route == "update_comment":
                return self._update(number, body)
            if number not in self.pulls:
                return _Reply(404, {"message": "Not Found"})
            if route == "create_comment":
                error = _validate_body(body)
                return error or _Reply(201, self._create(number, body["body"], identity.login))
            items = self._comments[number] if route == "list_comments" else self._events[number]
            return self._page(path, query, items)

    def _commits(self, path: str, query: dict[str, list[str]]) -> _Reply:
        """`GET /commits?sha=X`: X and its ancestors, newest first (a linear history)."""
        sha = query.get("sha", [""])[0]
        with self._lock:
            if sha not in self.history:
                return _Reply(422, {"message": f"No commit found for SHA: {sha}"})
            start = self.history.index(sha)
            items = [
                {"sha": s, "commit": {"message": f"commit {s[:7]}"}} for s in self.history[start:]
            ]
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
        per_page = min(int(query.get("per_page", ["30"])[0]), 100)
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
        return _Reply(422, {"message": "Validation Failed: body is too long (maximum is 65536)"})
    return None


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
            route_path = split.path[len(fake.prefix) :] if fake.prefix else split.path
            route = _match(self.command, route_path)[0]
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
                reply = _Reply(failure.status, {"message": failure.message}, failure.headers)
            else:
                reply = fake.handle(self.command, self.path, body, identity)
            self._send(reply)

        def _send(self, reply: _Reply) -> None:
            data = json.dumps(reply.payload).encode()
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("X-GitHub-Request-Id", f"FAKE:{len(fake.requests)}")
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

    return Handler
