"""The tuned noise rule (mlaction/gate/noise.py) on designed numbers, at its exact boundaries.

Regression, allowance A: fail iff d > max(A, q_fail·se); pass iff d ≤ max(q_pass·se, A − q_pass·se);
inconclusive in between. Improvement, required I: pass iff g ≥ max(I, q_fail·se); fail iff
g < I − q_pass·se. se = σ √(1/m + 1/r); q_pass = t(0.90), q_fail = t(0.99) for one candidate
run and t(0.999) for several, with n − 1 degrees of freedom.
"""

from __future__ import annotations

import math
import statistics

import pytest
from gate_helpers import (
    CAND_SHA,
    HISTORY_SIGMA,
    HISTORY_VALUES,
    check,
    group,
    history,
    judge,
    selection,
)

from mlaction.gate import noise

STEP = 1e-6  # far beyond the rule's float allowance (1e-9 of the numbers), far below a decision

# One-sided upper quantiles of Student's t, as printed in the usual tables (e.g. NIST/SEMATECH
# e-Handbook of Statistical Methods, 1.3.6.7.2 "Critical values of the Student's t distribution").
PUBLISHED = [
    (0.90, 1, 3.078),
    (0.99, 1, 31.821),
    (0.999, 1, 318.309),
    (0.90, 2, 1.886),
    (0.99, 2, 6.965),
    (0.95, 4, 2.132),
    (0.99, 4, 3.747),
    (0.999, 4, 7.173),
    (0.975, 9, 2.262),
    (0.99, 9, 2.821),
    (0.90, 19, 1.328),
    (0.95, 19, 1.729),
    (0.99, 19, 2.539),
    (0.999, 19, 3.579),
    (0.99, 30, 2.457),
    (0.90, 120, 1.289),
    (0.99, 120, 2.358),
    (0.999, 120, 3.160),
]


@pytest.mark.parametrize(("level", "df", "table"), PUBLISHED)
def test_t_quantile_matches_the_published_table(level: float, df: int, table: float) -> None:
    assert noise.t_quantile(level, df) == pytest.approx(table, abs=5e-4)


def test_t_quantile_of_many_degrees_is_the_normal_quantile() -> None:
    assert noise.t_quantile(0.99, 5000) == pytest.approx(2.326, abs=5e-4)
    assert noise.t_quantile(0.5, 7) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize(("level", "df"), [(0.4, 5), (1.0, 5), (0.9, 0)])
def test_t_quantile_refuses_what_it_cannot_compute(level: float, df: int) -> None:
    with pytest.raises(ValueError, match="must be"):
        noise.t_quantile(level, df)


def test_levels_one_run_then_stricter_for_a_confirmation() -> None:
    assert noise.quantiles(20, 1) == pytest.approx((2.5395, 1.3277), abs=1e-4)
    assert noise.quantiles(20, 2) == pytest.approx((3.5794, 1.3277), abs=1e-4)
    assert noise.quantiles(1, 1) == pytest.approx((31.8205, 3.0777), abs=1e-4)  # df ≥ 1


# --- regression zones --------------------------------------------------------------------------

SE_ONE = 0.5 * math.sqrt(1 + 1 / 20)  # σ 0.5, one candidate run, a 20-run history: 0.512348


@pytest.mark.parametrize(
    ("allow", "m", "se", "pass_at", "fail_at"),
    [
        # A = 1: noise decides both ends. pass 1.3277·0.5123 = 0.6803, fail 2.5395·0.5123 = 1.3011
        (1.0, 1, SE_ONE, 0.6803, 1.3011),
        # A = 2 dominates: pass 2 − 0.6803 = 1.3197, fail at A itself
        (2.0, 1, SE_ONE, 1.3197, 2.0),
        # A = 0 (max_regression unset): pure noise zones
        (0.0, 1, SE_ONE, 0.6803, 1.3011),
        # five runs: se = 0.5·√(1/5 + 1/20) = 0.25 exactly; q_fail = t(0.999) = 3.5794:
        # pass max(0.3319, 1 − 0.3319) = 0.6681, fail max(1, 0.8949) = 1
        (1.0, 5, 0.25, 0.6681, 1.0),
    ],
)
def test_regression_boundaries(
    allow: float, m: int, se: float, pass_at: float, fail_at: float
) -> None:
    def outcome(drop: float) -> str:
        return noise.regression(drop, 0.5, 20, m, 20, allow).outcome

    zones = noise.regression(0.0, 0.5, 20, m, 20, allow).thresholds
    assert zones.se == pytest.approx(se, rel=1e-12)
    assert (zones.pass_at, zones.fail_at) == pytest.approx((pass_at, fail_at), abs=1e-4)
    assert outcome(-5.0) == "pass"  # better than the reference
    assert outcome(zones.pass_at) == "pass"
    assert outcome(zones.pass_at + STEP) == "inconclusive"
    assert outcome(zones.fail_at) == "inconclusive"
    assert outcome(zones.fail_at + STEP) == "fail"


def test_deterministic_history_is_never_inconclusive() -> None:
    """σ = 0: se = 0, both zones collapse onto A."""
    zones = noise.regression(0.0, 0.0, 20, 1, 20, 0.5).thresholds
    assert (zones.pass_at, zones.fail_at) == (0.5, 0.5)
    assert noise.regression(0.5, 0.0, 20, 1, 20, 0.5).outcome == "pass"
    assert noise.regression(0.5 + STEP, 0.0, 20, 1, 20, 0.5).outcome == "fail"


# --- more_runs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("drop", "allow", "runs", "more"),
    [
        # decided: nothing asked
        (0.3, 1.0, 1, 0),
        (2.0, 1.0, 1, 0),
        # 1.2 > 1: fail_at is 1.3273 with 2 runs (3.5794 · 0.5·√0.55), 1.1081 with 3: two more
        (1.2, 1.0, 1, 2),
        # 1.5 with A = 2: pass_at 2 − 1.3277·0.3708 = 1.5077 with 2 runs: one more
        (1.5, 2.0, 1, 1),
        # exactly at the allowance: pass_at < A ≤ fail_at for every m, never decided: the most
        (1.0, 1.0, 1, noise.MAX_EXTRA_RUNS),
        # at most MAX_RUNS in all
        (1.0, 1.0, 8, 2),
        (1.0, 1.0, noise.MAX_RUNS, 0),
    ],
)
def test_more_runs(drop: float, allow: float, runs: int, more: int) -> None:
    found = noise.regression(drop, 0.5, 20, runs, 20, allow)
    assert found.more_runs == more
    if more:
        assert found.outcome == "inconclusive"


def test_more_runs_is_the_fewest_that_decide() -> None:
    found = noise.regression(1.2, 0.5, 20, 1, 20, 1.0)
    decided = [noise.regression(1.2, 0.5, 20, 1 + k, 20, 1.0).outcome for k in range(1, 4)]
    assert decided == ["inconclusive", "fail", "fail"]
    assert found.more_runs == 2


# --- improvement zones -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("need", "m", "pass_at", "fail_at"),
    [
        # I = 1 below noise: pass at q_fail·se 1.3011, fail below 1 − 0.6803 = 0.3197
        (1.0, 1, 1.3011, 0.3197),
        # I = 2 above noise: pass at I itself, fail below 2 − 0.6803 = 1.3197
        (2.0, 1, 2.0, 1.3197),
        # I = 0: any gain beyond noise; fail when clearly worse than the baseline
        (0.0, 1, 1.3011, -0.6803),
        # five runs, se 0.25: pass at max(1, 0.8949) = 1, fail below 1 − 0.3319 = 0.6681
        (1.0, 5, 1.0, 0.6681),
    ],
)
def test_improvement_boundaries(need: float, m: int, pass_at: float, fail_at: float) -> None:
    def outcome(gain: float) -> str:
        return noise.improvement(gain, 0.5, 20, m, 20, need).outcome

    zones = noise.improvement(0.0, 0.5, 20, m, 20, need).thresholds
    assert (zones.pass_at, zones.fail_at) == pytest.approx((pass_at, fail_at), abs=1e-4)
    assert outcome(zones.pass_at) == "pass"
    assert outcome(zones.pass_at - STEP) == "inconclusive"
    assert outcome(zones.fail_at) == "inconclusive"
    assert outcome(zones.fail_at - STEP) == "fail"


def test_improvement_more_runs() -> None:
    # g = 1.2, I = 1: below q_fail·se with 1 run (1.3011), at ≥ max(1, 1.3273) no with 2,
    # ≥ max(1, 1.1081) with 3: two more.
    assert noise.improvement(1.2, 0.5, 20, 1, 20, 1.0).more_runs == 2


# --- through the verdict: confirm.on_inconclusive ------------------------------------------------

RULE = "  acc: {max_regression: 1}"  # no `noise:`: the tuned rule by default (20-run history)
SE_DESIGNED = HISTORY_SIGMA * math.sqrt(1 + 1 / 20)  # 0.525657


def _one_run(value: float) -> tuple[str, int, str]:
    sel = selection(group("c", CAND_SHA, "acc", [value]), (), history("acc", HISTORY_VALUES))
    verdict = judge(RULE, sel)
    result = check(verdict, "acc.noise")
    return result.status, verdict.more_runs, verdict.verdict


def test_default_rule_on_the_designed_history() -> None:
    pass_at = 1.3277282 * SE_DESIGNED  # 0.697926
    fail_at = 2.5394832 * SE_DESIGNED  # 1.334889
    assert _one_run(90.0 - pass_at + 1e-4) == ("pass", 0, "pass")
    assert _one_run(90.0 - pass_at - 1e-4) == ("fail", 4, "fail")  # inconclusive: 4 more
    # just inside the fail zone: with 2 runs fail_at = 3.5794·0.5130·√0.55 = 1.3617, with 3
    # runs 1.1371: two more
    assert _one_run(90.0 - fail_at + 1e-4) == ("fail", 2, "fail")
    assert _one_run(90.0 - fail_at - 1e-4) == ("fail", 0, "fail")  # a shown regression


@pytest.mark.parametrize(
    ("setting", "status", "verdict"), [("fail", "fail", "fail"), ("warn", "warn", "warn")]
)
def test_confirm_on_inconclusive(setting: str, status: str, verdict: str) -> None:
    sel = selection(group("c", CAND_SHA, "acc", [89.0]), (), history("acc", HISTORY_VALUES))
    extra = f"confirm: {{on_inconclusive: {setting}}}"
    found = judge(RULE, sel, extra)
    result = check(found, "acc.noise")
    assert (result.status, result.violated, found.verdict) == (status, True, verdict)
    assert found.more_runs == 4
    assert result.message.endswith("; inconclusive: train 4 more seeds of this commit")
    outcome = "the gate fails until it is settled" if setting == "fail" else "reported as a warning"
    assert found.notes[0] == (
        "Inconclusive: `acc.noise`; train 4 more seeds of this commit and run the gate again "
        f"(`confirm.on_inconclusive`: {outcome})."
    )


def test_confirm_warn_does_not_soften_a_shown_regression() -> None:
    sel = selection(group("c", CAND_SHA, "acc", [88.0]), (), history("acc", HISTORY_VALUES))
    found = judge(RULE, sel, "confirm: {on_inconclusive: warn}")
    assert (check(found, "acc.noise").status, found.verdict, found.more_runs) == ("fail", "fail", 0)


def test_the_extra_runs_settle_it() -> None:
    """89.0 alone is inconclusive; with four more seeds at 89.0 their mean's se is
    0.5130·√(1/5 + 1/20) = 0.2565 and the fail zone max(1, 3.5794·0.2565) = 1: still not > 1,
    but the pass zone 1 − 1.3277·0.2565 = 0.659 is not reached either; the seeds at 89.8 pass."""
    past = history("acc", HISTORY_VALUES)
    again = selection(group("c", CAND_SHA, "acc", [89.0, 89.0, 89.0, 89.0, 89.0]), (), past)
    assert check(judge(RULE, again), "acc.noise").status == "fail"
    assert judge(RULE, again).more_runs == 4
    settled = selection(group("c", CAND_SHA, "acc", [89.0, 90.0, 90.0, 90.0, 90.0]), (), past)
    assert check(judge(RULE, settled), "acc.noise").status == "pass"
    assert judge(RULE, settled).more_runs == 0


def test_a_run_four_robust_sigma_out_still_counts() -> None:
    """Ten runs at 89.5, nine at 90.5 and one at 86.5: median 89.5, MAD 0.5 (robust σ 0.7413),
    86.5 is 3/0.7413 = 4.05 robust σ out. The fixed band's 3.5-MAD cut would drop it; the tuned
    rule keeps it (its cut is 5): a genuine run of a clean history keeps σ honest."""
    values = [89.5] * 10 + [90.5] * 9 + [86.5]
    verdict = judge(
        RULE, selection(group("c", CAND_SHA, "acc", [89.9]), (), history("acc", values))
    )
    # all 20 runs: mean 89.8, sample standard deviation 0.9234
    assert (statistics.fmean(values), round(statistics.stdev(values), 4)) == (89.8, 0.9234)
    assert check(verdict, "acc.noise").rule.endswith("(mean 89.8 of 20 runs, σ 0.9234)")
