"""GitHub's REST API over HTTP: bounded retries, rate limits, errors that say what to fix.

GitHub's documented behaviour this follows (REST API docs, "Rate limits for the REST API" and
"Troubleshooting"): a primary limit is a 403 or 429 with `x-ratelimit-remaining: 0` and
`x-ratelimit-reset` (epoch seconds); a secondary limit is a 403 or 429 whose `retry-after` says
how many seconds to wait, or, without it, "wait at least one minute"; a 422 carries its detail in
`errors[]` (objects with `resource`, `field`, `code`, `message`, or plain strings).
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable
from typing import Any, Literal, TypeVar

import requests

from mlaction.errors import GitHubError
from mlaction.github.runner import DEFAULT_API_URL
from mlaction.httpcap import MIB, cap_replies

log = logging.getLogger(__name__)

USER_AGENT = "ml-gate (+https://github.com/ml-gate/ml-gate)"
BACKOFF_BASE = 1.0  # seconds; doubles per attempt
BACKOFF_CAP = 30.0
SECONDARY_LIMIT_WAIT = 60.0  # GitHub: "wait at least one minute" when no header says how long
MAX_REPLY = 64 * MIB
MAX_PAGES = 100  # 10,000 items: more is a runaway pagination, not a pull request
FORK_DOC = "docs/fork-prs.md"
T = TypeVar("T")

Refusal = Literal["locked", "rate_limited", "forbidden", "invalid", "auth", "missing", "other"]


class GitHubAPIError(GitHubError):
    """A GitHubError from the REST API; `status` is the HTTP status (None: no answer) and
    `refusal` what kind of refusal it was (a locked conversation is not a missing permission)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        hint: str | None = None,
        refusal: Refusal = "other",
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.refusal = refusal


class _Retry(Exception):
    """Internal: this answer may succeed later; wait `wait` seconds before asking again."""

    def __init__(self, wait: float, reason: str, status: int | None, rate_limited: bool) -> None:
        super().__init__(reason)
        self.wait = wait
        self.reason = reason
        self.status = status
        self.rate_limited = rate_limited


class Transport:
    """Authenticated JSON requests to one repository's API, with bounded retries."""

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
        self._session = session or requests.Session()
        # GitHub's largest reply ml-gate reads is a page of 100 comments (65,536 characters each).
        cap_replies(self._session, MAX_REPLY)
        self._session.headers.update(
            {
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
                "User-Agent": USER_AGENT,
            }
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(api_url={self.api_url!r}, repository={self.repository!r})"

    @property
    def repo_path(self) -> str:
        return f"/repos/{self.repository}"

    # -- JSON helpers -------------------------------------------------------------------------

    def _json(
        self,
        method: str,
        path: str,
        *,
        what: str,
        json: Any = None,
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        url = path if path.startswith(self.api_url) else f"{self.api_url}{path}"
        response = self._request(method, url, json=json, params=params, what=what)
        return _as_dict(_decode(response, what), what)

    def _json_list(self, path: str, what: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        response = self._request("GET", f"{self.api_url}{path}", params=params, what=what)
        return _as_list(_decode(response, what), what)

    def _list(
        self, path: str, what: str, params: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Every item of a list endpoint, following `Link: rel="next"` (GitHub's next links
        use the `/repositories/{id}/...` form: they are followed as given, on the same host)."""
        url: str | None = f"{self.api_url}{path}"
        query: dict[str, Any] | None = {"per_page": 100, **(params or {})}
        items: list[dict[str, Any]] = []
        for _ in range(MAX_PAGES):
            if url is None:
                return items
            response = self._request("GET", url, params=query, what=what)
            items.extend(_as_list(_decode(response, what), what))
            url, query = self._next_link(response), None
        raise GitHubAPIError(f"Could not {what}: more than {MAX_PAGES} pages.")

    # -- retries ------------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        url: str,
        *,
        what: str,
        params: dict[str, Any] | None = None,
        json: Any = None,
    ) -> requests.Response:
        def once(n: int) -> requests.Response:
            return self._attempt(method, url, what=what, params=params, json=json, n=n)

        return self._retrying(what, once)

    def _retrying(
        self,
        what: str,
        once: Callable[[int], T],
        *,
        recover: Callable[[], T | None] | None = None,
    ) -> T:
        """Call `once(attempt)` until it answers, within `max_retries` and `max_total_wait`.

        `recover` runs after each wait and before the next attempt: when the failed attempt
        may have been carried out (a POST whose answer was lost), it finds the result instead
        of repeating the request.
        """
        waited = 0.0
        attempt = 0
        while True:
            try:
                return once(attempt)
            except _Retry as retry:
                if attempt >= self.max_retries:
                    raise self._gave_up(what, retry, waited, attempt, over_budget=False) from None
                if waited + retry.wait > self.max_total_wait:
                    raise self._gave_up(what, retry, waited, attempt, over_budget=True) from None
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
                found = recover() if recover is not None else None
                if found is not None:
                    log.debug("%s: the earlier attempt had been carried out", what)
                    return found

    def _attempt(
        self, method: str, url: str, *, what: str, params: Any, json: Any, n: int
    ) -> requests.Response:
        """One request: the response, or _Retry, or a GitHubAPIError that says what to fix."""
        log.debug("GitHub: %s %s", method, _path(url))
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

    # -- errors -------------------------------------------------------------------------------

    def _gave_up(
        self, what: str, retry: _Retry, waited: float, retries: int, *, over_budget: bool
    ) -> GitHubAPIError:
        if over_budget:
            detail = (
                f"the next retry would wait {retry.wait:.0f}s, past the {self.max_total_wait:.0f}s "
                f"bound on waiting (already waited {waited:.0f}s)"
            )
        else:
            detail = f"still failing after {retries} retries ({waited:.0f}s of waiting)"
        hint = (
            "GitHub's rate limit for this token is exhausted; the job's token shares it with the "
            "other steps. Try again later, or comment less often."
            if retry.rate_limited
            else "GitHub may be having an outage (https://www.githubstatus.com), or the runner "
            "cannot reach the API URL (GITHUB_API_URL for GitHub Enterprise Server)."
        )
        message = f"Could not {what}: {self._redact(retry.reason)}; {detail}."
        refusal: Refusal = "rate_limited" if retry.rate_limited else "other"
        return GitHubAPIError(message, status=retry.status, hint=hint, refusal=refusal)

    def _http_error(self, method: str, what: str, response: requests.Response) -> GitHubAPIError:
        status = response.status_code
        github_says = self._redact(github_message(response))
        message = f"Could not {what} in {self.repository}: GitHub answered {status}"
        message += f" ({github_says})." if github_says else "."
        refusal, hint = _explain(status, method, github_says, self.repository)
        return GitHubAPIError(message, status=status, hint=hint, refusal=refusal)

    def _redact(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text


def _explain(status: int, method: str, says: str, repository: str) -> tuple[Refusal, str | None]:
    """What kind of refusal, and what to do about it."""
    if status == 401:
        return "auth", "The token is invalid, expired or revoked: check the `github-token` input."
    if status == 403 and "locked" in says.lower():
        return "locked", (
            "The pull request's conversation is locked: only collaborators may comment. Unlock "
            "the conversation, or read the verdict in the job summary."
        )
    if status == 403 and method != "GET":
        return "forbidden", (
            "The token may read but not write pull-request comments. On pull requests from "
            "forks GitHub gives the workflow a read-only token: post the comment from a "
            f"second workflow triggered by `workflow_run` (see {FORK_DOC}). Otherwise grant "
            "the job `permissions: pull-requests: write` (a personal token needs write "
            "access to the repository)."
        )
    if status == 403:
        return "forbidden", (
            "The token cannot read this repository: check the job's `permissions:` block."
        )
    if status == 404:
        return "missing", (
            f"The repository {repository} or the pull request was not found, or the "
            "token has no access to it (GitHub answers 404 rather than 403 for repositories "
            "a token cannot see). Check GITHUB_REPOSITORY, the PR number and the token."
        )
    if status == 422:
        if "too long" in says.lower():
            return "invalid", "A comment is limited to 65,536 characters."
        return "invalid", "GitHub rejected the request; its reason is quoted above."
    return "other", None


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
    if status == 429 or "secondary rate limit" in github_message(response).lower():
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


def _as_dict(data: Any, what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise GitHubAPIError(f"Could not {what}: GitHub answered {type(data).__name__}.")
    return data


def _as_list(data: Any, what: str) -> list[dict[str, Any]]:
    if not isinstance(data, list):
        raise GitHubAPIError(f"Could not {what}: GitHub answered {type(data).__name__}.")
    return [item for item in data if isinstance(item, dict)]


def github_message(response: requests.Response) -> str:
    """GitHub's `message`, followed by the detail of `errors[]` (a 422's real reason)."""
    try:
        data = response.json()
    except ValueError:
        return response.text[:200].strip()
    if not isinstance(data, dict):
        return ""
    message = str(data.get("message", ""))
    details = [_error_detail(e) for e in data.get("errors") or () if e]
    details = [d for d in details if d][:5]
    return f"{message}: {'; '.join(details)}" if details else message


def _error_detail(error: object) -> str:
    if isinstance(error, str):
        return error[:300]
    if not isinstance(error, dict):
        return ""
    if error.get("message"):
        return str(error["message"])[:300]
    parts = [str(error[k]) for k in ("resource", "field", "code") if error.get(k)]
    return " ".join(parts)[:300]


def _path(url: str) -> str:
    return "/" + url.split("://", 1)[-1].split("/", 1)[-1].split("?", 1)[0]
