"""The table of the report: one row per metric, built from the verdict and the config."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from mlaction.config.schema import MetricRule
from mlaction.gate.metric_rules import Comparison
from mlaction.gate.results import CheckResult, Status, finite, fmt
from mlaction.gate.verdict import Verdict
from mlaction.runs import Selection


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
    band: tuple[float, float] | None = None  # the values the noise rule did not fail (trend)


def metric_rows(verdict: Verdict) -> tuple[MetricRow, ...]:
    return tuple(
        metric_row(
            m.name, m.rule, verdict.selection, verdict.checks, m.comparison, verdict.trend_points
        )
        for m in verdict.metrics
    )


def metric_row(
    name: str,
    rule: MetricRule,
    selection: Selection,
    checks: Sequence[CheckResult],
    comparison: Comparison | None = None,
    history: int = 20,
) -> MetricRow:
    value = selection.candidate.metric(name)
    base = selection.baseline.metric(name) if selection.baseline else None
    compared = comparison.check if comparison is not None else None
    if compared is not None and isinstance(compared.observed, float):
        # The numbers the decision compared: group means, or the value and the band's center.
        value, base = compared.observed, compared.baseline_value
    delta = delta_pct = None
    if finite(value) and finite(base):
        assert value is not None
        assert base is not None
        delta = value - base
        delta_pct = delta / abs(base) * 100 if base != 0 else None
    mine = [c for c in checks if c.metric == name]
    statuses = {c.status for c in mine}
    status: Status = next((s for s in ("fail", "warn", "pass") if s in statuses), "skip")
    recent = selection.history[:history]
    trend = tuple(v for r in reversed(recent) if finite(v := r.metric(name)) and v is not None)
    new_best = False
    rank = None
    if trend and value is not None and math.isfinite(value):
        sign = 1 if rule.goal == "maximize" else -1
        better = sum(1 for t in trend if sign * t > sign * value)
        rank = better + 1
        new_best = all(sign * value > sign * t for t in trend)
    comparison = comparison or Comparison(None)
    rules = describe_rule(rule, comparison.rule_text)
    candidate_text = comparison.candidate_text
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
        comparison.baseline_text,
        comparison.band,
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
