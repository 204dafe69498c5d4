"""The Tracker protocol: the one interface selection.py queries, whatever the tracker."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol, runtime_checkable

from mlaction.runs import DatasetInput, ModelVersionRef, Run

__all__ = [
    "DatasetTracker",
    "MetricBound",
    "ModelVersionRef",
    "RunQuery",
    "SweepTracker",
    "TimeWindowTracker",
    "Tracker",
]


@dataclass(frozen=True)
class MetricBound:
    """Keep only runs whose metric satisfies `metric <op> value` (server-side).

    The best-run query is bounded at the candidate's value: the server then joins and sorts only
    the runs at least as good as the candidate, not the whole experiment.
    """

    metric: str
    op: Literal[">", ">=", "<", "<="]
    value: float


@dataclass(frozen=True)
class RunQuery:
    """One server-side query: filter, order and limit are all applied by the tracker.

    `order_by=None` orders newest first (by start time); otherwise by that metric,
    descending when `descending` (best first for a maximised metric). `started_after` keeps only
    runs started at or after that time, `started_before` only runs started before it (a tracker
    that is not a `TimeWindowTracker` ignores both).
    """

    limit: int = 1
    commits: tuple[str, ...] = ()
    branch: str | None = None
    finished_only: bool = True
    order_by: str | None = None
    descending: bool = True
    bound: MetricBound | None = None
    started_after: datetime | None = None
    started_before: datetime | None = None
    extra_filter: str | None = None


@runtime_checkable
class Tracker(Protocol):
    """What ml-gate needs from an experiment tracker. Every method is bounded in time."""

    name: str

    def describe(self) -> str:
        """Where the runs live, for messages: 'MLflow experiment `x` at http://...'."""
        ...

    def search(self, query: RunQuery) -> list[Run]:
        """Runs matching the query, ordered and limited by the tracker server."""
        ...

    def get_run(self, run_id: str) -> Run:
        """One run by id; RunNotFoundError when it does not exist."""
        ...

    def resolve_alias(self, model: str, alias: str) -> ModelVersionRef:
        """The model version an alias points at; AliasNotFoundError when there is none."""
        ...

    def model_versions(self, model: str, run_id: str) -> list[ModelVersionRef]:
        """Versions of `model` made from run `run_id`, newest first (W&B: model artifacts the
        run logged under that name)."""
        ...

    def set_alias(self, model: str, alias: str, version: str) -> None:
        """Point `alias` of `model` at `version` (moving it from where it was)."""
        ...

    def existing_artifacts(self, run_id: str, paths: Sequence[str]) -> set[str]:
        """Which of `paths` (relative artifact paths) the run has."""
        ...


class TimeWindowTracker(Protocol):
    """Trackers whose `search` honours `RunQuery.started_after` and `started_before` server-side
    (MLflow).

    For them the newest-runs queries ask for a time window first and widen it: on a large
    experiment the database then reads the window, not every run.
    """

    filters_start_time: bool


class SweepTracker(Protocol):
    """Trackers with sweeps (W&B) also pick a sweep's best run."""

    def sweep_best(self, sweep_id: str) -> Run: ...


@runtime_checkable
class DatasetTracker(Protocol):
    """Trackers whose runs come without their dataset inputs (W&B): one request reads them.

    MLflow returns `run.inputs.dataset_inputs` with every run and needs no extra call.
    """

    def used_datasets(self, run_id: str) -> tuple[DatasetInput, ...]: ...
