"""The baseline: the run the candidate is compared with (`baseline.select`), and, when there is
none, a reason that names what was searched and what exists."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

from mlaction.config.schema import GateConfig
from mlaction.errors import RunNotFoundError
from mlaction.gitcontext import GitContext
from mlaction.queries import MAX_RUNS_PER_COMMIT, commit_group, newest, others
from mlaction.runs import ModelVersionInfo, Run, finite
from mlaction.trackers.base import MetricBound, RunQuery, Tracker

# No baseline on the configured branch: the newest runs surveyed to say which branches have runs.
MAX_BRANCH_SURVEY = 200
MAX_BRANCHES_NAMED = 5
MAX_BRANCH_TEXT = 60  # a branch name is tracker text: capped (and escaped by the report)


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
    runs = others(found, candidate)
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
        runs = others(commit_group(config, tracker, git.base_commit), candidate)
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
    runs: list[Run] = []
    value = candidate.metric(metric)
    if finite(value):
        # First only the runs at least as good as the candidate: the server sorts those, not the
        # whole experiment. The best run is among them unless the candidate is the new best.
        assert value is not None
        bound = MetricBound(metric, ">=" if maximize else "<=", value)
        runs = _ranked(tracker.search(replace(query, bound=bound)), candidate, metric)
    if not runs:
        runs = _ranked(tracker.search(query), candidate, metric)
    if not runs:
        return (
            None,
            f"no finished run{on} with metric `{metric}`: regression checks are skipped",
            None,
        )
    goal = "highest" if maximize else "lowest"
    return runs[0], f"best finished run{on} by `{metric}` ({goal})", None


def _ranked(runs: Sequence[Run], candidate: Run, metric: str) -> list[Run]:
    """The other commits' runs that can rank: NaN / inf never rank first."""
    return [r for r in others(runs, candidate) if finite(r.metric(metric))]


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
    runs = [r for r in others(tracker.search(query), candidate) if r.commit in order]
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
    """The newest finished run of another commit. Room for a few runs of the candidate's own
    commit first; when they fill the page (replicates: seeds, folds), once more with room for
    as many as a commit's group holds."""
    for limit in (4, MAX_RUNS_PER_COMMIT + 4):
        query = RunQuery(
            limit=limit, branch=config.baseline.branch, extra_filter=config.candidate.filter
        )
        found = newest(tracker, query, candidate.start)
        runs = others(found, candidate)
        if runs or len(found) < limit:
            return runs[0] if runs else None
    return None
