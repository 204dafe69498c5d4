"""mlaction.selection on the in-memory tracker: the baseline for `best`, `latest`, `run_id`,
`alias` and `none`, the reason each one gives, and the queries it costs. (`base_commit` is in
test_selection_base_commit.py.)"""

from __future__ import annotations

import math

import pytest
from fakes.memory_tracker import MemoryTracker
from selection_helpers import HEAD, OTHER, gate, select

from mlaction.errors import AliasNotFoundError, RunNotFoundError
from mlaction.runs import RUNNING, ModelVersionInfo
from mlaction.trackers.base import MetricBound, RunQuery


def test_best_baseline_is_the_highest_finished_run_on_the_branch_but_not_the_candidate() -> None:
    tracker = MemoryTracker()
    tracker.log(OTHER, metrics={"accuracy": 0.85})
    best = tracker.log(OTHER, metrics={"accuracy": 0.90})
    tracker.log(OTHER, branch="other", metrics={"accuracy": 0.99})
    tracker.log(OTHER, status=RUNNING, metrics={"accuracy": 0.98})
    tracker.log(OTHER, metrics={"loss": 0.1})  # no accuracy: cannot rank
    tracker.log(HEAD, metrics={"accuracy": 0.95})  # the candidate's sibling
    tracker.log(HEAD, metrics={"accuracy": 0.97})  # the candidate

    chosen = select(tracker, gate(baseline={"select": "best", "branch": "main"}))

    assert chosen.baseline == best
    assert chosen.baseline_reason == "best finished run on branch `main` by `accuracy` (highest)"
    # candidate; best bounded at the candidate's 0.97 (finds only its own commit's runs), then
    # the unbounded query, since the candidate is the new best
    assert len(tracker.queries) == 3
    bound = MetricBound("accuracy", ">=", 0.97)
    assert tracker.queries[1] == RunQuery(limit=10, branch="main", order_by="accuracy", bound=bound)
    assert tracker.queries[2] == RunQuery(limit=10, branch="main", order_by="accuracy")


def test_best_baseline_of_a_minimised_metric_is_the_lowest() -> None:
    tracker = MemoryTracker()
    tracker.log(OTHER, metrics={"loss": 0.30})
    lowest = tracker.log(OTHER, metrics={"loss": 0.20})
    tracker.log(HEAD, metrics={"loss": 0.25})
    config = gate(metrics={"loss": {"goal": "minimize", "max_regression": 0.01}})

    chosen = select(tracker, config)

    assert chosen.baseline == lowest
    assert chosen.baseline_reason == "best finished run by `loss` (lowest)"
    assert tracker.queries[1].descending is False


def test_best_baseline_ranks_by_baseline_metric_when_given() -> None:
    tracker = MemoryTracker()
    tracker.log(OTHER, metrics={"accuracy": 0.9, "f1": 0.5})
    by_f1 = tracker.log(OTHER, metrics={"accuracy": 0.8, "f1": 0.7})
    tracker.log(HEAD, metrics={"accuracy": 0.85, "f1": 0.6})

    chosen = select(tracker, gate(baseline={"metric": "f1"}))

    assert chosen.baseline == by_f1
    assert tracker.queries[1].order_by == "f1"


def test_best_baseline_never_is_an_infinite_run() -> None:
    # W&B returns an infinite summary value as inf and ranks it first, descending.
    tracker = MemoryTracker(flavour="wandb")
    finite_best = tracker.log(OTHER, metrics={"accuracy": 0.9})
    tracker.log(OTHER, metrics={"accuracy": math.inf})
    tracker.log(HEAD, metrics={"accuracy": 0.85})

    assert select(tracker, gate()).baseline == finite_best


def test_best_baseline_never_is_an_infinite_run_on_mlflow() -> None:
    # MLflow stores +inf as 1.797e308 and returns that; mlflow.py reads it back as +inf.
    tracker = MemoryTracker()
    finite_best = tracker.log(OTHER, metrics={"accuracy": 0.9})
    tracker.log(OTHER, metrics={"accuracy": math.inf})
    tracker.log(HEAD, metrics={"accuracy": 0.85})

    assert select(tracker, gate()).baseline == finite_best


@pytest.mark.parametrize(("goal", "diverged"), [("maximize", math.inf), ("minimize", -math.inf)])
def test_best_baseline_is_found_behind_a_page_of_infinite_runs(goal: str, diverged: float) -> None:
    tracker = MemoryTracker()
    finite_best = tracker.log(OTHER, metrics={"m": 0.5})
    for _ in range(12):  # more than the ten runs a best query asks for
        tracker.log(OTHER, metrics={"m": diverged})
    tracker.log(HEAD, metrics={"m": 0.5})
    config = gate(metrics={"m": {"goal": goal, "max_regression": 0.1}})

    chosen = select(tracker, config)

    assert chosen.baseline == finite_best, chosen.baseline_reason


def test_best_baseline_skips_diverged_runs_sorted_first() -> None:
    # W&B keeps NaN runs in an ordered query and sorts them first, ascending.
    tracker = MemoryTracker(flavour="wandb")
    for _ in range(3):
        tracker.log(OTHER, metrics={"loss": math.nan})
    lowest = tracker.log(OTHER, metrics={"loss": 0.3})
    tracker.log(HEAD, metrics={"loss": 0.25})
    config = gate(metrics={"loss": {"goal": "minimize", "max_regression": 0.01}})

    assert select(tracker, config).baseline == lowest


def test_best_baseline_with_no_other_run_skips_the_comparison_with_the_reason() -> None:
    tracker = MemoryTracker()
    tracker.log(HEAD, metrics={"accuracy": 0.9})
    tracker.log(HEAD, metrics={"accuracy": 0.91})

    chosen = select(tracker, gate(baseline={"branch": "main"}))

    assert chosen.baseline is None
    assert chosen.baseline_reason == (
        "no finished run on branch `main` with metric `accuracy`; the experiment has no other "
        "finished run: regression checks are skipped"
    )


def test_best_baseline_without_a_metric_to_rank_by_sends_no_query() -> None:
    tracker = MemoryTracker()
    tracker.log(HEAD)
    tracker.log(OTHER)

    chosen = select(tracker, gate(metrics={}, run={"required_params": ["lr"]}))

    assert chosen.baseline is None
    assert chosen.baseline_reason == "no metric to rank runs by: regression checks are skipped"
    assert len(tracker.queries) == 1  # the candidate only


def test_latest_baseline_is_the_newest_finished_run_on_the_branch() -> None:
    tracker = MemoryTracker()
    tracker.log(OTHER, metrics={"accuracy": 0.99})
    newest = tracker.log(OTHER, metrics={"accuracy": 0.80})
    tracker.log(OTHER, branch="other")
    tracker.log(OTHER, status=RUNNING)
    tracker.log(HEAD, branch="main")

    chosen = select(tracker, gate(baseline={"select": "latest", "branch": "main"}))

    assert chosen.baseline == newest
    assert chosen.baseline_reason == "latest finished run on branch `main`"
    assert tracker.queries[1] == RunQuery(limit=4, branch="main")


def test_latest_baseline_behind_the_candidates_replicates() -> None:
    # Five seeds of the candidate's commit on the branch, newer than the last run of another
    # commit: the first page (4 runs) holds only the candidate's own runs.
    tracker = MemoryTracker()
    before = tracker.log(OTHER, metrics={"accuracy": 0.90})
    for _ in range(5):
        tracker.log(HEAD, metrics={"accuracy": 0.91})

    chosen = select(tracker, gate(baseline={"select": "latest", "branch": "main"}))

    assert chosen.baseline == before  # before: None, "no finished run on branch `main`"
    assert [q.limit for q in tracker.queries[1:3]] == [4, 54]


def test_latest_baseline_with_nothing_to_compare_with() -> None:
    tracker = MemoryTracker()
    tracker.log(HEAD)

    chosen = select(tracker, gate(baseline={"select": "latest", "branch": "main"}))

    assert chosen.baseline is None
    assert chosen.baseline_reason == (
        "no finished run on branch `main` to compare with; the experiment has no other "
        "finished run: regression checks are skipped"
    )


def test_no_baseline_on_the_branch_names_the_branches_that_have_runs() -> None:
    """`branch: master` where the runs are on `main`: the reason says where they are."""
    tracker = MemoryTracker()
    for _ in range(3):
        tracker.log(OTHER, branch="main", metrics={"accuracy": 0.9})
    tracker.log(OTHER, branch="dev", metrics={"accuracy": 0.9})
    tracker.log(OTHER, branch=None, metrics={"accuracy": 0.9})
    tracker.log(OTHER, branch="main", status=RUNNING, metrics={"accuracy": 0.9})  # not counted
    tracker.log(HEAD, branch="main", metrics={"accuracy": 0.9})  # the candidate: not counted

    chosen = select(tracker, gate(baseline={"select": "latest", "branch": "master"}))

    assert chosen.baseline is None
    assert chosen.baseline_reason == (
        "no finished run on branch `master` to compare with; finished runs exist on `main` (3), "
        "no branch recorded (1), `dev` (1): regression checks are skipped"
    )
    assert tracker.queries[-1] == RunQuery(limit=200)  # one bounded query, newest first


def test_the_branch_survey_is_bounded_and_says_so() -> None:
    tracker = MemoryTracker()
    for i in range(210):
        tracker.log(OTHER, branch=f"b{i % 8}", metrics={"accuracy": 0.9})
    tracker.log(HEAD, branch="main", metrics={"accuracy": 0.9})

    chosen = select(tracker, gate(baseline={"select": "best", "branch": "master"}))

    assert ", 3 more branches (among the newest 200): regression" in chosen.baseline_reason


def test_a_branch_name_from_the_tracker_is_capped() -> None:
    tracker = MemoryTracker()
    tracker.log(OTHER, branch="x" * 500, metrics={"accuracy": 0.9})
    tracker.log(HEAD, branch="main", metrics={"accuracy": 0.9})

    chosen = select(tracker, gate(baseline={"select": "latest", "branch": "master"}))

    assert "`" + "x" * 60 + "…` (1)" in chosen.baseline_reason
    assert "x" * 61 not in chosen.baseline_reason


def test_select_none_sends_no_survey() -> None:
    tracker = MemoryTracker()
    tracker.log(OTHER, branch="main", metrics={"accuracy": 0.9})
    tracker.log(HEAD, branch="main", metrics={"accuracy": 0.9})

    chosen = select(tracker, gate(baseline={"select": "none", "branch": "master"}))

    assert chosen.baseline_reason.startswith("no baseline (`baseline.select: none`)")
    assert len(tracker.queries) == 1  # the candidate only


def test_run_id_baseline_is_read_by_id() -> None:
    tracker = MemoryTracker()
    tracker.log(HEAD)
    pinned = tracker.log(OTHER, run_id="pinned")

    chosen = select(tracker, gate(baseline={"select": "run_id", "run_id": "pinned"}))

    assert chosen.baseline == pinned
    assert chosen.baseline_reason == "run `pinned` (`baseline.run_id`)"
    assert len(tracker.queries) == 1
    assert tracker.run_reads == ["pinned"]


def test_alias_baseline_is_the_run_behind_the_model_version() -> None:
    tracker = MemoryTracker()
    tracker.log(HEAD)
    old = tracker.log(OTHER)
    champion = tracker.log(OTHER)
    tracker.register("iris", old.id)
    tracker.register("iris", champion.id, aliases=["champion"])
    tracker.register("iris", old.id)
    config = gate(baseline={"select": "alias", "model": "iris", "alias": "champion"})

    chosen = select(tracker, config)

    assert chosen.baseline == champion
    assert chosen.baseline_reason == "model `iris` @ `champion` (version 2)"
    assert chosen.baseline_model == ModelVersionInfo("iris", "2", "champion")
    assert len(tracker.queries) == 1


def test_alias_that_does_not_exist_is_an_error() -> None:
    tracker = MemoryTracker()
    tracker.log(HEAD)
    config = gate(baseline={"select": "alias", "model": "iris", "alias": "champion"})

    with pytest.raises(AliasNotFoundError, match="no alias `champion`"):
        select(tracker, config)


def test_alias_on_a_version_without_a_run_is_an_error() -> None:
    tracker = MemoryTracker()
    tracker.log(HEAD)
    tracker.register("iris", None, aliases=["champion"])
    config = gate(baseline={"select": "alias", "model": "iris", "alias": "champion"})

    with pytest.raises(RunNotFoundError, match=r"version 1 \(alias `champion`\) has no run"):
        select(tracker, config)


def test_no_baseline_when_asked_for_none() -> None:
    tracker = MemoryTracker()
    tracker.log(HEAD)
    tracker.log(OTHER)

    chosen = select(tracker, gate(baseline={"select": "none"}))

    assert chosen.baseline is None
    assert chosen.baseline_reason == (
        "no baseline (`baseline.select: none`): regression checks are skipped"
    )
    assert len(tracker.queries) == 1
