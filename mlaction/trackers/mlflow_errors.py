"""MLflow failures -> ml-gate errors, classified by type, `error_code` and HTTP status.

Never by message text: a run id may contain `401`, a server may say anything. Every text passed on
has its URI userinfo (`user:pass@`) removed.
"""

from __future__ import annotations

import re
import socket
import ssl
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from mlaction.errors import RunNotFoundError, TrackerError

_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s'\"]*@")
_AUTH = {"UNAUTHENTICATED", "PERMISSION_DENIED", "CUSTOMER_UNAUTHORIZED"}
MISSING = frozenset({"RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"})
# MLflow answers a missing registered model alias with INVALID_PARAMETER_VALUE.
MISSING_ALIAS = MISSING | {"INVALID_PARAMETER_VALUE"}
_REACH_HINT = (
    "Check `tracker.uri` / MLFLOW_TRACKING_URI, that the server is up and that this runner can "
    "reach it (a self-hosted runner or a service container for a private server)."
)
# How much of a non-MLflow answer the diagnosis reads.
PROBE_BYTES = 64 * 1024


def redact(text: str) -> str:
    """`text` with the userinfo of every URI in it removed."""
    return _USERINFO.sub(r"\1", text)


def first_line(text: str) -> str:
    text = redact(text).strip()
    return text.splitlines()[0][:500] if text else "unknown error"


def public_url(uri: str) -> str | None:
    """The UI base URL of a tracking URI (credentials removed); None for local stores."""
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https"):
        return None
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and every exception it wraps: causes, contexts, urllib3's `reason`, args."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        linked = [current.__cause__, current.__context__, getattr(current, "reason", None)]
        linked += list(current.args)
        todo += [e for e in linked if isinstance(e, BaseException)]


def network_error(exc: BaseException, where: str, timeout: float) -> TrackerError | None:
    """The four ways of not reaching a server, told apart by exception type; None if none."""
    import requests
    import urllib3.exceptions as u3

    found = list(chain(exc))

    def has(*types: type[BaseException]) -> bool:
        return any(isinstance(e, types) for e in found)

    if has(requests.exceptions.SSLError, ssl.SSLError, u3.SSLError):
        return TrackerError(
            f"TLS handshake with the MLflow server at {where} failed.",
            hint="Check the certificate (a private CA: point REQUESTS_CA_BUNDLE at it, or "
            "MLFLOW_TRACKING_SERVER_CERT_PATH) and that the server speaks https on that port.",
        )
    if has(u3.NameResolutionError, socket.gaierror):
        host = urlsplit(where).hostname or where
        return TrackerError(
            f"cannot resolve the host name `{host}` of the MLflow server at {where} (DNS).",
            hint="Check the host name in `tracker.uri` / MLFLOW_TRACKING_URI; a private name "
            "needs a runner inside that network.",
        )
    if has(ConnectionRefusedError):
        return TrackerError(
            f"the MLflow server at {where} refused the connection (nothing listens there).",
            hint="Check the port in `tracker.uri` and that the server is up.",
        )
    if has(requests.exceptions.Timeout, u3.TimeoutError, TimeoutError, socket.timeout):
        return TrackerError(
            f"the MLflow server at {where} did not answer within {timeout:g} s (after retries).",
            hint="Raise `tracker.timeout` if the server is slow; " + _REACH_HINT,
        )
    if has(requests.exceptions.ConnectionError, ConnectionError, u3.ProtocolError):
        return TrackerError(
            f"the connection to the MLflow server at {where} failed before it answered.",
            hint=_REACH_HINT,
        )
    return None


class ReplyTooLargeError(TrackerError):
    """The server sent a reply over `tracker.max_reply_mb`; ml-gate stopped reading it."""


def reply_too_large(exc: BaseException, where: str) -> ReplyTooLargeError | None:
    from mlaction.httpcap import ReplyTooLarge, mib

    found = next((e for e in chain(exc) if isinstance(e, ReplyTooLarge)), None)
    if found is None:
        return None
    announced = "" if found.declared is None else f" (Content-Length: {found.declared:,})"
    return ReplyTooLargeError(
        f"the MLflow server at {where} sent a reply larger than {mib(found.limit)} "
        f"(`tracker.max_reply_mb`) to {found.method} {found.path[:200]}{announced}; ml-gate "
        "stopped reading it.",
        hint="Runs with very many metrics, params or tags make large replies: raise "
        "`tracker.max_reply_mb` if yours are that large, else check that `tracker.uri` names "
        "the MLflow server.",
    )


def translate(
    exc: Any,
    where: str,
    timeout: float,
    missing_run: str | None,
    missing: frozenset[str] = MISSING,
) -> TrackerError:
    """One MlflowException -> the ml-gate error that says what happened."""
    code = str(getattr(exc, "error_code", ""))
    text = str(getattr(exc, "message", exc))
    if code in _AUTH:
        status = "HTTP 403" if code == "PERMISSION_DENIED" else "HTTP 401"
        return TrackerError(
            f"the MLflow server at {where} refused the credentials ({status}).",
            hint="Set MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and "
            "MLFLOW_TRACKING_PASSWORD, in the step's `env:` (from repository secrets).",
        )
    if code in missing:
        if missing_run:
            return RunNotFoundError(
                f"run `{missing_run}` does not exist at {where}.",
                hint="Check the run id (`candidate.run_id` / `baseline.run_id`, or `--run-id`).",
            )
        return RunNotFoundError(first_line(text))
    too_large = reply_too_large(exc, where)
    if too_large is not None:
        return too_large
    network = network_error(exc, where, timeout)
    if network is not None:
        return network
    return TrackerError(f"MLflow at {where} answered with an error: {first_line(text)}")


def is_rest_answer(exc: BaseException) -> bool:
    """True when the server answered in MLflow's own JSON error shape."""
    from mlflow.exceptions import RestException

    return isinstance(exc, RestException)


def not_mlflow(uri: str, where: str, timeout: float) -> TrackerError | None:
    """After an answer that is not MLflow's JSON: look once at what the server answers."""
    import requests

    base = public_url(uri)
    if base is None:
        return None
    path = "/api/2.0/mlflow/experiments/search"
    try:
        with requests.get(
            base + path, params={"max_results": 1}, timeout=timeout, stream=True
        ) as response:
            head = response.raw.read(PROBE_BYTES, decode_content=True) or b""
            kind = response.headers.get("content-type", "")
            status = response.status_code
    except (requests.RequestException, OSError):
        return None
    start = head.lstrip()[:15].lower()
    if "html" in kind.lower() or start.startswith((b"<!doctype", b"<html")):
        what = "HTML"
    elif "json" in kind.lower():
        return None  # an MLflow-shaped answer: the original error says more
    else:
        what = f"`{kind[:60]}`" if kind else "a body that is not JSON"
    return TrackerError(
        f"{where} is not an MLflow server (it answered {what} with HTTP {status} at {path}).",
        hint="Point `tracker.uri` at the tracking server's base URL (what `mlflow server` "
        "listens on), without the UI path (`/#/...`) or a proxy's login page.",
    )
