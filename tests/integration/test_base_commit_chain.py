"""`baseline.select: base_commit` with its fallback chain on a real MLflow server: the base
commit's run, else its nearest ancestor's (from the checked-out git history, else the GitHub
commits API, one tracker query for all of them), else the latest run on the branch."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

from fakes.github_server import WORKFLOW_TOKEN, FakeGitHub
from mlflow_helpers import RunLogger
from runner_helpers import parse_outputs, pull_request_event

from mlaction.action import run_action
from mlaction.config import load_config
from mlaction.engine import Settings, evaluate_gate
from mlaction.gitcontext import GitContext, git_ancestors
from mlaction.trackers import build_tracker
from mlaction.trackers.base import RunQuery

HEAD = "a" * 40
GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]


def make_repo(path: Path, commits: int) -> list[str]:
    """A repository with a linear history; returns the shas, oldest first."""
    path.mkdir(parents=True)
    subprocess.run(["git", "init", "-q"], cwd=path, check=True)
    shas = []
    for i in range(commits):
        subprocess.run([*GIT, "commit", "-q", "--allow-empty", "-m", f"c{i}"], cwd=path, check=True)
        shas.append(
            subprocess.run(
                ["git", "rev-parse", "HEAD"], cwd=path, capture_output=True, text=True, check=True
            ).stdout.strip()
        )
    return shas


def write_config(tmp_path: Path, runs: RunLogger, extra: str = "") -> Path:
    path = tmp_path / "gate.yml"
    path.write_text(
        f"tracker: {{uri: {runs.uri}, experiment: {runs.experiment}}}\n"
        f"baseline: {{select: base_commit, branch: main{extra}}}\n"
        "metrics:\n  accuracy: {max_regression: 0.02}\n"
    )
    return path


def test_nearest_ancestor_from_git_history(tmp_path: Path, runs: RunLogger) -> None:
    shas = make_repo(tmp_path / "repo", 6)
    base = shas[-1]
    runs.log(shas[1], metrics={"accuracy": 0.80})  # farther back
    near = runs.log(shas[3], metrics={"accuracy": 0.90})  # two commits behind the base
    runs.log("f" * 40, metrics={"accuracy": 0.99})  # newest on main, not an ancestor
    runs.log(HEAD, branch="feature", metrics={"accuracy": 0.895})
    tracker = build_tracker(load_config(write_config(tmp_path, runs)).gate.tracker)
    queries: list[RunQuery] = []
    search = tracker.search

    def counting(query: RunQuery) -> list:  # type: ignore[type-arg]
        queries.append(query)
        return search(query)

    tracker.search = counting  # type: ignore[method-assign]
    git = GitContext(HEAD, base, "main", ancestors=git_ancestors(tmp_path / "repo"))

    result = evaluate_gate(
        Settings(config_path=write_config(tmp_path, runs), git=git, env={}), tracker
    )
    report, markdown = result.to_json(), result.markdown

    assert report["baseline"]["id"] == near
    assert report["baseline_reason"] == (
        f"no finished run for the base commit {base[:12]}; used the run of its ancestor "
        f"{shas[3][:12]}, 2 commits back"
    )
    assert "2 commits back" in markdown
    ancestor_queries = [q for q in queries if len(q.commits) > 1]
    assert len(ancestor_queries) == 1  # one query for all the ancestors
    assert ancestor_queries[0].commits == tuple(reversed(shas[:-1]))


def test_max_ancestors_bounds_the_walk_then_falls_back(tmp_path: Path, runs: RunLogger) -> None:
    shas = make_repo(tmp_path / "repo", 6)
    runs.log(shas[0], metrics={"accuracy": 0.90})  # five commits back
    latest = runs.log("f" * 40, metrics={"accuracy": 0.91})
    runs.log(HEAD, branch="feature", metrics={"accuracy": 0.92})
    git = GitContext(HEAD, shas[-1], "main", ancestors=git_ancestors(tmp_path / "repo"))

    report = evaluate_gate(
        Settings(
            config_path=write_config(tmp_path, runs, ", max_ancestors: 3"),
            git=git,
            env={},
        )
    ).to_json()

    assert report["baseline"]["id"] == latest
    assert report["baseline_reason"] == (
        f"no finished run for the base commit {shas[-1][:12]} or its 3 nearest ancestors; "
        "fell back to the latest finished run on branch `main`"
    )


def test_ancestors_from_the_github_api_when_the_checkout_is_shallow(
    tmp_path: Path, runs: RunLogger, github_server: FakeGitHub
) -> None:
    history = [f"{i:040x}" for i in range(30, 0, -1)]  # newest first
    base = history[0]
    github_server.history = history
    github_server.pulls.add(9)
    near = runs.log(history[4], metrics={"accuracy": 0.90})
    runs.log(HEAD, branch="feature", metrics={"accuracy": 0.85})
    workspace = tmp_path / "ws"  # not a git repository: no local history
    (workspace / ".github").mkdir(parents=True)
    write_config(tmp_path, runs).rename(workspace / ".github" / "ml-gate.yml")
    event = tmp_path / "event.json"
    event.write_text(json.dumps(pull_request_event(9, head_sha=HEAD, base_sha=base)))
    outputs = tmp_path / "out"
    outputs.write_text("")
    env = {
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_REPOSITORY": github_server.repository,
        "GITHUB_API_URL": github_server.api_url,
        "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_OUTPUT": str(outputs),
        "INPUT_GITHUB-TOKEN": WORKFLOW_TOKEN,
        "INPUT_COMMENT": "never",
    }

    code = run_action(env, stream=io.StringIO())

    assert code == 1  # 0.85 vs the ancestor's 0.90
    assert parse_outputs(outputs.read_text())["baseline-run-id"] == near
    report = json.loads((workspace / "ml-gate-report.json").read_text())
    assert report["baseline_reason"].endswith(f"{history[4][:12]}, 4 commits back")
    assert len(github_server.requests_to("list_commits")) == 1
