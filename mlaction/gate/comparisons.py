"""The noise-aware regression checks of one metric: replicate groups, noise bands. Pure.

`compare` tries, in order: replicates (both commits have `replicates.min` runs), the fixed band
(`noise: {k: ...}`), the tuned noise rule (`noise:` without `k`, or by default when the history has
AUTO_NOISE_MIN_RUNS finite runs; mlaction.gate.noise). When a rule cannot apply, a visible note
says why and the next is tried; with none left the caller uses the plain `max_regression`.
`mlaction.gate.stats` (numpy) is imported only when one of these rules runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlaction.config.schema import AUTO_NOISE_MIN_RUNS, MetricRule, NoiseConfig
from mlaction.gate import noise as tuned
from mlaction.gate.results import CheckResult, finite, fmt, tol, worse
from mlaction.runs import Run, Selection

if TYPE_CHECKING:
    from mlaction.gate.stats import NoiseBand, ReplicateDecision

INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class Comparison:
    """How a metric was compared with its reference (noise band, replicate groups), for the
    check and the report's table; `check` is None when no richer rule applied."""

    check: CheckResult | None
    notes: tuple[str, ...] = ()
    candidate_text: str | None = None  # "0.880 ± 0.004 (n=5)" for the table
    baseline_text: str | None = None
    rule_text: str | None = None
    more_runs: int = 0  # extra candidate runs that would settle an inconclusive comparison
    band: tuple[float, float] | None = None  # the values the decision did not fail (trend band)
    inconclusive: tuple[str, ...] = ()  # checks that could not decide (reported as failed)


def values(runs: tuple[Run, ...], metric: str) -> list[float]:
    found = [r.metric(metric) for r in runs]
    return [v for v in found if finite(v) and v is not None]


def compare(name: str, rule: MetricRule, selection: Selection, missing: str | None) -> Comparison:
    """The replicate or noise check for one metric, or the notes on why none applies."""
    notes: list[str] = []
    if missing:
        return Comparison(None)
    if rule.replicates:
        result = _replicates(name, rule, selection, notes)
        if result is not None:
            return result
    if rule.noise is False:
        return Comparison(None, tuple(notes))
    setting = rule.noise or NoiseConfig()
    window = values(selection.history[: setting.window], name)
    if rule.noise is None and not rule.max_regression:
        return Comparison(None, tuple(notes))
    if rule.noise is None and len(window) < AUTO_NOISE_MIN_RUNS:
        # The table's rule says which rule judged the metric, and why.
        plain = (
            f"Δ ≤ {rule.max_regression} (plain: history of {len(window)} runs, "
            f"noise rule from {AUTO_NOISE_MIN_RUNS})"
        )
        return Comparison(None, tuple(notes), rule_text=plain)
    if setting.k is not None:
        result = _fixed_band(name, rule, selection, setting, window, notes)
    else:
        result = _tuned(name, rule, selection, window, notes, auto=rule.noise is None)
    return result or Comparison(None, tuple(notes))


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
    more = 0
    if rule.test == "bootstrap":
        decision = stats.replicate_regression(
            cand, base, goal=rule.goal, tolerance=tolerance, confidence=rule.confidence
        )
        status = "fail" if decision.regression else "pass"
        if decision.beyond_tolerance and not decision.significant:
            status = INCONCLUSIVE
            more = _replicate_runs(decision, rule.confidence)
        message = decision.message + (_train(more) if status == INCONCLUSIVE else "")
        rule_text = (
            f"Δ ≤ {fmt(tolerance)}, bootstrap {rule.confidence:.0%} CI of the drop "
            f"[{fmt(decision.low)}, {fmt(decision.high)}]"
        )
        cand_stats = decision.candidate
    else:
        cand_stats = stats.summarize(cand)
        drop = worse(rule.goal, cand_stats.mean, base_stats.mean)
        status = "pass" if drop <= tolerance + tol(base_stats.mean) else "fail"
        message = (
            f"mean {fmt(cand_stats.mean)} (n={cand_stats.n}) vs {fmt(base_stats.mean)} "
            f"(n={base_stats.n}): {fmt(drop)} worse, allowed {fmt(tolerance)} (no test)"
        )
        rule_text = f"Δ(means) ≤ {fmt(tolerance)}"
    result = _result(
        check, status, message, name, (cand_stats.mean, tolerance, base_stats.mean), rule_text
    )
    return Comparison(
        result,
        tuple(notes),
        _group_text(cand_stats),
        _group_text(base_stats),
        rule_text,
        more,
        inconclusive=(check,) if status == INCONCLUSIVE else (),
    )


def _replicate_runs(decision: ReplicateDecision, confidence: float) -> int:
    """Extra candidate runs after which the observed drop's interval would exclude 0."""
    from statistics import NormalDist

    cand, base, drop = decision.candidate, decision.baseline, decision.worse
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    room = min(tuned.MAX_EXTRA_RUNS, tuned.MAX_RUNS - cand.n)
    for extra in range(1, max(0, room) + 1):
        se = math.sqrt(cand.std**2 / (cand.n + extra) + base.std**2 / base.n)
        if drop > z * se:
            return extra
    return max(0, room)


def _fixed_band(
    name: str,
    rule: MetricRule,
    selection: Selection,
    setting: NoiseConfig,
    window: list[float],
    notes: list[str],
) -> Comparison | None:
    """`noise: {k: ...}`: the candidate run against center ± k·σ, capped by max_regression."""
    from mlaction.gate import stats

    assert setting.k is not None
    value = selection.candidate.metric(name)
    assert value is not None
    band = stats.noise_band(window, k=setting.k)
    if band is None:
        notes.append(_too_short(name, len(window), 3))
        return None
    ceiling = rule.max_regression.allowed(band.center) if rule.max_regression else None
    decision = stats.noise_regression(value, band, goal=rule.goal, ceiling=ceiling)
    rule_text = f"noise band ±{fmt(band.band)} ({fmt(setting.k)}σ, {band.n} runs)"
    if decision.capped:
        rule_text += f", capped at {fmt(decision.allowed)}"
    status = "fail" if decision.regression else "pass"
    result = _result(
        f"{name}.noise",
        status,
        decision.message,
        name,
        (value, decision.allowed, band.center),
        rule_text,
    )
    band_text = _group_text(_Spread(band.center, band.band, band.n))
    limits = (band.center - decision.allowed, band.center + decision.allowed)
    return Comparison(result, tuple(notes), None, band_text, rule_text, band=limits)


def _tuned(
    name: str,
    rule: MetricRule,
    selection: Selection,
    window: list[float],
    notes: list[str],
    *,
    auto: bool,
) -> Comparison | None:
    """The candidate commit's runs (mean of m) against the history's mean, t quantiles."""
    from mlaction.gate import stats

    band = stats.noise_band(window, outlier_mads=tuned.OUTLIER_MADS)
    if band is None:
        notes.append(_too_short(name, len(window), 3))
        return None
    runs = values(selection.candidate_group or (selection.candidate,), name)
    value = sum(runs) / len(runs)
    allow = rule.max_regression.allowed(band.center) if rule.max_regression else 0.0
    drop = worse(rule.goal, value, band.center)
    decided = tuned.regression(drop, band.sigma, band.n, len(runs), band.n, allow)
    zones = decided.thresholds
    sign = 1.0 if rule.goal == "maximize" else -1.0
    pass_value, fail_value = band.center - sign * zones.pass_at, band.center - sign * zones.fail_at
    rel = "≥" if rule.goal == "maximize" else "≤"
    rule_text = (
        f"noise{' (auto)' if auto else ''}: pass {rel} {fmt(pass_value)}, "
        f"fail {'<' if rule.goal == 'maximize' else '>'} {fmt(fail_value)} "
        f"(mean {fmt(band.center)} of {band.n} runs, σ {fmt(band.sigma)})"
    )
    message = _tuned_message(name, value, len(runs), band, decided, allow)
    result = _result(
        f"{name}.noise",
        decided.outcome,
        message,
        name,
        (value, zones.fail_at, band.center),
        rule_text,
    )
    band_limits = (band.center - zones.fail_at, band.center + zones.fail_at)
    return Comparison(
        result,
        tuple(notes),
        _group_text(stats.summarize(runs)) if len(runs) > 1 else None,
        _group_text(_Spread(band.center, band.sigma, band.n)),
        rule_text,
        decided.more_runs,
        band_limits,
        (result.name,) if decided.outcome == INCONCLUSIVE else (),
    )


def _tuned_message(
    name: str, value: float, m: int, band: NoiseBand, decided: tuned.NoiseOutcome, allow: float
) -> str:
    center, n = band.center, band.n
    zones = decided.thresholds
    gap = value - center
    side = "above" if gap > 0 else "below"
    runs = "1 run" if m == 1 else f"mean of {m} runs"
    text = (
        f"`{name}` = {fmt(value)} ({runs}) is {fmt(abs(gap))} {side} the mean {fmt(center)} of "
        f"{n} runs; worse by up to {fmt(zones.pass_at)} passes, by more than "
        f"{fmt(zones.fail_at)} fails (noise se {fmt(zones.se)}"
        + (f", allowed {fmt(allow)}" if allow else "")
        + ")"
    )
    if decided.outcome == "pass":
        return text + "; within noise" + (" and the allowance" if allow else "")
    if decided.outcome == "fail":
        return text + "; beyond noise" + (" and the allowance" if allow else "")
    return text + "; " + _train(decided.more_runs).lstrip("; ")


def _train(more: int) -> str:
    if more <= 0:
        return "; inconclusive, and the candidate has as many runs as the gate asks for"
    return f"; inconclusive: train {more} more seed{'s' if more > 1 else ''} of this commit"


def _too_short(name: str, found: int, need: int) -> str:
    return (
        f"`{name}`: too few runs in the history ({found} with the metric, {need} needed) "
        "to estimate its noise: compared with the baseline run instead."
    )


def _result(
    name: str,
    status: str,
    message: str,
    metric: str,
    values: tuple[float, float, float],
    rule: str,
) -> CheckResult:
    """The check; `inconclusive` is reported as a fail here (the verdict applies
    `confirm.on_inconclusive`), and `Comparison.inconclusive` says which it was."""
    observed, threshold, baseline = values
    failed = status in ("fail", INCONCLUSIVE)
    return CheckResult(
        name,
        "fail" if failed else "pass",
        message,
        metric,
        observed,
        threshold,
        baseline,
        rule,
        violated=failed,
    )


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
