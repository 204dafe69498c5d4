"""What every check produces, and the small helpers every rule shares. Pure.

One tolerance for float noise (`tol`), one finite test (`finite`), one "how much worse"
(`worse`), one number format for messages (`fmt`, `fmt_duration`: the report uses the same).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from mlaction.runs import finite

__all__ = [
    "CheckResult",
    "Status",
    "fail",
    "finite",
    "fmt",
    "fmt_duration",
    "judged",
    "tol",
    "worse",
]

Status = Literal["pass", "fail", "warn", "skip"]
Value = float | str | None

# Differences below this (relative to the numbers involved) are float noise, not regressions.
_EPS = 1e-9


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: Status
    message: str
    metric: str | None = None
    observed: Value = None
    threshold: Value = None
    baseline_value: float | None = None
    rule: str = ""
    violated: bool = False  # the rule was broken (a fail, or a warn under on_failure: warn)
    unit: str | None = None  # "seconds" for durations and ages


def judged(name: str, ok: bool, message: str, **fields: object) -> CheckResult:
    """A check that passed (`ok`) or failed, with its evidence."""
    return CheckResult(name, "pass" if ok else "fail", message, violated=not ok, **fields)  # type: ignore[arg-type]


def fail(name: str, message: str, **fields: object) -> CheckResult:
    return CheckResult(name, "fail", message, violated=True, **fields)  # type: ignore[arg-type]


def tol(*values: float) -> float:
    """Float noise relative to the numbers involved: differences below it decide nothing."""
    return _EPS * max(1.0, *(abs(v) for v in values))


def worse(goal: str, value: float, reference: float) -> float:
    """How much worse `value` is than `reference` in the goal's direction (< 0: better)."""
    return reference - value if goal == "maximize" else value - reference


def fmt(value: object) -> str:
    """Numbers for people: 4 significant digits, no float noise."""
    if value is None:
        return "—"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "∞" if value > 0 else "-∞"
        return f"{value:.4g}" if abs(value) < 1e6 else f"{value:.3e}"
    return str(value)


def fmt_duration(seconds: float) -> str:
    delta = timedelta(seconds=round(seconds))
    days, rest = delta.days, delta.seconds
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    if minutes:
        return f"{minutes}m {secs}s" if secs else f"{minutes}m"
    return f"{secs}s"


def required(name: str, kind: str, required: Sequence[str], present: set[str]) -> CheckResult:
    missing = [key for key in required if key not in present]
    rule = f"{len(required)} required"
    if missing:
        listed = ", ".join(f"`{key}`" for key in missing)
        return fail(
            name,
            f"missing {kind}{'s' if len(missing) > 1 else ''}: {listed}",
            observed=", ".join(missing),
            rule=rule,
        )
    return CheckResult(
        name, "pass", f"all {len(required)} present", rule=rule, observed=len(required)
    )
