"""Verdict -> the JSON report (plain, strict JSON data) and back from a file.

The report holds the contract fields (verdict, candidate, baseline, checks) and what the
templates need (metric rows, notes, comment metadata). NaN and infinities are written as null.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from mlaction import __version__
from mlaction.errors import ConfigError
from mlaction.gate.verdict import Verdict
from mlaction.report.rows import metric_rows
from mlaction.runs import Run


def build_report(verdict: Verdict, meta: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON report: the contract fields plus what the templates need. NaN/inf -> null."""
    sel = verdict.selection
    report: dict[str, Any] = {
        "verdict": verdict.verdict,
        "passed": verdict.passed,
        "candidate": _run(sel.candidate),
        "baseline": _run(sel.baseline) if sel.baseline else None,
        "baseline_reason": sel.baseline_reason,
        "baseline_model": (
            {
                "model": sel.baseline_model.model,
                "version": sel.baseline_model.version,
                "alias": sel.baseline_model.alias,
            }
            if sel.baseline_model
            else None
        ),
        "checks": [
            {
                "name": c.name,
                "status": c.status,
                "metric": c.metric,
                "observed": c.observed,
                "threshold": c.threshold,
                "baseline_value": c.baseline_value,
                "message": c.message,
                "rule": c.rule,
                "violated": c.violated,
                "unit": c.unit,
            }
            for c in verdict.checks
        ],
        "failed_checks": verdict.failed_checks,
        "metrics": [
            {
                "name": m.name,
                "goal": m.goal,
                "candidate": m.candidate,
                "baseline": m.baseline,
                "delta": m.delta,
                "delta_pct": m.delta_pct,
                "rules": m.rules,
                "status": m.status,
                "trend": list(m.trend),
                "new_best": m.new_best,
                "rank": m.rank,
                "candidate_text": m.candidate_text,
                "baseline_text": m.baseline_text,
                "band": list(m.band) if m.band else None,
            }
            for m in metric_rows(verdict)
        ],
        "notes": list(verdict.notes),
        "more_runs": verdict.more_runs,
        "history_runs": len(sel.history),
        "tool": f"ml-gate {__version__}",
        "title": None,
        "config": None,
        "comment_id": None,
        "marker": None,
        "run_url": None,
        "history_branch": None,
        "override": None,
        "promotion": None,
    }
    report.update(meta)
    clean: dict[str, Any] = strict_json(report)
    return clean


def _run(run: Run | None) -> dict[str, Any] | None:
    if run is None:
        return None
    return {
        "id": run.id,
        "name": run.name,
        "url": run.url,
        "commit": run.commit,
        "branch": run.branch,
        "status": run.status,
        "start": run.start.isoformat() if run.start else None,
        "end": run.end.isoformat() if run.end else None,
        "metrics": dict(run.metrics),
    }


def strict_json(value: Any) -> Any:
    """Replace NaN and infinities by None, recursively, so the report is strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): strict_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [strict_json(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def dump_report(report: Mapping[str, Any], path: str | Path) -> None:
    text = json.dumps(report, indent=2, allow_nan=False, ensure_ascii=False)
    Path(path).write_text(text + "\n", encoding="utf-8")


def load_report(path: str | Path) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"report file {path} not found.",
            hint="Pass the path written by `ml-gate check --json PATH`.",
        ) from None
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"report file {path} is not valid JSON (line {exc.lineno}): {exc.msg}.",
            hint="Pass the file written by `ml-gate check --json PATH`.",
        ) from None
    if not isinstance(data, dict) or "verdict" not in data or "checks" not in data:
        raise ConfigError(f"report file {path} is not an ml-gate report (no `verdict`/`checks`).")
    result: dict[str, Any] = data
    return result
