"""mlaction.selection on the in-memory tracker: the candidate, the replicate groups, the history,
the registry lookups, and how many queries each costs. (The baseline is in
test_selection_baseline.py, the base_commit fallback chain in test_selection_base_commit.py.)"""

from __future__ import annotations

import math

import pytest
from fakes.memory_tracker import MemoryTracker, Sweep
from selection_helpers import HEAD, OTHER, gate, select

from mlaction.errors import RunNotFinishedError, RunNotFoundError, UsageError
from mlaction.gitcontext import GitContext
from mlaction.runs import FAILED, RUNNING
from mlaction.selection import MAX_RUNS_PER_COMMIT, find_candidate
from mlaction.trackers.base import RunQuery

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


def test_a_running_candidate_is_never_judged() -> None:
    tracker = MemoryTracker(experiment="iris")
    tracker.log(HEAD, status=FAILED)
    running = tracker.log(HEAD, status=RUNNING)

    with pytest.raises(RunNotFinishedError) as raised:
        find_candidate(gate(), tracker, GitContext(commit=HEAD))

    assert raised.value.message == (
        f"the run of commit {HEAD} in in-memory experiment `iris` is still running "
        f"(run `{running.id}`, named `{running.name}`): a run that has not finished is never "
        "judged."
    )
    assert "`candidate.wait: 2h`" in (raised.value.hint or "")
    assert "--wait" in (raised.value.hint or "")


def test_a_failed_candidate_is_judged_as_failed() -> None:
    tracker = MemoryTracker()
    tracker.log(HEAD, status=RUNNING)
    failed = tracker.log(HEAD, status=FAILED)

    candidate, group = find_candidate(gate(), tracker, GitContext(commit=HEAD))

    assert candidate == failed
    assert group == (failed,)


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
    # candidate group, best (bounded at the candidate's value, then unbounded: it is the new
    # best), baseline group
    assert len(tracker.queries) == 4
    assert tracker.queries[3] == RunQuery(limit=MAX_RUNS_PER_COMMIT, commits=(OTHER,))


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
    assert len(tracker.queries) == 3  # candidate, best twice (new best); no group query


def test_without_replicates_there_are_no_group_queries() -> None:
    tracker = MemoryTracker()
    tracker.log(OTHER, metrics={"accuracy": 0.8})
    tracker.log(OTHER, metrics={"accuracy": 0.81})
    tracker.log(HEAD, metrics={"accuracy": 0.83})

    chosen = select(tracker, gate())

    assert chosen.baseline_group == ()
    assert len(tracker.queries) == 3  # candidate, best twice (the candidate is the new best)


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
    assert (
        len(tracker.queries) == 4
    )  # candidate, best twice (the candidate is the new best), history


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
    assert len(tracker.queries) == 3  # candidate, best twice (the candidate is the new best)


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
