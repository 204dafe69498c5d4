"""A size limit on the HTTP replies ml-gate reads whole.

`requests` reads a reply's whole body into memory unless the caller streams it, and neither the
MLflow client nor `requests` has a limit of its own: a 400 MB reply costs well over a gigabyte once
decoded and parsed. `cap_replies` installs a response hook on a session. Before the body is read
(requests runs response hooks before `Session.send` touches `.content`), the hook refuses a reply
whose Content-Length is over the limit, else reads at most the limit plus one chunk, decoded (so a
gzip bomb counts at its real size), and raises `ReplyTooLarge` past it. A reply under the limit is
handed on as if requests had read it. Streamed requests (`stream=True`) are left alone: their
callers read what they choose.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import requests

MIB = 1024 * 1024
_CHUNK = 256 * 1024


class ReplyTooLarge(requests.RequestException):
    """A reply over the limit; nothing past the limit was read."""

    def __init__(self, method: str, path: str, limit: int, declared: int | None) -> None:
        self.method = method
        self.path = path
        self.limit = limit
        self.declared = declared
        announced = "" if declared is None else f" (Content-Length: {declared:,})"
        super().__init__(f"{method} {path}: the reply is larger than {mib(limit)}{announced}")


def mib(limit: int) -> str:
    return f"{limit / MIB:g} MiB"


class _Cap:
    """The response hook; one per session (a new limit replaces the old one)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def __call__(self, response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        if kwargs.get("stream"):
            return response
        method = response.request.method or "GET"
        path = urlsplit(response.url).path or "/"
        declared = _declared(response)
        if declared is not None and declared > self.limit:
            response.close()
            raise ReplyTooLarge(method, path, self.limit, declared)
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_content(_CHUNK):
            size += len(chunk)
            if size > self.limit:
                response.close()
                raise ReplyTooLarge(method, path, self.limit, None)
            chunks.append(chunk)
        # What requests' own `.content` would have stored; `Session.send` then finds it read.
        response._content = b"".join(chunks)
        return response


def _declared(response: requests.Response) -> int | None:
    text = response.headers.get("Content-Length", "").strip()
    return int(text) if text.isdigit() else None


def cap_replies(session: requests.Session, limit: int) -> None:
    """Read no reply of `session` past `limit` bytes (see the module's docstring)."""
    if limit_of(session) == limit:
        return
    hooks = session.hooks.setdefault("response", [])
    # One assignment: a request dispatched meanwhile on another thread never sees no limit.
    hooks[:] = [*(h for h in hooks if not isinstance(h, _Cap)), _Cap(limit)]


def limit_of(session: requests.Session) -> int | None:
    """The limit installed on `session`, if any."""
    found = [h for h in session.hooks.get("response", []) if isinstance(h, _Cap)]
    return found[-1].limit if found else None
