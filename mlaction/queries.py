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

    Each window asks only for the runs older than the last one's start and for as many as are
    still missing, so no run is read twice: a run with a 10 MiB name costs one transfer, not one
    per window. Since every window's runs started before the previous window's, the windows'
    runs in order are the unbounded query's. At most len(WINDOWS) + 1 queries; on a large
    experiment the first one reads an hour of runs instead of all of them.
    """
    if anchor is None or not getattr(tracker, "filters_start_time", False):
        return tracker.search(query)
    found: list[Run] = []
    before: datetime | None = None
    for window in (*WINDOWS, None):
        after = anchor - window if window is not None else None
        wanted = query.limit - len(found)
        found += tracker.search(
            replace(query, limit=wanted, started_after=after, started_before=before)
        )
        if len(found) >= query.limit or after is None:
            return found
        _log.debug("%d of %d runs since %s: widening the window", len(found), query.limit, window)
        before = after
    raise AssertionError("unreachable: the last window is unbounded")


def others(runs: Sequence[Run], candidate: Run) -> list[Run]:
    """Drop the candidate and the runs of its commit (replicates of the candidate)."""
    return [
        r
        for r in runs
        if r.id != candidate.id and not (candidate.commit and r.commit == candidate.commit)
    ]
