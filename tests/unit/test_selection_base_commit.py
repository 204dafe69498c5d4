"""mlaction.selection, `baseline.select: base_commit`, on the in-memory tracker: every step of the
fallback chain (the base commit's run; the nearest ancestor's, in one query for all ancestors;
the latest run on the branch; no baseline) and the reason each one gives."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fakes.memory_tracker import MemoryTracker

from mlaction.config.schema import GateConfig
from mlaction.gitcontext import Ancestors, GitContext
from mlaction.runs import RUNNING, Selection
from mlaction.selection import MAX_RUNS_PER_COMMIT, select_runs
from mlaction.trackers.base import RunQuery

HEAD = "a" * 40
BASE = "b" * 40
# The base commit's first-parent ancestors, nearest first.
PARENTS = [f"{i:x}" * 40 for i in range(1, 8)]
CANDIDATE_QUERY = RunQuery(limit=MAX_RUNS_PER_COMMIT, commits=(HEAD,), finished_only=False)
BASE_QUERY = RunQuery(limit=MAX_RUNS_PER_COMMIT, commits=(BASE,))
LATEST_QUERY = RunQuery(limit=4, branch="main")


def gate(**baseline: Any) -> GateConfig:
    return GateConfig.model_validate(
        {
            "tracker": {"experiment": "demo"},
            "baseline": {"select": "base_commit", "branch": "main", **baseline},
            # No noise rule: it would read the history, a query these tests do not count.
            "metrics": {"accuracy": {"max_regression": 0.02, "noise": False}},
            "comment": {"history": 0},
        }
    )


class History:
    """An ancestors provider over a fixed first-parent history; records what it was asked."""

    def __init__(self, shas: Sequence[str]) -> None:
        self.shas = list(shas)
        self.asked: list[tuple[str, int]] = []

    def __call__(self, sha: str, count: int) -> list[str]:
        self.asked.append((sha, count))
        return self.shas[:count] if sha == BASE else []


def select(
    tracker: MemoryTracker, config: GateConfig, ancestors: Ancestors | None = None
) -> Selection:
    git = GitContext(commit=HEAD, base_commit=BASE, base_branch="main", ancestors=ancestors)
    return select_runs(config, tracker, git)


def test_the_run_of_the_base_commit() -> None:
    tracker = MemoryTracker()
    tracker.log(PARENTS[0], metrics={"accuracy": 0.95})
    older = tracker.log(BASE, metrics={"accuracy": 0.90})
    newer = tracker.log(BASE, metrics={"accuracy": 0.85})
    tracker.log(HEAD, branch="feature", metrics={"accuracy": 0.88})
    history = History(PARENTS)

    chosen = select(tracker, gate(), history)

    assert chosen.baseline == newer  # the newest of the base commit's runs
    assert older != newer
    assert chosen.baseline_reason == f"run of the base commit {BASE[:12]}"
    assert tracker.queries == [CANDIDATE_QUERY, BASE_QUERY]
    assert history.asked == []  # the ancestors are not needed


def test_a_running_run_of_the_base_commit_does_not_count() -> None:
    tracker = MemoryTracker()
    parent = tracker.log(PARENTS[0], metrics={"accuracy": 0.9})
    tracker.log(BASE, status=RUNNING, metrics={"accuracy": 0.9})
    tracker.log(HEAD, metrics={"accuracy": 0.88})

    assert select(tracker, gate(), History(PARENTS)).baseline == parent


def test_the_nearest_ancestor_run_in_one_query_for_all_ancestors() -> None:
    tracker = MemoryTracker()
    tracker.log(PARENTS[4], metrics={"accuracy": 0.80})  # farther back
    near = tracker.log(PARENTS[2], metrics={"accuracy": 0.90})  # three commits back
    tracker.log(PARENTS[4], metrics={"accuracy": 0.99})  # newer, but farther back
    tracker.log("f" * 40, metrics={"accuracy": 0.99})  # newest on main, not an ancestor
    tracker.log(PARENTS[1], branch="other", metrics={"accuracy": 0.99})  # not on the branch
    tracker.log(HEAD, branch="feature", metrics={"accuracy": 0.88})
    history = History(PARENTS)

    chosen = select(tracker, gate(max_ancestors=5), history)

    assert chosen.baseline == near
    assert chosen.baseline_reason == (
        f"no finished run for the base commit {BASE[:12]}; used the run of its ancestor "
        f"{PARENTS[2][:12]}, 3 commits back"
    )
    assert history.asked == [(BASE, 5)]
    ancestors = RunQuery(limit=MAX_RUNS_PER_COMMIT, commits=tuple(PARENTS[:5]), branch="main")
    assert tracker.queries == [CANDIDATE_QUERY, BASE_QUERY, ancestors]


def test_the_parent_is_one_commit_back() -> None:
    tracker = MemoryTracker()
    parent = tracker.log(PARENTS[0], metrics={"accuracy": 0.9})
    tracker.log(HEAD, metrics={"accuracy": 0.88})

    chosen = select(tracker, gate(), History(PARENTS))

    assert chosen.baseline == parent
    assert chosen.baseline_reason.endswith(f"ancestor {PARENTS[0][:12]}, 1 commit back")


def test_ancestors_beyond_max_ancestors_are_not_asked_for() -> None:
    tracker = MemoryTracker()
    tracker.log(PARENTS[3], metrics={"accuracy": 0.9})  # four commits back
    latest = tracker.log("f" * 40, metrics={"accuracy": 0.7})
    tracker.log(HEAD, metrics={"accuracy": 0.88})

    chosen = select(tracker, gate(max_ancestors=3), History(PARENTS))

    assert chosen.baseline == latest
    assert tracker.queries[2].commits == tuple(PARENTS[:3])


def test_a_provider_that_returns_too_many_ancestors_is_cut_to_max_ancestors() -> None:
    tracker = MemoryTracker()
    tracker.log(HEAD, metrics={"accuracy": 0.88})

    def generous(sha: str, count: int) -> list[str]:
        return PARENTS

    select(tracker, gate(max_ancestors=2), generous)

    assert tracker.queries[2].commits == tuple(PARENTS[:2])


def test_no_ancestors_known_falls_back_to_the_latest_run_on_the_branch() -> None:
    tracker = MemoryTracker()
    tracker.log("e" * 40, metrics={"accuracy": 0.9})
    latest = tracker.log("f" * 40, metrics={"accuracy": 0.8})
    tracker.log("d" * 40, branch="other", metrics={"accuracy": 0.8})
    tracker.log(HEAD, metrics={"accuracy": 0.88})

    chosen = select(tracker, gate(), ancestors=None)

    assert chosen.baseline == latest
    assert chosen.baseline_reason == (
        f"no finished run for the base commit {BASE[:12]}; "
        "fell back to the latest finished run on branch `main`"
    )
    assert tracker.queries == [CANDIDATE_QUERY, BASE_QUERY, LATEST_QUERY]


def test_a_provider_that_knows_no_ancestors_sends_no_ancestor_query() -> None:
    # A shallow clone and no GitHub access: the provider answers [].
    tracker = MemoryTracker()
    latest = tracker.log("f" * 40, metrics={"accuracy": 0.8})
    tracker.log(HEAD, metrics={"accuracy": 0.88})

    chosen = select(tracker, gate(), History([]))

    assert chosen.baseline == latest
    assert tracker.queries == [CANDIDATE_QUERY, BASE_QUERY, LATEST_QUERY]
    # Today's wording claims the ancestors were looked at even when none were known.
    assert chosen.baseline_reason == (
        f"no finished run for the base commit {BASE[:12]} or its 20 nearest ancestors; "
        "fell back to the latest finished run on branch `main`"
    )


def test_max_ancestors_zero_does_not_ask_for_ancestors() -> None:
    tracker = MemoryTracker()
    tracker.log(PARENTS[0], metrics={"accuracy": 0.9})
    latest = tracker.log("f" * 40, metrics={"accuracy": 0.8})
    tracker.log(HEAD, metrics={"accuracy": 0.88})
    history = History(PARENTS)

    chosen = select(tracker, gate(max_ancestors=0), history)

    assert chosen.baseline == latest
    assert history.asked == []
    assert chosen.baseline_reason == (
        f"no finished run for the base commit {BASE[:12]}; "
        "fell back to the latest finished run on branch `main`"
    )
    assert tracker.queries == [CANDIDATE_QUERY, BASE_QUERY, LATEST_QUERY]


def test_ancestors_without_runs_fall_back_to_the_latest_run_on_the_branch() -> None:
    tracker = MemoryTracker()
    tracker.log(PARENTS[1], branch="other", metrics={"accuracy": 0.9})  # off the branch
    tracker.log(PARENTS[0], status=RUNNING, metrics={"accuracy": 0.9})  # not finished
    latest = tracker.log("f" * 40, metrics={"accuracy": 0.8})
    tracker.log(HEAD, metrics={"accuracy": 0.88})

    chosen = select(tracker, gate(max_ancestors=5), History(PARENTS))

    assert chosen.baseline == latest
    assert chosen.baseline_reason == (
        f"no finished run for the base commit {BASE[:12]} or its 5 nearest ancestors; "
        "fell back to the latest finished run on branch `main`"
    )
    assert len(tracker.queries) == 4  # candidate, base commit, ancestors, latest


def test_the_fallback_never_picks_the_candidate_commit() -> None:
    tracker = MemoryTracker()
    tracker.log(HEAD, metrics={"accuracy": 0.80})
    tracker.log(HEAD, metrics={"accuracy": 0.88})

    chosen = select(tracker, gate(), ancestors=None)

    assert chosen.baseline is None


def test_nothing_at_all_means_no_baseline_with_the_reason() -> None:
    tracker = MemoryTracker()
    tracker.log(HEAD, metrics={"accuracy": 0.88})
    tracker.log("f" * 40, branch="other", metrics={"accuracy": 0.9})

    chosen = select(tracker, gate(max_ancestors=5), History(PARENTS))

    assert chosen.baseline is None
    assert chosen.baseline_reason == (
        f"no finished run for the base commit {BASE[:12]} or its 5 nearest ancestors; "
        "no finished run on branch `main` either; finished runs exist on `other` (1): "
        "regression checks are skipped"
    )
    assert len(tracker.queries) == 5  # the last one: which branches have runs (bounded)
    assert tracker.queries[-1] == RunQuery(limit=200)


def test_without_a_base_commit_the_latest_run_on_the_branch() -> None:
    tracker = MemoryTracker()
    latest = tracker.log("f" * 40, metrics={"accuracy": 0.8})
    tracker.log(HEAD, metrics={"accuracy": 0.88})
    history = History(PARENTS)

    chosen = select_runs(gate(), tracker, GitContext(commit=HEAD, ancestors=history))

    assert chosen.baseline == latest
    assert chosen.baseline_reason == (
        "no base commit known (not a pull request); latest finished run on branch `main`"
    )
    assert tracker.queries == [CANDIDATE_QUERY, LATEST_QUERY]
    assert history.asked == []


def test_without_a_base_commit_or_any_run() -> None:
    tracker = MemoryTracker()
    tracker.log(HEAD, metrics={"accuracy": 0.88})

    chosen = select_runs(gate(), tracker, GitContext(commit=HEAD))

    assert chosen.baseline is None
    assert chosen.baseline_reason == (
        "no base commit known (not a pull request); "
        "no finished run on branch `main` to compare with; the experiment has no other "
        "finished run: regression checks are skipped"
    )


def test_without_a_branch_the_chain_searches_every_branch() -> None:
    tracker = MemoryTracker()
    parent = tracker.log(PARENTS[1], branch="release", metrics={"accuracy": 0.9})
    tracker.log(HEAD, metrics={"accuracy": 0.88})
    config = GateConfig.model_validate(
        {
            "tracker": {"experiment": "demo"},
            "baseline": {"select": "base_commit"},
            "metrics": {"accuracy": {"max_regression": 0.02}},
            "comment": {"history": 0},
        }
    )

    chosen = select(tracker, config, History(PARENTS))

    assert chosen.baseline == parent
    assert tracker.queries[2].branch is None
