"""mlaction.gate.baseline_rule: no baseline found is visible in the verdict (`on_missing`)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from mlaction.config import parse_config
from mlaction.config.schema import GateConfig
from mlaction.gate.verdict import Verdict, evaluate
from mlaction.runs import Run, Selection

NOW = datetime(2024, 5, 1, 12, tzinfo=timezone.utc)
REASON = "no finished run on branch `master`; finished runs exist on `main` (3)"


def gate(metrics: str, baseline: str = "") -> GateConfig:
    text = f"tracker: {{experiment: x}}\nmetrics:\n{metrics}\n{baseline}"
    return parse_config(text, Path("g.yml"), {}).gate


def judge(config: GateConfig, baseline: Run | None = None) -> Verdict:
    candidate = Run("cand", start=NOW - timedelta(hours=1), metrics={"acc": 0.9})
    return evaluate(config, Selection(candidate, baseline, REASON), NOW)


@pytest.mark.parametrize(("on_missing", "verdict"), [("warn", "warn"), ("fail", "fail")])
def test_a_missing_baseline_warns_or_fails(on_missing: str, verdict: str) -> None:
    config = gate("  acc: {max_regression: 0.01}", f"baseline: {{on_missing: {on_missing}}}")

    judged = judge(config)

    check = next(c for c in judged.checks if c.name == "baseline.on_missing")
    assert judged.verdict == verdict
    assert check.message == (
        f"`acc` not compared, no baseline: {REASON} (`baseline.on_missing: {on_missing}`)"
    )
    assert judged.failed_checks == (["baseline.on_missing"] if on_missing == "fail" else [])


def test_warn_is_the_default() -> None:
    assert judge(gate("  acc: {max_regression: 0.01}")).verdict == "warn"


def test_on_missing_pass_keeps_the_plain_pass_explicitly() -> None:
    judged = judge(gate("  acc: {max_regression: 0.01}", "baseline: {on_missing: pass}"))
    assert judged.verdict == "pass"
    assert "baseline.on_missing" not in [c.name for c in judged.checks]
    assert judged.notes == (f"Baseline: {REASON}.",)  # still said, as a note


def test_select_none_is_an_explicit_quiet_choice() -> None:
    judged = judge(gate("  acc: {max_regression: 0.01}", "baseline: {select: none}"))
    assert judged.verdict == "pass"


def test_nothing_to_compare_needs_no_baseline() -> None:
    """Bounds only: a baseline would change nothing, so its absence is no warning."""
    assert judge(gate("  acc: {min: 0.5}")).verdict == "pass"


def test_min_improvement_needs_a_baseline_too() -> None:
    judged = judge(gate("  acc: {min_improvement: 0.01}"))
    assert judged.verdict == "warn"


def test_a_found_baseline_raises_nothing() -> None:
    baseline = Run("base", metrics={"acc": 0.9})
    judged = judge(gate("  acc: {max_regression: 0.01}", "baseline: {on_missing: fail}"), baseline)
    assert judged.verdict == "pass"


def test_a_typo_in_on_missing_is_a_config_error() -> None:
    from mlaction.errors import ConfigError

    with pytest.raises(ConfigError):
        gate("  acc: {max_regression: 0.01}", "baseline: {on_missing: ignore}")
