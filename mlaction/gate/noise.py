"""The tuned noise rule: pass, fail or inconclusive, and how many more runs would settle it. Pure.

One comparison of a candidate (the mean of its `m` finite runs) with a reference whose noise is
known from the history: σ is the standard deviation of the history's inliers (`stats.noise_band`,
`n` runs). The standard error of the difference is `se = σ √(1/m + 1/r)`, where `r` is the size of
the reference (`n` for the history's mean, the baseline's runs for a baseline run or group).

Quantiles are Student's t with `n − 1` degrees of freedom (σ is estimated from `n` runs):
`q_pass = t(0.90)` and `q_fail = t(0.99)` for one candidate run, `t(0.999)` for several, one-sided.
Several runs of one commit are usually a confirmation asked for by `more_runs` after an
inconclusive first run: the decision is sequential, and the stricter level keeps the looks after
the first from adding false fails (alpha spending; benchmarks/noise_simulation.py measures it).
With several runs from the start the stricter level costs little: their mean has a smaller `se`.

σ comes from the history's inliers with outliers beyond `OUTLIER_MADS` robust σ of the median:
over 20 normal runs the MAD is noisy, and the 3.5-MAD cut of the fixed band trims a genuine run
from about 1 clean history in 10, which narrows σ and raises the false fails (0.98% instead of
0.88% with one run); a crashed or diverged run lies far beyond 5 robust σ.

Regression (`max_regression` A ≥ 0, 0 when unset; `worse` = d):
- **fail** iff `d > max(A, q_fail·se)`: beyond the allowance AND beyond noise (≤ 1% of the PRs that
  change nothing);
- **pass** iff `d ≤ max(q_pass·se, A − q_pass·se)`: within noise, or clearly within the allowance;
- otherwise **inconclusive**: more runs of the candidate commit shrink `se` and settle it.

Improvement (`min_improvement` I ≥ 0; `gain` = g = −d, measured from the baseline):
- **pass** iff `g ≥ max(I, q_fail·se)`: at least I better AND beyond noise;
- **fail** iff `g < I − q_pass·se`: clearly short of I;
- otherwise **inconclusive**.

`more_runs` is the smallest number of additional candidate runs (at most `MAX_EXTRA_RUNS`) whose
smaller `se` would decide the observed difference, else `MAX_EXTRA_RUNS`; 0 when decided, or when
the candidate already has `MAX_RUNS` runs (then the verdict follows `confirm.on_inconclusive`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from statistics import NormalDist
from typing import Literal

from mlaction.gate.results import tol

Outcome = Literal["pass", "fail", "inconclusive"]

FAIL_LEVEL = 0.99  # one-sided: a no-change PR fails with probability ≤ 1%
CONFIRM_FAIL_LEVEL = 0.999  # with several candidate runs: the later looks of a sequential test
OUTLIER_MADS = 5.0  # history runs beyond this many robust σ of the median are outliers
PASS_LEVEL = 0.90  # one-sided: beyond this the first run is suspect and asks for more
MAX_EXTRA_RUNS = 4  # at most this many more runs per request
MAX_RUNS = 10  # beyond this many candidate runs, no more are requested


@dataclass(frozen=True)
class Thresholds:
    """The zones of `worse` (regression) or `gain` (improvement), in the metric's units."""

    se: float
    q_fail: float
    q_pass: float
    pass_at: float  # regression: pass iff d ≤ pass_at; improvement: pass iff g ≥ pass_at
    fail_at: float  # regression: fail iff d > fail_at; improvement: fail iff g < fail_at


@dataclass(frozen=True)
class NoiseOutcome:
    outcome: Outcome
    amount: float  # d (regression) or g (improvement)
    thresholds: Thresholds
    more_runs: int


@lru_cache(maxsize=256)
def t_quantile(p: float, df: int) -> float:
    """Student's t quantile (one-sided), by bisection on the exact CDF for integer `df`."""
    if not 0.5 <= p < 1.0:
        raise ValueError(f"p must be in [0.5, 1), got {p!r}")
    if df < 1:
        raise ValueError(f"df must be at least 1, got {df!r}")
    if df > 1000:
        return NormalDist().inv_cdf(p)
    low, high = 0.0, 1.0
    while _t_cdf(high, df) < p:
        high *= 2.0
    for _ in range(100):
        mid = (low + high) / 2.0
        if _t_cdf(mid, df) < p:
            low = mid
        else:
            high = mid
    return (low + high) / 2.0


def _t_cdf(t: float, df: int) -> float:
    """P(T ≤ t) for t ≥ 0 (Abramowitz & Stegun 26.7.3 / 26.7.4: finite series in cos θ)."""
    theta = math.atan(t / math.sqrt(df))
    c2, s = math.cos(theta) ** 2, math.sin(theta)
    if df % 2 == 1:
        total, term = 0.0, math.cos(theta)
        if df > 1:
            total = term
            for k in range(3, df - 1, 2):
                term *= c2 * (k - 1) / k
                total += term
        both = (2.0 / math.pi) * (theta + s * total)
    else:
        total, term = 1.0, 1.0
        for k in range(2, df - 1, 2):
            term *= c2 * (k - 1) / k
            total += term
        both = s * total
    return 0.5 + both / 2.0


def standard_error(sigma: float, candidate_runs: int, reference_runs: int) -> float:
    return sigma * math.sqrt(1.0 / candidate_runs + 1.0 / reference_runs)


def regression(
    drop: float, sigma: float, history: int, candidate_runs: int, reference_runs: int, allow: float
) -> NoiseOutcome:
    """The regression zones for `drop` (d), the noise σ of `history` runs, allowance A."""
    zones = _regression_zones(sigma, history, candidate_runs, reference_runs, allow)
    outcome = _regression_outcome(drop, zones, allow)
    more = 0
    if outcome == "inconclusive":
        more = _more_runs(
            lambda m: _regression_outcome(
                drop, _regression_zones(sigma, history, m, reference_runs, allow), allow
            ),
            candidate_runs,
        )
    return NoiseOutcome(outcome, drop, zones, more)


def improvement(
    gain: float, sigma: float, history: int, candidate_runs: int, reference_runs: int, need: float
) -> NoiseOutcome:
    """The improvement zones for `gain` (g), the noise σ of `history` runs, required I."""
    zones = _improvement_zones(sigma, history, candidate_runs, reference_runs, need)
    outcome = _improvement_outcome(gain, zones, need)
    more = 0
    if outcome == "inconclusive":
        more = _more_runs(
            lambda m: _improvement_outcome(
                gain, _improvement_zones(sigma, history, m, reference_runs, need), need
            ),
            candidate_runs,
        )
    return NoiseOutcome(outcome, gain, zones, more)


def quantiles(history: int, candidate_runs: int) -> tuple[float, float]:
    """(q_fail, q_pass) for σ estimated from `history` runs and `candidate_runs` runs."""
    df = max(1, history - 1)
    level = FAIL_LEVEL if candidate_runs <= 1 else CONFIRM_FAIL_LEVEL
    return t_quantile(level, df), t_quantile(PASS_LEVEL, df)


def _regression_zones(
    sigma: float, history: int, candidate_runs: int, reference_runs: int, allow: float
) -> Thresholds:
    se = standard_error(sigma, candidate_runs, reference_runs)
    q_fail, q_pass = quantiles(history, candidate_runs)
    return Thresholds(
        se, q_fail, q_pass, max(q_pass * se, allow - q_pass * se), max(allow, q_fail * se)
    )


def _regression_outcome(drop: float, zones: Thresholds, allow: float) -> Outcome:
    eps = tol(drop, allow)
    if drop <= zones.pass_at + eps:
        return "pass"
    if drop > zones.fail_at + eps:
        return "fail"
    return "inconclusive"


def _improvement_zones(
    sigma: float, history: int, candidate_runs: int, reference_runs: int, need: float
) -> Thresholds:
    se = standard_error(sigma, candidate_runs, reference_runs)
    q_fail, q_pass = quantiles(history, candidate_runs)
    return Thresholds(se, q_fail, q_pass, max(need, q_fail * se), need - q_pass * se)


def _improvement_outcome(gain: float, zones: Thresholds, need: float) -> Outcome:
    eps = tol(gain, need)
    if gain >= zones.pass_at - eps:
        return "pass"
    if gain < zones.fail_at - eps:
        return "fail"
    return "inconclusive"


def _more_runs(decide: Callable[[int], Outcome], candidate_runs: int) -> int:
    """The fewest extra runs (≤ MAX_EXTRA_RUNS, total ≤ MAX_RUNS) that decide the observed
    difference; else as many as allowed (the new runs move the difference too); 0 once the
    candidate has MAX_RUNS runs."""
    room = min(MAX_EXTRA_RUNS, MAX_RUNS - candidate_runs)
    if room <= 0:
        return 0
    for extra in range(1, room + 1):
        if decide(candidate_runs + extra) != "inconclusive":
            return extra
    return room
