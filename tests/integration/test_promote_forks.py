"""A fork is never promoted: a `workflow_run` that reacts to a fork's pull request, with
`promote.on: [workflow_run]`, a fork whose branch is also called `main`, and a run tagged
`main`, leaves `champion` where it was. Real MLflow server, the real entrypoint, the GitHub fake.

The payload follows @octokit/webhooks-examples' `workflow_run.completed` (tests/payloads/): for a
fork's pull request GitHub sends `event: pull_request`, the fork as `head_repository` and an
empty `pull_requests` list.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from entrypoint_helpers import run_step
from fakes.github_server import REPOSITORY, FakeGitHub
from mlflow_helpers import RunLogger

HEAD = "f" * 40
FORK = "forker/ml-project"


def _repo(full_name: str) -> dict[str, Any]:
    owner, _, name = full_name.partition("/")
    return {"full_name": full_name, "name": name, "owner": {"login": owner}}


def workflow_run_event(*, triggered_by: str, head_repository: str) -> dict[str, Any]:
    return {
        "action": "completed",
        "workflow_run": {
            "name": "train",
            "event": triggered_by,
            "status": "completed",
            "conclusion": "success",
            "head_branch": "main",
            "head_sha": HEAD,
            "pull_requests": [],
            "head_repository": _repo(head_repository),
            "repository": _repo(REPOSITORY),
        },
        "repository": _repo(REPOSITORY),
        "sender": {"login": "forker"},
    }


def config(runs: RunLogger, model: str) -> str:
    return (
        f"tracker: {{experiment: {runs.experiment}, timeout: 10s}}\n"
        "baseline: {select: none}\n"
        "metrics:\n  accuracy: {min: 0.5}\n"
        f"promote: {{model: {model}, alias: champion, on: [workflow_run], branches: [main]}}\n"
    )


def setup(runs: RunLogger) -> tuple[str, str, str]:
    """The current champion (version 1), and the run of the head commit (version 2)."""
    model = f"m-{runs.experiment}"
    old = runs.log("1" * 40, metrics={"accuracy": 0.9})
    cand = runs.log(HEAD, branch="main", metrics={"accuracy": 0.99})
    runs.client.create_registered_model(model)
    v1 = runs.client.create_model_version(model, f"runs:/{old}/model", run_id=old).version
    runs.client.set_registered_model_alias(model, "champion", v1)
    runs.client.create_model_version(model, f"runs:/{cand}/model", run_id=cand)
    return model, str(v1), cand


def champion(runs: RunLogger, model: str) -> str:
    return str(runs.client.get_model_version_by_alias(model, "champion").version)


def test_a_forks_workflow_run_never_moves_champion(
    tmp_path: Path, github_server: FakeGitHub, runs: RunLogger
) -> None:
    model, v1, cand = setup(runs)
    event = workflow_run_event(triggered_by="pull_request", head_repository=FORK)

    step = run_step(
        tmp_path,
        github_server,
        config=config(runs, model),
        event_name="workflow_run",
        event=event,
        sha="0" * 40,  # GITHUB_SHA of a workflow_run: the default branch's tip, not judged
        env={"MLFLOW_TRACKING_URI": runs.uri},
    )

    assert step.code == 0, step.log
    assert step.outputs["candidate-run-id"] == cand
    assert step.outputs["promoted"] == "false"
    assert champion(runs, model) == v1
    promotion = step.report()["promotion"]
    assert promotion["action"] == "skipped"
    assert promotion["reason"] == f"the commit comes from another repository ({FORK})"


def test_a_same_repository_pull_requests_workflow_run_never_promotes(
    tmp_path: Path, github_server: FakeGitHub, runs: RunLogger
) -> None:
    model, v1, _ = setup(runs)
    event = workflow_run_event(triggered_by="pull_request", head_repository=REPOSITORY)

    step = run_step(
        tmp_path,
        github_server,
        config=config(runs, model),
        event_name="workflow_run",
        event=event,
        sha="0" * 40,
        env={"MLFLOW_TRACKING_URI": runs.uri},
    )

    assert step.code == 0, step.log
    assert champion(runs, model) == v1
    assert step.report()["promotion"]["reason"] == (
        "the workflow run was triggered by `pull_request`, not by the repository's own branch"
    )


def test_the_repositorys_own_push_run_promotes(
    tmp_path: Path, github_server: FakeGitHub, runs: RunLogger
) -> None:
    """The control: the same `workflow_run`, triggered by a push to the repository's main."""
    model, _, _ = setup(runs)
    event = workflow_run_event(triggered_by="push", head_repository=REPOSITORY)

    step = run_step(
        tmp_path,
        github_server,
        config=config(runs, model),
        event_name="workflow_run",
        event=event,
        sha="0" * 40,
        env={"MLFLOW_TRACKING_URI": runs.uri},
    )

    assert step.code == 0, step.log
    assert step.outputs["promoted"] == "true"
    assert champion(runs, model) == "2"
