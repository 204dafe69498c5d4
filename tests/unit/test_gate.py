"""Every gate rule, in both directions, with absolute and relative tolerances, NaN and missing."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from mlaction.config import GateConfig, parse_config
from mlaction.gate.results import fmt, fmt_duration
from mlaction.gate.verdict import Verdict, evaluate
from mlaction.report.rows import metric_rows
from mlaction.runs import Run, Selection

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)


def config(metrics: str, extra: str = "") -> GateConfig:
    text = f"tracker: {{experiment: x}}\nmetrics:\n{metrics}\n{extra}"
    return parse_config(text, Path("g.yml"), {}).gate


def run(run_id: str = "cand", **metrics: float) -> Run:
    return Run(
        id=run_id,
        name=run_id,
        start=NOW - timedelta(hours=2),
        end=NOW - timedelta(hours=1),
        metrics=metrics,
    )


def judge(cfg: GateConfig, candidate: Run, baseline: Run | None = None, **kw: object) -> Verdict:
    selection = Selection(candidate, baseline, "best run" if baseline else "none", **kw)  # type: ignore[arg-type]
    return evaluate(cfg, selection, NOW)


def status(verdict: Verdict, name: str) -> str:
    return next(c.status for c in verdict.checks if c.name == name)


@pytest.mark.parametrize(("value", "expected"), [(0.91, "pass"), (0.90, "pass"), (0.8999, "fail")])
def test_min(value: float, expected: str) -> None:
    verdict = judge(config("  acc: {min: 0.90}"), run(acc=value))
    assert status(verdict, "acc.min") == expected
    assert verdict.verdict == expected


@pytest.mark.parametrize(("value", "expected"), [(0.2, "pass"), (0.3, "pass"), (0.31, "fail")])
def test_max(value: float, expected: str) -> None:
    assert status(judge(config("  loss: {max: 0.3}"), run(loss=value)), "loss.max") == expected


@pytest.mark.parametrize(
    ("candidate", "baseline", "expected"),
    [
        (0.93, 0.95, "pass"),  # exactly 0.02 worse (float noise tolerated)
        (0.929, 0.95, "fail"),
        (0.99, 0.95, "pass"),  # improvement
    ],
)
def test_absolute_regression_maximize(candidate: float, baseline: float, expected: str) -> None:
    verdict = judge(
        config("  acc: {max_regression: 0.02}"), run(acc=candidate), run("base", acc=baseline)
    )
    assert status(verdict, "acc.max_regression") == expected


@pytest.mark.parametrize(
    ("candidate", "baseline", "expected"),
    [(0.21, 0.20, "pass"), (0.2101, 0.20, "fail"), (0.10, 0.20, "pass")],
)
def test_relative_regression_minimize(candidate: float, baseline: float, expected: str) -> None:
    verdict = judge(
        config("  loss: {goal: minimize, max_regression: 5%}"),
        run(loss=candidate),
        run("base", loss=baseline),
    )
    check = next(c for c in verdict.checks if c.name == "loss.max_regression")
    assert check.status == expected
    assert check.threshold == pytest.approx(0.01)  # 5% of 0.20
    assert check.baseline_value == pytest.approx(0.20)


def test_regression_direction_matters() -> None:
    # A lower loss is better: dropping from 0.5 to 0.1 is no regression for minimize,
    # and a big one for maximize.
    base = run("base", m=0.5)
    cand = run(m=0.1)
    assert judge(config("  m: {goal: minimize, max_regression: 0}"), cand, base).verdict == "pass"
    assert judge(config("  m: {max_regression: 0}"), cand, base).verdict == "fail"


def test_nan_is_never_a_pass() -> None:
    verdict = judge(
        config("  acc: {min: 0.5, max: 1.0, max_regression: 1}"),
        run(acc=math.nan),
        run("base", acc=0.9),
    )
    assert [c.status for c in verdict.checks] == ["fail", "fail", "fail"]
    assert all("`acc` is NaN in the candidate run `cand`" in c.message for c in verdict.checks)


def test_infinite_metric_fails() -> None:
    verdict = judge(config("  loss: {max: 1.0}"), run(loss=math.inf))
    assert verdict.checks[0].message == "metric `loss` is infinite in the candidate run `cand`"


def test_missing_metric_fails_and_says_which() -> None:
    verdict = judge(config("  acc: {min: 0.5}\n  f1: {}"), run(acc=0.9))
    assert status(verdict, "acc.min") == "pass"
    f1 = next(c for c in verdict.checks if c.name == "f1.present")
    assert (f1.status, f1.message) == (
        "fail",
        "metric `f1` is missing from the candidate run `cand`",
    )
    assert verdict.failed_checks == ["f1.present"]


def test_no_baseline_skips_regression_with_a_note_and_a_warning() -> None:
    verdict = judge(config("  acc: {min: 0.5, max_regression: 0.01}"), run(acc=0.9))
    assert status(verdict, "acc.max_regression") == "skip"
    assert status(verdict, "baseline.on_missing") == "warn"
    assert verdict.verdict == "warn"  # never a plain pass (baseline.on_missing: warn)
    assert verdict.notes == ("Baseline: none.",)


def test_baseline_without_metric_skips() -> None:
    verdict = judge(config("  acc: {max_regression: 0.01}"), run(acc=0.9), run("base", f1=0.2))
    check = verdict.checks[0]
    assert check.status == "skip"
    assert check.message == "cannot compare: `acc` is missing from the baseline run `base`"


def test_nan_baseline_skips() -> None:
    verdict = judge(
        config("  acc: {max_regression: 0.01}"), run(acc=0.9), run("base", acc=math.nan)
    )
    assert verdict.checks[0].status == "skip"
    assert "not a finite number" in verdict.checks[0].message


def test_warn_mode_demotes_failures() -> None:
    verdict = judge(config("  acc: {min: 0.95}", "on_failure: warn"), run(acc=0.9))
    assert verdict.verdict == "warn"
    assert verdict.passed
    assert verdict.checks[0].status == "warn"
    assert verdict.failed_checks == ["acc.min"]
    assert "`on_failure: warn`" in verdict.notes[-1]


def test_run_rules() -> None:
    cfg = config(
        "  acc: {}",
        "run:\n  max_duration: 30m\n  max_age: 2h\n  required_params: [lr, seed]\n"
        "  required_tags: [dataset]\n  required_artifacts: [model]\n",
    )
    candidate = Run(
        id="c",
        start=NOW - timedelta(hours=3),
        end=NOW - timedelta(hours=2, minutes=15),
        metrics={"acc": 1.0},
        params={"lr": "0.1"},
        tags={"dataset": "v1"},
    )
    verdict = judge(cfg, candidate, artifacts=frozenset({"model"}))
    by = {c.name: c for c in verdict.checks}
    assert by["run.max_duration"].status == "fail"
    assert by["run.max_duration"].message == "ran for 45m, limit 30m"
    assert by["run.max_age"].status == "fail"
    assert by["run.max_age"].message == "finished 2h 15m ago, limit 2h"
    assert by["run.required_params"].message == "missing param: `seed`"
    assert by["run.required_tags"].status == "pass"
    assert by["run.required_artifacts"].status == "pass"


def test_failed_candidate_run_fails() -> None:
    candidate = Run(id="c", status="failed", metrics={"acc": 1.0})
    verdict = judge(config("  acc: {}"), candidate)
    assert status(verdict, "run.status") == "fail"


def test_metric_rows_delta_trend_and_new_best() -> None:
    history = tuple(run(f"h{i}", acc=v) for i, v in enumerate([0.93, 0.92, 0.91]))  # newest first
    cfg = config("  acc: {max_regression: 0.05}")
    verdict = judge(
        cfg,
        run(acc=0.94),
        run("base", acc=0.93),
        history=history,
    )
    row = metric_rows(verdict)[0]
    assert row.delta == pytest.approx(0.01)
    assert row.delta_pct == pytest.approx(1.0 / 0.93)
    assert row.trend == (0.91, 0.92, 0.93)
    assert row.new_best is True
    assert row.rules == "Δ ≤ 0.05 (plain: history of 3 runs, noise rule from 10)"


def test_formatting() -> None:
    assert fmt(0.123456) == "0.1235"
    assert fmt(math.nan) == "NaN"
    assert fmt(None) == "—"
    assert fmt_duration(3725) == "1h 2m"
    assert fmt_duration(90000) == "1d 1h"
