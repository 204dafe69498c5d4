"""One exception family, and the one boundary both doors use to turn any exception into a
message and an exit code.

Exit codes: 0 pass or warn; 1 the gate was evaluated and a rule failed (nothing else ever exits
1); 2 everything else: usage, config, tracker and GitHub errors, and any unexpected internal
error; 130 interrupted. Like pre-commit's error_handler: an expected error prints one line (and
its hint); an unexpected one prints "internal error ... please report it", with the traceback
only when asked (`--debug`, or `RUNNER_DEBUG=1` in the Action).
"""

from __future__ import annotations

import re
import traceback
from dataclasses import dataclass
from typing import IO

EXIT_PASS = 0
EXIT_FAIL = 1
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130

ISSUES_URL = "https://github.com/ml-gate/ml-gate/issues"
_MAX_DETAIL = 500  # characters of an unexpected exception's text in the one line
_MAX_TEXT = 4_000  # characters of an expected error's message and hint (they quote tracker text)
_TRUNCATED = "… (truncated)"
# Control characters; and what lets text disguise itself: bidi marks, embeddings, overrides and
# isolates, zero-width characters, word joiner and invisible operators, line and paragraph
# separators, the byte-order mark. The one class: report/ and github/ import it from here.
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")
_USERINFO = re.compile(r"(?<=://)[^/@\s:]*(?::[^/@\s]*)?@")


class MlGateError(Exception):
    """A failure the user can fix. The message says what went wrong, where, and the fix."""

    title = "ml-gate error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n{self.hint}"
        return self.message


class UsageError(MlGateError):
    title = "usage error"


class ConfigError(MlGateError):
    title = "config error"


class TrackerError(MlGateError):
    title = "tracker error"


class RunNotFoundError(TrackerError):
    title = "run not found"


class RunNotFinishedError(TrackerError):
    """The candidate run exists but is still running (and the gate does not, or no longer,
    wait for it)."""

    title = "run not finished"


class AliasNotFoundError(TrackerError):
    """A registry alias (MLflow) / artifact alias (W&B) that points at nothing."""

    title = "alias not found"


class GitHubError(MlGateError):
    title = "GitHub error"


class PromotionError(MlGateError):
    title = "promotion failed"


@dataclass(frozen=True)
class Failure:
    """What the boundary makes of an exception: a title, the text for people, an exit code."""

    title: str
    text: str  # the message (and its hint on the next line); no traceback
    exit_code: int
    expected: bool  # an MlGateError (or an interrupt), not a defect of ml-gate

    @property
    def line(self) -> str:
        """The one line printed to the terminal: `ml-gate: <title>: <text>`."""
        return f"ml-gate: {self.title}: {self.text}"


def classify(exc: BaseException) -> Failure:
    """Any exception -> its Failure. Never raises."""
    if isinstance(exc, MlGateError):  # its message may quote untrusted text: capped, revealed
        return Failure(exc.title, printable(str(exc), _MAX_TEXT), EXIT_ERROR, True)
    if isinstance(exc, KeyboardInterrupt):
        return Failure("interrupted", "stopped before a verdict", EXIT_INTERRUPTED, True)
    detail = reveal(redact(_first_line(f"{type(exc).__name__}: {exc}")))
    text = f"{detail}; please report it at {ISSUES_URL} (rerun with --debug for the traceback)"
    return Failure("internal error", text, EXIT_ERROR, False)


def handle(exc: BaseException, stream: IO[str], *, debug: bool = False) -> Failure:
    """Print the failure for a terminal (traceback first, only with `debug`); return it."""
    failure = classify(exc)
    if debug:
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        print(redact(tb), file=stream, end="")
    print(failure.line, file=stream)
    return failure


def redact(text: str) -> str:
    """Remove credentials written into URLs (`https://user:pass@host` -> `https://***@host`)."""
    return _USERINFO.sub("***@", text)


def printable(text: str, limit: int) -> str:
    """Text that may quote untrusted input, ready for a log line: credentials in URLs removed,
    cut to `limit` characters with a visible mark, control characters shown escaped."""
    return reveal(_cap(redact(text), limit))


def reveal(text: str) -> str:
    """Control and invisible characters (but line breaks) as visible `\\uXXXX` escapes: a
    terminal escape or a U+202E in a run name is shown, never obeyed."""
    return CONTROL.sub(
        lambda m: m.group() if m.group() in "\r\n" else f"\\u{ord(m.group()):04x}", text
    )


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else text
    return _cap(line, _MAX_DETAIL)


def _cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + _TRUNCATED
