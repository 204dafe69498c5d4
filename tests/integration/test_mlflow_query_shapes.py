"""The shaped queries (time window, candidate bound) select what the unbounded query selects.

On a real `mlflow server`: each shape is checked against the plain query it replaces, and the
queries actually sent are recorded to show the shape was taken (the window widened, the bound
was tried first).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

from mlflow_helpers import RunLogger

from mlaction.baselines import find_baseline
from mlaction.config.load import parse_config
from mlaction.config.schema import GateConfig, TrackerConfig
from mlaction.gitcontext import GitContext
from mlaction.queries import WINDOWS, newest
from mlaction.runs import Run
from mlaction.selection import find_history
from mlaction.trackers.base import RunQuery
from mlaction.trackers.mlflow import MlflowTracker

DAY = 86_400_000
HOUR = 3_600_000


class Recording(MlflowTracker):
    """The MLflow tracker, recording each query it is asked."""

    queries: list[RunQuery]
    answered: list[str]  # the run ids of every answer, in order

    def search(self, query: RunQuery) -> list[Run]:
        self.queries.append(query)
        found = super().search(query)
        self.answered = [*getattr(self, "answered", []), *(r.id for r in found)]
        return found


def setup(runs: RunLogger, text: str) -> tuple[GateConfig, Recording, MlflowTracker]:
    yaml = f"tracker: {{uri: '{runs.uri}', experiment: {runs.experiment}}}\n" + text
    config = parse_config(yaml, Path("ml-gate.yml"), {}).gate
    tracker_config = TrackerConfig(uri=runs.uri, experiment=runs.experiment)
    recording = Recording(runs.uri, tracker_config)
    recording.queries = []
    return config, recording, MlflowTracker(runs.uri, tracker_config)


def ids(found: list[Run] | tuple[Run, ...]) -> list[str]:
    return [r.id for r in found]


def candidate_at(runs: RunLogger, tracker: MlflowTracker, start: int, accuracy: float) -> Run:
    run_id = runs.log("c" * 40, branch="feature", metrics={"accuracy": accuracy}, start_ms=start)
    return tracker.get_run(run_id)


def test_history_widens_until_it_has_enough_runs(runs: RunLogger) -> None:
    now = runs.clock + DAY
    # 3 runs in the last day, 4 more within 16 days, 6 more a year ago: history 10 needs them all
    # but the oldest, so the window widens from one hour to the unbounded query.
    offsets = [i * HOUR for i in range(1, 4)]
    offsets += [d * DAY for d in (3, 5, 8, 12)]
    offsets += [(300 + d) * DAY for d in range(6)]
    for i, back in enumerate(sorted(offsets, reverse=True)):
        runs.log(f"{i:040x}", metrics={"accuracy": 0.9}, start_ms=now - back)
    config, recording, tracker = setup(
        runs, "metrics: {accuracy: {min: 0.1}}\ncomment: {history: 10}\n"
    )
    candidate = candidate_at(runs, tracker, now, 0.9)

    history = find_history(config, recording, candidate)

    unbounded = tracker.search(RunQuery(limit=13, branch=None))
    expected = [r for r in unbounded if r.id != candidate.id][:10]
    assert ids(history) == ids(expected)
    windows = [q.started_after for q in recording.queries]
    assert len(windows) == len(WINDOWS) + 1  # every window, then the unbounded query
    assert windows[-1] is None
    assert all(w is not None for w in windows[:-1])
    # Each window asks only for older runs than the last: no run is read twice.
    assert len(recording.answered) == len(set(recording.answered)) == 13, recording.answered
    assert [q.started_before for q in recording.queries[1:]] == windows[:-1]


def test_history_from_the_first_window_when_it_is_full(runs: RunLogger) -> None:
    now = runs.clock + DAY
    for i in range(30):
        back = (30 - i) * 60_000 if i >= 10 else (40 - i) * DAY  # 20 runs in the last hour
        runs.log(f"{i:040x}", metrics={"accuracy": 0.9}, start_ms=now - back)
    config, recording, tracker = setup(
        runs, "metrics: {accuracy: {min: 0.1}}\ncomment: {history: 12}\n"
    )
    candidate = candidate_at(runs, tracker, now, 0.9)

    history = find_history(config, recording, candidate)

    unbounded = tracker.search(RunQuery(limit=15))
    assert ids(history) == ids([r for r in unbounded if r.id != candidate.id][:12])
    assert len(recording.queries) == 1  # one hour held enough runs
    assert recording.queries[0].started_after is not None


def test_history_shorter_than_the_window(runs: RunLogger) -> None:
    now = runs.clock + DAY
    for i in range(4):
        runs.log(f"{i:040x}", metrics={"accuracy": 0.9}, start_ms=now - (i + 1) * HOUR)
    config, recording, tracker = setup(
        runs, "metrics: {accuracy: {min: 0.1}}\ncomment: {history: 20}\n"
    )
    candidate = candidate_at(runs, tracker, now, 0.9)

    history = find_history(config, recording, candidate)

    unbounded = tracker.search(RunQuery(limit=23))
    assert ids(history) == ids([r for r in unbounded if r.id != candidate.id])
    assert len(history) == 4


def test_windows_keep_the_tag_spelling_their_first_runs_had(runs: RunLogger) -> None:
    # MLflow's own branch tag on three runs, the fallback spelling `git_branch` on two older
    # ones: the unbounded query reads MLflow's tag and stops; so must the windows.
    now = runs.clock + DAY
    for back in (0.5 * HOUR, 0.7 * HOUR, 500 * HOUR):
        runs.log(f"{int(back):040x}", metrics={"accuracy": 0.9}, start_ms=now - int(back))
    for back in (5 * HOUR, 6 * HOUR):
        tags = {"git_branch": "main"}
        runs.log(
            f"{back:040x}", branch=None, tags=tags, metrics={"accuracy": 0.9}, start_ms=now - back
        )
    _, recording, tracker = setup(runs, "metrics: {accuracy: {min: 0.1}}\ncomment: {history: 10}\n")
    query = RunQuery(limit=10, branch="main")

    windowed = newest(recording, query, datetime.fromtimestamp(now / 1000, tz=timezone.utc))

    assert ids(windowed) == ids(tracker.search(query))  # before: the two `git_branch` runs too
    assert len(windowed) == 3
    assert len(recording.queries) > 2  # the windows were taken


BEST = "baseline: {select: best, branch: main}\nmetrics:\n  accuracy: {min: 0.1}\n"


def best_of(runs: RunLogger, accuracy: float) -> tuple[Run | None, Run | None, Recording]:
    """(the best run through the shaped queries, through the unbounded query, the recording)."""
    for i, value in enumerate([0.7, 0.95, float("nan"), 0.8, 0.9, float("-inf")]):
        runs.log(f"{i:040x}", metrics={"accuracy": value})
    runs.log("e" * 40, branch="dev", metrics={"accuracy": 0.99})  # another branch
    config, recording, tracker = setup(runs, BEST)
    candidate = candidate_at(runs, tracker, runs.clock + 60_000, accuracy)
    runs.log("c" * 40, branch="feature", metrics={"accuracy": 0.999})  # a replicate of it

    shaped, _, _ = find_baseline(config, recording, GitContext(commit="c" * 40), candidate)

    plain = RunQuery(limit=10, branch="main", order_by="accuracy", descending=True)
    unbounded = [r for r in tracker.search(plain) if r.commit != candidate.commit]
    finite = [r for r in unbounded if r.metrics["accuracy"] - r.metrics["accuracy"] == 0]
    return shaped, (finite[0] if finite else None), recording


def test_best_bounded_at_the_candidate_value_is_one_query(runs: RunLogger) -> None:
    shaped, unbounded, recording = best_of(runs, 0.85)

    assert shaped is not None
    assert unbounded is not None
    assert shaped.id == unbounded.id
    assert shaped.metrics["accuracy"] == 0.95
    assert len(recording.queries) == 1
    assert recording.queries[0].bound is not None
    assert recording.queries[0].bound.value == 0.85


def test_candidate_that_is_the_new_best_falls_back_to_the_unbounded_query(
    runs: RunLogger,
) -> None:
    shaped, unbounded, recording = best_of(runs, 0.97)

    assert shaped is not None
    assert unbounded is not None
    assert shaped.id == unbounded.id
    assert shaped.metrics["accuracy"] == 0.95
    assert [q.bound is not None for q in recording.queries] == [True, False]


def test_candidate_tied_with_the_best_keeps_the_tied_run(runs: RunLogger) -> None:
    shaped, unbounded, recording = best_of(runs, 0.95)

    assert shaped is not None
    assert unbounded is not None
    assert shaped.id == unbounded.id
    assert len(recording.queries) == 1


def test_minimised_metric_is_bounded_from_above(runs: RunLogger) -> None:
    for i, value in enumerate([0.5, 0.2, 0.4]):
        runs.log(f"{i:040x}", metrics={"loss": value})
    text = "baseline: {select: best, branch: main}\nmetrics:\n  loss: {goal: minimize, max: 1}\n"
    config, recording, tracker = setup(runs, text)
    candidate = candidate_at(runs, tracker, runs.clock + 60_000, 0.3)
    candidate = replace(candidate, metrics={"loss": 0.3})

    shaped, _, _ = find_baseline(config, recording, GitContext(commit="c" * 40), candidate)

    assert shaped is not None
    assert shaped.metrics["loss"] == 0.2
    bound = recording.queries[0].bound
    assert bound is not None
    assert (bound.op, bound.value) == ("<=", 0.3)
