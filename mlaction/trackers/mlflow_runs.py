"""MLflow's run entities -> ml-gate's `Run`: status names, timestamps, metric values, datasets.

Everything here is tracker data, written by anyone who can log a run: a timestamp out of range
is no time, and the infinities MLflow's SQL store keeps as +-DBL_MAX are infinities again.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from mlaction.runs import FAILED, FINISHED, KILLED, RUNNING, DatasetInput, Run

_STATUS = {
    "FINISHED": FINISHED,
    "RUNNING": RUNNING,
    "SCHEDULED": RUNNING,
    "FAILED": FAILED,
    "KILLED": KILLED,
}
# MLflow's SQL store writes +-inf as +-DBL_MAX (sqlalchemy_store `sanitize_metric_value`) and
# returns that: read back, it is the infinity that was logged, never a record-high number.
_DOUBLE_MAX = 1.7976931348623157e308


def to_run(
    raw: Any, ui_url: str | None, commit_tags: Sequence[str], branch_tags: Sequence[str]
) -> Run:
    """One MLflow `Run` entity as ml-gate's Run."""
    info, data = raw.info, raw.data
    tags = dict(data.tags or {})
    start, end = _time(info.start_time), _time(info.end_time)
    url = None
    if ui_url:
        url = f"{ui_url}/#/experiments/{info.experiment_id}/runs/{info.run_id}"
    return Run(
        id=info.run_id,
        name=info.run_name or tags.get("mlflow.runName", ""),
        url=url,
        status=_STATUS.get(info.status, str(info.status).lower()),
        start=start,
        end=end,  # an end before the start is kept: run.max_duration fails and says so
        commit=next((tags[t] for t in commit_tags if tags.get(t)), None),
        branch=next((tags[t] for t in branch_tags if tags.get(t)), None),
        metrics={k: _metric(v) for k, v in (data.metrics or {}).items()},
        params=dict(data.params or {}),
        tags={k: v for k, v in tags.items() if not k.startswith("mlflow.log-model")},
        inputs=dataset_inputs(raw),
    )


def _metric(value: float) -> float:
    value = float(value)
    return math.copysign(math.inf, value) if abs(value) == _DOUBLE_MAX else value


def _time(millis: int | None) -> datetime | None:
    """A tracker timestamp in ms; None when absent or out of range (anyone can log -2**50)."""
    if not millis:
        return None
    try:
        return datetime.fromtimestamp(millis / 1000, tz=timezone.utc)
    except (ValueError, OverflowError, OSError):
        return None


def dataset_inputs(raw: Any) -> tuple[DatasetInput, ...]:
    """`run.inputs.dataset_inputs` (mlflow.log_input): name, digest and the input tag
    `mlflow.data.context` (train / eval / ...), as MLflow's `DatasetInput` entity holds them."""
    found = getattr(getattr(raw, "inputs", None), "dataset_inputs", None) or ()
    result = []
    for item in found:
        dataset = item.dataset
        context = next((t.value for t in item.tags or () if t.key == "mlflow.data.context"), None)
        result.append(DatasetInput(str(dataset.name), str(dataset.digest), context))
    return tuple(result)
