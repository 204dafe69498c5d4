"""RunQuery -> W&B run searches (Mongo-style filters, wandb/apis/public/api.py `Api.runs`).

Metric names, as W&B stores them:
- `wandb.log({"val.acc": x})` keeps the key whole: the summary holds the flat key `"val.acc"`,
  while `define_metric("acc", summary="max")` writes a nested `{"acc": {"max": x}}`. W&B's filter
  and order keys split on `.`, and `\\.` keeps a dot inside a key. Both forms have the same
  ml-gate name, so a dotted metric is searched both ways (flat and nested) and the two answers
  are merged client-side.
- W&B sorts and filters server-side only names made of `[_a-zA-Z][_a-zA-Z0-9]*` parts
  (docs.wandb.ai, "Why can't I sort or filter metrics with certain characters?"). For other names
  (`val/acc`, `loss-train`, `test acc`) the metric conditions are applied client-side to the
  newest CLIENT_WINDOW runs matching the rest of the query; when more runs match than that, the
  ranking could be wrong, so the search refuses with a message instead.

Commits: `config.<commit key>` is a documented, filterable field; `commit` (W&B's recorded
commit) is not documented as a filter key, and an unknown key has been seen to match nothing
(wandb/wandb#5122) or could be ignored. So the two are separate searches, and every returned
run's commit is checked client-side before it can be a candidate or a baseline.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mlaction.errors import ConfigError, TrackerError
from mlaction.runs import Run
from mlaction.trackers.base import RunQuery

CLIENT_WINDOW = 500
_OPS = {">": "$gt", ">=": "$gte", "<": "$lt", "<=": "$lte"}
_SORTABLE = re.compile(r"[_a-zA-Z][_a-zA-Z0-9]*")
_COMPARE = {">": float.__gt__, ">=": float.__ge__, "<": float.__lt__, "<=": float.__le__}


@dataclass(frozen=True)
class Search:
    """One `Api.runs` call: filters, order and page size."""

    filters: Mapping[str, Any]
    order: str
    limit: int


def metric_keys(metric: str) -> list[str] | None:
    """The server keys of a summary metric (flat form first); None: not sortable server-side."""
    parts = metric.split(".")
    if not all(_SORTABLE.fullmatch(part) for part in parts):
        return None
    nested = f"summary_metrics.{metric}"
    if len(parts) == 1:
        return [nested]
    return ["summary_metrics." + metric.replace(".", "\\."), nested]


def client_side(query: RunQuery) -> bool:
    """True when a metric of the query cannot be sorted or filtered by W&B."""
    names = [query.order_by, query.bound.metric if query.bound else None]
    return any(name is not None and metric_keys(name) is None for name in names)


def plan(query: RunQuery, *, commit_key: str, branch_key: str) -> list[Search]:
    """The searches that together answer `query` (merge them with `merge`)."""
    base = _base_clauses(query, branch_key)
    commit_clauses: list[dict[str, Any] | None] = [None]
    if query.commits:
        commits = list(query.commits)
        commit_clauses = [{f"config.{commit_key}": {"$in": commits}}, {"commit": {"$in": commits}}]
    if client_side(query):
        orders: list[tuple[str, dict[str, Any] | None]] = [("-created_at", None)]
        limit = CLIENT_WINDOW
    elif query.order_by is None:
        orders, limit = [("-created_at", None)], query.limit
        base += _bound_clauses(query)
    else:
        sign = "-" if query.descending else "+"
        keys = metric_keys(query.order_by) or []
        # a run without the metric is never "best" (NULLs sort first ascending)
        orders = [(f"{sign}{key}", {key: {"$exists": True}}) for key in keys]
        limit = query.limit
        base += _bound_clauses(query)
    searches = []
    for commit, (order, exists) in itertools.product(commit_clauses, orders):
        clauses = [c for c in (commit, *base, exists) if c is not None]
        searches.append(Search({"$and": clauses} if clauses else {}, order, limit))
    return searches


def build_filters(query: RunQuery, *, commit_key: str, branch_key: str) -> dict[str, Any]:
    """The filter of the first search of a query (kept for callers that print it)."""
    return dict(plan(query, commit_key=commit_key, branch_key=branch_key)[0].filters)


def _base_clauses(query: RunQuery, branch_key: str) -> list[dict[str, Any]]:
    clauses: list[dict[str, Any]] = []
    if query.branch:
        clauses.append({f"config.{branch_key}": query.branch})
    if query.finished_only:
        clauses.append({"state": "finished"})
    if query.extra_filter:
        clauses.append(extra_filter(query.extra_filter))
    return clauses


def _bound_clauses(query: RunQuery) -> list[dict[str, Any]]:
    if not query.bound:
        return []
    bound = query.bound
    keys = metric_keys(bound.metric) or []
    forms = [{key: {_OPS[bound.op]: bound.value}} for key in keys]
    return [forms[0] if len(forms) == 1 else {"$or": forms}]


def merge(query: RunQuery, answers: Sequence[Sequence[Run]], *, window_full: bool) -> list[Run]:
    """One answer from the searches' answers: commits checked, deduplicated, ordered, limited."""
    seen: dict[str, Run] = {}
    for run in itertools.chain.from_iterable(answers):
        if query.commits and run.commit not in query.commits:
            continue  # the server returned another commit's run: never a candidate
        seen.setdefault(run.id, run)
    runs = list(seen.values())
    if client_side(query):
        runs = _rank_locally(query, runs, window_full=window_full)
    elif query.order_by is not None:
        runs = _by_metric(runs, query.order_by, descending=query.descending)
    else:
        runs.sort(key=lambda r: r.start.timestamp() if r.start else -math.inf, reverse=True)
    return runs[: max(0, query.limit)]


def _rank_locally(query: RunQuery, runs: list[Run], *, window_full: bool) -> list[Run]:
    names = [n for n in (query.order_by, query.bound and query.bound.metric) if n]
    if window_full:
        raise TrackerError(
            f"W&B cannot sort or filter metric `{names[0]}` server-side (only letters, digits "
            f"and `_` in each part), and more than {CLIENT_WINDOW} runs match, so ml-gate cannot "
            "rank them all.",
            hint="Log the metric under a name such as `val_acc` (`wandb.define_metric` or "
            "`run.summary[...]`), or narrow the runs with candidate.filter / baseline.branch.",
        )
    if query.bound:
        bound = query.bound
        runs = [r for r in runs if _holds(r.metric(bound.metric), bound.op, bound.value)]
    if query.order_by is not None:
        runs = [r for r in runs if r.metric(query.order_by) is not None]
        runs = _by_metric(runs, query.order_by, descending=query.descending)
    return runs


def _holds(value: float | None, op: str, operand: float) -> bool:
    return value is not None and not math.isnan(value) and _COMPARE[op](value, float(operand))


def _by_metric(runs: Iterable[Run], metric: str, *, descending: bool) -> list[Run]:
    """As W&B sorts: by value, NaN (and missing) after every number in either direction."""

    def key(run: Run) -> tuple[int, float]:
        value = run.metric(metric)
        if value is None or math.isnan(value):
            return (1, 0.0)
        return (0, -value if descending else value)

    return sorted(runs, key=key)


def extra_filter(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        value = exc
    if not isinstance(value, dict):
        raise ConfigError(
            f"candidate.filter must be a JSON object for W&B, got `{text}`.",
            hint='Write a W&B run filter, e.g. `{"config.dataset": "iris-v2"}` or '
            '`{"tags": {"$in": ["nightly"]}}`.',
        )
    return value
