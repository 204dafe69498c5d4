"""A W&B public-API `Run` as ml-gate's `Run`.

- status: W&B's run states (`wandb/apis/public/runs.py`, 0.31.0: running, finished, crashed,
  failed, killed, preempting, preempted, pending) normalised to finished / running / failed /
  killed. A running, pending or preempting run is RUNNING, never FINISHED: its summary is partial.
- commit: the config key (`git_commit`, or `tracker.commit_tag`) first, because on
  `pull_request` W&B records the merge commit it was started in; W&B's own `run.commit` second.
- metrics: the summary, nested values flattened with `.` (`{"accuracy": {"max": 0.8}}` is
  `accuracy.max`, what `define_metric(summary="max")` writes); a key logged flat with a dot
  (`{"val.acc": 0.8}`: the client keeps the key whole) has the same name. Keys starting with `_`
  (W&B's own) and media (dicts with a `_type`) are not metrics.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Iterator, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from mlaction.runs import FAILED, FINISHED, KILLED, RUNNING, Run

STATES = {"finished": FINISHED, "running": RUNNING, "pending": RUNNING, "preempting": RUNNING,
          "failed": FAILED, "crashed": FAILED, "killed": KILLED, "preempted": KILLED}  # fmt: skip
_SPECIAL_FLOATS = {"nan", "infinity", "+infinity", "-infinity", "inf", "+inf", "-inf"}


def to_run(run: Any, commit_key: str, branch_key: str, wanted: Collection[str] = ()) -> Run:
    """`wanted`: commits searched for; the run's commit is the one of its two that matches."""
    config = {k: unwrap(v) for k, v in (run.config or {}).items()}
    summary = dict(run.summary_metrics or {})
    start = parse_time(getattr(run, "created_at", None))
    runtime = runtime_of(summary)
    end = parse_time(getattr(run, "heartbeat_at", None))
    if end is None and start is not None and runtime is not None:
        end = start + timedelta(seconds=runtime)
    commits = [str(c) for c in (config.get(commit_key), getattr(run, "commit", None)) if c]
    commit = next((c for c in commits if c in wanted), commits[0] if commits else None)
    branch = config.get(branch_key)
    state = str(run.state).lower()
    return Run(
        id=str(run.id),
        name=str(run.name or ""),
        url=run.url,
        status=STATES.get(state, RUNNING if state not in ("", "none") else FAILED),
        start=start,
        end=end,
        commit=commit,
        branch=str(branch) if branch is not None else None,
        metrics=dict(flatten(summary)),
        params={k: param(v) for k, v in config.items() if not k.startswith("_")},
        tags={str(tag): "true" for tag in run.tags or ()},
        duration_seconds=runtime,
    )


def unwrap(value: Any) -> Any:
    return value["value"] if isinstance(value, dict) and set(value) <= {"value", "desc"} else value


def param(value: Any) -> str:
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and value.strip().lower() in _SPECIAL_FLOATS:
        return float(value.strip().lower().replace("infinity", "inf"))
    return None


def flatten(summary: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, float]]:
    for key, value in summary.items():
        if not prefix and str(key).startswith("_"):
            continue
        if isinstance(value, Mapping):
            if "_type" not in value:  # media, histograms, tables: not metrics
                yield from flatten(value, f"{prefix}{key}.")
        elif (found := number(value)) is not None:
            yield f"{prefix}{key}", found


def runtime_of(summary: Mapping[str, Any]) -> float | None:
    internal = summary.get("_wandb")
    for value in (internal.get("runtime") if isinstance(internal, Mapping) else None,
                  summary.get("_runtime")):  # fmt: skip
        found = number(value)
        if found is not None and math.isfinite(found):
            return found
    return None


def parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, tz=timezone.utc)
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment
