"""mlaction.stats against values computed independently of it.

Where the expected numbers come from:
- means and standard deviations: the standard library's `statistics` module (`fmean`, `stdev`);
- medians, MADs and noise bands: worked by hand in the comments next to each case;
- the bootstrap: `slow_bootstrap` below, a pure-Python loop over the same resampling scheme (the
  inputs sorted, one `default_rng(seed).integers(0, n, size=(resamples, n))` draw for the
  candidate, then one for the baseline), exact `statistics.fmean` means and a hand-written
  linear-interpolation quantile, compared with the vectorised numpy code;
- for large groups, the bootstrap interval against normal theory, diff ± z·SE with
  SE = sqrt(s_c²/n_c + s_b²/n_b), and the interval's coverage over many simulated data sets;
- tiny cases whose bootstrap distribution can be enumerated by hand.
Hypothesis then checks the properties: invariance to the order of runs, determinism for a seed,
low <= diff <= high, invariance to shifting both groups, and a decision that flips once (and stays
flipped) as the candidate's mean drops.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlaction.gate.stats import (
    NoiseBand,
    bootstrap_diff,
    noise_band,
    noise_regression,
    replicate_regression,
    summarize,
)

NAN, INF = float("nan"), float("inf")
Z95 = 1.959963984540054  # Φ⁻¹(0.975)


def slow_bootstrap(
    candidate: Sequence[float],
    baseline: Sequence[float],
    confidence: float = 0.95,
    resamples: int = 4000,
    seed: int = 0,
) -> tuple[float, float, float]:
    """(diff, low, high) by a plain loop: the same draws, exact means, a hand-written quantile."""
    cand, base = sorted(candidate), sorted(baseline)
    rng = np.random.default_rng(seed)
    cand_rows = rng.integers(0, len(cand), size=(resamples, len(cand))).tolist()
    base_rows = rng.integers(0, len(base), size=(resamples, len(base))).tolist()
    diffs = sorted(
        statistics.fmean(cand[i] for i in c_row) - statistics.fmean(base[i] for i in b_row)
        for c_row, b_row in zip(cand_rows, base_rows, strict=True)
    )

    def quantile(p: float) -> float:  # numpy's default ("linear", Hyndman & Fan type 7)
        h = (len(diffs) - 1) * p
        lo = math.floor(h)
        hi = min(lo + 1, len(diffs) - 1)
        return diffs[lo] + (h - lo) * (diffs[hi] - diffs[lo])

    tail = (1 - confidence) / 2
    diff = statistics.fmean(cand) - statistics.fmean(base)
    return diff, min(quantile(tail), diff), max(quantile(1 - tail), diff)


# --- summarize -----------------------------------------------------------------------------


def test_summarize_matches_statistics_module() -> None:
    values = [0.91, 0.88, 0.905, 0.893, 0.9]
    stats = summarize(values)
    assert stats.n == 5
    assert stats.mean == pytest.approx(statistics.fmean(values), abs=1e-15)
    assert stats.std == pytest.approx(statistics.stdev(values), abs=1e-15)
    assert (stats.min, stats.max) == (0.88, 0.91)
    assert stats.values == (0.88, 0.893, 0.9, 0.905, 0.91)
    assert stats.dropped == 0


def test_summarize_single_value_has_zero_std() -> None:
    stats = summarize([0.9])
    assert (stats.n, stats.mean, stats.std, stats.min, stats.max) == (1, 0.9, 0.0, 0.9, 0.9)


def test_summarize_drops_and_counts_non_finite() -> None:
    stats = summarize([NAN, 2.0, INF, 1.0, -INF])
    assert (stats.n, stats.dropped, stats.values) == (2, 3, (1.0, 2.0))
    assert stats.mean == 1.5
    assert stats.std == pytest.approx(statistics.stdev([1.0, 2.0]))


@pytest.mark.parametrize(
    ("values", "message"),
    [([], "values: no values"), ([NAN, INF], "values: no finite values (2 NaN or infinite")],
)
def test_summarize_rejects_empty(values: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        summarize(values)


# --- bootstrap_diff ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("candidate", "baseline", "confidence", "resamples", "seed"),
    [
        ([0.88, 0.885, 0.879, 0.883, 0.875], [0.9, 0.905, 0.895, 0.902, 0.897], 0.95, 4000, 0),
        ([3.0, 1.0, 2.0], [2.5, 0.5, 1.5, 4.0], 0.9, 1000, 7),
        ([5.0], [1.0, 3.0, 2.0, 8.0], 0.95, 2000, 3),
        ([1.0, 9.0, 4.0, 4.0, 2.0, 7.0, 1.5, 3.3, 8.8, 0.2, 5.5, 6.1, 2.2], [4.0], 0.8, 3001, 42),
        ([90.1, 89.6], [90.4, 89.9, 90.0], 0.99, 4000, 123),
    ],
)
def test_bootstrap_matches_slow_loop(
    candidate: list[float], baseline: list[float], confidence: float, resamples: int, seed: int
) -> None:
    fast = bootstrap_diff(
        candidate, baseline, confidence=confidence, resamples=resamples, seed=seed
    )
    diff, low, high = slow_bootstrap(candidate, baseline, confidence, resamples, seed)
    assert fast.diff == pytest.approx(diff, abs=1e-12)
    assert fast.low == pytest.approx(low, abs=1e-12)
    assert fast.high == pytest.approx(high, abs=1e-12)
    assert (fast.confidence, fast.n_candidate, fast.n_baseline) == (
        confidence,
        len(candidate),
        len(baseline),
    )


def test_bootstrap_enumerable_case() -> None:
    # Candidate [5] never varies; a resampled mean of [1, 3] is 1, 2 or 3 with probabilities
    # 1/4, 1/2, 1/4, so the differences are 4, 3, 2: the 2.5% and 97.5% quantiles are 2 and 4.
    interval = bootstrap_diff([5.0], [1.0, 3.0])
    assert (interval.diff, interval.low, interval.high) == (3.0, 2.0, 4.0)


def test_bootstrap_single_runs_collapse_to_the_point_difference() -> None:
    interval = bootstrap_diff([0.88], [0.9])
    assert interval.low == interval.diff == interval.high == pytest.approx(-0.02)


def test_bootstrap_identical_values_give_zero_width() -> None:
    interval = bootstrap_diff([0.1] * 3, [0.2] * 4)
    assert interval.low == interval.diff == interval.high
    assert interval.diff == pytest.approx(-0.1)


def test_bootstrap_drops_non_finite() -> None:
    interval = bootstrap_diff([1.0, NAN, 2.0], [INF, 0.0])
    assert (interval.n_candidate, interval.n_baseline, interval.diff) == (2, 1, 1.5)


def test_bootstrap_large_groups_agree_with_normal_theory() -> None:
    rng = np.random.default_rng(20260101)
    candidate, baseline = rng.normal(0.3, 1.0, 400), rng.normal(0.0, 2.0, 500)
    interval = bootstrap_diff(candidate.tolist(), baseline.tolist())
    se = math.sqrt(
        statistics.variance(candidate) / len(candidate)
        + statistics.variance(baseline) / len(baseline)
    )
    assert interval.diff == pytest.approx(statistics.fmean(candidate) - statistics.fmean(baseline))
    assert (interval.high - interval.low) == pytest.approx(2 * Z95 * se, rel=0.05)
    assert (interval.high + interval.low) / 2 == pytest.approx(interval.diff, abs=0.1 * se)


def test_bootstrap_interval_covers_the_true_difference() -> None:
    # 400 simulated experiments, 20 runs per group, true difference 0.5: the percentile
    # bootstrap covers it about 93% of the time at n=20 (it is slightly narrow for small n).
    rng = np.random.default_rng(99)
    covered = 0
    for _ in range(400):
        cand, base = rng.normal(10.5, 1.0, 20).tolist(), rng.normal(10.0, 1.0, 20).tolist()
        interval = bootstrap_diff(cand, base, resamples=1000)
        covered += interval.low <= 0.5 <= interval.high
    assert 0.90 <= covered / 400 <= 0.97


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"candidate": []}, "candidate: no values"),
        ({"baseline": [NAN]}, "baseline: no finite values"),
        ({"confidence": 1.0}, "confidence must be between 0 and 1"),
        ({"confidence": 0.0}, "confidence must be between 0 and 1"),
        ({"resamples": 0}, "resamples must be a positive integer"),
    ],
)
def test_bootstrap_validates(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"candidate": [1.0], "baseline": [2.0], **kwargs}
    with pytest.raises(ValueError, match=re.escape(message)):
        bootstrap_diff(**args)  # type: ignore[arg-type]


# --- replicate_regression ------------------------------------------------------------------

DROP = [0.880, 0.875, 0.885, 0.878, 0.882]  # mean 0.88, sd ≈ 0.0038
MAIN = [0.900, 0.905, 0.895, 0.898, 0.902]  # mean 0.90, sd ≈ 0.0038


def test_replicate_regression_large_and_significant() -> None:
    decision = replicate_regression(DROP, MAIN, goal="maximize", tolerance=0.01)
    assert decision.regression
    assert decision.worse == pytest.approx(statistics.fmean(MAIN) - statistics.fmean(DROP))
    _, low, high = slow_bootstrap(DROP, MAIN)
    assert (decision.low, decision.high) == pytest.approx((-high, -low), abs=1e-12)
    assert decision.beyond_tolerance
    assert decision.significant
    assert decision.candidate.std == pytest.approx(statistics.stdev(DROP))
    assert decision.message.startswith("mean 0.880 ± 0.004 (n=5) vs 0.900 ± 0.004 (n=5): 0.020")
    assert decision.message.endswith("; beyond the allowed 0.010 and significant")


def test_replicate_message_in_full() -> None:
    decision = replicate_regression([0.88] * 5, [0.9] * 5, goal="maximize", tolerance=0.01)
    assert decision.message == (
        "mean 0.880 ± 0.000 (n=5) vs 0.900 ± 0.000 (n=5): 0.020 worse, 95% CI [0.020, 0.020]; "
        "beyond the allowed 0.010 and significant"
    )


def test_replicate_within_tolerance_is_no_regression() -> None:
    decision = replicate_regression(DROP, MAIN, goal="maximize", tolerance=0.03)
    assert not decision.regression
    assert decision.significant
    assert decision.message.endswith("; within the allowed 0.030")


def test_replicate_large_but_not_significant_is_no_regression() -> None:
    # A 0.02 drop of the means, but the runs scatter by ±0.05: the interval reaches 0.
    noisy = [0.80, 0.95, 0.86, 0.93, 0.86]
    decision = replicate_regression(noisy, MAIN, goal="maximize", tolerance=0.01)
    assert decision.worse == pytest.approx(0.02)
    assert decision.beyond_tolerance
    assert not decision.significant
    assert not decision.regression
    assert "but not significant" in decision.message


def test_replicate_minimize_mirrors_maximize() -> None:
    loss_c, loss_b = [1 - v for v in DROP], [1 - v for v in MAIN]
    up = replicate_regression(loss_c, loss_b, goal="minimize", tolerance=0.01)
    down = replicate_regression(DROP, MAIN, goal="maximize", tolerance=0.01)
    assert up.regression
    assert (up.worse, up.low, up.high) == pytest.approx((down.worse, down.low, down.high))


def test_replicate_single_runs_reduce_to_the_plain_rule() -> None:
    assert replicate_regression([0.87], [0.9], goal="maximize", tolerance=0.02).regression
    assert not replicate_regression([0.89], [0.9], goal="maximize", tolerance=0.02).regression


def test_replicate_equal_to_tolerance_is_not_beyond() -> None:
    # 0.9 - 0.88 is 0.020000000000000018 in floats: rounding never fails a gate.
    decision = replicate_regression([0.88] * 3, [0.9] * 3, goal="maximize", tolerance=0.02)
    assert not decision.regression


def test_replicate_improvement_and_dropped_values_are_described() -> None:
    decision = replicate_regression([91.0, NAN, 92.0], [90.0, 90.4], goal="maximize", tolerance=1)
    assert not decision.regression
    assert decision.candidate.dropped == 1
    assert "1.3 better" in decision.message
    assert decision.message.endswith("; 1 non-finite value dropped from the candidate")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"goal": "max"}, "goal must be 'maximize' or 'minimize'"),
        ({"tolerance": -0.1}, "tolerance must be zero or a positive finite number"),
        ({"tolerance": NAN}, "tolerance must be zero or a positive finite number"),
        ({"candidate": []}, "values: no values"),
    ],
)
def test_replicate_validates(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {
        "candidate": [1.0],
        "baseline": [2.0],
        "goal": "maximize",
        "tolerance": 0.1,
        **kwargs,
    }
    with pytest.raises(ValueError, match=re.escape(message)):
        replicate_regression(**args)  # type: ignore[arg-type]


# --- noise_band ----------------------------------------------------------------------------


def test_noise_band_by_hand() -> None:
    # median 3; absolute deviations 2, 1, 0, 1, 97 -> MAD 1, robust σ 1.4826; 97 > 3.5 × 1.4826
    # so 100 is an outlier; the inliers 1, 2, 3, 4 have mean 2.5 and sample sd sqrt(5/3)
    band = noise_band([4.0, 1.0, 100.0, 3.0, 2.0])
    assert band is not None
    assert (band.center, band.n, band.outliers, band.dropped) == (2.5, 4, 1, 0)
    assert band.sigma == pytest.approx(math.sqrt(5 / 3))
    assert band.band == pytest.approx(3 * math.sqrt(5 / 3))


def test_noise_band_window_of_three() -> None:
    # median 0.91; deviations 0.01, 0, 0.02 -> MAD 0.01, robust σ 0.014826: no outlier
    # (0.02 < 3.5 × 0.014826); mean 0.913333, statistics.stdev 0.0152753
    band = noise_band([0.93, 0.90, 0.91], k=2)
    assert band is not None
    assert (band.n, band.outliers) == (3, 0)
    assert band.center == pytest.approx(statistics.mean([0.93, 0.90, 0.91]))
    assert band.sigma == pytest.approx(statistics.stdev([0.93, 0.90, 0.91]))
    assert band.band == pytest.approx(2 * statistics.stdev([0.93, 0.90, 0.91]))


def test_noise_band_drops_nan_in_history() -> None:
    # finite values 1, 2, 3: median 2, MAD 1, no outlier; mean 2, sample sd 1
    band = noise_band([NAN, 1.0, 3.0, INF, 2.0])
    assert band == NoiseBand(center=2.0, sigma=1.0, band=3.0, k=3.0, n=3, dropped=2)


@pytest.mark.parametrize("history", [[], [0.9], [0.9, 0.91], [0.9, NAN, 0.91, INF]])
def test_noise_band_needs_three_finite_values(history: list[float]) -> None:
    assert noise_band(history) is None


def test_identical_history_gives_zero_sigma_and_any_real_drop_fails() -> None:
    band = noise_band([0.9] * 4)
    assert band is not None
    assert (band.center, band.sigma, band.band) == (0.9, 0.0, 0.0)
    assert not noise_regression(0.9, band, goal="maximize").regression
    assert not noise_regression(0.9 - 1e-12, band, goal="maximize").regression
    assert noise_regression(0.9 - 1e-6, band, goal="maximize").regression


def test_noise_band_validates_k() -> None:
    with pytest.raises(ValueError, match="k must be zero or a positive finite number"):
        noise_band([1.0, 2.0, 3.0], k=-1)


# --- noise_regression ----------------------------------------------------------------------

BAND = NoiseBand(center=0.9, sigma=0.005, band=0.015, k=3.0, n=20)


def test_noise_regression_message_in_full() -> None:
    decision = noise_regression(0.893, BAND, goal="maximize")
    assert not decision.regression
    assert decision.worse == pytest.approx(0.007)
    assert (decision.allowed, decision.capped) == (0.015, False)
    assert decision.message == (
        "0.893 is 0.007 below the mean 0.900 of 20 runs; noise band ±0.015 (3 × σ 0.005); "
        "within the allowed 0.015"
    )


def test_noise_regression_beyond_the_band() -> None:
    decision = noise_regression(0.88, BAND, goal="maximize")
    assert decision.regression
    assert decision.message.endswith("; beyond the allowed 0.015")


def test_noise_regression_at_the_band_edge_passes() -> None:
    # 0.9 - 0.885 is 0.015000000000000013 in floats: within the band.
    assert not noise_regression(0.885, BAND, goal="maximize").regression


def test_ceiling_caps_the_band() -> None:
    decision = noise_regression(0.888, BAND, goal="maximize", ceiling=0.01)
    assert (decision.allowed, decision.capped, decision.regression) == (0.01, True, True)
    assert "capped at max_regression 0.010" in decision.message


def test_ceiling_above_the_band_does_not_widen_it() -> None:
    decision = noise_regression(0.88, BAND, goal="maximize", ceiling=0.05)
    assert (decision.allowed, decision.capped, decision.regression) == (0.015, False, True)


def test_noise_regression_minimize() -> None:
    loss = NoiseBand(center=0.3, sigma=0.01, band=0.03, k=3.0, n=10)
    assert noise_regression(0.34, loss, goal="minimize").regression
    assert not noise_regression(0.26, loss, goal="minimize").regression
    assert "0.040 above the mean 0.300" in noise_regression(0.34, loss, goal="minimize").message


def test_noise_regression_improvement_never_fails() -> None:
    assert not noise_regression(0.95, BAND, goal="maximize", ceiling=0.0).regression


@pytest.mark.parametrize(
    ("value", "kwargs", "message"),
    [
        (NAN, {}, "the candidate value must be a finite number"),
        (0.9, {"ceiling": -1.0}, "ceiling must be zero or a positive finite number"),
        (0.9, {"goal": "up"}, "goal must be 'maximize' or 'minimize'"),
    ],
)
def test_noise_regression_validates(value: float, kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"goal": "maximize", **kwargs}
    with pytest.raises(ValueError, match=re.escape(message)):
        noise_regression(value, BAND, **args)  # type: ignore[arg-type]


# --- properties ----------------------------------------------------------------------------

values = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, allow_infinity=False)
groups = st.lists(values, min_size=1, max_size=8)
small = st.lists(st.floats(min_value=0, max_value=10, allow_nan=False), min_size=1, max_size=6)


@settings(deadline=None, max_examples=60)
@given(st.data(), groups, groups, st.integers(0, 2**32 - 1))
def test_order_of_runs_changes_nothing(
    data: st.DataObject, candidate: list[float], baseline: list[float], seed: int
) -> None:
    shuffled_c = data.draw(st.permutations(candidate))
    shuffled_b = data.draw(st.permutations(baseline))
    kwargs = {"resamples": 500, "seed": seed}
    assert bootstrap_diff(candidate, baseline, **kwargs) == bootstrap_diff(
        shuffled_c, shuffled_b, **kwargs
    )
    assert noise_band(candidate) == noise_band(shuffled_c)
    first = replicate_regression(candidate, baseline, goal="maximize", tolerance=1.0, **kwargs)
    again = replicate_regression(shuffled_c, shuffled_b, goal="maximize", tolerance=1.0, **kwargs)
    assert first == again


@settings(deadline=None, max_examples=60)
@given(groups, groups, st.integers(0, 2**32 - 1))
def test_same_seed_same_interval(candidate: list[float], baseline: list[float], seed: int) -> None:
    assert bootstrap_diff(candidate, baseline, resamples=300, seed=seed) == bootstrap_diff(
        candidate, baseline, resamples=300, seed=seed
    )


@settings(deadline=None, max_examples=100)
@given(groups, groups, st.floats(0.5, 0.999), st.integers(0, 1000))
def test_interval_contains_the_difference(
    candidate: list[float], baseline: list[float], confidence: float, seed: int
) -> None:
    interval = bootstrap_diff(candidate, baseline, confidence=confidence, resamples=300, seed=seed)
    assert interval.low <= interval.diff <= interval.high


@settings(deadline=None, max_examples=40)
@given(groups, groups, st.integers(0, 1000))
def test_vectorised_matches_slow_loop(
    candidate: list[float], baseline: list[float], seed: int
) -> None:
    fast = bootstrap_diff(candidate, baseline, resamples=200, seed=seed)
    diff, low, high = slow_bootstrap(candidate, baseline, resamples=200, seed=seed)
    assert (fast.diff, fast.low, fast.high) == pytest.approx((diff, low, high), abs=1e-9)


@settings(deadline=None, max_examples=80)
@given(groups, groups, st.floats(-1e3, 1e3))
def test_shifting_both_groups_keeps_the_interval(
    candidate: list[float], baseline: list[float], shift: float
) -> None:
    before = bootstrap_diff(candidate, baseline, resamples=500)
    after = bootstrap_diff(
        [v + shift for v in candidate], [v + shift for v in baseline], resamples=500
    )
    tol = 1e-9
    assert after.diff == pytest.approx(before.diff, abs=tol)
    assert after.low == pytest.approx(before.low, abs=tol)
    assert after.high == pytest.approx(before.high, abs=tol)


@settings(deadline=None, max_examples=60)
@given(
    small,
    small,
    st.floats(0, 2),
    st.lists(st.integers(0, 1500), min_size=1, max_size=12),
    st.sampled_from(["maximize", "minimize"]),
)
def test_decision_flips_once_as_the_candidate_gets_worse(
    candidate: list[float],
    baseline: list[float],
    tolerance: float,
    steps: list[int],
    goal: str,
) -> None:
    sign = -1 if goal == "maximize" else 1  # the direction in which the candidate gets worse
    decisions = [
        replicate_regression(
            [v + sign * step / 100 for v in candidate],
            baseline,
            goal=goal,  # type: ignore[arg-type]
            tolerance=tolerance,
            resamples=300,
        ).regression
        for step in [*sorted(steps), 10_000]
    ]
    assert decisions == sorted(decisions)  # False ... False True ... True
    assert decisions[-1]  # 100 worse, far beyond any spread here: a regression


@settings(deadline=None, max_examples=60)
@given(st.lists(values, min_size=3, max_size=30), st.floats(0.5, 5))
def test_noise_band_sits_inside_the_history(history: list[float], k: float) -> None:
    band = noise_band(history, k=k)
    assert band is not None
    assert min(history) - 1e-9 <= band.center <= max(history) + 1e-9
    assert band.sigma >= 0
    assert band.band == pytest.approx(k * band.sigma)
