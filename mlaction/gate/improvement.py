"""`min_improvement`: the candidate must beat the baseline by at least this much. Pure.

The semantics of MLflow's `MetricThreshold(min_absolute_change=..., min_relative_change=...)`:
`gain` is how much better the candidate is than the baseline in the goal's direction, and the
check passes iff `gain ≥ I` (absolute, or "N%" of the baseline's value). With evidence of noise
the improvement must also be shown beyond it:

- replicate groups (`replicates`, both sides with `replicates.min` runs, `test: bootstrap`): pass
  iff `gain ≥ I` and the bootstrap interval of the gain lies above 0; fail iff the interval lies
  below I; otherwise inconclusive;
- a noise σ from the history (as for the regression check: `noise:`, or by default with
  AUTO_NOISE_MIN_RUNS runs): the zones of mlaction.gate.noise.improvement;
- otherwise the plain `gain ≥ I`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mlaction.config.schema import AUTO_NOISE_MIN_RUNS, MetricRule, NoiseConfig
from mlaction.gate import noise as tuned
from mlaction.gate.comparisons import INCONCLUSIVE, _train, values
from mlaction.gate.results import CheckResult, fail, fmt, tol, worse
from mlaction.runs import Selection


@dataclass(frozen=True)
class Improvement:
    check: CheckResult
    more_runs: int = 0
    inconclusive: bool = False
    rule_text: str = ""


def improvement_check(
    name: str, rule: MetricRule, selection: Selection, missing: str | None
) -> Improvement:
    assert rule.min_improvement is not None
    check = f"{name}.min_improvement"
    text = f"≥ {rule.min_improvement} better than baseline"
    baseline = selection.baseline
    value = selection.candidate.metric(name)
    if baseline is None:
        why = f"no baseline: {selection.baseline_reason}"
        return Improvement(CheckResult(check, "skip", why, name, value, None, None, text))
    group = selection.baseline_group if rule.replicates else ()
    base = values(group or (baseline,), name)
    if not base:
        why = (
            f"cannot compare: `{name}` is missing or not finite in the baseline `{baseline.label}`"
        )
        return Improvement(CheckResult(check, "skip", why, name, value, None, None, text))
    base_mean = sum(base) / len(base)
    need = rule.min_improvement.allowed(base_mean)
    if missing:
        return Improvement(
            fail(check, missing, metric=name, observed=value, threshold=need, rule=text)
        )
    cand = values(selection.candidate_group or (selection.candidate,), name)
    mean = sum(cand) / len(cand)
    gain = -worse(rule.goal, mean, base_mean)
    head = (
        f"`{name}` = {fmt(mean)}{_n(cand)} vs baseline {fmt(base_mean)}{_n(base)}: "
        f"{_change(gain)}, must be at least {fmt(need)} better"
        + (
            f" ({rule.min_improvement} of {fmt(base_mean)})"
            if rule.min_improvement.relative
            else ""
        )
    )
    numbers = (mean, need, base_mean)
    groups = rule.replicates and min(len(cand), len(base)) >= rule.replicates.min
    if groups and rule.test == "bootstrap":
        return _bootstrap(check, name, rule, cand, base, gain, need, head, numbers)
    sigma = _history_sigma(name, rule, selection)
    if sigma is not None:
        decided = tuned.improvement(gain, sigma[0], sigma[1], len(cand), len(base), need)
        zones = decided.thresholds
        rule_text = (
            f"gain ≥ {fmt(need)}: pass ≥ {fmt(zones.pass_at)}, fail < {fmt(zones.fail_at)} "
            f"(noise se {fmt(zones.se)})"
        )
        detail = {
            "pass": "shown beyond noise",
            "fail": "clearly short of it",
            INCONCLUSIVE: _train(decided.more_runs).lstrip("; "),
        }[decided.outcome]
        message = f"{head}; passes at ≥ {fmt(zones.pass_at)} (beyond noise); {detail}"
        return _result(check, name, decided.outcome, message, numbers, rule_text, decided.more_runs)
    ok = gain >= need - tol(mean, base_mean)
    return _result(check, name, "pass" if ok else "fail", head, numbers, text, 0)


def _bootstrap(
    check: str,
    name: str,
    rule: MetricRule,
    cand: list[float],
    base: list[float],
    gain: float,
    need: float,
    head: str,
    numbers: tuple[float, float, float],
) -> Improvement:
    from mlaction.gate import stats

    interval = stats.bootstrap_diff(cand, base, confidence=rule.confidence)
    low, high = sorted(-worse(rule.goal, v, 0.0) for v in (interval.low, interval.high))
    eps = tol(*numbers)
    outcome = "fail" if high < need - eps else "pass" if gain >= need - eps and low > 0 else ""
    more = 0
    if not outcome:
        outcome = INCONCLUSIVE
        more = tuned.MAX_EXTRA_RUNS if len(cand) < tuned.MAX_RUNS else 0
    ci = f"{rule.confidence * 100:g}% CI of the gain [{fmt(low)}, {fmt(high)}]"
    message = f"{head}; {ci}" + (_train(more) if outcome == INCONCLUSIVE else "")
    rule_text = f"gain ≥ {fmt(need)}, bootstrap {ci}"
    return _result(check, name, outcome, message, numbers, rule_text, more)


def _history_sigma(name: str, rule: MetricRule, selection: Selection) -> tuple[float, int] | None:
    """The noise σ of the history and its run count, when the metric's noise rule applies."""
    if rule.noise is False:
        return None
    setting = rule.noise or NoiseConfig()
    window = values(selection.history[: setting.window], name)
    if len(window) < (AUTO_NOISE_MIN_RUNS if rule.noise is None else 3):
        return None
    from mlaction.gate import stats

    band = stats.noise_band(window, outlier_mads=tuned.OUTLIER_MADS)
    return None if band is None else (band.sigma, band.n)


def _result(
    check: str,
    name: str,
    outcome: str,
    message: str,
    numbers: tuple[float, float, float],
    rule_text: str,
    more: int,
) -> Improvement:
    failed = outcome != "pass"
    mean, need, base = numbers
    result = CheckResult(
        check,
        "fail" if failed else "pass",
        message,
        name,
        mean,
        need,
        base,
        rule_text,
        violated=failed,
    )
    return Improvement(result, more, outcome == INCONCLUSIVE, rule_text)


def _change(gain: float) -> str:
    if gain == 0 or not math.isfinite(gain):
        return "no change"
    return f"{fmt(abs(gain))} {'better' if gain > 0 else 'worse'}"


def _n(runs: list[float]) -> str:
    return f" (mean of {len(runs)} runs)" if len(runs) > 1 else ""
