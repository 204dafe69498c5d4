"""Config + git context -> candidate, baseline and history, each one server-side query."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from mlaction.baselines import find_baseline
from mlaction.config.schema import GateConfig
from mlaction.errors import (
    AliasNotFoundError,
    RunNotFinishedError,
    RunNotFoundError,
    UsageError,
)
from mlaction.gitcontext import GitContext
from mlaction.queries import MAX_RUNS_PER_COMMIT as MAX_RUNS_PER_COMMIT
from mlaction.queries import WINDOWS as WINDOWS
from mlaction.queries import commit_group, newest, others
from mlaction.runs import (
    FINISHED,
    RUNNING,
    RegistryInfo,
    Run,
    Selection,
)
from mlaction.trackers.base import DatasetTracker, RunQuery, SweepTracker, Tracker

_log = logging.getLogger(__name__)


def select_runs(config: GateConfig, tracker: Tracker, git: GitContext) -> Selection:
    # Protocol checks look at the tracker itself: from Python 3.12 `isinstance` against a
    # runtime-checkable protocol reads attributes statically and never sees `_Memo.__getattr__`.
    own = tracker
    tracker = _Memo(tracker)  # the same query twice (base commit, its group) asks the server once
    candidate, group = find_candidate(config, tracker, git)
    by_commit = (config.candidate.select or ("commit" if git.commit else "latest")) == "commit"
    if config.uses_replicates and not by_commit and candidate.commit:
        group = commit_group(config, tracker, candidate.commit) or group
    baseline, reason, model = find_baseline(config, tracker, git, candidate)
    if config.comparable.inputs:
        candidate = with_inputs(own, candidate) or candidate
        baseline = with_inputs(own, baseline)
    baseline_group: tuple[Run, ...] = ()
    if config.uses_replicates and baseline is not None:
        # The one extra query replicate-aware gating costs: the baseline commit's other runs.
        found = commit_group(config, tracker, baseline.commit) if baseline.commit else ()
        baseline_group = found or (baseline,)
    history = find_history(config, tracker, candidate, len(group))
    artifacts = None
    if config.run.required_artifacts:
        found_paths = tracker.existing_artifacts(candidate.id, config.run.required_artifacts)
        artifacts = frozenset(found_paths)
    registry = find_registry(config, tracker, candidate)
    return Selection(
        candidate,
        baseline,
        reason,
        history,
        artifacts,
        model,
        registry=registry,
        candidate_group=group,
        baseline_group=baseline_group,
    )


class _Memo:
    """A tracker whose `search` answers a repeated query from memory (within one selection)."""

    def __init__(self, tracker: Tracker) -> None:
        self._tracker = tracker
        self._seen: dict[RunQuery, list[Run]] = {}
        self.name = tracker.name

    def search(self, query: RunQuery) -> list[Run]:
        if query not in self._seen:
            self._seen[query] = self._tracker.search(query)
        return list(self._seen[query])

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._tracker, attr)


def with_inputs(tracker: Tracker, run: Run | None) -> Run | None:
    """The run with its dataset inputs, for `comparable.inputs`: MLflow returns them with the
    run; W&B answers `used_datasets` (the artifacts the run used) with one request."""
    if run is None or run.inputs is not None or not isinstance(tracker, DatasetTracker):
        return run
    return replace(run, inputs=tuple(tracker.used_datasets(run.id)))


def find_registry(config: GateConfig, tracker: Tracker, candidate: Run) -> RegistryInfo | None:
    """The candidate's versions of the registry model, and where the required alias points."""
    rules = config.registry
    if rules is None:
        return None
    versions = tuple(tracker.model_versions(rules.model, candidate.id))
    alias_version = None
    if rules.require_alias:
        try:
            alias_version = tracker.resolve_alias(rules.model, rules.require_alias).version
        except AliasNotFoundError:
            alias_version = None
    return RegistryInfo(rules.model, versions, rules.require_alias, alias_version)


def find_candidate(
    config: GateConfig, tracker: Tracker, git: GitContext
) -> tuple[Run, tuple[Run, ...]]:
    """The candidate run, and the finished runs of its commit when they came with it.

    A run that has not finished is never judged: without a finished run of the commit, a
    running one is an error that says how to wait for it (`candidate.wait`, waiting.py).
    """
    spec = config.candidate
    mode = spec.select or ("commit" if git.commit else "latest")
    if mode == "run_id":
        assert spec.run_id is not None  # validated by the config
        run = tracker.get_run(spec.run_id)
        if run.status == RUNNING:
            raise still_running(run, f"run `{spec.run_id}`", tracker)
        return run, (run,)
    if mode == "sweep_best":
        if not hasattr(tracker, "sweep_best"):
            raise UsageError(
                "candidate.select: sweep_best needs a tracker with sweeps (W&B), "
                f"not {tracker.name}."
            )
        assert spec.sweep is not None
        sweeps: SweepTracker = tracker  # type: ignore[assignment]
        best = sweeps.sweep_best(spec.sweep)
        return best, (best,)
    if mode == "latest":
        runs = tracker.search(RunQuery(limit=1, extra_filter=spec.filter))
        if not runs:
            raise RunNotFoundError(
                f"no finished run in {tracker.describe()}.",
                hint="Log a run first, or check `tracker.experiment` and `candidate.filter`.",
            )
        return runs[0], (runs[0],)
    if not git.commit:
        raise UsageError(
            "candidate.select is `commit` but no commit is known.",
            hint="Pass --commit SHA, run inside a git checkout, or set GITHUB_SHA.",
        )
    runs = commit_runs(config, tracker, git.commit)
    if not runs:
        raise RunNotFoundError(
            f"no run for commit {git.commit} in {tracker.describe()}.",
            hint="The training step must tag its run with the commit it trained "
            "(MLflow: tag `mlflow.source.git.commit`, `git_commit` or `commit`; W&B: the run's "
            "git commit). In a pull request that is the PR head sha "
            "(github.event.pull_request.head.sha), not GITHUB_SHA. Check also "
            "`tracker.experiment` and `candidate.filter`. When the model trains elsewhere and "
            "is logged later, let the gate wait for it: `candidate.wait: 2h` "
            "(docs/waiting.md).",
        )
    picked = ready(runs, 1)
    if picked is None:
        raise still_running(runs[0], f"commit {git.commit}", tracker)
    return picked


def commit_runs(config: GateConfig, tracker: Tracker, commit: str) -> list[Run]:
    """Every run of one commit, finished or not, newest first: one query (a wait's poll)."""
    query = RunQuery(
        limit=MAX_RUNS_PER_COMMIT,
        commits=(commit,),
        finished_only=False,
        extra_filter=config.candidate.filter,
    )
    return tracker.search(query)


def ready(runs: Sequence[Run], need: int) -> tuple[Run, tuple[Run, ...]] | None:
    """The candidate and its finished group once `need` runs of the commit (newest first)
    have finished, or (need 1) once the newest is no longer running: a failed or killed run
    is judged as such. None while there is something to wait for."""
    finished = tuple(r for r in runs if r.status == FINISHED)
    if finished and len(finished) >= need:
        return finished[0], finished
    if need <= 1 and runs and runs[0].status != RUNNING:
        return runs[0], (runs[0],)
    return None


def still_running(run: Run, what: str, tracker: Tracker) -> RunNotFinishedError:
    return RunNotFinishedError(
        f"the run of {what} in {tracker.describe()} is still running "
        f"(run `{shown(run.id)}`{_named(run)}): a run that has not finished is never judged.",
        hint="Run the gate after training ends, or let it wait for the run: "
        "`candidate.wait: 2h` in the config (CLI: `ml-gate check --wait 2h`); see "
        "docs/waiting.md.",
    )


def _named(run: Run) -> str:
    return f", named `{shown(run.name)}`" if run.name and run.name != run.id else ""


def shown(text: str, limit: int = 80) -> str:
    """Tracker text for a one-line message: printable characters only, capped."""
    clean = "".join(ch if ch.isprintable() else "?" for ch in text)
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


def find_history(
    config: GateConfig, tracker: Tracker, candidate: Run, candidate_runs: int = 1
) -> tuple[Run, ...]:
    """The last N finished runs on the baseline branch, newest first (candidate excluded)."""
    limit = config.history_limit
    if limit <= 0:
        return ()
    query = RunQuery(
        limit=limit + candidate_runs + 2,  # room for the candidate commit's own runs
        branch=config.baseline.branch,
        extra_filter=config.candidate.filter,
    )
    return tuple(others(newest(tracker, query, candidate.start), candidate)[:limit])
