"""The query shapes every run set is asked with: one commit's runs, the newest runs in widening
time windows, and the candidate's own runs left out. Used by selection.py and baselines.py."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from mlaction.config.schema import GateConfig
from mlaction.runs import Run
from mlaction.trackers.base import RunQuery, Tracker

_log = logging.getLogger(__name__)

# How many runs of one commit are read at once (replicates: seeds, folds).
MAX_RUNS_PER_COMMIT = 50


def commit_group(config: GateConfig, tracker: Tracker, commit: str) -> tuple[Run, ...]:
    """The finished runs of one commit (replicates: seeds, folds), newest first."""
    query = RunQuery(
        limit=MAX_RUNS_PER_COMMIT, commits=(commit,), extra_filter=config.candidate.filter
    )
    return tuple(tracker.search(query))


# Time windows of the newest-runs queries, each 16x the last; after them, no window at all. The
# first is short: on a busy experiment an hour holds the history, and the database reads an hour.
WINDOWS = tuple(timedelta(hours=16**i) for i in range(4))  # 1 h, 16 h, 10.7 days, 171 days


def newest(tracker: Tracker, query: RunQuery, anchor: datetime | None) -> list[Run]:
    """`query`'s newest runs, asked for in widening time windows before `anchor`.

    The same runs as the unbounded query: a window that holds `query.limit` runs holds the
    newest ones, since every run outside it started earlier. At most len(WINDOWS) + 1 queries;
    on a large experiment the first one reads an hour of runs instead of all of them.
    """
    if anchor is None or not getattr(tracker, "filters_start_time", False):
        return tracker.search(query)
    for window in WINDOWS:
        runs = tracker.search(replace(query, started_after=anchor - window))
        if len(runs) >= query.limit:
            return runs
        _log.debug("%d of %d runs since %s: widening the window", len(runs), query.limit, window)
    return tracker.search(query)


def others(runs: Sequence[Run], candidate: Run) -> list[Run]:
    """Drop the candidate and the runs of its commit (replicates of the candidate)."""
    return [
        r
        for r in runs
        if r.id != candidate.id and not (candidate.commit and r.commit == candidate.commit)
    ]
