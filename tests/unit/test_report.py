"""The rendered comment, whole, against golden files; escaping; truncation; the sandbox."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from golden_helpers import check_golden

from mlaction.config import parse_config
from mlaction.errors import ConfigError
from mlaction.gate.verdict import evaluate
from mlaction.report.format import md_escape, sparkline
from mlaction.report.markdown import COMMENT_LIMIT, cap, render_markdown
from mlaction.report.model import Report, build_report
from mlaction.report.terminal import render_terminal
from mlaction.runs import Run, Selection

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)
CONFIG = """
tracker: {experiment: iris}
baseline: {branch: main}
metrics:
  accuracy: {min: 0.90, max_regression: 0.02}
  f1: {min: 0.88}
  val_loss: {goal: minimize, max_regression: 5%}
run:
  max_age: 7d
  required_params: [lr]
"""


def make_run(run_id: str, commit: str, name: str | None = None, **metrics: float) -> Run:
    return Run(
        id=run_id,
        name=name or f"run-{run_id}",
        url=f"http://mlflow:5000/#/experiments/1/runs/{run_id}",
        start=NOW - timedelta(hours=2),
        end=NOW - timedelta(hours=1),
        commit=commit,
        branch="main",
        metrics=metrics,
        params={"lr": "0.1"},
    )


def report_for(
    candidate: Run, baseline: Run | None, extra: str = "", history: int = 0, why: str = ""
) -> Report:
    gate = parse_config(CONFIG + extra, Path(".github/ml-gate.yml"), {}).gate
    past = tuple(
        make_run(f"h{i}", "0" * 40, accuracy=0.90 + i / 200, f1=0.9, val_loss=0.3 - i / 100)
        for i in range(history)
    )[::-1]
    reason = why or (
        "best finished run on branch `main` by `accuracy` (highest)"
        if baseline
        else "no baseline (`baseline.select: none`): regression checks are skipped"
    )
    verdict = evaluate(gate, Selection(candidate, baseline, reason, past), NOW)
    meta = {
        "title": "iris",
        "config": ".github/ml-gate.yml",
        "comment_id": ".github/ml-gate.yml",
        "run_url": None,
        "history_branch": "main",
    }
    return build_report(verdict, meta=meta)


MARKER = "<!-- ml-gate:.github/ml-gate.yml -->"
BASE = make_run("base", "b" * 40, accuracy=0.93, f1=0.91, val_loss=0.25)


def test_golden_pass(regen_golden: bool) -> None:
    cand = make_run("cand", "c" * 40, accuracy=0.935, f1=0.92, val_loss=0.24)
    report = report_for(cand, BASE, history=5)
    assert report.verdict == "pass"
    check_golden("pass.md", render_markdown(report, marker=MARKER), regen_golden)


def test_golden_fail(regen_golden: bool) -> None:
    cand = make_run("cand", "c" * 40, accuracy=0.87, f1=0.92, val_loss=0.3)
    report = report_for(cand, BASE)
    assert report.verdict == "fail"
    check_golden("fail.md", render_markdown(report, marker=MARKER), regen_golden)


def test_golden_warn(regen_golden: bool) -> None:
    cand = make_run("cand", "c" * 40, accuracy=0.87, f1=math.nan, val_loss=0.25)
    report = report_for(cand, BASE, extra="on_failure: warn\n")
    assert report.verdict == "warn"
    check_golden("warn.md", render_markdown(report, marker=MARKER), regen_golden)


def test_golden_no_baseline(regen_golden: bool) -> None:
    cand = make_run("cand", "c" * 40, accuracy=0.95, f1=0.92, val_loss=0.2)
    why = (
        "no finished run on branch `main` to compare with; finished runs exist on `master` (3): "
        "regression checks are skipped"
    )
    report = report_for(cand, None, why=why)
    assert report.verdict == "warn"  # baseline.on_missing: warn (the default), never a plain pass
    check_golden("no-baseline.md", render_markdown(report, marker=MARKER), regen_golden)


EVIL = "<img src=x> @everyone | x [link](http://evil) **bold** `code`\n# heading"


def test_golden_escaping(regen_golden: bool) -> None:
    cand = Run(
        id="c|1",
        name=EVIL,
        url="javascript:alert(1)",
        commit="<script>",
        start=NOW - timedelta(hours=2),
        end=NOW - timedelta(hours=1),
        metrics={"accuracy": 0.95, "val_loss": 0.2},
        params={"lr": "x"},
    )
    base = Run(
        id="b",
        name="@org/team <b>x</b>",
        url="http://mlflow:5000/#/runs/b",
        metrics={"accuracy": 0.99, "f1": 0.9, "val_loss": 0.2},
    )
    markdown = render_markdown(report_for(cand, base), marker=MARKER)
    check_golden("escaping.md", markdown, regen_golden)
    assert "<img" not in markdown
    assert "@everyone" not in markdown
    assert "@org" not in markdown
    assert "javascript:" not in markdown
    assert "<script>" not in markdown
    # The run name lands in a table cell (f1 is missing from it) and the row keeps its columns.
    row = next(line for line in markdown.splitlines() if line.startswith("| ❌ | f1.min |"))
    assert "&lt;img src=x&gt; @\u200deveryone \\| x" in row
    assert row.replace("\\|", "").count("|") == 7


def test_metric_name_from_config_is_escaped_too() -> None:
    text = "tracker: {experiment: x}\nmetrics:\n  'a|b<i>': {min: 0}\n"
    gate = parse_config(text, Path("g.yml"), {}).gate
    verdict = evaluate(gate, Selection(Run(id="c", metrics={"a|b<i>": 1.0}), None, "none"), NOW)
    markdown = render_markdown(build_report(verdict))
    assert "a\\|b&lt;i&gt;" in markdown
    assert "<i>" not in markdown


def test_md_escape() -> None:
    assert md_escape("a|b") == "a\\|b"
    assert md_escape("x\ny\rz") == "x y z"
    assert md_escape("@here") == "@\u200dhere"
    assert md_escape("see https://x.io") == "see https&#58;//x.io"
    assert md_escape("a" * 400).endswith("…")
    assert len(md_escape("a" * 400)) == 300


def test_comment_is_capped_with_visible_note() -> None:
    cand = make_run("cand", "c" * 40, accuracy=0.95, f1=0.92, val_loss=0.2)
    extra = "".join(f"  m{i}: {{min: 0}}\n" for i in range(3000))
    gate = parse_config(CONFIG.replace("metrics:\n", "metrics:\n" + extra), Path("g.yml"), {}).gate
    verdict = evaluate(gate, Selection(cand, BASE, "best"), NOW)
    markdown = render_markdown(build_report(verdict))
    assert len(markdown) <= COMMENT_LIMIT
    assert "This report was truncated" in markdown
    assert markdown.count("<details") == markdown.count("</details>")


def test_cap_keeps_short_text() -> None:
    assert cap("short") == "short"
    long = "line\n" * 20_000
    assert len(cap(long)) <= COMMENT_LIMIT


def test_json_report_is_strict_and_renders_again(tmp_path: Path) -> None:
    cand = make_run("cand", "c" * 40, accuracy=math.nan, f1=math.inf, val_loss=0.2)
    report = report_for(cand, BASE)
    text = json.dumps(report.to_json(), allow_nan=False)  # raises on NaN/inf
    again = json.loads(text)
    assert again["candidate"]["metrics"]["accuracy"] is None
    assert set(again["checks"][0]) >= {
        "name",
        "status",
        "metric",
        "observed",
        "threshold",
        "baseline_value",
        "message",
    }
    assert render_markdown(Report.from_json(again), marker=MARKER) == render_markdown(
        report, marker=MARKER
    )


def test_user_template_renders_in_sandbox(tmp_path: Path) -> None:
    template = tmp_path / "t.md.j2"
    template.write_text("Verdict {{ verdict }} for {{ candidate.name }}\n")
    cand = make_run("cand", "c" * 40, name="<b>x</b>", accuracy=0.95, f1=0.92, val_loss=0.2)
    text = render_markdown(report_for(cand, BASE), marker=MARKER, user_template=template)
    assert text.startswith(
        "<!-- ml-gate:.github/ml-gate.yml -->\nVerdict pass for &lt;b&gt;x&lt;/b&gt;"
    )

    template.write_text("{{ ''.__class__.__mro__[1].__subclasses__() }}")
    with pytest.raises(ConfigError, match="not allowed in the sandbox"):
        render_markdown(report_for(cand, BASE), marker=MARKER, user_template=template)

    template.write_text("{% if %}")
    with pytest.raises(ConfigError, match=r"t.md.j2, line 1"):
        render_markdown(report_for(cand, BASE), marker=MARKER, user_template=template)


def test_sparkline() -> None:
    assert sparkline([1, 2, 3]) == "▁▅█"
    assert sparkline([1, 2], 3) == "▁▅→█"
    assert sparkline([2, 2, 2]) == "▄▄▄"
    assert sparkline([1]) == ""


def test_terminal_rendering_strips_control_characters() -> None:
    cand = make_run("cand", "c" * 40, name="evil\x1b[2Jname", accuracy=0.95, f1=0.92, val_loss=0.2)
    text = render_terminal(report_for(cand, BASE).to_json())
    assert "\x1b" not in text
    assert text.splitlines()[0] == "ml-gate: PASS (passed)"


def test_an_invalid_saved_report_names_a_long_key_shortened() -> None:
    # The path of a validation error can hold an attacker's metric name: it is cut in the message.
    key = "\x1b]0;x\x07" + "k" * 100_000
    data = {"verdict": "pass", "passed": True, "candidate": {"id": "a", "metrics": {key: "x"}}}
    with pytest.raises(ConfigError) as info:
        Report.from_json(data)
    assert len(info.value.message) < 1_000
    assert "candidate.metrics." in info.value.message
