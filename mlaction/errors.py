"""One exception family; one handler maps it to a message and an exit code."""

from __future__ import annotations

EXIT_PASS = 0
EXIT_FAIL = 1
EXIT_ERROR = 2


class MlGateError(Exception):
    """A failure the user can fix. The message says what went wrong, where, and the fix."""

    exit_code = EXIT_ERROR
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


class AliasNotFoundError(TrackerError):
    """A registry alias (MLflow) / artifact alias (W&B) that points at nothing."""

    title = "alias not found"


class GitHubError(MlGateError):
    title = "GitHub error"


class PromotionError(MlGateError):
    title = "promotion failed"
