"""An in-memory tracker: the `Tracker` (and `SweepTracker`) protocol over plain lists.

It answers `search` the way the real trackers answer it on their servers, rule by rule:

- `commits`: a run matches when its commit is one of them (mlaction/trackers: one commit is a
  tag equality in mlflow_filters.py `filter_clauses`, several are matched on the runs read in
  mlflow.py `_search_commits`; wandb/query.py `build_filters`: `$in`).
- `branch`: the run's branch equals it; a run without a branch never matches (an MLflow tag
  equality, a W&B `config.git_branch` equality).
- `finished_only`: status `finished` only (MLflow `attributes.status = 'FINISHED'`, W&B
  `{"state": "finished"}`); otherwise every status, running ones included.
- `order_by` a metric: a run without the metric is left out, and so is the infinity that would
  rank first (MLflow's "has the metric" clause in mlflow_filters.py `filter_clauses`: `metrics.m
  < 1e308` descending, `metrics.m > -1e308` ascending, left out when `bound` is on the same
  metric; W&B's `$exists` in `build_filters`). MLflow (3.17 sqlalchemy_store
  `sanitize_metric_value` and `_get_non_attribute_filter_clauses`) stores NaN as 0 with `is_nan`
  and lets NaN satisfy no comparison but `!=`, and stores +-inf as +-1.797e308, which it returns
  too; mlflow.py reads that back as +-inf, so runs here keep their infinities and every
  comparison and sort uses the stored value (`_stored`): an ordered query drops NaN, and a
  bounded one keeps the +inf that ranks above every number descending. Runs are ordered by the
  metric, ascending or descending, ties broken by start time, newest first, then by run id
  (mlflow.py `_search` sends `attributes.start_time DESC`; sqlalchemy_store
  `_get_orderby_clauses` appends `run_uuid`). With `flavour="wandb"` a NaN or -inf run is kept
  (`$exists` is true for it). The W&B server sorts NaN as its MySQL store sorts NULL (first
  ascending, last descending: tests/fakes/wandb_server.py `_sort_key`) and applies the limit;
  the W&B tracker then merges its flat-key and nested-key answers and orders them itself, NaN
  after every number (mlaction/trackers/wandb/query.py `merge` and `_by_metric`).
- `order_by=None`: newest first by start time (MLflow `attributes.start_time DESC`, W&B
  `-created_at`), ties by run id; a run without a start time counts as the oldest.
- `limit`: at most that many runs after ordering (MLflow `max_results`, W&B one page of
  `per_page`). A limit below 1 is refused: MLflow reads 0 as 1 and W&B as none.
- `bound`: `metric <op> value`, the metric present and not NaN (the MLflow rule above; the W&B
  fake's `_compare` likewise).
- `extra_filter`: a small subset of MLflow's search syntax (https://mlflow.org/docs/latest/
  search-runs.html): clauses `params.k`, `tags.k` (`=`, `!=` against a quoted string) and
  `metrics.k` (`=`, `!=`, `>`, `>=`, `<`, `<=` against a number) joined by `and`; a key may be
  backtick-quoted. A run without the key never matches (MLflow joins on the key); a NaN metric
  matches only `!=`. Anything else raises NotImplementedError: a filter is never ignored.

Every `search` is recorded in `queries` and every `get_run` in `run_reads`, so a test can assert
how many round trips a selection cost. Registry: `register` makes model versions `1`, `2`, …
(MLflow's numbering), `model_versions` lists a run's versions newest first (mlflow.py
`model_versions`), an alias is on one version of a model at a time and `set_alias` moves it
(MLflow `set_registered_model_alias`, W&B aliases alike).
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Literal

from mlaction.errors import AliasNotFoundError, PromotionError, RunNotFoundError, TrackerError
from mlaction.runs import FINISHED, ModelVersionRef, Run, finite
from mlaction.trackers.base import RunQuery

EPOCH = datetime(2024, 1, 1, tzinfo=timezone.utc)
_DOUBLE_MAX = 1.7976931348623157e308  # how MLflow's SQL store writes an infinite metric
_LOWEST, _HIGHEST = -1.0e308, 1.0e308  # mlflow_filters.py: the "has the metric" thresholds
_OPS: dict[str, Callable[[float, float], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}
_CLAUSE = re.compile(
    r"""^\s*(?P<kind>params|tags|metrics)\.(?:`(?P<quoted>[^`]+)`|(?P<key>[\w.\-/]+))\s*
    (?P<op>!=|>=|<=|=|>|<)\s*
    (?:'(?P<single>[^']*)'|"(?P<double>[^"]*)"|(?P<number>[-+]?[\d.]+(?:e[-+]?\d+)?))\s*$""",
    re.IGNORECASE | re.VERBOSE,
)
_AND = re.compile(r"\s+and\s+", re.IGNORECASE)


@dataclass(frozen=True)
class Sweep:
    """A W&B sweep: the metric and goal of its config, and its runs."""

    metric: str
    goal: Literal["maximize", "minimize"]
    run_ids: tuple[str, ...]


class MemoryTracker:
    """Runs, model versions and aliases of one experiment, in memory."""

    name = "memory"

    def __init__(
        self,
        runs: Iterable[Run] = (),
        *,
        experiment: str = "demo",
        flavour: Literal["mlflow", "wandb"] = "mlflow",
    ) -> None:
        self.experiment = experiment
        self.flavour = flavour
        self.runs: list[Run] = list(runs)
        self.queries: list[RunQuery] = []
        self.run_reads: list[str] = []
        self.versions: dict[str, list[ModelVersionRef]] = {}
        self.aliases: dict[tuple[str, str], str] = {}
        self.artifacts: dict[str, set[str]] = {}
        self.sweeps: dict[str, Sweep] = {}

    # -- building the store ------------------------------------------------------------------
    def log(
        self,
        commit: str | None = None,
        *,
        metrics: Mapping[str, float] | None = None,
        branch: str | None = "main",
        status: str = FINISHED,
        run_id: str | None = None,
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> Run:
        """Add a run that starts one minute after the previously logged one."""
        number = len(self.runs) + 1
        run = Run(
            id=run_id or f"run-{number:03d}",
            name=f"run {number}",
            status=status,
            start=EPOCH + timedelta(minutes=number),
            end=EPOCH + timedelta(minutes=number, seconds=30),
            commit=commit,
            branch=branch,
            metrics={k: float(v) for k, v in (metrics or {}).items()},
            params=dict(params or {}),
            tags=dict(tags or {}),
        )
        self.runs.append(run)
        return run

    def register(self, model: str, run_id: str | None, aliases: Sequence[str] = ()) -> str:
        """A new version of `model` made from `run_id`; returns its number (`1`, `2`, …)."""
        versions = self.versions.setdefault(model, [])
        version = str(len(versions) + 1)
        versions.append(ModelVersionRef(model=model, version=version, run_id=run_id))
        for alias in aliases:
            self.aliases[(model, alias)] = version
        return version

    # -- Tracker protocol --------------------------------------------------------------------
    def describe(self) -> str:
        return f"in-memory experiment `{self.experiment}`"

    def search(self, query: RunQuery) -> list[Run]:
        self.queries.append(query)
        if query.limit < 1:
            raise ValueError(f"RunQuery.limit must be at least 1, got {query.limit}")
        if query.started_after is not None or query.started_before is not None:
            # Like W&B, no `filters_start_time`: queries.newest never sends a window here, and
            # one that arrives is refused, never ignored (the real server checks the windows:
            # tests/integration/test_mlflow_query_shapes.py).
            raise NotImplementedError("the in-memory tracker does not filter on start time")
        clauses = _parse_filter(query.extra_filter) if query.extra_filter else []
        found = [r for r in self.runs if self._matches(r, query, clauses)]
        ordered = self._ordered(found, query)
        if self.flavour == "wandb" and query.order_by is not None and not query.descending:
            # The server sorts NaN first ascending and applies the limit; the tracker then
            # orders what came back with NaN last (trackers/wandb/query.py `merge`).
            metric = query.order_by
            nan_first = sorted(ordered, key=lambda r: not math.isnan(r.metric(metric) or 0.0))
            page = {r.id for r in nan_first[: query.limit]}
            return [r for r in ordered if r.id in page]
        return ordered[: query.limit]

    def get_run(self, run_id: str) -> Run:
        self.run_reads.append(run_id)
        for run in self.runs:
            if run.id == run_id:
                return run
        raise RunNotFoundError(
            f"run `{run_id}` does not exist in {self.describe()}.",
            hint="Check the run id (`candidate.run_id` / `baseline.run_id`).",
        )

    def resolve_alias(self, model: str, alias: str) -> ModelVersionRef:
        version = self.aliases.get((model, alias))
        if version is None:
            raise AliasNotFoundError(
                f"registered model `{model}` has no alias `{alias}` in {self.describe()}.",
                hint="Set the alias or choose another `baseline.alias` / `baseline.select`.",
            )
        return self._with_aliases(self._version(model, version))

    def model_versions(self, model: str, run_id: str) -> list[ModelVersionRef]:
        mine = [self._with_aliases(v) for v in self.versions.get(model, []) if v.run_id == run_id]
        return sorted(mine, key=lambda v: int(v.version), reverse=True)

    def set_alias(self, model: str, alias: str, version: str) -> None:
        if not any(v.version == version for v in self.versions.get(model, [])):
            raise PromotionError(
                f"could not point alias `{alias}` of registered model `{model}` at version "
                f"{version}: no such version.",
                hint="Check that the version exists.",
            )
        self.aliases[(model, alias)] = version

    def existing_artifacts(self, run_id: str, paths: Sequence[str]) -> set[str]:
        logged = self.artifacts.get(run_id, set())
        return {p for p in paths if p.strip("/") in logged}

    def sweep_best(self, sweep_id: str) -> Run:
        """The best finished run of a sweep with a finite metric (wandb.py `sweep_best`)."""
        sweep = self.sweeps.get(sweep_id)
        if sweep is None:
            raise TrackerError(f"no sweep `{sweep_id}` in {self.describe()}.")
        runs = [
            r
            for r in self.runs
            if r.id in sweep.run_ids and r.status == FINISHED and finite(r.metric(sweep.metric))
        ]
        if not runs:
            raise TrackerError(f"sweep `{sweep_id}` has no finished run with `{sweep.metric}`.")
        pick = max if sweep.goal == "maximize" else min
        return pick(runs, key=lambda r: r.metric(sweep.metric) or 0.0)

    # -- the server's work -------------------------------------------------------------------
    def _matches(self, run: Run, query: RunQuery, clauses: list[_Clause]) -> bool:
        if query.commits and run.commit not in query.commits:
            return False
        if query.branch and run.branch != query.branch:
            return False
        if query.finished_only and run.status != FINISHED:
            return False
        b = query.bound
        if b is not None and not _compare_metric(run.metric(b.metric), b.op, b.value):
            return False
        rank_by = query.order_by if b is None or b.metric != query.order_by else None
        if rank_by is not None and not self._can_rank(run.metric(rank_by), query.descending):
            return False
        return all(clause.matches(run) for clause in clauses)

    def _can_rank(self, value: float | None, descending: bool) -> bool:
        if value is None:
            return False
        if self.flavour == "wandb":
            return True  # `$exists`
        return (
            _compare_metric(value, "<", _HIGHEST)
            if descending
            else _compare_metric(value, ">", _LOWEST)
        )

    def _ordered(self, runs: list[Run], query: RunQuery) -> list[Run]:
        # Sorted from the last key to the first (Python's sort is stable).
        runs = sorted(runs, key=lambda r: r.id)
        runs.sort(key=lambda r: r.start or datetime.min.replace(tzinfo=timezone.utc), reverse=True)
        metric = query.order_by
        if metric is None:
            return runs
        numbers = [r for r in runs if not math.isnan(r.metric(metric) or 0.0)]
        nans = [r for r in runs if math.isnan(r.metric(metric) or 0.0)]
        numbers.sort(key=lambda r: _stored(r.metric(metric) or 0.0), reverse=query.descending)
        return numbers + nans

    def _version(self, model: str, version: str) -> ModelVersionRef:
        return next(v for v in self.versions[model] if v.version == version)

    def _with_aliases(self, ref: ModelVersionRef) -> ModelVersionRef:
        names = tuple(
            a for (m, a), v in self.aliases.items() if m == ref.model and v == ref.version
        )
        return replace(ref, aliases=names)


def _stored(value: float) -> float:
    """A metric as MLflow's SQL store keeps it: infinities clamped to the largest double."""
    return max(-_DOUBLE_MAX, min(_DOUBLE_MAX, value))


def _compare_metric(value: float | None, op: str, operand: float) -> bool:
    if value is None:
        return False
    if math.isnan(value):
        return op == "!="
    return _OPS[op](_stored(value), operand)


@dataclass(frozen=True)
class _Clause:
    kind: str
    key: str
    op: str
    value: str | float

    def matches(self, run: Run) -> bool:
        if self.kind == "metrics":
            assert isinstance(self.value, float)
            return _compare_metric(run.metric(self.key), self.op, self.value)
        have = (run.params if self.kind == "params" else run.tags).get(self.key)
        if have is None:
            return False  # MLflow joins on the key: a run without it matches nothing
        return (have == self.value) == (self.op == "=")


def _parse_filter(text: str) -> list[_Clause]:
    clauses = []
    for part in _AND.split(text.strip()):
        found = _CLAUSE.match(part)
        if found is None:
            raise NotImplementedError(f"the in-memory tracker cannot evaluate {part!r}")
        kind, op = found["kind"].lower(), found["op"]
        key = found["quoted"] or found["key"]
        number = found["number"]
        if kind == "metrics":
            if number is None:
                raise NotImplementedError(f"a metric compares with a number: {part!r}")
            clauses.append(_Clause(kind, key, op, float(number)))
            continue
        if number is not None or op not in ("=", "!="):
            raise NotImplementedError(f"params and tags take = or != a quoted string: {part!r}")
        value = found["single"] if found["single"] is not None else found["double"]
        clauses.append(_Clause(kind, key, op, value))
    return clauses
