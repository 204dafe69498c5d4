"""The gate: (config, selection, now, override) -> Verdict. Pure: no environment, no network.

Aggregation: every metric's rules (metric_rules), the run and registry checks (run_rules); a
reviewed override label or `on_failure: warn` turns failures into warnings, visibly.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

from mlaction.config.schema import GateConfig, MetricRule
from mlaction.gate.metric_rules import Comparison, metric_checks
from mlaction.gate.results import CheckResult
from mlaction.gate.run_rules import registry_checks, run_checks
from mlaction.runs import Selection

__all__ = [
    "CheckResult",
    "Comparison",
    "MetricJudgement",
    "Override",
    "Verdict",
    "VerdictName",
    "evaluate",
]

VerdictName = Literal["pass", "warn", "fail"]


@dataclass(frozen=True)
class MetricJudgement:
    """One metric as judged: its rules and how it was compared with its reference."""

    name: str
    rule: MetricRule
    comparison: Comparison


@dataclass(frozen=True)
class Verdict:
    verdict: VerdictName
    checks: tuple[CheckResult, ...]
    selection: Selection
    notes: tuple[str, ...] = field(default_factory=tuple)
    # Per metric, in config order: its rules and how it was compared (for the report's table)
    metrics: tuple[MetricJudgement, ...] = ()
    trend_points: int = 20  # comment.history: how many history runs the trend shows
    more_runs: int = 0  # extra replicate runs of the candidate that would settle the gate

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
    judged: list[MetricJudgement] = []
    for name, rule in config.metrics.items():
        found, comparison = metric_checks(name, rule, selection)
        checks.extend(found)
        notes.extend(comparison.notes)
        judged.append(MetricJudgement(name, rule, comparison))
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
    return Verdict(
        verdict, tuple(checks), selection, tuple(notes), tuple(judged), config.comment.history
    )
