"""mlaction.selection on the in-memory tracker: which runs become the candidate, the baseline and
the history, and how many queries each choice costs. (The base_commit fallback chain is in
test_selection_base_commit.py.)"""

from __future__ import annotations

import math
from typing import Any

import pytest
from fakes.memory_tracker import MemoryTracker, Sweep

from mlaction.config.schema import GateConfig
from mlaction.errors import AliasNotFoundError, RunNotFoundError, UsageError
from mlaction.gitcontext import GitContext
from mlaction.runs import FAILED, RUNNING, ModelVersionInfo, Selection
from mlaction.selection import MAX_RUNS_PER_COMMIT, find_candidate, select_runs
from mlaction.trackers.base import RunQuery

HEAD = "a" * 40
OTHER = "c" * 40


def gate(**sections: Any) -> GateConfig:
    """A config gating `accuracy`; sections replace the defaults (history off unless given)."""
    data: dict[str, Any] = {
        "tracker": {"experiment": "demo"},
        "metrics": {"accuracy": {"max_regression": 0.02}},
        "comment": {"history": 0},
    }
    data.update(sections)
    return GateConfig.model_validate(data)


def select(tracker: MemoryTracker, config: GateConfig, git: GitContext | None = None) -> Selection:
    return select_runs(config, tracker, git if git is not None else GitContext(commit=HEAD))


# -- candidate ------------------------------------------------------------------------------


def test_candidate_by_commit_is_one_query_for_all_runs_of_the_commit() -> None:
    tracker = MemoryTracker()
    tracker.log(OTHER, metrics={"accuracy": 0.7})
    first = tracker.log(HEAD, branch="feature", metrics={"accuracy": 0.8})
    second = tracker.log(HEAD, branch="feature", metrics={"accuracy": 0.81})

    candidate, group = find_candidate(gate(), tracker, GitContext(commit=HEAD))

    assert candidate == second  # the newest finished run of the commit
    assert group == (second, first)
    assert tracker.queries == [
        RunQuery(limit=MAX_RUNS_PER_COMMIT, commits=(HEAD,), finished_only=False)
    ]


def test_candidate_by_commit_prefers_a_finished_run_over_a_newer_running_one() -> None:
    tracker = MemoryTracker()
    done = tracker.log(HEAD, metrics={"accuracy": 0.8})
    tracker.log(HEAD, status=RUNNING)
    tracker.log(HEAD, status=FAILED)

    candidate, group = find_candidate(gate(), tracker, GitContext(commit=HEAD))

    assert candidate == done
    assert group == (done,)  # only finished runs are replicates


def test_candidate_by_commit_with_no_finished_run_is_the_newest_run() -> None:
    tracker = MemoryTracker()
    tracker.log(HEAD, status=FAILED)
    running = tracker.log(HEAD, status=RUNNING)

    candidate, group = find_candidate(gate(), tracker, GitContext(commit=HEAD))

    assert candidate == running
    assert group == (running,)


def test_no_run_for_the_commit_names_the_commit_and_the_experiment() -> None:
    tracker = MemoryTracker(experiment="iris")
    tracker.log(OTHER, metrics={"accuracy": 0.7})

    with pytest.raises(RunNotFoundError) as raised:
        select(tracker, gate())

    assert raised.value.message == f"no run for commit {HEAD} in in-memory experiment `iris`."
    assert "mlflow.source.git.commit" in (raised.value.hint or "")
    assert len(tracker.queries) == 1


def test_candidate_by_commit_without_a_commit_is_a_usage_error() -> None:
    tracker = MemoryTracker()
    tracker.log(HEAD)

    with pytest.raises(UsageError, match="no commit is known"):
        select(tracker, gate(candidate={"select": "commit"}), GitContext())

    assert tracker.queries == []


def test_candidate_filter_is_sent_with_the_candidate_query() -> None:
    tracker = MemoryTracker()
    wanted = tracker.log(HEAD, params={"dataset": "v2"})
    tracker.log(HEAD, params={"dataset": "v1"})
    config = gate(candidate={"filter": "params.dataset = 'v2'"})

    candidate, group = find_candidate(config, tracker, GitContext(commit=HEAD))

    assert (candidate, group) == (wanted, (wanted,))
    assert tracker.queries[0].extra_filter == "params.dataset = 'v2'"


def test_candidate_latest_without_a_commit_is_the_newest_finished_run() -> None:
    tracker = MemoryTracker()
    tracker.log(OTHER, branch="old")
    newest = tracker.log(HEAD, branch="feature")
    tracker.log(None, status=RUNNING)

    candidate, group = find_candidate(gate(), tracker, GitContext())

    assert (candidate, group) == (newest, (newest,))
    assert tracker.queries == [RunQuery(limit=1)]


def test_candidate_latest_with_no_finished_run_names_the_experiment() -> None:
    tracker = MemoryTracker()
    tracker.log(HEAD, status=RUNNING)

    with pytest.raises(RunNotFoundError, match=r"no finished run in in-memory experiment `demo`\."):
        find_candidate(gate(candidate={"select": "latest"}), tracker, GitContext(commit=HEAD))


def test_candidate_by_run_id_reads_the_run_and_searches_nothing() -> None:
    tracker = MemoryTracker()
    tracker.log(HEAD)
    chosen = tracker.log(OTHER, run_id="abc123")

    candidate, group = find_candidate(
        gate(candidate={"select": "run_id", "run_id": "abc123"}), tracker, GitContext(commit=HEAD)
    )

    assert (candidate, group) == (chosen, (chosen,))
    assert tracker.queries == []
    assert tracker.run_reads == ["abc123"]


def test_candidate_run_id_that_does_not_exist() -> None:
    config = gate(candidate={"select": "run_id", "run_id": "nope"})

    with pytest.raises(RunNotFoundError, match="run `nope` does not exist"):
        find_candidate(config, MemoryTracker(), GitContext(commit=HEAD))


def test_candidate_sweep_best_asks_the_tracker_for_the_sweep() -> None:
    tracker = MemoryTracker(flavour="wandb")
    low = tracker.log(None, metrics={"loss": 0.2})
    tracker.log(None, metrics={"loss": math.nan})
    tracker.log(None, metrics={"loss": 0.5})
    tracker.sweeps["sw1"] = Sweep("loss", "minimize", tuple(r.id for r in tracker.runs))
    config = gate(candidate={"select": "sweep_best", "sweep": "sw1"})

    assert find_candidate(config, tracker, GitContext()) == (low, (low,))
    assert tracker.queries == []


# -- baseline: best, latest, run_id, alias, none ---------------------------------------------


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
    assert len(tracker.queries) == 2  # candidate, best
    assert tracker.queries[1] == RunQuery(limit=10, branch="main", order_by="accuracy")


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


@pytest.mark.xfail(
    strict=True,
    reason="MLflow stores and returns +inf as 1.797e308, a finite number, so it ranks first",
)
def test_best_baseline_never_is_an_infinite_run_on_mlflow() -> None:
    tracker = MemoryTracker()
    finite_best = tracker.log(OTHER, metrics={"accuracy": 0.9})
    tracker.log(OTHER, metrics={"accuracy": math.inf})
    tracker.log(HEAD, metrics={"accuracy": 0.85})

    assert select(tracker, gate()).baseline == finite_best


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
        "no finished run on branch `main` with metric `accuracy`: regression checks are skipped"
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


def test_latest_baseline_with_nothing_to_compare_with() -> None:
    tracker = MemoryTracker()
    tracker.log(HEAD)

    chosen = select(tracker, gate(baseline={"select": "latest", "branch": "main"}))

    assert chosen.baseline is None
    assert chosen.baseline_reason == (
        "no finished run on branch `main` to compare with: regression checks are skipped"
    )


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


# -- replicates, history, registry, artifacts, memo --------------------------------------------

REPLICATES = {"accuracy": {"max_regression": 0.02, "replicates": {"min": 2}}}


def test_replicates_bring_the_candidate_and_baseline_commit_groups() -> None:
    tracker = MemoryTracker()
    base_runs = [tracker.log(OTHER, metrics={"accuracy": v}) for v in (0.80, 0.82, 0.81)]
    head_runs = [tracker.log(HEAD, metrics={"accuracy": v}) for v in (0.83, 0.84)]

    chosen = select(tracker, gate(metrics=REPLICATES))

    assert chosen.candidate == head_runs[-1]
    assert chosen.candidate_group == tuple(reversed(head_runs))
    assert chosen.baseline == base_runs[1]  # the best of the baseline commit's runs
    assert chosen.baseline_group == tuple(reversed(base_runs))
    assert len(tracker.queries) == 3  # candidate group, best, baseline group
    assert tracker.queries[2] == RunQuery(limit=MAX_RUNS_PER_COMMIT, commits=(OTHER,))


def test_replicates_of_a_latest_candidate_cost_one_query_for_its_commit() -> None:
    tracker = MemoryTracker()
    tracker.log(OTHER, metrics={"accuracy": 0.8})
    first = tracker.log(HEAD, metrics={"accuracy": 0.83})
    second = tracker.log(HEAD, metrics={"accuracy": 0.84})

    chosen = select(tracker, gate(metrics=REPLICATES), GitContext())

    assert chosen.candidate == second
    assert chosen.candidate_group == (second, first)
    assert tracker.queries[:2] == [
        RunQuery(limit=1),
        RunQuery(limit=MAX_RUNS_PER_COMMIT, commits=(HEAD,)),
    ]


def test_a_baseline_without_a_commit_is_its_own_group() -> None:
    tracker = MemoryTracker()
    lone = tracker.log(None, metrics={"accuracy": 0.8})
    tracker.log(HEAD, metrics={"accuracy": 0.83})

    chosen = select(tracker, gate(metrics=REPLICATES))

    assert chosen.baseline == lone
    assert chosen.baseline_group == (lone,)
    assert len(tracker.queries) == 2  # no group query for a run without a commit


def test_without_replicates_there_are_no_group_queries() -> None:
    tracker = MemoryTracker()
    tracker.log(OTHER, metrics={"accuracy": 0.8})
    tracker.log(OTHER, metrics={"accuracy": 0.81})
    tracker.log(HEAD, metrics={"accuracy": 0.83})

    chosen = select(tracker, gate())

    assert chosen.baseline_group == ()
    assert len(tracker.queries) == 2


def test_history_is_the_newest_runs_on_the_branch_without_the_candidate_commit() -> None:
    tracker = MemoryTracker()
    older = [tracker.log(f"{i:040d}", metrics={"accuracy": 0.8}) for i in range(5)]
    tracker.log("f" * 40, branch="other", metrics={"accuracy": 0.8})
    tracker.log(HEAD, metrics={"accuracy": 0.82})
    tracker.log(HEAD, metrics={"accuracy": 0.83})
    config = gate(baseline={"branch": "main"}, comment={"history": 3})

    chosen = select(tracker, config)

    assert chosen.history == (older[4], older[3], older[2])
    # Room for the candidate's own runs (2) and two more.
    assert tracker.queries[-1] == RunQuery(limit=3 + 2 + 2, branch="main")
    assert len(tracker.queries) == 3  # candidate, best, history


def test_history_long_enough_for_the_noise_window() -> None:
    tracker = MemoryTracker()
    for i in range(12):
        tracker.log(f"{i:040d}", metrics={"accuracy": 0.8})
    tracker.log(HEAD, metrics={"accuracy": 0.82})
    metrics = {"accuracy": {"noise": {"window": 10}}}

    chosen = select(tracker, gate(metrics=metrics, comment={"history": 4}))

    assert len(chosen.history) == 10


def test_no_history_query_when_no_history_is_wanted() -> None:
    tracker = MemoryTracker()
    tracker.log(OTHER, metrics={"accuracy": 0.8})
    tracker.log(HEAD, metrics={"accuracy": 0.83})

    chosen = select(tracker, gate(comment={"history": 0}))

    assert chosen.history == ()
    assert len(tracker.queries) == 2  # candidate, best


def test_registry_lists_the_candidate_versions_and_where_the_alias_points() -> None:
    tracker = MemoryTracker()
    other = tracker.log(OTHER, metrics={"accuracy": 0.8})
    head = tracker.log(HEAD, metrics={"accuracy": 0.83})
    tracker.register("iris", other.id, aliases=["champion"])
    tracker.register("iris", head.id)
    tracker.register("iris", head.id, aliases=["candidate"])
    config = gate(registry={"model": "iris", "require_alias": "champion"})

    info = select(tracker, config).registry

    assert info is not None
    assert [v.version for v in info.versions] == ["3", "2"]  # newest first
    assert info.versions[0].aliases == ("candidate",)
    assert (info.alias, info.alias_version) == ("champion", "1")


def test_registry_alias_that_does_not_exist_is_reported_as_none() -> None:
    tracker = MemoryTracker()
    head = tracker.log(HEAD, metrics={"accuracy": 0.83})
    tracker.register("iris", head.id)
    config = gate(registry={"model": "iris", "require_alias": "champion"})

    info = select(tracker, config).registry

    assert info is not None
    assert info.alias_version is None


def test_required_artifacts_are_looked_up_on_the_candidate() -> None:
    tracker = MemoryTracker()
    head = tracker.log(HEAD, metrics={"accuracy": 0.83})
    tracker.artifacts[head.id] = {"model/MLmodel"}
    config = gate(run={"required_artifacts": ["model/MLmodel", "eval/report.json"]})

    assert select(tracker, config).artifacts == frozenset({"model/MLmodel"})


def test_a_repeated_query_within_one_selection_is_sent_once() -> None:
    # The baseline is a run of the base commit; its replicate group is the same query.
    tracker = MemoryTracker()
    base = "b" * 40
    base_runs = [tracker.log(base, metrics={"accuracy": v}) for v in (0.8, 0.81)]
    tracker.log(HEAD, metrics={"accuracy": 0.83})
    config = gate(metrics=REPLICATES, baseline={"select": "base_commit"})

    chosen = select(tracker, config, GitContext(commit=HEAD, base_commit=base))

    assert chosen.baseline == base_runs[1]
    assert chosen.baseline_group == (base_runs[1], base_runs[0])
    assert tracker.queries == [
        RunQuery(limit=MAX_RUNS_PER_COMMIT, commits=(HEAD,), finished_only=False),
        RunQuery(limit=MAX_RUNS_PER_COMMIT, commits=(base,)),
    ]
