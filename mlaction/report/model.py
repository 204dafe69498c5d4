"""The report: a typed, validated value that is also the JSON file (strict JSON, NaN -> null).

`build_report` makes it from a verdict; `Report.from_json` reads one back, validating it as
untrusted data (a report written by a workflow that ran a fork's code is attacker-controlled):
enumerated verdicts and statuses, types, sizes. Templates render from `Report.to_json()`, so
`ml-gate render` reproduces a comment byte for byte. Untrusted text from the tracker is capped
here, once, so every place that prints it (log, annotation, summary, comment) gets it capped.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mlaction import __version__
from mlaction.errors import ConfigError
from mlaction.gate.verdict import Override, Verdict
from mlaction.report.rows import metric_rows
from mlaction.runs import Run

MAX_REPORT_BYTES = 5_000_000  # a report of the largest gate is ~1 MB; a saved file above is refused
TEXT_LIMIT = 4_000  # characters of one message or note (a run name can be 10 MiB)
NAME_LIMIT = 500  # characters of a name, id, url or rule
MAX_RUN_METRICS = 200  # metrics of a run kept in the report (the gated ones first)
TRUNCATED = "… (truncated)"

Text = Annotated[str, Field(max_length=TEXT_LIMIT + len(TRUNCATED))]
Name = Annotated[str, Field(max_length=NAME_LIMIT + len(TRUNCATED))]
Number = float | None
Value = int | float | Name | None
VerdictName = Literal["pass", "warn", "fail"]
StatusName = Literal["pass", "fail", "warn", "skip"]
PromotionAction = Literal["promoted", "already", "would_promote", "skipped", "failed"]


class _Model(BaseModel):
    # Unknown fields (a newer or older ml-gate) are dropped, never rendered; NaN is refused.
    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)


class RunInfo(_Model):
    id: Name
    name: Name = ""
    url: Name | None = None
    commit: Name | None = None
    branch: Name | None = None
    status: Name = "finished"
    start: Name | None = None
    end: Name | None = None
    metrics: dict[Name, Number] = Field(default_factory=dict, max_length=MAX_RUN_METRICS + 1)


class ModelInfo(_Model):
    model: Name
    version: Name
    alias: Name | None = None


class CheckInfo(_Model):
    name: Name
    status: StatusName
    metric: Name | None = None
    observed: Value = None
    threshold: Value = None
    baseline_value: Number = None
    message: Text = ""
    rule: Name = ""
    violated: bool = False
    unit: Literal["seconds"] | None = None


class MetricInfo(_Model):
    name: Name
    goal: Literal["maximize", "minimize"] = "maximize"
    candidate: Number = None
    baseline: Number = None
    delta: Number = None
    delta_pct: Number = None
    rules: Text = ""
    status: StatusName = "skip"
    trend: list[float] = Field(default_factory=list, max_length=500)
    new_best: bool = False
    rank: int | None = None
    candidate_text: Name | None = None
    baseline_text: Name | None = None
    band: list[float] | None = Field(default=None, max_length=2)  # the noise band's edges


class OverrideInfo(_Model):
    label: Name
    by: Name | None = None


class PromotionInfo(_Model):
    model: Name
    alias: Name
    action: PromotionAction
    version: Name | None = None
    previous: Name | None = None
    reason: Text = ""


class Report(_Model):
    """The JSON report. Contract fields: verdict, candidate, baseline, checks."""

    verdict: VerdictName
    passed: bool
    candidate: RunInfo
    baseline: RunInfo | None = None
    baseline_reason: Text = ""
    baseline_model: ModelInfo | None = None
    checks: list[CheckInfo] = Field(max_length=20_000)
    failed_checks: list[Name] = Field(default_factory=list, max_length=20_000)
    metrics: list[MetricInfo] = Field(default_factory=list, max_length=10_000)
    notes: list[Text] = Field(default_factory=list, max_length=500)
    history_runs: int = 0
    more_runs: int = Field(default=0, ge=0, le=1_000)
    tool: Name = ""
    title: Name | None = None
    config: Name | None = None
    comment_id: Name | None = None
    run_url: Name | None = None
    history_branch: Name | None = None
    tracker: Literal["mlflow", "wandb"] | None = None
    experiment: Name | None = None
    override: OverrideInfo | None = None
    promotion: PromotionInfo | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = self.model_dump(mode="json")
        return data

    @classmethod
    def from_json(cls, data: object, source: str = "report") -> Report:
        """Validate untrusted data; a ConfigError names the first few problems."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"`{_where(err['loc'])}`: {err['msg']}" for err in exc.errors()[:3]
            )
            more = f" (and {exc.error_count() - 3} more)" if exc.error_count() > 3 else ""
            raise ConfigError(
                f"{source} is not a valid ml-gate report: {problems}{more}.",
                hint="Pass the JSON written by `ml-gate check --json PATH` or the action's "
                "`report` output, unchanged.",
            ) from None


def _where(loc: tuple[int | str, ...]) -> str:
    """A validation error's path; its parts can be an attacker's keys: each is cut short."""
    parts = (str(p) if len(str(p)) <= 40 else str(p)[:39] + "…" for p in loc)
    return ".".join(parts) or "(top)"


def build_report(
    verdict: Verdict,
    *,
    meta: Mapping[str, Any] | None = None,
    override: Override | None = None,
    promotion: Mapping[str, Any] | None = None,
) -> Report:
    """The report of a verdict. `meta`: title, config, comment_id, run_url, history_branch,
    tracker, experiment (trusted: from the config). Untrusted text is capped here."""
    sel = verdict.selection
    gated = [m.name for m in verdict.metrics]
    data: dict[str, Any] = {
        "verdict": verdict.verdict,
        "passed": verdict.passed,
        "candidate": _run(sel.candidate, gated),
        "baseline": _run(sel.baseline, gated) if sel.baseline else None,
        "baseline_reason": sel.baseline_reason,
        "baseline_model": vars(sel.baseline_model) if sel.baseline_model else None,
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
        "metrics": [vars(m) for m in metric_rows(verdict)],
        "notes": list(verdict.notes),
        "history_runs": len(sel.history),
        "more_runs": verdict.more_runs,
        "tool": f"ml-gate {__version__}",
        "override": {"label": override.label, "by": override.by} if override else None,
        "promotion": dict(promotion) if promotion else None,
        **(meta or {}),
    }
    return Report.model_validate(capped(strict_json(data)))


def _run(run: Run, gated: list[str]) -> dict[str, Any]:
    names = [m for m in gated if m in run.metrics][:MAX_RUN_METRICS]
    names += sorted(m for m in run.metrics if m not in set(gated))[: MAX_RUN_METRICS - len(names)]
    return {
        "id": run.id,
        "name": run.name,
        "url": run.url,
        "commit": run.commit,
        "branch": run.branch,
        "status": run.status,
        "start": run.start.isoformat() if run.start else None,
        "end": run.end.isoformat() if run.end else None,
        "metrics": {name: run.metrics[name] for name in names},
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


def capped(value: Any, key: str = "") -> Any:
    """Cut every string to its field's limit with a visible mark (messages and notes are long,
    names short); mapping keys (metric names) are cut like names."""
    if isinstance(value, str):
        limit = TEXT_LIMIT if key in _LONG_FIELDS else NAME_LIMIT
        return value if len(value) <= limit else value[:limit] + TRUNCATED
    if isinstance(value, Mapping):
        return {capped(k): capped(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [capped(v, key) for v in value]
    return value


_LONG_FIELDS = frozenset({"message", "notes", "baseline_reason", "reason", "rules"})


def dump_report(report: Report, path: str | Path) -> None:
    """Write the report; a symlink at `path` is replaced, never followed (the workspace may hold
    a link a PR planted to make ml-gate overwrite another file)."""
    text = json.dumps(report.to_json(), indent=2, allow_nan=False, ensure_ascii=False) + "\n"
    target = Path(path)
    if target.is_symlink():
        target.unlink()
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(target, flags, 0o644)
    except OSError as exc:
        raise ConfigError(
            f"cannot write the JSON report to {target}: {exc.strerror}.",
            hint="Pass a path in an existing, writable folder.",
        ) from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def load_report(path: str | Path) -> Report:
    """Read a saved report as untrusted data: size-capped, strict JSON, validated."""
    file = Path(path)
    try:
        with file.open("rb") as handle:
            raw = handle.read(MAX_REPORT_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(
            f"report file {file} not found.",
            hint="Pass the path written by `ml-gate check --json PATH`.",
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read report file {file}: {exc.strerror}.") from None
    if len(raw) > MAX_REPORT_BYTES:
        raise ConfigError(
            f"report file {file} is larger than {MAX_REPORT_BYTES:,} bytes: not an ml-gate report."
        )
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_no_constants)
    except (UnicodeDecodeError, ValueError) as exc:
        line = getattr(exc, "lineno", None)
        where = f" (line {line})" if line else ""
        raise ConfigError(
            f"report file {file} is not valid JSON{where}.",
            hint="Pass the file written by `ml-gate check --json PATH`.",
        ) from None
    return Report.from_json(data, source=f"report file {file}")


def _no_constants(name: str) -> float:
    raise ValueError(f"{name} is not JSON")
