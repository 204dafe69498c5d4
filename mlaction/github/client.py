"""GitHub's REST API: a small client (retries, rate limits) and the sticky PR comment.

This module knows no tracker and no report: it posts the text it is given.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import requests

from mlaction.errors import GitHubError
from mlaction.github.runner import DEFAULT_API_URL

log = logging.getLogger(__name__)

WORKFLOW_BOT = "github-actions[bot]"
USER_AGENT = "ml-gate (+https://github.com/ml-gate/ml-gate)"
BACKOFF_BASE = 1.0  # seconds; doubles per attempt
BACKOFF_CAP = 30.0
SECONDARY_LIMIT_WAIT = 60.0  # GitHub: "wait at least one minute" when no header says how long
MAX_PAGES = 100  # 10,000 comments: more is a runaway pagination, not a pull request
FORK_DOC = "docs/fork-prs.md"


class GitHubAPIError(GitHubError):
    """A GitHubError from the REST API; `status` is the HTTP status (None: no answer)."""

    def __init__(self, message: str, *, status: int | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status


@dataclass(frozen=True)
class CommentResult:
    action: Literal["created", "updated", "unchanged", "skipped"]
    url: str | None
    id: int | None


class _Retry(Exception):
    """Internal: this answer may succeed later; wait `wait` seconds before asking again."""

    def __init__(self, wait: float, reason: str, status: int | None, rate_limited: bool) -> None:
        super().__init__(reason)
        self.wait = wait
        self.reason = reason
        self.status = status
        self.rate_limited = rate_limited


class GitHubClient:
    """Issue comments on one repository through the REST API, with bounded retries."""

    def __init__(
        self,
        token: str,
        *,
        api_url: str = DEFAULT_API_URL,
        repository: str,
        timeout: float = 10.0,
        max_retries: int = 4,
        max_total_wait: float = 60.0,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        login: str | None = None,
    ) -> None:
        if not token:
            raise GitHubAPIError(
                "No GitHub token: cannot call the GitHub API.",
                hint="Pass `github-token` to the action (its default is the workflow token), "
                "or set GITHUB_TOKEN when running the CLI.",
            )
        owner, _, name = repository.partition("/")
        if not owner or not name or "/" in name:
            raise GitHubAPIError(
                f"Invalid repository {repository!r}: expected `owner/name`.",
                hint="GitHub sets GITHUB_REPOSITORY on runners; set it the same way locally.",
            )
        self.api_url = api_url.rstrip("/")
        self.repository = repository
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_total_wait = max_total_wait
        self._sleep = sleep
        self._token = token
        self._login: str | None = login or None  # given: a GitHub App's `<slug>[bot]`
        self._session = session or requests.Session()
        self._session.headers.update(
            {
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
                "User-Agent": USER_AGENT,
            }
        )

    def __repr__(self) -> str:
        return f"GitHubClient(api_url={self.api_url!r}, repository={self.repository!r})"

    # -- endpoints ----------------------------------------------------------------------------

    def whoami(self) -> str:
        """The login comments are authored as; the workflow token cannot call /user."""
        if self._login is None:
            try:
                self._login = str(self._json("GET", "/user", what="read the token's user")["login"])
            except GitHubAPIError as exc:
                if exc.status not in (401, 403):
                    raise
                self._login = WORKFLOW_BOT
        return self._login

    def list_issue_comments(self, pr: int) -> list[dict[str, Any]]:
        """Every comment of the pull request, following `Link: rel="next"`."""
        return self._list(
            f"/repos/{self.repository}/issues/{pr}/comments",
            f"list the comments of pull request #{pr}",
        )

    def label_added_by(self, pr: int, label: str) -> str | None:
        """Who last added `label` to the pull request (from its issue events), if anyone."""
        events = self._list(
            f"/repos/{self.repository}/issues/{pr}/events", f"list the events of pull request #{pr}"
        )
        added = [
            e
            for e in events
            if e.get("event") == "labeled" and (e.get("label") or {}).get("name") == label
        ]
        if not added:
            return None
        login = (added[-1].get("actor") or {}).get("login")
        return str(login) if login else None

    def ancestors(self, sha: str, count: int) -> list[str]:
        """Up to `count` ancestors of `sha`, nearest first (the commits API, first parents)."""
        per_page = min(100, count + 1)
        shas: list[str] = []
        for page in range(1, MAX_PAGES + 1):
            items = self._json_list(
                f"/repos/{self.repository}/commits",
                f"list the history of commit {sha[:12]}",
                {"sha": sha, "per_page": per_page, "page": page},
            )
            shas.extend(str(c["sha"]) for c in items if isinstance(c.get("sha"), str))
            if len(items) < per_page or len(shas) > count:
                break
        return [s for s in shas if s != sha][:count]

    def _json_list(self, path: str, what: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        response = self._request("GET", f"{self.api_url}{path}", params=params, what=what)
        page = _decode(response, what)
        if not isinstance(page, list):
            raise GitHubAPIError(f"Could not {what}: GitHub answered {type(page).__name__}.")
        return [c for c in page if isinstance(c, dict)]

    def _list(self, path: str, what: str) -> list[dict[str, Any]]:
        url: str | None = f"{self.api_url}{path}"
        params: dict[str, Any] | None = {"per_page": 100}
        items: list[dict[str, Any]] = []
        for _ in range(MAX_PAGES):
            if url is None:
                return items
            response = self._request("GET", url, params=params, what=what)
            page = _decode(response, what)
            if not isinstance(page, list):
                raise GitHubAPIError(f"Could not {what}: GitHub answered {type(page).__name__}.")
            items.extend(c for c in page if isinstance(c, dict))
            url, params = self._next_link(response), None
        raise GitHubAPIError(f"Could not {what}: more than {MAX_PAGES} pages.")

    def create_comment(self, pr: int, body: str) -> dict[str, Any]:
        return self._json(
            "POST",
            f"/repos/{self.repository}/issues/{pr}/comments",
            json={"body": body},
            what=f"create a comment on pull request #{pr}",
        )

    def _create_once(self, pr: int, marker: str, body: str, me: str) -> dict[str, Any]:
        """Create the comment without ever posting it twice: a POST that failed with a 5xx or
        a lost connection may have landed, so look for it before posting again."""
        what = f"create a comment on pull request #{pr}"
        path = f"/repos/{self.repository}/issues/{pr}/comments"
        try:
            return self._json("POST", path, json={"body": body}, what=what, retries=0)
        except GitHubAPIError as exc:
            if exc.status is not None and exc.status < 500:
                raise
        self._sleep(_backoff(0))
        landed = [
            c
            for c in self.list_issue_comments(pr)
            if marker in str(c.get("body") or "")
            and str((c.get("user") or {}).get("login", "")).lower() == me
        ]
        if landed:
            return max(landed, key=lambda c: int(c["id"]))
        return self._json("POST", path, json={"body": body}, what=what)

    def update_comment(self, comment_id: int, body: str) -> dict[str, Any]:
        return self._json(
            "PATCH",
            f"/repos/{self.repository}/issues/comments/{comment_id}",
            json={"body": body},
            what=f"update comment {comment_id}",
        )

    def upsert_comment(
        self, pr: int, marker: str, body: str, *, create: bool = True
    ) -> CommentResult:
        """Edit our comment carrying `marker` in place, or create it (when `create`).

        "Ours" means the body contains `marker` and the author is this token's identity: a
        comment by anyone else is never touched, marker or not. When several of ours exist,
        the newest is updated and the others are left alone. A body without the marker gets
        it prepended, so the next run finds the comment.
        """
        if not marker.strip():
            raise ValueError("the comment marker must not be empty")
        if marker not in body:
            body = f"{marker}\n{body}"
        me = self.whoami().lower()
        ours = [
            c
            for c in self.list_issue_comments(pr)
            if marker in str(c.get("body") or "")
            and str((c.get("user") or {}).get("login", "")).lower() == me
        ]
        if ours:
            newest = max(ours, key=lambda c: (str(c.get("created_at") or ""), int(c["id"])))
            if _normalise(str(newest.get("body") or "")) == _normalise(body):
                return CommentResult("unchanged", newest.get("html_url"), int(newest["id"]))
            updated = self.update_comment(int(newest["id"]), body)
            return CommentResult("updated", updated.get("html_url"), int(updated["id"]))
        if not create:
            return CommentResult("skipped", None, None)
        created = self._create_once(pr, marker, body, me)
        return CommentResult("created", created.get("html_url"), int(created["id"]))

    # -- transport ------------------------------------------------------------------------------

    def _json(
        self, method: str, path: str, *, what: str, json: Any = None, retries: int | None = None
    ) -> dict[str, Any]:
        response = self._request(
            method, f"{self.api_url}{path}", json=json, what=what, retries=retries
        )
        data = _decode(response, what)
        if not isinstance(data, dict):
            raise GitHubAPIError(f"Could not {what}: GitHub answered {type(data).__name__}.")
        return data

    def _request(
        self,
        method: str,
        url: str,
        *,
        what: str,
        params: dict[str, Any] | None = None,
        json: Any = None,
        retries: int | None = None,
    ) -> requests.Response:
        waited = 0.0
        attempt = 0
        limit = self.max_retries if retries is None else retries
        while True:
            try:
                return self._attempt(method, url, what=what, params=params, json=json, n=attempt)
            except _Retry as retry:
                if attempt >= limit:
                    raise self._gave_up(what, retry, waited, over_budget=False) from None
                if waited + retry.wait > self.max_total_wait:
                    raise self._gave_up(what, retry, waited, over_budget=True) from None
                attempt += 1
                log.info(
                    "%s; retry %d of %d in %.1fs",
                    retry.reason,
                    attempt,
                    self.max_retries,
                    retry.wait,
                )
                self._sleep(retry.wait)
                waited += retry.wait

    def _attempt(
        self, method: str, url: str, *, what: str, params: Any, json: Any, n: int
    ) -> requests.Response:
        """One request: the response, or _Retry, or a GitHubAPIError that says what to fix."""
        try:
            response = self._session.request(
                method, url, params=params, json=json, timeout=self.timeout
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            reason = f"{method} {_path(url)}: {type(exc).__name__}: {self._redact(str(exc))}"
            raise _Retry(_backoff(n), reason, None, rate_limited=False) from None
        except requests.RequestException as exc:
            raise GitHubAPIError(f"Could not {what}: {self._redact(str(exc))}") from None
        status = response.status_code
        if status < 400:
            return response
        wait = _rate_limit_wait(response)
        if wait is not None:
            reason = f"{method} {_path(url)}: rate limited ({status})"
            raise _Retry(wait, reason, status, rate_limited=True)
        if status >= 500:
            raise _Retry(_backoff(n), f"{method} {_path(url)}: {status}", status, False)
        raise self._http_error(method, what, response)

    def _next_link(self, response: requests.Response) -> str | None:
        url = response.links.get("next", {}).get("url")
        if url and not url.startswith(self.api_url + "/"):
            # Never send the token to a host we were not configured for.
            raise GitHubAPIError(f"GitHub pagination pointed outside {self.api_url}: {url}")
        return url

    def _gave_up(self, what: str, retry: _Retry, waited: float, *, over_budget: bool) -> Exception:
        if over_budget:
            detail = (
                f"the next retry would wait {retry.wait:.0f}s, past the {self.max_total_wait:.0f}s "
                f"bound on waiting (already waited {waited:.0f}s)"
            )
        else:
            detail = f"still failing after {self.max_retries} retries ({waited:.0f}s of waiting)"
        hint = (
            "GitHub's rate limit for this token is exhausted; the job's token shares it with the "
            "other steps. Try again later, or comment less often."
            if retry.rate_limited
            else "GitHub may be having an outage (https://www.githubstatus.com), or the runner "
            "cannot reach the API URL (GITHUB_API_URL for GitHub Enterprise Server)."
        )
        message = f"Could not {what}: {self._redact(retry.reason)}; {detail}."
        return GitHubAPIError(message, status=retry.status, hint=hint)

    def _http_error(self, method: str, what: str, response: requests.Response) -> GitHubAPIError:
        status = response.status_code
        github_says = self._redact(_github_message(response))
        message = f"Could not {what} in {self.repository}: GitHub answered {status}"
        message += f" ({github_says})." if github_says else "."
        hint: str | None = None
        if status == 401:
            hint = "The token is invalid, expired or revoked: check the `github-token` input."
        elif status == 403 and method != "GET":
            hint = (
                "The token may read but not write pull-request comments. On pull requests from "
                "forks GitHub gives the workflow a read-only token: post the comment from a "
                f"second workflow triggered by `workflow_run` (see {FORK_DOC}). Otherwise grant "
                "the job `permissions: pull-requests: write` (a personal token needs write "
                "access to the repository)."
            )
        elif status == 403:
            hint = "The token cannot read this repository: check the job's `permissions:` block."
        elif status == 404:
            hint = (
                f"The repository {self.repository} or the pull request was not found, or the "
                "token has no access to it (GitHub answers 404 rather than 403 for repositories "
                "a token cannot see). Check GITHUB_REPOSITORY, the PR number and the token."
            )
        elif status == 422:
            hint = "GitHub rejected the request body (a comment is limited to 65,536 characters)."
        return GitHubAPIError(message, status=status, hint=hint)

    def _redact(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text


def _rate_limit_wait(response: requests.Response) -> float | None:
    """Seconds to wait when `response` is a (primary or secondary) rate limit, else None."""
    status = response.status_code
    headers = response.headers
    if status not in (403, 429):
        return None
    retry_after = _parse_retry_after(headers.get("retry-after"))
    if retry_after is not None:
        return retry_after
    if headers.get("x-ratelimit-remaining") == "0":
        reset = headers.get("x-ratelimit-reset", "")
        if reset.isdigit():
            return max(0.0, int(reset) - time.time()) + 1.0
        return SECONDARY_LIMIT_WAIT
    if status == 429 or "secondary rate limit" in _github_message(response).lower():
        return SECONDARY_LIMIT_WAIT
    return None


def _parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _backoff(attempt: int) -> float:
    return min(BACKOFF_BASE * 2.0**attempt, BACKOFF_CAP)


def _decode(response: requests.Response, what: str) -> Any:
    try:
        return response.json()
    except ValueError:
        snippet = response.text[:200].strip()
        raise GitHubAPIError(
            f"Could not {what}: the answer from {_path(response.url)} is not JSON ({snippet!r}).",
            status=response.status_code,
            hint="Is GITHUB_API_URL the REST API root (https://HOST/api/v3 on GitHub Enterprise "
            "Server)? A proxy between the runner and GitHub can also answer like this.",
        ) from None


def _github_message(response: requests.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:200].strip()
    return str(data.get("message", "")) if isinstance(data, dict) else ""


def _path(url: str) -> str:
    return "/" + url.split("://", 1)[-1].split("/", 1)[-1].split("?", 1)[0]


def _normalise(body: str) -> str:
    return body.replace("\r\n", "\n").strip()
