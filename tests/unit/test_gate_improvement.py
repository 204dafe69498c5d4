"""`min_improvement` (mlaction/gate/improvement.py) on designed numbers, at its exact boundaries.

Three forms: plain (`gain ≥ I`), the tuned noise rule when the history gives σ (pass iff
`g ≥ max(I, q_fail·se)`, fail iff `g < I − q_pass·se`), and bootstrap replicate groups (pass iff
`g ≥ I` and the interval of the gain lies above 0; fail iff it lies below I). I is absolute or a
percentage of the baseline (MLflow's `min_absolute_change` / `min_relative_change`).
"""

from __future__ import annotations

import math

import pytest
from gate_helpers import (
    BASE_SHA,
    CAND_SHA,
    HISTORY_SIGMA,
    HISTORY_VALUES,
    check,
    group,
    history,
    judge,
    selection,
)

from mlaction.gate.results import CheckResult
from mlaction.gate.stats import bootstrap_diff
from mlaction.gate.verdict import Verdict

NAME = "acc.min_improvement"


def improvement(rule: str, cand: list[float], base: list[float], past: bool = False) -> Verdict:
    sel = selection(
        group("c", CAND_SHA, "acc", cand),
        group("b", BASE_SHA, "acc", base),
        history("acc", HISTORY_VALUES) if past else (),
    )
    return judge(f"  acc: {rule}", sel)


def result(rule: str, cand: list[float], base: list[float], past: bool = False) -> CheckResult:
    return check(improvement(rule, cand, base, past), NAME)


# --- plain: gain ≥ I ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "cand", "status"),
    [
        # absolute: baseline 0.80, I = 0.02 (0.82 − 0.80 is 0.019999999999999907 in floats)
        ("{min_improvement: 0.02}", 0.82, "pass"),
        ("{min_improvement: 0.02}", 0.820001, "pass"),
        ("{min_improvement: 0.02}", 0.819999, "fail"),
        # relative: 5% of 0.80 = 0.04
        ("{min_improvement: 5%}", 0.84, "pass"),
        ("{min_improvement: 5%}", 0.840001, "pass"),
        ("{min_improvement: 5%}", 0.839999, "fail"),
        # minimize: better is lower; 0.78 is 0.02 better than 0.80
        ("{goal: minimize, min_improvement: 0.02}", 0.78, "pass"),
        ("{goal: minimize, min_improvement: 0.02}", 0.780001, "fail"),
        ("{goal: minimize, min_improvement: 0.02}", 0.779999, "pass"),
    ],
)
def test_plain_boundaries(rule: str, cand: float, status: str) -> None:
    found = result(rule, [cand], [0.80])
    assert (found.status, found.violated) == (status, status == "fail")


def test_plain_messages_and_numbers() -> None:
    found = result("{min_improvement: 5%}", [0.82], [0.80])
    assert found.message == (
        "`acc` = 0.82 vs baseline 0.8: 0.02 better, must be at least 0.04 better (5% of 0.8)"
    )
    assert (found.observed, found.threshold, found.baseline_value) == (0.82, 0.04, 0.8)
    assert found.rule == "≥ 5% better than baseline"
    worse = result("{min_improvement: 0.01}", [0.79], [0.80])
    assert worse.message == (
        "`acc` = 0.79 vs baseline 0.8: 0.01 worse, must be at least 0.01 better"
    )
    assert worse.status == "fail"


def test_no_baseline_is_a_visible_skip() -> None:
    sel = selection(group("c", CAND_SHA, "acc", [0.9]))
    found = check(judge("  acc: {min_improvement: 0.01}", sel), NAME)
    assert (found.status, found.message) == ("skip", "no baseline: no baseline")


def test_a_missing_candidate_metric_fails() -> None:
    sel = selection(group("c", CAND_SHA, "loss", [0.1]), group("b", BASE_SHA, "acc", [0.8]))
    found = check(judge("  acc: {min_improvement: 0.01}", sel), NAME)
    assert found.status == "fail"
    assert found.message.startswith("metric `acc` is missing from the candidate run")


# --- with the history's noise: the tuned zones ---------------------------------------------------

# One candidate run against one baseline run: se = σ·√(1/1 + 1/1) = 0.51299·√2 = 0.72548.
SE = HISTORY_SIGMA * math.sqrt(2)
PASS_AT = 2.5394832 * SE  # 1.842346 > I = 1
FAIL_AT = 1.0 - 1.3277282 * SE  # 0.036762


@pytest.mark.parametrize(
    ("gain", "status", "more"),
    [
        (PASS_AT + 1e-4, "pass", 0),
        # inconclusive; more candidate runs cannot shrink se below the one baseline run's σ
        # (pass at 3.5794·0.5130·√(1/m + 1) ≥ 1.836 for m > 1): the most
        (PASS_AT - 1e-4, "fail", 4),
        # inconclusive; with 2 runs the fail zone is below 1 − 1.3277·0.5130·√1.5 = 0.1658: one
        (FAIL_AT + 1e-4, "fail", 1),
        (FAIL_AT - 1e-4, "fail", 0),  # clearly short of I
    ],
)
def test_noise_boundaries(gain: float, status: str, more: int) -> None:
    verdict = improvement("{min_improvement: 1}", [90.0 + gain], [90.0], past=True)
    found = check(verdict, NAME)
    assert (found.status, verdict.more_runs) == (status, more)
    assert found.rule == "gain ≥ 1: pass ≥ 1.842, fail < 0.03676 (noise se 0.7255)"
    assert found.threshold == 1.0


def test_noise_inconclusive_says_how_many_runs() -> None:
    found = result("{min_improvement: 1}", [91.8], [90.0], past=True)
    assert found.message == (
        "`acc` = 91.8 vs baseline 90: 1.8 better, must be at least 1 better; passes at ≥ 1.842 "
        "(beyond noise); inconclusive: train 4 more seeds of this commit"
    )


def test_noise_relative_requirement_is_taken_of_the_baseline() -> None:
    # 2% of 90 = 1.8: below noise (1.842), so the pass zone stays at 1.842
    verdict = improvement("{min_improvement: 2%}", [90.0 + PASS_AT + 1e-4], [90.0], past=True)
    assert check(verdict, NAME).threshold == pytest.approx(1.8)
    assert check(verdict, NAME).status == "pass"


def test_noise_false_keeps_the_plain_rule() -> None:
    found = result("{min_improvement: 1, noise: false}", [91.0], [90.0], past=True)
    assert found.status == "pass"  # gain 1 = I: the plain rule, noise ignored


# --- replicate groups: the bootstrap interval of the gain ----------------------------------------

# Candidate mean 0.920, baseline mean 0.900: gain 0.020, 95% interval about [0.0182, 0.0218].
TIGHT_CAND = [0.920, 0.922, 0.918, 0.921, 0.919]
TIGHT_BASE = [0.900, 0.902, 0.898, 0.901, 0.899]
GROUPS = "{{min_improvement: {need!r}, replicates: {{min: 3}}}}"


def _interval() -> tuple[float, float]:
    found = bootstrap_diff(TIGHT_CAND, TIGHT_BASE, confidence=0.95)
    return found.low, found.high


def test_bootstrap_at_the_gain_passes() -> None:
    found = result(GROUPS.format(need=0.02), TIGHT_CAND, TIGHT_BASE)
    assert found.status == "pass"
    assert found.message.endswith("; 95% CI of the gain [0.0182, 0.0218]")
    assert found.rule == "gain ≥ 0.02, bootstrap 95% CI of the gain [0.0182, 0.0218]"


def test_bootstrap_just_above_the_gain_is_inconclusive() -> None:
    verdict = improvement(GROUPS.format(need=0.020001), TIGHT_CAND, TIGHT_BASE)
    assert (check(verdict, NAME).status, verdict.more_runs) == ("fail", 4)
    assert check(verdict, NAME).message.endswith(
        "; inconclusive: train 4 more seeds of this commit"
    )


def test_bootstrap_fails_only_beyond_the_interval() -> None:
    high = _interval()[1]
    at = improvement(GROUPS.format(need=high), TIGHT_CAND, TIGHT_BASE)
    beyond = improvement(GROUPS.format(need=high + 1e-6), TIGHT_CAND, TIGHT_BASE)
    assert (check(at, NAME).status, at.more_runs) == ("fail", 4)  # inconclusive
    assert (check(beyond, NAME).status, beyond.more_runs) == ("fail", 0)  # clearly short


def test_bootstrap_interval_reaching_zero_is_not_an_improvement() -> None:
    # Scattered groups: means 0.900 and 0.872, a gain of 0.028 whose interval reaches below 0.
    wide_cand, wide_base = [0.90, 0.85, 0.95, 0.88, 0.92], [0.80, 0.95, 0.86, 0.93, 0.82]
    assert bootstrap_diff(wide_cand, wide_base).low < 0
    verdict = improvement(GROUPS.format(need=0.0), wide_cand, wide_base)
    assert (check(verdict, NAME).status, verdict.more_runs) == ("fail", 4)  # inconclusive
    assert check(verdict, NAME).message.endswith("inconclusive: train 4 more seeds of this commit")


def test_bootstrap_relative_requirement_of_the_baseline_mean() -> None:
    # 2% of 0.900 = 0.018 ≤ gain 0.020, interval above 0: pass; 3% = 0.027 above the interval: fail
    assert result(GROUPS.format(need="2%"), TIGHT_CAND, TIGHT_BASE).status == "pass"
    beyond = improvement("{min_improvement: 3%, replicates: {min: 3}}", TIGHT_CAND, TIGHT_BASE)
    assert (check(beyond, NAME).status, beyond.more_runs) == ("fail", 0)
    assert check(beyond, NAME).threshold == pytest.approx(0.027)


def test_too_few_replicates_fall_back_to_the_plain_gain() -> None:
    found = result(GROUPS.format(need=0.02), TIGHT_CAND[:2], TIGHT_BASE[:2])
    # means 0.921 and 0.901: 0.02 better, plain rule, no interval
    assert found.status == "pass"
    assert "CI" not in found.message
