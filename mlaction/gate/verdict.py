"""The gate: (config, selection, now, override) -> Verdict. Pure: no environment, no network.

Aggregation: every metric's rules (metric_rules), the run and registry checks (run_rules);
candidate and baseline that are not comparable (`comparable:`) refuse every comparison check;
an inconclusive comparison follows `confirm.on_inconclusive` and asks for `more_runs`; a
reviewed override label or `on_failure: warn` turns failures into warnings, visibly.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

from mlaction.config.schema import GateConfig, MetricRule
from mlaction.gate.baseline_rule import missing_baseline_check
from mlaction.gate.comparability import is_comparison, mismatches
from mlaction.gate.metric_rules import Comparison, metric_checks
from mlaction.gate.results import CheckResult, Status
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
    # Extra replicate runs of the candidate commit that would settle an inconclusive comparison
    # (the output `more-runs`); 0 when every comparison was decided.
    more_runs: int = 0

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
    more_runs = 0
    notes = list(selection.notes)
    judged: list[MetricJudgement] = []
    for name, rule in config.metrics.items():
        found, comparison = metric_checks(name, rule, selection)
        checks.extend(found)
        notes.extend(comparison.notes)
        judged.append(MetricJudgement(name, rule, comparison))
    refused = mismatches(config.comparable, selection.candidate, selection.baseline)
    if refused:
        checks = _refuse_incomparable(config, refused, checks, notes)
    else:
        more_runs = _confirm(config, judged, checks, notes)
    checks.extend(run_checks(config, selection, now))
    checks.extend(registry_checks(config.registry, selection))
    if selection.baseline is None:
        notes.append(f"Baseline: {selection.baseline_reason}.")
        missing = missing_baseline_check(config, selection, checks)
        checks.extend([missing] if missing else [])
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
        verdict,
        tuple(checks),
        selection,
        tuple(notes),
        tuple(judged),
        config.comment.history,
        more_runs,
    )


def _refuse_incomparable(
    config: GateConfig, found: list[str], checks: list[CheckResult], notes: list[str]
) -> list[CheckResult]:
    """Every comparison check fails (or warns) when candidate and baseline differ in what
    `comparable:` names: their scores were measured on different things (more runs of the
    candidate cannot change that, so nothing is inconclusive then)."""
    why = "not comparable: " + "; ".join(found)
    status: Status = "warn" if config.comparable.on_mismatch == "warn" else "fail"
    notes.append(
        f"Candidate and baseline are {why}. Comparisons with the baseline are "
        + (
            "reported as warnings (`comparable.on_mismatch: warn`)."
            if status == "warn"
            else "refused."
        )
    )
    return [
        replace(c, status=status, message=why, violated=True)
        if is_comparison(c.name) and c.status != "skip"
        else c
        for c in checks
    ]


def _confirm(
    config: GateConfig,
    judged: list[MetricJudgement],
    checks: list[CheckResult],
    notes: list[str],
) -> int:
    """Inconclusive comparisons: fail (default) or warn per `confirm.on_inconclusive`; the
    number of extra runs that would settle all of them."""
    undecided = {name for m in judged for name in m.comparison.inconclusive}
    live = [c for c in checks if c.name in undecided and c.violated]
    if not live:
        return 0
    more = max((m.comparison.more_runs for m in judged if m.comparison.inconclusive), default=0)
    warn = config.confirm.on_inconclusive == "warn"
    for i, c in enumerate(checks):
        if c in live and warn and c.status == "fail":
            checks[i] = replace(c, status="warn")
    names = ", ".join(f"`{c.name}`" for c in live)
    ask = (
        f"train {more} more seed{'s' if more != 1 else ''} of this commit and run the gate again"
        if more
        else "the candidate already has as many runs as the gate asks for"
    )
    outcome = "reported as a warning" if warn else "the gate fails until it is settled"
    notes.append(f"Inconclusive: {names}; {ask} (`confirm.on_inconclusive`: {outcome}).")
    return more
