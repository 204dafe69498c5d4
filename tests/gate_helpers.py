"""Shared by the gate rule unit tests: configs, runs and selections built by hand."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path

from mlaction.config import GateConfig, parse_config
from mlaction.gate.results import CheckResult
from mlaction.gate.verdict import Verdict, evaluate
from mlaction.runs import DatasetInput, Run, Selection

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)
CAND_SHA = "c" * 40
BASE_SHA = "b" * 40

# A designed history: ten runs at 89.5 and ten at 90.5. Mean 90, sample standard deviation
# sqrt(20 · 0.25 / 19) = 0.51299; median 90, MAD 0.5 (robust σ 0.741): no outlier.
HISTORY_VALUES = [89.5, 90.5] * 10
HISTORY_SIGMA = math.sqrt(20 * 0.25 / 19)


def config(metrics: str, extra: str = "") -> GateConfig:
    text = f"tracker: {{experiment: x}}\nmetrics:\n{metrics}\n{extra}"
    return parse_config(text, Path("g.yml"), {}).gate


def run(
    run_id: str,
    commit: str | None = None,
    *,
    params: Mapping[str, str] | None = None,
    tags: Mapping[str, str] | None = None,
    inputs: tuple[DatasetInput, ...] | None = None,
    values: Mapping[str, float] | None = None,
    **metrics: float,
) -> Run:
    return Run(
        id=run_id,
        name=run_id,
        start=NOW - timedelta(hours=2),
        end=NOW - timedelta(hours=1),
        commit=commit,
        branch="main",
        metrics={**(values or {}), **metrics},
        params=params or {},
        tags=tags or {},
        inputs=inputs,
    )


def group(prefix: str, commit: str, metric: str, values: list[float]) -> tuple[Run, ...]:
    return tuple(run(f"{prefix}{i}", commit, values={metric: v}) for i, v in enumerate(values))


def history(metric: str, values: list[float]) -> tuple[Run, ...]:
    """Runs on main, newest first, each its own commit."""
    return tuple(run(f"h{i}", f"{i:040d}", values={metric: v}) for i, v in enumerate(values))


def selection(
    cand: tuple[Run, ...], base: tuple[Run, ...] = (), past: tuple[Run, ...] = ()
) -> Selection:
    """The candidate is the first run of its group, the baseline the first of its group."""
    baseline = base[0] if base else None
    return Selection(
        cand[0],
        baseline,
        "run of the base commit" if baseline else "no baseline",
        past,
        candidate_group=cand,
        baseline_group=base,
    )


def check(verdict: Verdict, name: str) -> CheckResult:
    found = [c for c in verdict.checks if c.name == name]
    assert len(found) == 1, [c.name for c in verdict.checks]
    return found[0]


def judge(metrics: str, sel: Selection, extra: str = "") -> Verdict:
    return evaluate(config(metrics, extra), sel, NOW)
