"""Every rule of one metric, in precedence order. Pure.

1. Presence: a metric missing from the candidate, NaN or infinite fails every rule that reads it.
2. Bounds: `min` / `max` (checks `<metric>.min`, `<metric>.max`).
3. The regression check against a reference, the first that applies (gate/comparisons.py):
   a. `replicates`: when both the candidate's and the baseline's commit have at least `min`
      finished runs with the metric, the groups are compared (bootstrap test, or plain means
      with `test: none`). Check `<metric>.max_regression`.
   b. `noise`: the candidate commit's runs against the history's noise (check `<metric>.noise`):
      the tuned rule by default when the history has AUTO_NOISE_MIN_RUNS finite runs (or always
      with `noise:`), the fixed band with `noise: {k: ...}`; `noise: false` turns it off.
   c. The plain single-run `max_regression` against the baseline run.
   When a richer rule cannot apply, a visible note says why and the next one is used; with
   nothing left to compare, the check is skipped with that note.
4. `min_improvement` (gate/improvement.py): check `<metric>.min_improvement`.
5. Nothing configured but the metric: `<metric>.present`.
An inconclusive comparison is a failed check listed in `Comparison.inconclusive`, with the
number of runs that would settle it in `Comparison.more_runs`.
"""

from __future__ import annotations

import math
from dataclasses import replace

from mlaction.config.schema import MetricRule
from mlaction.gate.comparisons import Comparison, compare, values
from mlaction.gate.improvement import improvement_check
from mlaction.gate.results import CheckResult, fail, fmt, tol, worse
from mlaction.runs import Run, Selection

__all__ = ["Comparison", "metric_checks", "values"]


# --- the metric's checks, in precedence order ------------------------------------------


def metric_checks(
    name: str, rule: MetricRule, selection: Selection
) -> tuple[list[CheckResult], Comparison]:
    candidate = selection.candidate
    value = candidate.metric(name)
    missing = _missing(name, value, candidate)
    checks: list[CheckResult] = []
    if rule.min is not None:
        checks.append(_bound(name, value, missing, rule.min, ">="))
    if rule.max is not None:
        checks.append(_bound(name, value, missing, rule.max, "<="))
    comparison = Comparison(None)
    if rule.compares:
        comparison = compare(name, rule, selection, missing)
    if comparison.check is not None:
        checks.append(comparison.check)
    elif rule.max_regression is not None:
        checks.append(_regression(name, rule, value, missing, selection))
    elif rule.compares:
        kind = "noise" if rule.noise else "max_regression"
        why = " ".join(comparison.notes) or (missing or "nothing to compare with")
        if missing:
            checks.append(fail(f"{name}.{kind}", missing, metric=name, observed=value))
        else:
            checks.append(CheckResult(f"{name}.{kind}", "skip", why, name, value))
    if rule.min_improvement is not None:
        found = improvement_check(name, rule, selection, missing)
        checks.append(found.check)
        comparison = replace(
            comparison,
            more_runs=max(comparison.more_runs, found.more_runs),
            inconclusive=comparison.inconclusive
            + ((found.check.name,) if found.inconclusive else ()),
        )
    if not checks:
        if missing:
            checks.append(fail(f"{name}.present", missing, metric=name, observed=value))
        else:
            checks.append(
                CheckResult(f"{name}.present", "pass", f"`{name}` = {fmt(value)}", name, value)
            )
    return checks, comparison


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
        return fail(
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
        return fail(
            check,
            missing,
            metric=name,
            observed=value,
            threshold=allowed,
            baseline_value=base,
            rule=text,
        )
    assert value is not None
    drop = worse(rule.goal, value, base)
    ok = drop <= allowed + tol(base, value)
    if drop <= 0:
        detail = "no regression" if drop == 0 else f"improved by {fmt(-drop)}"
    else:
        detail = f"{fmt(drop)} worse"
    limit = f"{fmt(allowed)}" + (f" ({tolerance} of {fmt(base)})" if tolerance.relative else "")
    message = f"`{name}` = {fmt(value)} vs baseline {fmt(base)}: {detail} (allowed: {limit})"
    return CheckResult(
        check, "pass" if ok else "fail", message, name, value, allowed, base, text, violated=not ok
    )
