"""Every rule of one metric, in precedence order. Pure.

1. Presence: a metric missing from the candidate, NaN or infinite fails every rule that reads it.
2. Bounds: `min` / `max` (checks `<metric>.min`, `<metric>.max`).
3. The comparison with a reference, the first that applies:
   a. `replicates`: when both the candidate's and the baseline's commit have at least `min`
      finished runs with the metric, the groups are compared (bootstrap test, or plain means
      with `test: none`). Check `<metric>.max_regression`.
   b. `noise`: when the history window has at least 3 finite values, the candidate is compared
      with the history's noise band. Check `<metric>.noise`.
   c. The plain single-run `max_regression` against the baseline run.
   When a richer rule cannot apply, a visible note says why and the next one is used; with
   nothing left to compare, the check is skipped with that note.
4. Nothing configured but the metric: `<metric>.present`.
`mlaction.gate.stats` (numpy) is imported only when a metric uses replicates or noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mlaction.config.schema import MetricRule
from mlaction.gate.results import CheckResult, fail, finite, fmt, tol, worse
from mlaction.runs import Run, Selection


@dataclass(frozen=True)
class Comparison:
    """How a metric was compared with its reference (noise band, replicate groups), for the
    check and the report's table; `check` is None when no richer rule applied."""

    check: CheckResult | None
    notes: tuple[str, ...] = ()
    candidate_text: str | None = None  # "0.880 ± 0.004 (n=5)" for the table
    baseline_text: str | None = None
    rule_text: str | None = None


def values(runs: tuple[Run, ...], metric: str) -> list[float]:
    found = [r.metric(metric) for r in runs]
    return [v for v in found if finite(v) and v is not None]


def compare(name: str, rule: MetricRule, selection: Selection, missing: str | None) -> Comparison:
    """The replicate or noise-band check for one metric, or the notes on why neither applies."""
    notes: list[str] = []
    if rule.replicates and not missing:
        result = _replicates(name, rule, selection, notes)
        if result is not None:
            return result
    if rule.noise and not missing:
        result = _noise(name, rule, selection, notes)
        if result is not None:
            return result
    return Comparison(None, tuple(notes))


def _replicates(
    name: str, rule: MetricRule, selection: Selection, notes: list[str]
) -> Comparison | None:
    from mlaction.gate import stats

    assert rule.replicates is not None
    need = rule.replicates.min
    if selection.baseline is None:
        notes.append(f"`{name}`: no baseline, so no replicate comparison.")
        return None
    cand = values(selection.candidate_group or (selection.candidate,), name)
    base = values(selection.baseline_group or (selection.baseline,), name)
    if len(cand) < need or len(base) < need:
        notes.append(
            f"`{name}`: too few replicates for a group comparison ({len(cand)} candidate and "
            f"{len(base)} baseline runs with the metric; `replicates.min` is {need}): "
            "compared single runs instead."
        )
        return None
    base_stats = stats.summarize(base)
    tolerance = rule.max_regression.allowed(base_stats.mean) if rule.max_regression else 0.0
    check = f"{name}.max_regression"
    if rule.test == "bootstrap":
        decision = stats.replicate_regression(
            cand, base, goal=rule.goal, tolerance=tolerance, confidence=rule.confidence
        )
        ok = not decision.regression
        message = decision.message
        rule_text = f"Δ ≤ {fmt(tolerance)}, bootstrap {rule.confidence:.0%}"
        cand_stats = decision.candidate
    else:
        cand_stats = stats.summarize(cand)
        drop = worse(rule.goal, cand_stats.mean, base_stats.mean)
        ok = drop <= tolerance + tol(base_stats.mean)
        message = (
            f"mean {fmt(cand_stats.mean)} (n={cand_stats.n}) vs {fmt(base_stats.mean)} "
            f"(n={base_stats.n}): {fmt(drop)} worse, allowed {fmt(tolerance)} (no test)"
        )
        rule_text = f"Δ(means) ≤ {fmt(tolerance)}"
    result = CheckResult(
        check,
        "pass" if ok else "fail",
        message,
        name,
        cand_stats.mean,
        tolerance,
        base_stats.mean,
        rule_text,
        violated=not ok,
    )
    return Comparison(
        result, tuple(notes), _group_text(cand_stats), _group_text(base_stats), rule_text
    )


def _noise(
    name: str, rule: MetricRule, selection: Selection, notes: list[str]
) -> Comparison | None:
    from mlaction.gate import stats

    assert rule.noise is not None
    value = selection.candidate.metric(name)
    assert value is not None
    window = values(selection.history[: rule.noise.window], name)
    band = stats.noise_band(window, k=rule.noise.k)
    if band is None:
        notes.append(
            f"`{name}`: too few runs in the history ({len(window)} with the metric, 3 needed) "
            "to estimate its noise: compared with the baseline run instead."
        )
        return None
    ceiling = rule.max_regression.allowed(band.center) if rule.max_regression else None
    decision = stats.noise_regression(value, band, goal=rule.goal, ceiling=ceiling)
    ok = not decision.regression
    rule_text = f"noise band ±{fmt(band.band)} ({fmt(rule.noise.k)}σ, {band.n} runs)"
    if decision.capped:
        rule_text += f", capped at {fmt(decision.allowed)}"
    result = CheckResult(
        f"{name}.noise",
        "pass" if ok else "fail",
        decision.message,
        name,
        value,
        decision.allowed,
        band.center,
        rule_text,
        violated=not ok,
    )
    band_text = _group_text(_Spread(band.center, band.band, band.n))
    return Comparison(result, tuple(notes), None, band_text, rule_text)


@dataclass(frozen=True)
class _Spread:
    mean: float
    std: float
    n: int


def _group_text(group: object) -> str:
    """ "88.0 ± 0.6 (n=5)": the mean to the precision of its spread (two significant digits)."""
    mean, std, n = (getattr(group, k) for k in ("mean", "std", "n"))
    if not std or not math.isfinite(std):
        return f"{fmt(mean)} ± 0 (n={n})"
    decimals = min(12, max(0, 1 - math.floor(math.log10(abs(std)))))
    return f"{mean:.{decimals}f} ± {std:.{decimals}f} (n={n})"


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
    if rule.noise or rule.replicates:
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
