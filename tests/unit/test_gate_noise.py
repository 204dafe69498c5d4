"""Noise- and replicate-aware gating through `evaluate`, on Selections built by hand.

Precedence (mlaction/robust.py): replicates -> noise band -> plain max_regression, each fallback
announced by a visible note. The expected numbers are worked out next to each case (means and
sample standard deviations with the `statistics` module, bands by hand).
"""

from __future__ import annotations

import math
import re
import statistics
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from gate_helpers import check, selection
from hypothesis import given, settings
from hypothesis import strategies as st

from mlaction.config import GateConfig, parse_config
from mlaction.gate.stats import bootstrap_diff
from mlaction.gate.verdict import Verdict, evaluate
from mlaction.report.rows import metric_rows
from mlaction.runs import Run, Selection

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)
CAND_SHA = "c" * 40
BASE_SHA = "b" * 40
NAN, INF = math.nan, math.inf


def config(metrics: str, extra: str = "") -> GateConfig:
    text = f"tracker: {{experiment: x}}\nmetrics:\n{metrics}\n{extra}"
    return parse_config(text, Path("g.yml"), {}).gate


def run(run_id: str, commit: str | None = None, **metrics: float) -> Run:
    return Run(
        id=run_id,
        name=run_id,
        start=NOW - timedelta(hours=2),
        end=NOW - timedelta(hours=1),
        commit=commit,
        branch="main",
        metrics=metrics,
    )


def group(prefix: str, commit: str, metric: str, values: list[float]) -> tuple[Run, ...]:
    return tuple(run(f"{prefix}{i}", commit, **{metric: v}) for i, v in enumerate(values))


def history(metric: str, values: list[float]) -> tuple[Run, ...]:
    """Runs on main, newest first, each its own commit."""
    return tuple(run(f"h{i}", f"{i:040d}", **{metric: v}) for i, v in enumerate(values))


CI = re.compile(r"95% CI \[(-?[0-9.]+), (-?[0-9.]+)\]")

# Tight groups: candidate mean 0.880, baseline mean 0.900, both sd = sqrt(1e-5 / 4) = 0.00158.
TIGHT_CAND = [0.880, 0.882, 0.878, 0.881, 0.879]
TIGHT_BASE = [0.900, 0.902, 0.898, 0.901, 0.899]
# Scattered groups: means 0.872 and 0.900 (0.028 worse), sds 0.066 and 0.038.
WIDE_CAND = [0.80, 0.95, 0.86, 0.93, 0.82]
WIDE_BASE = [0.90, 0.85, 0.95, 0.88, 0.92]

REPLICATES = "  acc: {max_regression: 0.01, replicates: {min: 3}}"


# --- replicates ------------------------------------------------------------------------------


def test_replicates_true_significant_drop_fails_with_means_n_and_ci() -> None:
    sel = selection(
        group("c", CAND_SHA, "acc", TIGHT_CAND), group("b", BASE_SHA, "acc", TIGHT_BASE)
    )
    verdict = evaluate(config(REPLICATES), sel, NOW)

    result = check(verdict, "acc.max_regression")
    assert result.status == "fail"
    assert verdict.verdict == "fail"
    assert verdict.failed_checks == ["acc.max_regression"]
    assert result.message.startswith(
        "mean 0.880 ± 0.002 (n=5) vs 0.900 ± 0.002 (n=5): 0.020 worse, 95% CI ["
    )
    assert result.message.endswith("; beyond the allowed 0.010 and significant")
    # The printed interval is the bootstrap interval of worse = base - cand (mirrored diff).
    match = CI.search(result.message)
    assert match is not None
    low, high = float(match.group(1)), float(match.group(2))
    interval = bootstrap_diff(TIGHT_CAND, TIGHT_BASE)
    assert low == pytest.approx(-interval.high, abs=5e-4)
    assert high == pytest.approx(-interval.low, abs=5e-4)
    assert 0 < low < 0.020 < high
    # observed / baseline are the group means, the threshold the absolute tolerance.
    assert result.observed == pytest.approx(statistics.fmean(TIGHT_CAND))
    assert result.baseline_value == pytest.approx(statistics.fmean(TIGHT_BASE))
    assert result.threshold == pytest.approx(0.01)
    assert result.rule == "Δ ≤ 0.01, bootstrap 95% CI of the drop [0.0182, 0.0218]"
    assert verdict.notes == ()


def test_replicates_large_but_noisy_drop_is_inconclusive() -> None:
    sel = selection(group("c", CAND_SHA, "acc", WIDE_CAND), group("b", BASE_SHA, "acc", WIDE_BASE))
    verdict = evaluate(config(REPLICATES), sel, NOW)

    result = check(verdict, "acc.max_regression")
    # Beyond the allowance but not significant: the gate does not guess, it asks for runs.
    assert result.status == "fail"
    assert result.violated
    assert verdict.more_runs == 4
    assert result.message.startswith("mean 0.872 ± 0.066 (n=5) vs 0.900 ± 0.038 (n=5): 0.028 worse")
    assert result.message.endswith(
        "beyond the allowed 0.010 but not significant (the CI reaches 0)"
        "; inconclusive: train 4 more seeds of this commit"
    )
    warned = evaluate(config(REPLICATES, "confirm: {on_inconclusive: warn}"), sel, NOW)
    assert check(warned, "acc.max_regression").status == "warn"
    assert warned.verdict == "warn"
    assert warned.more_runs == 4
    match = CI.search(result.message)
    assert match is not None
    assert float(match.group(1)) < 0 < float(match.group(2))
    # The same two single runs (0.80 vs 0.90) fail the plain rule: the replicates decided.
    plain = evaluate(config("  acc: {max_regression: 0.01}"), sel, NOW)
    assert check(plain, "acc.max_regression").status == "fail"


@pytest.mark.parametrize(
    ("cand_values", "need", "detail"),
    [
        ([0.880, 0.882], 3, "2 candidate and 5 baseline"),
        ([0.880, 0.882, NAN], 3, "2 candidate and 5 baseline"),  # NaN is not a replicate
        ([0.880, 0.882, INF, 0.881], 4, "3 candidate and 5 baseline"),
    ],
)
def test_too_few_replicates_notes_and_falls_back_to_single_runs(
    cand_values: list[float], need: int, detail: str
) -> None:
    cfg = config(f"  acc: {{max_regression: 0.01, replicates: {{min: {need}}}}}")
    sel = selection(
        group("c", CAND_SHA, "acc", cand_values), group("b", BASE_SHA, "acc", TIGHT_BASE)
    )
    verdict = evaluate(cfg, sel, NOW)

    assert verdict.notes == (
        f"`acc`: too few replicates for a group comparison ({detail} runs with the metric; "
        f"`replicates.min` is {need}): compared single runs instead.",
    )
    result = check(verdict, "acc.max_regression")
    # The single-run rule: candidate run c0 (0.880) vs baseline run b0 (0.900).
    assert result.message == "`acc` = 0.88 vs baseline 0.9: 0.02 worse (allowed: 0.01)"
    assert result.status == "fail"
    assert result.observed == 0.880
    assert result.baseline_value == 0.900
    assert result.rule == "≤ 0.01 worse than baseline"
    row = metric_rows(verdict)[0]
    assert (row.candidate_text, row.baseline_text) == (None, None)


def test_test_none_compares_means_without_significance() -> None:
    # The scattered groups pass the bootstrap rule (not significant) but fail on means alone.
    cfg = config("  acc: {max_regression: 0.01, replicates: {min: 3}, test: none}")
    sel = selection(group("c", CAND_SHA, "acc", WIDE_CAND), group("b", BASE_SHA, "acc", WIDE_BASE))
    verdict = evaluate(cfg, sel, NOW)

    result = check(verdict, "acc.max_regression")
    assert result.status == "fail"
    assert result.message == "mean 0.872 (n=5) vs 0.9 (n=5): 0.028 worse, allowed 0.01 (no test)"
    assert result.rule == "Δ(means) ≤ 0.01"
    assert "CI" not in result.message
    assert metric_rows(verdict)[0].rules == "Δ(means) ≤ 0.01"

    # Within the tolerance on means: a pass, whatever the spread.
    close = [v - 0.02 for v in WIDE_BASE]  # the baseline shifted down: mean 0.880
    sel = selection(group("c", CAND_SHA, "acc", WIDE_CAND), group("b", BASE_SHA, "acc", close))
    result = check(evaluate(cfg, sel, NOW), "acc.max_regression")
    assert result.status == "pass"
    assert result.message == "mean 0.872 (n=5) vs 0.88 (n=5): 0.008 worse, allowed 0.01 (no test)"


def test_relative_tolerance_is_taken_of_the_baseline_mean() -> None:
    # Baseline group mean 50.0, baseline *run* 51.0: 2% is 1.0 of the mean (1.02 of the run).
    # The candidate group (mean 48.99) is 1.01 worse: a fail with 1.0, a pass with 1.02.
    cfg = config('  acc: {max_regression: "2%", replicates: {min: 3}}')
    base = group("b", BASE_SHA, "acc", [51.0, 49.0, 50.0, 50.0, 50.0])
    cand = group("c", CAND_SHA, "acc", [48.98, 48.99, 49.00, 48.99, 48.99])
    verdict = evaluate(cfg, selection(cand, base), NOW)

    result = check(verdict, "acc.max_regression")
    assert result.threshold == pytest.approx(1.0)
    assert result.baseline_value == pytest.approx(50.0)
    assert result.status == "fail"
    assert "and significant" in result.message
    assert result.rule == "Δ ≤ 1, bootstrap 95% CI of the drop [0.412, 1.61]"

    with_none = config('  acc: {max_regression: "2%", replicates: {min: 3}, test: none}')
    result = check(evaluate(with_none, selection(cand, base), NOW), "acc.max_regression")
    assert result.status == "fail"
    assert result.threshold == pytest.approx(1.0)


def test_replicates_goal_minimize() -> None:
    cfg = config("  loss: {goal: minimize, max_regression: 0.01, replicates: {min: 3}}")
    low = [0.200, 0.202, 0.198, 0.201, 0.199]  # mean 0.200
    high = [0.230, 0.232, 0.228, 0.231, 0.229]  # mean 0.230

    worse = evaluate(
        cfg, selection(group("c", CAND_SHA, "loss", high), group("b", BASE_SHA, "loss", low)), NOW
    )
    result = check(worse, "loss.max_regression")
    assert result.status == "fail"
    assert result.message.startswith("mean 0.230 ± 0.002 (n=5) vs 0.200 ± 0.002 (n=5): 0.030 worse")
    match = CI.search(result.message)
    assert match is not None
    assert 0 < float(match.group(1)) <= 0.030 <= float(match.group(2))

    better = evaluate(
        cfg, selection(group("c", CAND_SHA, "loss", low), group("b", BASE_SHA, "loss", high)), NOW
    )
    result = check(better, "loss.max_regression")
    assert result.status == "pass"
    assert result.message.startswith(
        "mean 0.200 ± 0.002 (n=5) vs 0.230 ± 0.002 (n=5): 0.030 better"
    )
    assert result.message.endswith("within the allowed 0.010")
    assert metric_rows(better)[0].rules == (
        "Δ ≤ 0.01, bootstrap 95% CI of the drop [-0.0318, -0.0282], lower is better"
    )


def test_replicates_without_baseline_note_then_skip() -> None:
    verdict = evaluate(config(REPLICATES), selection(group("c", CAND_SHA, "acc", TIGHT_CAND)), NOW)
    assert "`acc`: no baseline, so no replicate comparison." in verdict.notes
    result = check(verdict, "acc.max_regression")
    assert result.status == "skip"
    assert result.message == "no baseline: no baseline"


# --- noise band ------------------------------------------------------------------------------

# 10 runs at 89.5 and 10 at 90.5: mean 90, sd = sqrt(20 * 0.25 / 19) = 0.51299, band 3 sd = 1.539.
# The MAD is 0.5 (robust sd 0.741), so no run is an outlier.
BAND_VALUES = [89.5, 90.5] * 10
BAND_SIGMA = statistics.stdev(BAND_VALUES)
NOISE = "  acc: {noise: {window: 20, k: 3}}"


def noise_selection(value: float, past: list[float], baseline: float | None = 90.5) -> Selection:
    cand = (run("cand", CAND_SHA, acc=value),)
    base = (run("base", BASE_SHA, acc=baseline),) if baseline is not None else ()
    return selection(cand, base, history("acc", past))


def test_noise_wobble_within_the_band_passes() -> None:
    verdict = evaluate(config(NOISE), noise_selection(89.7, BAND_VALUES), NOW)

    result = check(verdict, "acc.noise")
    assert result.status == "pass"
    assert result.message == (
        "89.7 is 0.3 below the mean 90.0 of 20 runs; noise band ±1.5 (3 × σ 0.5); "
        "within the allowed 1.5"
    )
    assert result.threshold == pytest.approx(3 * BAND_SIGMA)
    assert result.baseline_value == pytest.approx(90.0)
    assert result.observed == 89.7
    assert result.rule == "noise band ±1.539 (3σ, 20 runs)"
    assert verdict.verdict == "pass"
    assert [c.name for c in verdict.checks] == ["acc.noise"]


def test_noise_drop_beyond_k_sigma_fails() -> None:
    verdict = evaluate(config(NOISE), noise_selection(88.0, BAND_VALUES), NOW)
    result = check(verdict, "acc.noise")
    assert result.status == "fail"
    assert result.violated
    assert verdict.failed_checks == ["acc.noise"]
    assert result.message == (
        "88.0 is 2.0 below the mean 90.0 of 20 runs; noise band ±1.5 (3 × σ 0.5); "
        "beyond the allowed 1.5"
    )


def test_noise_minimize_measures_worse_upwards() -> None:
    cfg = config("  acc: {goal: minimize, noise: {window: 20, k: 3}}")
    assert check(evaluate(cfg, noise_selection(88.0, BAND_VALUES), NOW), "acc.noise").status == (
        "pass"
    )
    result = check(evaluate(cfg, noise_selection(92.0, BAND_VALUES), NOW), "acc.noise")
    assert result.status == "fail"
    assert result.message.startswith("92.0 is 2.0 above the mean 90.0")


def test_max_regression_caps_the_band() -> None:
    cfg = config("  acc: {max_regression: 1, noise: {window: 20, k: 3}}")
    # 1.2 below the mean: inside the 1.539 band, beyond the 1.0 ceiling.
    result = check(evaluate(cfg, noise_selection(88.8, BAND_VALUES), NOW), "acc.noise")
    assert result.status == "fail"
    assert result.threshold == 1.0
    assert result.message == (
        "88.8 is 1.2 below the mean 90.0 of 20 runs; noise band ±1.5 (3 × σ 0.5), "
        "capped at max_regression 1.0; beyond the allowed 1.0"
    )
    assert result.rule == "noise band ±1.539 (3σ, 20 runs), capped at 1"
    passing = check(evaluate(cfg, noise_selection(89.2, BAND_VALUES), NOW), "acc.noise")
    assert (passing.status, passing.threshold) == ("pass", 1.0)

    # A ceiling wider than the band changes nothing: the band decides.
    wide = config("  acc: {max_regression: 5, noise: {window: 20, k: 3}}")
    result = check(evaluate(wide, noise_selection(88.0, BAND_VALUES), NOW), "acc.noise")
    assert result.status == "fail"
    assert result.threshold == pytest.approx(3 * BAND_SIGMA)
    assert "capped" not in result.message


def test_relative_ceiling_is_taken_of_the_band_center() -> None:
    cfg = config('  acc: {max_regression: "1%", noise: {window: 20, k: 3}}')
    result = check(evaluate(cfg, noise_selection(89.0, BAND_VALUES), NOW), "acc.noise")
    assert result.threshold == pytest.approx(0.9)  # 1% of 90.0 (not of the 90.5 baseline run)
    assert result.status == "fail"


@pytest.mark.parametrize("past", [[], [90.0], [90.0, 90.2], [90.0, NAN, 90.2, INF]])
def test_short_history_notes_and_falls_back_to_max_regression(past: list[float]) -> None:
    cfg = config("  acc: {max_regression: 1, noise: {window: 20, k: 3}}")
    finite = sum(1 for v in past if math.isfinite(v))
    verdict = evaluate(cfg, noise_selection(89.0, past, baseline=90.5), NOW)

    assert verdict.notes == (
        f"`acc`: too few runs in the history ({finite} with the metric, 3 needed) to estimate "
        "its noise: compared with the baseline run instead.",
    )
    assert [c.name for c in verdict.checks] == ["acc.max_regression"]
    result = check(verdict, "acc.max_regression")
    assert result.message == "`acc` = 89 vs baseline 90.5: 1.5 worse (allowed: 1)"
    assert result.status == "fail"
    assert result.baseline_value == 90.5
    assert metric_rows(verdict)[0].baseline_text is None


def test_short_history_without_max_regression_skips_with_the_note() -> None:
    verdict = evaluate(config(NOISE), noise_selection(89.0, [90.0, 90.2]), NOW)
    result = check(verdict, "acc.noise")
    assert result.status == "skip"
    assert result.message == (
        "`acc`: too few runs in the history (2 with the metric, 3 needed) to estimate its noise: "
        "compared with the baseline run instead."
    )
    assert verdict.verdict == "pass"


def test_non_finite_history_values_are_ignored() -> None:
    clean = evaluate(config(NOISE), noise_selection(89.7, BAND_VALUES), NOW)
    dirty_values = [*BAND_VALUES[:7], NAN, *BAND_VALUES[7:15], INF, -INF, *BAND_VALUES[15:]]
    dirty_runs = (
        *history("acc", dirty_values),
        run("no-metric", "f" * 40, loss=0.1),  # a run without the metric at all
    )
    cfg = config("  acc: {noise: {window: 30, k: 3}}")
    sel = selection(
        (run("cand", CAND_SHA, acc=89.7),), (run("base", BASE_SHA, acc=90.5),), dirty_runs
    )
    dirty = evaluate(cfg, sel, NOW)

    a, b = check(clean, "acc.noise"), check(dirty, "acc.noise")
    assert b.message == a.message  # "... of 20 runs ...": the 4 unusable runs are not counted
    assert (b.status, b.threshold, b.baseline_value) == (a.status, a.threshold, a.baseline_value)
    assert dirty.verdict == "pass"


def test_identical_history_gives_zero_sigma() -> None:
    same = [90.0] * 5
    result = check(evaluate(config(NOISE), noise_selection(89.999, same), NOW), "acc.noise")
    assert result.status == "fail"
    assert result.threshold == 0.0
    assert result.message == (
        "89.9990 is 0.0010 below the mean 90.0000 of 5 runs; noise band ±0.0000 "
        "(3 × σ 0.0000); beyond the allowed 0.0000"
    )
    equal = check(evaluate(config(NOISE), noise_selection(90.0, same), NOW), "acc.noise")
    assert equal.status == "pass"
    assert (
        equal.message
        == "90 equals the mean 90 of 5 runs; noise band ±0 (3 × σ 0); within the allowed 0"
    )
    # Float rounding alone never fails the gate.
    rounding = check(evaluate(config(NOISE), noise_selection(90.0 - 1e-12, same), NOW), "acc.noise")
    assert rounding.status == "pass"


def test_precedence_replicates_then_noise_then_plain() -> None:
    cfg = config("  acc: {max_regression: 1, replicates: {min: 3}, noise: {window: 20, k: 3}}")
    past = history("acc", BAND_VALUES)
    cand5 = group("c", CAND_SHA, "acc", [88.8, 88.9, 88.7, 88.8, 88.8])
    base5 = group("b", BASE_SHA, "acc", [90.0, 90.1, 89.9, 90.0, 90.0])

    # 1. Enough replicates: the group comparison, no note.
    v1 = evaluate(cfg, selection(cand5, base5, past), NOW)
    assert [c.name for c in v1.checks] == ["acc.max_regression"]
    assert v1.checks[0].message.startswith("mean 88.8 ± 0.1 (n=5) vs 90.0 ± 0.1 (n=5): 1.2 worse")
    assert v1.notes == ()

    # 2. Too few replicates: a note, then the noise band.
    v2 = evaluate(cfg, selection(cand5[:1], base5, past), NOW)
    assert [c.name for c in v2.checks] == ["acc.noise"]
    assert v2.notes[0].startswith("`acc`: too few replicates for a group comparison (1 candidate")
    assert len(v2.notes) == 1

    # 3. Neither: both notes, then the plain rule against the baseline run.
    v3 = evaluate(cfg, selection(cand5[:1], base5, past[:2]), NOW)
    assert [c.name for c in v3.checks] == ["acc.max_regression"]
    assert v3.checks[0].message == "`acc` = 88.8 vs baseline 90: 1.2 worse (allowed: 1)"
    assert [n.split(":")[0] for n in v3.notes] == ["`acc`", "`acc`"]
    assert "too few replicates" in v3.notes[0]
    assert "too few runs in the history" in v3.notes[1]


# --- report rows -----------------------------------------------------------------------------


def test_row_texts_for_replicates() -> None:
    sel = selection(
        group("c", CAND_SHA, "acc", TIGHT_CAND), group("b", BASE_SHA, "acc", TIGHT_BASE)
    )
    row = metric_rows(evaluate(config(REPLICATES), sel, NOW))[0]
    sd = statistics.stdev(TIGHT_CAND)  # 0.0015811...: two significant digits, 4 decimals
    assert row.candidate_text == f"0.8800 ± {sd:.4f} (n=5)"
    assert row.candidate_text == "0.8800 ± 0.0016 (n=5)"
    assert row.baseline_text == "0.9000 ± 0.0016 (n=5)"
    assert row.rules == "Δ ≤ 0.01, bootstrap 95% CI of the drop [0.0182, 0.0218]"
    assert row.status == "fail"
    # The numeric columns are the numbers compared: the group means.
    assert (row.candidate, row.baseline) == pytest.approx((0.880, 0.900))


def test_row_texts_for_the_noise_band() -> None:
    row = metric_rows(evaluate(config(NOISE), noise_selection(89.7, BAND_VALUES), NOW))[0]
    assert row.candidate_text is None
    assert row.baseline_text == "90.0 ± 1.5 (n=20)"  # the band's center ± its width
    assert row.rules == "noise band ±1.539 (3σ, 20 runs)"
    assert row.status == "pass"


def test_delta_matches_the_group_means_shown() -> None:
    # val_loss-like groups: the first runs are equal (Δ 0 between single runs), the means are not.
    cand = group("c", CAND_SHA, "acc", [0.30, 0.31, 0.30, 0.31, 0.305])  # mean 0.305
    base = group("b", BASE_SHA, "acc", [0.30, 0.29, 0.31, 0.30, 0.30])  # mean 0.300
    row = metric_rows(evaluate(config(REPLICATES), selection(cand, base), NOW))[0]
    assert (row.candidate_text, row.baseline_text) == (
        "0.3050 ± 0.0050 (n=5)",
        "0.3000 ± 0.0071 (n=5)",
    )
    assert row.delta == pytest.approx(0.005)


def test_delta_matches_the_band_center_shown() -> None:
    row = metric_rows(
        evaluate(config(NOISE), noise_selection(89.7, BAND_VALUES, baseline=90.5), NOW)
    )[0]
    assert row.baseline_text == "90.0 ± 1.5 (n=20)"
    assert row.delta == pytest.approx(-0.3)  # from the 90.0 shown, not from the 90.5 run


@pytest.mark.parametrize(
    ("goal", "value", "rank"),
    [
        ("maximize", 89.7, 11),  # below the ten 90.5 runs, above the ten 89.5
        ("maximize", 91.0, 1),
        ("maximize", 89.0, 21),
        ("minimize", 89.7, 11),
        ("minimize", 89.0, 1),
        ("minimize", 90.5, 11),  # ties are not "better": ten at 89.5 beat it
    ],
)
def test_rank_among_the_history(goal: str, value: float, rank: int) -> None:
    cfg = config(f"  acc: {{goal: {goal}, noise: {{window: 20, k: 3}}}}")
    row = metric_rows(evaluate(cfg, noise_selection(value, BAND_VALUES), NOW))[0]
    assert row.rank == rank
    assert row.new_best is (rank == 1)


def test_trend_uses_comment_history_while_band_uses_the_window() -> None:
    # 20 runs, newest first: the newest 5 are distinct so their order shows in the trend.
    newest = [90.4, 90.3, 90.2, 90.1, 90.0]
    past = newest + BAND_VALUES[:15]
    cfg = config(NOISE, "comment: {history: 5}")
    assert cfg.history_limit == 20
    verdict = evaluate(cfg, noise_selection(90.25, past), NOW)

    row = metric_rows(verdict)[0]
    assert row.trend == (90.0, 90.1, 90.2, 90.3, 90.4)  # the 5 newest, oldest first
    assert row.rank == 3  # among the 5 trend runs only: 90.4 and 90.3 are better
    result = check(verdict, "acc.noise")
    assert " of 20 runs;" in result.message
    center = statistics.fmean(past)
    assert result.baseline_value == pytest.approx(center)
    assert result.threshold == pytest.approx(3 * statistics.stdev(past))
    assert row.baseline_text is not None
    assert "(3σ, 20 runs)" in row.rules


# --- determinism -----------------------------------------------------------------------------

finite = st.floats(min_value=80.0, max_value=100.0, allow_nan=False, allow_infinity=False)
maybe_bad = st.one_of(finite, finite, finite, st.sampled_from([NAN, INF]))


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[GateConfig, Selection, Selection]:
    """A config, a selection, and the same selection with every group and the history shuffled."""
    goal = draw(st.sampled_from(["maximize", "minimize"]))
    test = draw(st.sampled_from(["bootstrap", "none"]))
    need = draw(st.integers(2, 4))
    window = draw(st.integers(3, 12))
    tolerance = draw(st.sampled_from(["0", "0.5", "1", '"1%"']))
    robust = draw(
        st.sampled_from(
            [
                f"replicates: {{min: {need}}}, test: {test}",
                f"noise: {{window: {window}, k: 2}}",
                f"replicates: {{min: {need}}}, test: {test}, noise: {{window: {window}, k: 3}}",
            ]
        )
    )
    cfg = config(
        f"  acc: {{goal: {goal}, max_regression: {tolerance}, {robust}}}",
        f"comment: {{history: {window}}}",
    )
    cand_values = draw(st.lists(maybe_bad, min_size=1, max_size=7))
    cand_values[0] = draw(finite)  # the candidate run itself has the metric
    base_values = draw(st.lists(maybe_bad, min_size=1, max_size=7))
    past_values = draw(st.lists(maybe_bad, min_size=0, max_size=window))  # all in the window
    cand = group("c", CAND_SHA, "acc", cand_values)
    base = group("b", BASE_SHA, "acc", base_values)
    past = history("acc", past_values)
    original = Selection(cand[0], base[0], "base", past, candidate_group=cand, baseline_group=base)
    shuffled = Selection(
        cand[0],
        base[0],
        "base",
        tuple(draw(st.permutations(past))),
        candidate_group=tuple(draw(st.permutations(cand))),
        baseline_group=tuple(draw(st.permutations(base))),
    )
    return cfg, original, shuffled


def outcome(verdict: Verdict) -> tuple[object, ...]:
    """Everything the gate decided and printed (repr: NaN compares equal to NaN)."""
    return (
        verdict.verdict,
        repr(
            [
                (c.name, c.status, c.message, c.threshold, c.observed, c.baseline_value, c.rule)
                for c in verdict.checks
            ]
        ),
        verdict.notes,
        repr(
            [
                (m.status, m.rules, m.rank, m.candidate_text, m.baseline_text)
                for m in metric_rows(verdict)
            ]
        ),
    )


@settings(max_examples=80, deadline=None)
@given(scenarios())
def test_verdict_ignores_the_order_runs_arrive_in(
    case: tuple[GateConfig, Selection, Selection],
) -> None:
    cfg, original, shuffled = case
    first = evaluate(cfg, original, NOW)
    assert outcome(evaluate(cfg, original, NOW)) == outcome(first)  # two evaluations agree
    assert outcome(evaluate(cfg, shuffled, NOW)) == outcome(first)  # so does any order
    assert first.checks  # there is always a verdict on the metric
