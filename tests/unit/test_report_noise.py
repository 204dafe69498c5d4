"""The rendered comment for replicate groups and noise bands, whole, against golden files.

Regenerate with `pytest tests/unit/test_report_noise.py --regen-golden` and review the Markdown.
"""

from __future__ import annotations

import re
import statistics
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from golden_helpers import check_golden

from mlaction.config import parse_config
from mlaction.gate.verdict import evaluate
from mlaction.report.markdown import render_markdown
from mlaction.report.model import Report, build_report
from mlaction.runs import Run, Selection

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)
CAND_SHA = "c" * 40
BASE_SHA = "b" * 40
MARKER = "<!-- ml-gate:.github/ml-gate.yml -->"
META = {
    "title": "cifar",
    "config": ".github/ml-gate.yml",
    "comment_id": ".github/ml-gate.yml",
    "run_url": None,
    "history_branch": "main",
}

REPLICATES = """
tracker: {experiment: cifar}
baseline: {select: base_commit, branch: main}
metrics:
  accuracy: {max_regression: 1, replicates: {min: 3}}
  val_loss: {goal: minimize, max_regression: 5%, replicates: {min: 3}}
comment: {history: 0}
"""

NOISE = """
tracker: {experiment: cifar}
baseline: {select: latest, branch: main}
metrics:
  accuracy: {max_regression: 1, noise: {window: 20, k: 3}}
  f1: {noise: {window: 20, k: 3}}
"""


def make_run(run_id: str, commit: str, branch: str = "main", **metrics: float) -> Run:
    return Run(
        id=run_id,
        name=f"run-{run_id}",
        url=f"http://mlflow:5000/#/experiments/1/runs/{run_id}",
        start=NOW - timedelta(hours=2),
        end=NOW - timedelta(hours=1),
        commit=commit,
        branch=branch,
        metrics=metrics,
    )


def report_for(config: str, selection: Selection) -> dict[str, Any]:
    gate = parse_config(config, Path(".github/ml-gate.yml"), {}).gate
    return build_report(evaluate(gate, selection, NOW), meta=META).to_json()


def replicate_selection() -> Selection:
    # accuracy (%): candidate mean 88.0, baseline mean 90.0, sd 0.5 each: 2 points worse.
    # val_loss: candidate mean 0.305 vs 0.300 (5% of 0.300 is 0.015 allowed): within.
    cand = tuple(
        make_run(f"c{i}", CAND_SHA, "feature", accuracy=a, val_loss=v)
        for i, (a, v) in enumerate(
            zip([88.0, 88.5, 87.5, 88.6, 87.4], [0.30, 0.31, 0.30, 0.31, 0.305], strict=True)
        )
    )
    base = tuple(
        make_run(f"b{i}", BASE_SHA, accuracy=a, val_loss=v)
        for i, (a, v) in enumerate(
            zip([90.0, 90.5, 89.5, 90.6, 89.4], [0.30, 0.29, 0.31, 0.30, 0.30], strict=True)
        )
    )
    return Selection(
        cand[0],
        base[0],
        f"run of the base commit {BASE_SHA[:12]}",
        candidate_group=cand,
        baseline_group=base,
    )


# 20 runs on main, newest first: accuracy around 90 (sd 0.34), f1 around 0.88 (sd 0.003).
ACCURACY = [90.2, 89.6, 90.4, 89.9, 90.1, 89.5, 90.6, 90.0, 89.8, 90.3] * 2
F1 = [0.880, 0.875, 0.885, 0.882, 0.878, 0.876, 0.884, 0.880, 0.879, 0.881] * 2


def noise_selection() -> Selection:
    past = tuple(
        make_run(f"h{i:02d}", f"{i:040d}", accuracy=a, f1=f)
        for i, (a, f) in enumerate(zip(ACCURACY, F1, strict=True))
    )
    # A 0.3-point wobble on accuracy (within noise); f1 drops far out of its band.
    cand = make_run("cand", CAND_SHA, "feature", accuracy=89.74, f1=0.850)
    return Selection(
        cand,
        past[0],
        "latest finished run on branch `main`",
        past,
        candidate_group=(cand,),
    )


def test_golden_replicates(regen_golden: bool) -> None:
    report = report_for(REPLICATES, replicate_selection())
    assert report["verdict"] == "fail"
    assert report["failed_checks"] == ["accuracy.max_regression"]
    markdown = render_markdown(Report.from_json(report), marker=MARKER)
    check_golden("replicates.md", markdown, regen_golden)

    # The table shows the groups: mean ± sd (n) on both sides.
    row = next(line for line in markdown.splitlines() if line.startswith("| ❌ | accuracy |"))
    sd = statistics.stdev([88.0, 88.5, 87.5, 88.6, 87.4])  # 0.5523, the same for the baseline
    assert f"| 88.00 ± {sd:.2f} (n=5) | 90.00 ± {sd:.2f} (n=5) |" in row
    assert "Δ ≤ 1, bootstrap 95%" in row
    # The failing check says means, n and the CI (Markdown escapes the CI's brackets).
    failed = next(line for line in markdown.splitlines() if "**accuracy.max\\_regression**" in line)
    assert re.search(
        r"mean 88\.0 ± 0\.6 \(n=5\) vs 90\.0 ± 0\.6 \(n=5\): 2\.0 worse, "
        r"95% CI \\\[1\.\d, 2\.\d\\\]; "
        r"beyond the allowed 1\.0 and significant",
        failed,
    ), failed
    # No history: no trend column content, no chart.
    assert "```mermaid" not in markdown


def test_golden_noise_band_and_trends(regen_golden: bool) -> None:
    report = report_for(NOISE, noise_selection())
    assert report["verdict"] == "fail"
    assert report["failed_checks"] == ["f1.noise"]
    assert report["history_runs"] == 20
    markdown = render_markdown(Report.from_json(report), marker=MARKER)
    check_golden("noise-band.md", markdown, regen_golden)

    rows = {m["name"]: m for m in report["metrics"]}
    center, band = statistics.fmean(ACCURACY), 3 * statistics.stdev(ACCURACY)  # 90.04, 1.023
    assert rows["accuracy"]["baseline_text"] == f"{center:.1f} ± {band:.1f} (n=20)"
    assert rows["accuracy"]["baseline_text"] == "90.0 ± 1.0 (n=20)"
    assert rows["accuracy"]["rank"] == 1 + sum(1 for v in ACCURACY if v > 89.74) == 17
    assert rows["accuracy"]["trend"] == ACCURACY[::-1]  # oldest first
    assert len(rows["accuracy"]["trend"]) == 20
    line = next(row for row in markdown.splitlines() if row.startswith("| ✅ | accuracy |"))
    assert "| 89.74 | 90.0 ± 1.0 (n=20) |" in line
    assert "→" in line  # the sparkline ends on the candidate
    assert line.endswith(" 17th of 21 |")
    # The band (1.023) is wider than max_regression (1): the ceiling decides.
    assert "noise band ±1.023 (3σ, 20 runs), capped at 1 |" in line
    assert report["checks"][0]["threshold"] == 1.0
    assert markdown.count("```mermaid") == 2
    assert (
        "Trend charts (20 recent runs on main, then this one; flat lines: the noise band"
        in markdown
    )
    assert "**f1.noise**: 0.850 is 0.030 below the mean 0.880 of 20 runs" in markdown
