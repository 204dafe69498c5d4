"""What ml-gate adds to the MLflow client's HTTP: visible retries and a reply size limit.

The MLflow client sends every REST call through one `requests.Session` per retry policy, made by
`mlflow.utils.request_utils._get_request_session` (MLflow 2.x and 3.x). MLflow has no option for a
reply size limit, so ml-gate wraps that function and installs `mlaction.httpcap`'s limit on each
session it returns. Should a future MLflow stop calling it, the limit is simply not installed (a
debug line says so) and `tests/integration/test_mlflow_reply_cap.py` fails: the limit guards memory,
it never changes a verdict. Local stores (sqlite, file) send no HTTP and need no limit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from mlaction.trackers.mlflow_errors import redact

_log = logging.getLogger(__name__)


class _RetryLines(logging.Handler):
    """urllib3's retry warnings (MLflow's HTTP retries), as debug lines of this module."""

    def emit(self, record: logging.LogRecord) -> None:
        _log.debug("retry: %s", redact(record.getMessage()))


def forward_retries() -> None:
    retries = logging.getLogger("urllib3.connectionpool")
    if not any(isinstance(h, _RetryLines) for h in retries.handlers):
        retries.addHandler(_RetryLines(logging.WARNING))


def cap_replies(max_reply_mb: float) -> None:
    """Every MLflow REST reply is read up to `max_reply_mb` MiB, then refused."""
    from mlflow.utils import request_utils

    from mlaction import httpcap

    limit = int(max_reply_mb * httpcap.MIB)
    make: Callable[..., Any] | None = getattr(request_utils, "_get_request_session", None)
    if make is None:
        _log.debug("this MLflow has no _get_request_session: replies are read without a limit")
        return
    make = getattr(make, "__wrapped__", make)

    def capped(*args: Any, **kwargs: Any) -> Any:
        session = make(*args, **kwargs)
        httpcap.cap_replies(session, limit)
        return session

    capped.__wrapped__ = make  # type: ignore[attr-defined]
    request_utils._get_request_session = capped
