"""Debug lines: every module logs to `logging.getLogger(__name__)`; a door decides where the
records of the `mlaction` logger go (`::debug::` lines in the Action, stderr with --debug)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from mlaction.errors import printable

MAX_LINE = 2_000  # characters of one debug line (a record can quote a 10 MiB run name)


@contextmanager
def debug_lines(write: Callable[[str], None]) -> Iterator[None]:
    """While inside, each record of the `mlaction` logger is written as one line (credentials
    in URLs removed, capped, control characters shown escaped)."""

    class Handler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            try:
                write(printable(record.getMessage(), MAX_LINE))
            except Exception:  # a broken stream must not break the gate
                self.handleError(record)

    logger = logging.getLogger("mlaction")
    handler = Handler()
    logger.addHandler(handler)
    previous = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
