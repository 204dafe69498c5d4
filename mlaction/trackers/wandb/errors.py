"""W&B failures, classified by HTTP status and by what answered, never by message text.

wandb 0.31.0 sends GraphQL from its wandb-core process and raises `WandbApiFailedError`
(`wandb/sdk/lib/service/service_connection.py`) whose `response` (`ApiErrorResponse`) carries
`http_status`. wandb-core keeps that status only for a reply it does not retry (401, 403, 404,
other 4xx). A 200 reply with GraphQL `errors`, and a 429 / 5xx / lost connection after its retries,
all arrive with `http_status` 0. For those, one plain probe (`query Viewer`, the first query the
client itself sends) asks the server directly, without retries, and its HTTP status tells them
apart: 429 rate limited, 5xx server error, no answer unreachable, 200 the server answers but
refused this query with GraphQL errors (permission, a filter it rejects).
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator

from mlaction.errors import TrackerError
from mlaction.trackers.wandb.settings import KEY_HINT

log = logging.getLogger(__name__)
_PROBE = '{"query": "query Viewer { viewer { id } }", "operationName": "Viewer"}'


def chain(exc: BaseException | None) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo = [exc]
    while todo:
        item = todo.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        nested = getattr(item, "exc", None)
        todo += [item.__cause__, item.__context__]
        todo += [nested] if isinstance(nested, BaseException) else []


def api_failure(exc: BaseException) -> BaseException | None:
    """The wandb-core request failure behind an SDK exception (None: a local, logical error)."""
    return next((e for e in chain(exc) if type(e).__name__ == "WandbApiFailedError"), None)


def status_of(failure: BaseException | None) -> int | None:
    status = getattr(getattr(failure, "response", None), "http_status", None)
    return status if isinstance(status, int) and status > 0 else None


def scrub(text: str, key: str) -> str:
    return text.replace(key, "***").strip() if key else text.strip()


def probe(base_url: str, key: str, timeout: float) -> int | None:
    """HTTP status of one unretried Viewer query; None when nothing answered."""
    import requests

    auth = "Basic " + base64.b64encode(f"api:{key}".encode()).decode()
    try:
        # Only the status is read: streamed, the body is never downloaded.
        with requests.post(
            f"{base_url}/graphql",
            data=_PROBE,
            headers={"Authorization": auth, "Content-Type": "application/json"},
            timeout=timeout,
            allow_redirects=False,
            stream=True,
        ) as reply:
            status = reply.status_code
    except requests.RequestException as exc:
        log.debug("W&B probe of %s got no answer: %s", base_url, type(exc).__name__)
        return None
    log.debug("W&B probe of %s answered HTTP %s", base_url, status)
    return status


class Classifier:
    """Turns an SDK exception into one TrackerError that says what happened and what to do."""

    def __init__(self, base_url: str, path: str, key: str, timeout: int) -> None:
        self.base_url, self.path, self.key, self.timeout = base_url, path, key, timeout

    def error(self, exc: BaseException, doing: str) -> TrackerError:
        failure = api_failure(exc)
        response = getattr(failure, "response", None)
        reason = scrub(str(getattr(response, "message", "") or exc), self.key)
        reason = reason.splitlines()[0] if reason else "no details"
        status = status_of(failure)
        if failure is not None and response is None:
            if isinstance(failure.__context__, TimeoutError):
                reason = f"no answer within {self.timeout}s"
            return self._unreachable(doing, reason)
        if failure is None:
            return self._unreachable(doing, reason)
        if status is None:  # wandb-core gave up or the server sent GraphQL errors: ask directly
            status = probe(self.base_url, self.key, float(self.timeout))
            if status is None:
                return self._unreachable(doing, reason)
            if status == 200:
                return TrackerError(
                    f"W&B answered with an error while {doing} in `{self.path}`: {reason}",
                    hint="The server is up and the key works, but it refused this query: check "
                    f"that the WANDB_API_KEY user can read `{self.path}`, and candidate.filter "
                    "(a filter W&B cannot run).",
                )
        return self._by_status(status, doing, reason)

    def _by_status(self, status: int, doing: str, reason: str) -> TrackerError:
        if status == 401:
            return TrackerError(
                f"W&B rejected the API key (HTTP 401) at {self.base_url} while {doing}.",
                hint=f"Check WANDB_API_KEY: it must be a valid key for this server. {KEY_HINT}",
            )
        if status == 403:
            return TrackerError(
                f"W&B denied access (HTTP 403) to `{self.path}` at {self.base_url} while "
                f"{doing}: no access to this entity/project.",
                hint="Check tracker.experiment and that the WANDB_API_KEY user (or service "
                "account) is a member of the entity and can see the project.",
            )
        if status == 429:
            return TrackerError(
                f"W&B rate-limited ml-gate (HTTP 429) at {self.base_url} while {doing}, "
                "after retries.",
                hint="Re-run the job later; if it keeps happening, run fewer W&B jobs at once "
                "or ask your W&B admin about the API rate limit.",
            )
        if status >= 500 or status == 408:
            return TrackerError(
                f"W&B server error (HTTP {status}) at {self.base_url} while {doing}, "
                "after retries.",
                hint="The W&B server is failing: check https://status.wandb.com (or your "
                "instance's health) and re-run the job.",
            )
        return TrackerError(f"W&B request failed (HTTP {status}) while {doing}: {reason}")

    def _unreachable(self, doing: str, reason: str) -> TrackerError:
        return TrackerError(
            f"Could not reach W&B at {self.base_url} while {doing}: {reason}",
            hint="Check tracker.uri / WANDB_BASE_URL and that the server is up "
            f"(each request times out after {self.timeout}s: tracker.timeout).",
        )
