"""Config + git context -> candidate, baseline and history, each one server-side query."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from mlaction.config.schema import GateConfig
from mlaction.errors import AliasNotFoundError, RunNotFoundError, UsageError
from mlaction.gitcontext import GitContext
from mlaction.runs import (
    FINISHED,
    ModelVersionInfo,
    RegistryInfo,
    Run,
    Selection,
    finite,
)
from mlaction.trackers.base import RunQuery, SweepTracker, Tracker

# How many runs of one commit are read at once (replicates: seeds, folds).
MAX_RUNS_PER_COMMIT = 50
# No baseline on the configured branch: the newest runs surveyed to say which branches have runs.
MAX_BRANCH_SURVEY = 200
MAX_BRANCHES_NAMED = 5
MAX_BRANCH_TEXT = 60  # a branch name is tracker text: capped (and escaped by the report)


def select_runs(config: GateConfig, tracker: Tracker, git: GitContext) -> Selection:
    tracker = _Memo(tracker)  # the same query twice (base commit, its group) asks the server once
    candidate, group = find_candidate(config, tracker, git)
    by_commit = (config.candidate.select or ("commit" if git.commit else "latest")) == "commit"
    if config.uses_replicates and not by_commit and candidate.commit:
        group = commit_group(config, tracker, candidate.commit) or group
    baseline, reason, model = find_baseline(config, tracker, git, candidate)
    if config.comparable.inputs:
        candidate = with_inputs(tracker, candidate) or candidate
        baseline = with_inputs(tracker, baseline)
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
    reader = getattr(tracker, "used_datasets", None)
    if run is None or run.inputs is not None or reader is None:
        return run
    return replace(run, inputs=tuple(reader(run.id)))


def commit_group(config: GateConfig, tracker: Tracker, commit: str) -> tuple[Run, ...]:
    """The finished runs of one commit (replicates: seeds, folds), newest first."""
    query = RunQuery(
        limit=MAX_RUNS_PER_COMMIT, commits=(commit,), extra_filter=config.candidate.filter
    )
    return tuple(tracker.search(query))


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
    """The candidate run, and the finished runs of its commit when they came with it."""
    spec = config.candidate
    mode = spec.select or ("commit" if git.commit else "latest")
    if mode == "run_id":
        assert spec.run_id is not None  # validated by the config
        run = tracker.get_run(spec.run_id)
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
    runs = tracker.search(
        RunQuery(
            limit=MAX_RUNS_PER_COMMIT,
            commits=(git.commit,),
            finished_only=False,
            extra_filter=spec.filter,
        )
    )
    if not runs:
        raise RunNotFoundError(
            f"no run for commit {git.commit} in {tracker.describe()}.",
            hint="The training step must tag its run with the commit it trained "
            "(MLflow: tag `mlflow.source.git.commit`, `git_commit` or `commit`; W&B: the run's "
            "git commit). In a pull request that is the PR head sha "
            "(github.event.pull_request.head.sha), not GITHUB_SHA. Check also "
            "`tracker.experiment` and `candidate.filter`.",
        )
    finished = [r for r in runs if r.status == FINISHED]
    return (finished or runs)[0], tuple(finished) or (runs[0],)


def find_baseline(
    config: GateConfig, tracker: Tracker, git: GitContext, candidate: Run
) -> tuple[Run | None, str, ModelVersionInfo | None]:
    run, reason, model = _find_baseline(config, tracker, git, candidate)
    if run is None and config.baseline.branch and config.baseline.select != "none":
        # Name what exists: a misspelt or renamed branch (`master` for `main`) reads as such.
        head, sep, tail = reason.partition(": regression checks")
        reason = f"{head}; {branches_seen(config, tracker, candidate)}{sep}{tail}"
    return run, reason, model


def branches_seen(config: GateConfig, tracker: Tracker, candidate: Run) -> str:
    """Which branches the newest finished runs are on, with counts: one bounded query."""
    query = RunQuery(limit=MAX_BRANCH_SURVEY, extra_filter=config.candidate.filter)
    found = tracker.search(query)
    runs = _others(found, candidate)
    if not runs:
        return "the experiment has no other finished run"
    counts = Counter(r.branch for r in runs)
    parts = [
        f"`{_capped(branch)}` ({n})" if branch else f"no branch recorded ({n})"
        for branch, n in counts.most_common(MAX_BRANCHES_NAMED)
    ]
    if len(counts) > MAX_BRANCHES_NAMED:
        parts.append(f"{len(counts) - MAX_BRANCHES_NAMED} more branches")
    among = f" (among the newest {MAX_BRANCH_SURVEY})" if len(found) >= MAX_BRANCH_SURVEY else ""
    return f"finished runs exist on {', '.join(parts)}{among}"


def _capped(text: str) -> str:
    return text if len(text) <= MAX_BRANCH_TEXT else text[:MAX_BRANCH_TEXT] + "…"


def _find_baseline(
    config: GateConfig, tracker: Tracker, git: GitContext, candidate: Run
) -> tuple[Run | None, str, ModelVersionInfo | None]:
    spec = config.baseline
    branch = spec.branch
    on = f" on branch `{branch}`" if branch else ""
    if spec.select == "none":
        return None, "no baseline (`baseline.select: none`): regression checks are skipped", None
    if spec.select == "run_id":
        assert spec.run_id is not None
        return tracker.get_run(spec.run_id), f"run `{spec.run_id}` (`baseline.run_id`)", None
    if spec.select == "alias":
        assert spec.model is not None
        assert spec.alias is not None
        ref = tracker.resolve_alias(spec.model, spec.alias)
        if not ref.run_id:
            raise RunNotFoundError(
                f"model `{ref.model}` version {ref.version} (alias `{spec.alias}`) has no run.",
                hint="Register model versions from a tracked run so the gate can read its metrics.",
            )
        run = tracker.get_run(ref.run_id)
        info = ModelVersionInfo(ref.model, ref.version, spec.alias)
        return run, f"model `{ref.model}` @ `{spec.alias}` (version {ref.version})", info
    if spec.select == "base_commit" and git.base_commit:
        runs = _others(commit_group(config, tracker, git.base_commit), candidate)
        if runs:
            return runs[0], f"run of the base commit {git.base_commit[:12]}", None
        found = _nearest_ancestor_run(config, tracker, git, candidate)
        if found is not None:
            return found[0], _ancestor_reason(git.base_commit, *found), None
        latest = _latest(tracker, config, candidate)
        why = f"no finished run for the base commit {git.base_commit[:12]}"
        if git.ancestors and config.baseline.max_ancestors:
            why += f" or its {config.baseline.max_ancestors} nearest ancestors"
        why += "; "
        if latest is None:
            return None, why + f"no finished run{on} either: regression checks are skipped", None
        return latest, why + f"fell back to the latest finished run{on}", None
    if spec.select in ("latest", "base_commit"):
        latest = _latest(tracker, config, candidate)
        why = "" if spec.select == "latest" else "no base commit known (not a pull request); "
        if latest is None:
            return (
                None,
                why + f"no finished run{on} to compare with: regression checks are skipped",
                None,
            )
        return latest, why + f"latest finished run{on}", None
    return _best(config, tracker, candidate)


def _best(
    config: GateConfig, tracker: Tracker, candidate: Run
) -> tuple[Run | None, str, ModelVersionInfo | None]:
    metric = config.ranking_metric
    branch = config.baseline.branch
    on = f" on branch `{branch}`" if branch else ""
    if metric is None:
        return None, "no metric to rank runs by: regression checks are skipped", None
    maximize = config.goal_of(metric) == "maximize"
    query = RunQuery(
        limit=10,  # room for the candidate's own runs and diverged (NaN) runs sorted first
        branch=branch,
        order_by=metric,
        descending=maximize,
        extra_filter=config.candidate.filter,
    )
    runs = _others(tracker.search(query), candidate)
    runs = [r for r in runs if finite(r.metric(metric))]  # NaN / inf never rank first
    if not runs:
        return (
            None,
            f"no finished run{on} with metric `{metric}`: regression checks are skipped",
            None,
        )
    goal = "highest" if maximize else "lowest"
    return runs[0], f"best finished run{on} by `{metric}` ({goal})", None


def _nearest_ancestor_run(
    config: GateConfig, tracker: Tracker, git: GitContext, candidate: Run
) -> tuple[Run, int] | None:
    """The run of the nearest ancestor of the base commit: one query for all of them."""
    steps = config.baseline.max_ancestors
    if git.ancestors is None or not git.base_commit or steps <= 0:
        return None
    shas = git.ancestors(git.base_commit, steps)[:steps]
    if not shas:
        return None
    query = RunQuery(
        limit=MAX_RUNS_PER_COMMIT,
        commits=tuple(shas),
        branch=config.baseline.branch,
        extra_filter=config.candidate.filter,
    )
    order = {sha: i for i, sha in enumerate(shas)}
    runs = [r for r in _others(tracker.search(query), candidate) if r.commit in order]
    if not runs:
        return None
    # Nearest ancestor first; among its runs, the newest (the query returns newest first).
    best = min(runs, key=lambda r: order[r.commit or ""])
    return best, order[best.commit or ""] + 1


def _ancestor_reason(base: str, run: Run, back: int) -> str:
    commits = "commit" if back == 1 else "commits"
    return (
        f"no finished run for the base commit {base[:12]}; used the run of its ancestor "
        f"{(run.commit or '')[:12]}, {back} {commits} back"
    )


def _latest(tracker: Tracker, config: GateConfig, candidate: Run) -> Run | None:
    query = RunQuery(limit=4, branch=config.baseline.branch, extra_filter=config.candidate.filter)
    runs = _others(tracker.search(query), candidate)
    return runs[0] if runs else None


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
    return tuple(_others(tracker.search(query), candidate)[:limit])


def _others(runs: Sequence[Run], candidate: Run) -> list[Run]:
    """Drop the candidate and the runs of its commit (replicates of the candidate)."""
    return [
        r
        for r in runs
        if r.id != candidate.id and not (candidate.commit and r.commit == candidate.commit)
    ]
