"""Regression checks that know how noisy a metric is: replicate groups and noise bands. Pure.

Order of precedence for a metric's regression check:
1. `replicates`: when both the candidate's and the baseline's commit have at least `min` finished
   runs with the metric, the groups are compared (bootstrap test, or plain means with `test:
   none`). Check `<metric>.max_regression`.
2. `noise`: when the history window has at least 3 finite values, the candidate is compared with
   the history's noise band. Check `<metric>.noise`.
3. The plain single-run `max_regression` against the baseline run.
When a richer rule cannot apply, a visible note says why and the next one is used; with nothing
left to compare, the check is skipped with that note. `mlaction.stats` (numpy) is imported only
when a metric uses one of these rules.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mlaction.checks import CheckResult, fmt
from mlaction.config import MetricRule
from mlaction.runs import Run, Selection


@dataclass(frozen=True)
class Robust:
    """The outcome of a noise- or replicate-aware comparison, for the check and the report."""

    check: CheckResult | None
    notes: tuple[str, ...] = ()
    candidate_text: str | None = None  # "0.880 ± 0.004 (n=5)" for the table
    baseline_text: str | None = None
    rule_text: str | None = None


def values(runs: tuple[Run, ...], metric: str) -> list[float]:
    found = [r.metric(metric) for r in runs]
    return [v for v in found if v is not None and math.isfinite(v)]


def robust_regression(
    name: str, rule: MetricRule, selection: Selection, missing: str | None
) -> Robust:
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
    return Robust(None, tuple(notes))


def _replicates(
    name: str, rule: MetricRule, selection: Selection, notes: list[str]
) -> Robust | None:
    from mlaction import stats

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
        worse = _worse(rule.goal, cand_stats.mean, base_stats.mean)
        ok = worse <= tolerance + 1e-9 * max(1.0, abs(base_stats.mean))
        message = (
            f"mean {fmt(cand_stats.mean)} (n={cand_stats.n}) vs {fmt(base_stats.mean)} "
            f"(n={base_stats.n}): {fmt(worse)} worse, allowed {fmt(tolerance)} (no test)"
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
    return Robust(result, tuple(notes), _group_text(cand_stats), _group_text(base_stats), rule_text)


def _noise(name: str, rule: MetricRule, selection: Selection, notes: list[str]) -> Robust | None:
    from mlaction import stats

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
    return Robust(result, tuple(notes), None, band_text, rule_text)


@dataclass(frozen=True)
class _Spread:
    mean: float
    std: float
    n: int


def _worse(goal: str, candidate: float, reference: float) -> float:
    return reference - candidate if goal == "maximize" else candidate - reference


def _group_text(group: object) -> str:
    """ "88.0 ± 0.6 (n=5)": the mean to the precision of its spread (two significant digits)."""
    mean, std, n = (getattr(group, k) for k in ("mean", "std", "n"))
    if not std or not math.isfinite(std):
        return f"{fmt(mean)} ± 0 (n={n})"
    decimals = min(12, max(0, 1 - math.floor(math.log10(abs(std)))))
    return f"{mean:.{decimals}f} ± {std:.{decimals}f} (n={n})"
