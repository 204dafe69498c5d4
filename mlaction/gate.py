"""The gate: (config, selection, now) -> Verdict. Pure: no environment, no network, no clock."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

from mlaction.checks import CheckResult, Status, fmt, fmt_duration, tol
from mlaction.checks import fail as _fail
from mlaction.checks import finite as _finite
from mlaction.config import GateConfig, MetricRule
from mlaction.robust import Robust, robust_regression
from mlaction.runchecks import registry_checks, run_checks
from mlaction.runs import Run, Selection

__all__ = ["CheckResult", "MetricRow", "Override", "Verdict", "evaluate", "fmt", "fmt_duration"]

VerdictName = Literal["pass", "warn", "fail"]


@dataclass(frozen=True)
class MetricRow:
    """One line of the report's table."""

    name: str
    goal: str
    candidate: float | None
    baseline: float | None
    delta: float | None
    delta_pct: float | None
    rules: str
    status: Status
    trend: tuple[float, ...] = ()
    new_best: bool = False
    rank: int | None = None  # the candidate's place among the history and itself (1 = best)
    candidate_text: str | None = None  # replicate groups: "0.880 ± 0.004 (n=5)"
    baseline_text: str | None = None  # replicate groups, or the noise band's center ± band


@dataclass(frozen=True)
class Verdict:
    verdict: VerdictName
    checks: tuple[CheckResult, ...]
    metrics: tuple[MetricRow, ...]
    selection: Selection
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def passed(self) -> bool:
        return self.verdict != "fail"

    @property
    def failed_checks(self) -> list[str]:
        return [c.name for c in self.checks if c.violated]


@dataclass(frozen=True)
class Override:
    """A reviewed override: the PR carries the override label (added by `by`, when known)."""

    label: str
    by: str | None = None


def evaluate(
    config: GateConfig, selection: Selection, now: datetime, override: Override | None = None
) -> Verdict:
    checks: list[CheckResult] = []
    notes = list(selection.notes)
    robust: dict[str, Robust] = {}
    for name, rule in config.metrics.items():
        found, robust[name] = metric_checks(name, rule, selection)
        checks.extend(found)
        notes.extend(robust[name].notes)
    checks.extend(run_checks(config, selection, now))
    checks.extend(registry_checks(config.registry, selection))
    if selection.baseline is None:
        notes.append(f"Baseline: {selection.baseline_reason}.")
    failing = any(c.status == "fail" for c in checks)
    if failing and override is not None:
        who = f" by {override.by}" if override.by else ""
        notes.append(
            f"Failures accepted for this pull request: label `{override.label}` was added{who}. "
            "The failed checks are reported as warnings."
        )
    elif failing and config.on_failure == "warn":
        notes.append("`on_failure: warn`: failed checks are reported as warnings.")
    if failing and (override is not None or config.on_failure == "warn"):
        checks = [replace(c, status="warn") if c.status == "fail" else c for c in checks]
    statuses = {c.status for c in checks}
    verdict: VerdictName = (
        "fail" if "fail" in statuses else "warn" if "warn" in statuses else "pass"
    )
    rows = tuple(
        metric_row(n, r, selection, checks, robust[n], config.comment.history)
        for n, r in config.metrics.items()
    )
    return Verdict(verdict, tuple(checks), rows, selection, tuple(notes))


# --- metric checks -------------------------------------------------------------------------


def metric_checks(
    name: str, rule: MetricRule, selection: Selection
) -> tuple[list[CheckResult], Robust]:
    candidate = selection.candidate
    value = candidate.metric(name)
    missing = _missing(name, value, candidate)
    checks: list[CheckResult] = []
    if rule.min is not None:
        checks.append(_bound(name, value, missing, rule.min, ">="))
    if rule.max is not None:
        checks.append(_bound(name, value, missing, rule.max, "<="))
    robust = Robust(None)
    if rule.noise or rule.replicates:
        robust = robust_regression(name, rule, selection, missing)
    if robust.check is not None:
        checks.append(robust.check)
    elif rule.max_regression is not None:
        checks.append(_regression(name, rule, value, missing, selection))
    elif rule.compares:
        kind = "noise" if rule.noise else "max_regression"
        why = " ".join(robust.notes) or (missing or "nothing to compare with")
        if missing:
            checks.append(_fail(f"{name}.{kind}", missing, metric=name, observed=value))
        else:
            checks.append(CheckResult(f"{name}.{kind}", "skip", why, name, value))
    if not checks:
        if missing:
            checks.append(_fail(f"{name}.present", missing, metric=name, observed=value))
        else:
            checks.append(
                CheckResult(f"{name}.present", "pass", f"`{name}` = {fmt(value)}", name, value)
            )
    return checks, robust


def _missing(name: str, value: float | None, run: Run) -> str | None:
    if value is None:
        return f"metric `{name}` is missing from the candidate run `{run.label}`"
    if math.isnan(value):
        return f"metric `{name}` is NaN in the candidate run `{run.label}`"
    if math.isinf(value):
        return f"metric `{name}` is infinite in the candidate run `{run.label}`"
    return None


def _bound(
    name: str, value: float | None, missing: str | None, limit: float, op: str
) -> CheckResult:
    kind = "min" if op == ">=" else "max"
    rule = f"{op.replace('>=', '≥').replace('<=', '≤')} {fmt(limit)}"
    if missing:
        return _fail(
            f"{name}.{kind}", missing, metric=name, observed=value, threshold=limit, rule=rule
        )
    assert value is not None
    ok = value >= limit - tol(limit) if op == ">=" else value <= limit + tol(limit)
    word = "at least" if op == ">=" else "at most"
    message = f"`{name}` = {fmt(value)}, must be {word} {fmt(limit)}"
    return CheckResult(
        f"{name}.{kind}",
        "pass" if ok else "fail",
        message,
        name,
        value,
        limit,
        None,
        rule,
        violated=not ok,
    )


def _regression(
    name: str, rule: MetricRule, value: float | None, missing: str | None, selection: Selection
) -> CheckResult:
    tolerance = rule.max_regression
    assert tolerance is not None
    check = f"{name}.max_regression"
    text = f"≤ {tolerance} worse than baseline"
    baseline = selection.baseline
    if baseline is None:
        return CheckResult(
            check,
            "skip",
            f"no baseline: {selection.baseline_reason}",
            name,
            value,
            None,
            None,
            text,
        )
    base = baseline.metric(name)
    if base is None or not math.isfinite(base):
        why = "missing from" if base is None else "not a finite number in"
        return CheckResult(
            check,
            "skip",
            f"cannot compare: `{name}` is {why} the baseline run `{baseline.label}`",
            name,
            value,
            None,
            base,
            text,
        )
    allowed = tolerance.allowed(base)
    if missing:
        return _fail(
            check,
            missing,
            metric=name,
            observed=value,
            threshold=allowed,
            baseline_value=base,
            rule=text,
        )
    assert value is not None
    worse = base - value if rule.goal == "maximize" else value - base
    ok = worse <= allowed + tol(base, value)
    if worse <= 0:
        detail = "no regression" if worse == 0 else f"improved by {fmt(-worse)}"
    else:
        detail = f"{fmt(worse)} worse"
    limit = f"{fmt(allowed)}" + (f" ({tolerance} of {fmt(base)})" if tolerance.relative else "")
    message = f"`{name}` = {fmt(value)} vs baseline {fmt(base)}: {detail} (allowed: {limit})"
    return CheckResult(
        check, "pass" if ok else "fail", message, name, value, allowed, base, text, violated=not ok
    )


# --- report rows ---------------------------------------------------------------------------


def metric_row(
    name: str,
    rule: MetricRule,
    selection: Selection,
    checks: Sequence[CheckResult],
    robust: Robust | None = None,
    history: int = 20,
) -> MetricRow:
    value = selection.candidate.metric(name)
    base = selection.baseline.metric(name) if selection.baseline else None
    compared = robust.check if robust is not None else None
    if compared is not None and isinstance(compared.observed, float):
        # The numbers the decision compared: group means, or the value and the band's center.
        value, base = compared.observed, compared.baseline_value
    delta = delta_pct = None
    if _finite(value) and _finite(base):
        assert value is not None
        assert base is not None
        delta = value - base
        delta_pct = delta / abs(base) * 100 if base != 0 else None
    mine = [c for c in checks if c.metric == name]
    statuses = {c.status for c in mine}
    status: Status = next((s for s in ("fail", "warn", "pass") if s in statuses), "skip")
    recent = selection.history[:history]
    trend = tuple(v for r in reversed(recent) if _finite(v := r.metric(name)) and v is not None)
    new_best = False
    rank = None
    if trend and value is not None and math.isfinite(value):
        sign = 1 if rule.goal == "maximize" else -1
        better = sum(1 for t in trend if sign * t > sign * value)
        rank = better + 1
        new_best = all(sign * value > sign * t for t in trend)
    robust = robust or Robust(None)
    rules = describe_rule(rule, robust.rule_text)
    candidate_text = robust.candidate_text
    if candidate_text is None and value is not None and not math.isfinite(value):
        candidate_text = fmt(value)  # "NaN" / "∞": the JSON report has null there
    return MetricRow(
        name,
        rule.goal,
        value,
        base,
        delta,
        delta_pct,
        rules,
        status,
        trend,
        new_best,
        rank,
        candidate_text,
        robust.baseline_text,
    )


def describe_rule(rule: MetricRule, comparison: str | None = None) -> str:
    """The rules of a metric for the table; `comparison` replaces the plain Δ rule."""
    parts = []
    if rule.min is not None:
        parts.append(f"≥ {fmt(rule.min)}")
    if rule.max is not None:
        parts.append(f"≤ {fmt(rule.max)}")
    if comparison:
        parts.append(comparison)
    elif rule.max_regression is not None:
        parts.append(f"Δ ≤ {rule.max_regression}")
    if rule.goal == "minimize":
        parts.append("lower is better")
    return ", ".join(parts) or "present"
