"""Noise-aware comparisons: replicate groups (bootstrap) and noise bands from history. Pure numpy.

Every function here is a pure function of its arguments: no I/O, no clock, no global random state.
Randomness comes from `numpy.random.default_rng(seed)` with a fixed default seed, and inputs are
sorted before they are resampled, so the same runs in any order give the same answer.

Non-finite values (NaN, ±inf) are dropped wherever a group of values is read, and counted in the
result's `dropped`; a group left empty is a `ValueError`. Tolerances here are absolute: the caller
turns a relative `max_regression` ("2%") into an amount first.

Decision rules
--------------
`worse` is how much worse the candidate is than the reference, in the goal's direction:
`reference - candidate` when maximizing, `candidate - reference` when minimizing. "Beyond x" means
`worse > x + 1e-9 * max(1, |numbers compared|)`, so float rounding never decides a gate.

Replicates (`replicate_regression`): the reference is the baseline group's mean, the candidate is
the candidate group's mean, and the interval of `worse` is the two-sided percentile bootstrap
interval of the difference of means (`bootstrap_diff`, each group resampled independently with
replacement), mirrored for maximize. **Regression iff `worse > tolerance` AND the interval's lower
bound of `worse` > 0**: the drop is both practically large (beyond max_regression) and
statistically significant. A group of one run contributes no spread: the interval of the
difference then reflects only the other group's resampling; two groups of one run give a
zero-width interval at the point difference, so the rule reduces to the plain `worse > tolerance`.

Noise band (`noise_band`, `noise_regression`): from the last runs of the history, the runs more
than 3.5 robust σ from the median are outliers (robust σ = 1.4826 × the median absolute deviation,
MAD); `center` and `sigma` are the mean and standard deviation of the other runs; `band = k *
sigma`. The MAD makes the band robust (a crashed run does not widen it); the standard deviation
of the inliers makes it efficient (over 20 runs, the MAD alone gives a band often too narrow:
1.05% false fails in the simulation, against 0.59% this way). The
candidate's `worse` is measured from `center`; the allowed amount is `band`, capped by the
absolute `ceiling` (max_regression) when one is given: `allowed = min(band, ceiling)`.
**Regression iff `worse > allowed + 1e-9 * max(1, |center|)`.** Fewer than 3 finite values give
no band (None). Identical history values give sigma 0: then any drop beyond float tolerance is a
regression.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from mlaction.gate.results import tol, worse

Goal = Literal["maximize", "minimize"]
FloatArray = npt.NDArray[np.float64]

MAD_TO_SIGMA = 1.4826  # 1 / Φ⁻¹(3/4): the MAD of normal noise times this is its σ
MIN_HISTORY = 3
OUTLIER_MADS = 3.5  # runs farther than this many robust σ from the median are outliers


@dataclass(frozen=True)
class GroupStats:
    """Summary of one group of runs' values (non-finite values dropped and counted)."""

    n: int
    mean: float
    std: float  # sample standard deviation (ddof=1); 0.0 for a single value
    min: float
    max: float
    values: tuple[float, ...]  # sorted
    dropped: int = 0


@dataclass(frozen=True)
class DiffInterval:
    """mean(candidate) - mean(baseline) and its two-sided percentile bootstrap interval."""

    diff: float
    low: float
    high: float
    confidence: float
    n_candidate: int
    n_baseline: int


@dataclass(frozen=True)
class ReplicateDecision:
    """The replicate rule's verdict; `low`/`high` bound `worse` (not the raw difference)."""

    regression: bool
    worse: float
    low: float
    high: float
    tolerance: float
    goal: Goal
    interval: DiffInterval  # candidate - baseline, as bootstrap_diff returned it
    candidate: GroupStats
    baseline: GroupStats
    message: str

    @property
    def beyond_tolerance(self) -> bool:
        return self.worse > self.tolerance + tol(self.candidate.mean, self.baseline.mean)

    @property
    def significant(self) -> bool:
        return self.low > 0


@dataclass(frozen=True)
class NoiseBand:
    """Noise of a metric over recent runs: mean ± k·σ of the runs within 3.5 MADs of the median."""

    center: float
    sigma: float
    band: float
    k: float
    n: int
    dropped: int = 0
    outliers: int = 0


@dataclass(frozen=True)
class NoiseDecision:
    regression: bool
    value: float
    worse: float
    allowed: float
    capped: bool  # the ceiling (max_regression), not the band, set `allowed`
    band: NoiseBand
    ceiling: float | None
    goal: Goal
    message: str


# --- groups --------------------------------------------------------------------------------


def summarize(values: Sequence[float]) -> GroupStats:
    finite, dropped = _finite(values, "values")
    std = float(np.std(finite, ddof=1)) if finite.size > 1 else 0.0
    return GroupStats(
        n=int(finite.size),
        mean=float(np.mean(finite)),
        std=std,
        min=float(finite[0]),
        max=float(finite[-1]),
        values=tuple(float(v) for v in finite),
        dropped=dropped,
    )


def bootstrap_diff(
    candidate: Sequence[float],
    baseline: Sequence[float],
    *,
    confidence: float = 0.95,
    resamples: int = 4000,
    seed: int = 0,
) -> DiffInterval:
    """Percentile bootstrap interval of mean(candidate) - mean(baseline).

    Each group is sorted, then resampled with replacement independently: one
    `rng.integers(0, n, size=(resamples, n))` call for the candidate, then one for the baseline,
    from `default_rng(seed)`. The interval is the (1-c)/2 and (1+c)/2 quantiles (numpy's linear
    interpolation) of the resampled differences, widened if needed to contain the point
    difference (which only float rounding can put outside: identical values give zero width).
    """
    _check_confidence(confidence)
    if isinstance(resamples, bool) or not isinstance(resamples, int) or resamples < 1:
        raise ValueError(f"resamples must be a positive integer, got {resamples!r}")
    cand, _ = _finite(candidate, "candidate")
    base, _ = _finite(baseline, "baseline")
    diff = float(np.mean(cand) - np.mean(base))
    rng = np.random.default_rng(seed)
    diffs = _resampled_means(cand, rng, resamples) - _resampled_means(base, rng, resamples)
    tail = (1.0 - confidence) / 2.0
    low, high = (float(q) for q in np.quantile(diffs, [tail, 1.0 - tail]))
    return DiffInterval(diff, min(low, diff), max(high, diff), confidence, cand.size, base.size)


def replicate_regression(
    candidate: Sequence[float],
    baseline: Sequence[float],
    *,
    goal: Goal,
    tolerance: float,
    confidence: float = 0.95,
    resamples: int = 4000,
    seed: int = 0,
) -> ReplicateDecision:
    """Regression iff the candidate group is worse by more than `tolerance` AND significantly."""
    _check_goal(goal)
    _check_amount(tolerance, "tolerance")
    cand, base = summarize(candidate), summarize(baseline)
    interval = bootstrap_diff(
        cand.values, base.values, confidence=confidence, resamples=resamples, seed=seed
    )
    # The interval is of (candidate - baseline); `worse` flips it for a maximised metric.
    drop = worse(goal, interval.diff, 0.0)
    low, high = sorted((worse(goal, interval.low, 0.0), worse(goal, interval.high, 0.0)))
    regression = drop > tolerance + tol(cand.mean, base.mean) and low > 0
    message = _replicate_message(cand, base, drop, low, high, confidence, tolerance, regression)
    return ReplicateDecision(
        regression, drop, low, high, tolerance, goal, interval, cand, base, message
    )


# --- history -------------------------------------------------------------------------------


def noise_band(
    history: Sequence[float], *, k: float = 3.0, outlier_mads: float = OUTLIER_MADS
) -> NoiseBand | None:
    """Mean ± k σ of the history's inliers (runs within `outlier_mads` robust σ of the median);
    None with fewer than 3 finite values (empty included)."""
    _check_amount(k, "k")
    _check_amount(outlier_mads, "outlier_mads")
    values = np.asarray(history, dtype=np.float64).ravel()
    finite = np.sort(values[np.isfinite(values)])  # sorted: the order of runs changes nothing
    if finite.size < MIN_HISTORY:
        return None
    # Robust and efficient: the median absolute deviation (MAD) finds the outliers (a crashed or
    # diverged run), then the mean and standard deviation of the rest estimate the noise. The
    # MAD alone is robust but noisy over 20 runs (37% efficient): its band is often too narrow.
    median = float(np.median(finite))
    mad_sigma = MAD_TO_SIGMA * float(np.median(np.abs(finite - median)))
    inliers = finite[np.abs(finite - median) <= outlier_mads * mad_sigma + tol(median)]
    outliers = int(finite.size - inliers.size)
    center = float(np.mean(inliers))
    sigma = float(np.std(inliers, ddof=1)) if inliers.size > 1 else 0.0
    return NoiseBand(
        center, sigma, k * sigma, k, int(inliers.size), int(values.size - finite.size), outliers
    )


def noise_regression(
    value: float, band: NoiseBand, *, goal: Goal, ceiling: float | None = None
) -> NoiseDecision:
    """Regression iff `value` is worse than the band's center by more than min(band, ceiling)."""
    _check_goal(goal)
    if not math.isfinite(value):
        raise ValueError(f"the candidate value must be a finite number, got {value!r}")
    if ceiling is not None:
        _check_amount(ceiling, "ceiling")
    drop = worse(goal, value, band.center)
    capped = ceiling is not None and ceiling < band.band
    allowed = ceiling if capped and ceiling is not None else band.band
    regression = drop > allowed + tol(band.center)
    message = _noise_message(value, band, allowed, capped, regression)
    return NoiseDecision(regression, value, drop, allowed, capped, band, ceiling, goal, message)


# --- helpers -------------------------------------------------------------------------------


def _finite(values: Sequence[float], what: str) -> tuple[FloatArray, int]:
    """The finite values, sorted, and how many were dropped; ValueError when none is left."""
    array = np.asarray(values, dtype=np.float64).ravel()
    if array.size == 0:
        raise ValueError(f"{what}: no values (a group needs at least one run)")
    finite = np.sort(array[np.isfinite(array)])
    dropped = int(array.size - finite.size)
    if finite.size == 0:
        raise ValueError(f"{what}: no finite values ({dropped} NaN or infinite dropped)")
    return finite, dropped


def _resampled_means(values: FloatArray, rng: np.random.Generator, resamples: int) -> FloatArray:
    index = rng.integers(0, values.size, size=(resamples, values.size))
    means: FloatArray = values[index].mean(axis=1)
    return means


def _check_goal(goal: str) -> None:
    if goal not in ("maximize", "minimize"):
        raise ValueError(f"goal must be 'maximize' or 'minimize', got {goal!r}")


def _check_confidence(confidence: float) -> None:
    if not (isinstance(confidence, int | float) and 0.0 < confidence < 1.0):
        raise ValueError(f"confidence must be between 0 and 1 (exclusive), got {confidence!r}")


def _check_amount(amount: float, what: str) -> None:
    if isinstance(amount, bool) or not isinstance(amount, int | float):
        raise ValueError(f"{what} must be a number, got {amount!r}")
    if not (math.isfinite(amount) and amount >= 0):
        raise ValueError(f"{what} must be zero or a positive finite number, got {amount!r}")


# --- messages ------------------------------------------------------------------------------


def _replicate_message(
    cand: GroupStats,
    base: GroupStats,
    worse: float,
    low: float,
    high: float,
    confidence: float,
    tolerance: float,
    regression: bool,
) -> str:
    """Group summaries, the difference and its interval, then the outcome:

    "mean 0.880 ± 0.005 (n=5) vs 0.900 ± 0.005 (n=5): 0.020 worse, 95% CI [0.014, 0.026]"
    """
    d = _decimals(worse, low, high, cand.std, base.std, tolerance, apart=(worse, tolerance))
    if worse > 0:
        change = f"{_num(worse, d)} worse"
    else:
        change = "no difference" if worse == 0 else f"{_num(-worse, d)} better"
    text = (
        f"mean {_num(cand.mean, d)} ± {_num(cand.std, d)} (n={cand.n}) vs "
        f"{_num(base.mean, d)} ± {_num(base.std, d)} (n={base.n}): {change}, "
        f"{confidence * 100:g}% CI [{_num(low, d)}, {_num(high, d)}]"
    )
    if regression:
        outcome = f"beyond the allowed {_num(tolerance, d)} and significant"
    elif worse > tolerance + tol(cand.mean, base.mean):
        outcome = f"beyond the allowed {_num(tolerance, d)} but not significant (the CI reaches 0)"
    else:
        outcome = f"within the allowed {_num(tolerance, d)}"
    return f"{text}; {outcome}{_dropped(cand.dropped, base.dropped)}"


def _noise_message(
    value: float, band: NoiseBand, allowed: float, capped: bool, regression: bool
) -> str:
    """Like "0.893 is 0.007 below the mean 0.900 of 20 runs; noise band ±0.015 (3 × σ 0.005)"."""
    gap = value - band.center
    d = _decimals(gap, band.band, band.sigma, allowed, apart=(gap, allowed, band.band))
    where = (
        f"equals the mean {_num(band.center, d)}"
        if gap == 0
        else f"is {_num(abs(gap), d)} {'above' if gap > 0 else 'below'} the mean "
        f"{_num(band.center, d)}"
    )
    dropped = f", {band.dropped} non-finite dropped" if band.dropped else ""
    text = (
        f"{_num(value, d)} {where} of {band.n} runs{dropped}; noise band ±{_num(band.band, d)} "
        f"({band.k:g} × σ {_num(band.sigma, d)})"
    )
    if capped:
        text += f", capped at max_regression {_num(allowed, d)}"
    outcome = "beyond" if regression else "within"
    return f"{text}; {outcome} the allowed {_num(allowed, d)}"


def _dropped(candidate: int, baseline: int) -> str:
    parts = [
        f"{count} non-finite value{'s' if count > 1 else ''} dropped from the {group}"
        for count, group in ((candidate, "candidate"), (baseline, "baseline"))
        if count
    ]
    return "; " + ", ".join(parts) if parts else ""


def _decimals(*amounts: float, apart: tuple[float, ...] = ()) -> int | None:
    """Decimals that show the largest spread or difference with two significant digits, and
    more while two different numbers of `apart` (compared in the message) would print alike."""
    scale = max((abs(a) for a in amounts if math.isfinite(a) and a != 0), default=0.0)
    if scale == 0:
        return None
    decimals = min(12, max(0, 1 - math.floor(math.log10(scale))))
    shown = [abs(a) for a in apart if math.isfinite(a)]
    while decimals < 12 and any(
        a != b and f"{a:.{decimals}f}" == f"{b:.{decimals}f}" for a in shown for b in shown
    ):
        decimals += 1
    return decimals


def _num(value: float, decimals: int | None) -> str:
    return f"{value:.4g}" if decimals is None else f"{value:.{decimals}f}"
