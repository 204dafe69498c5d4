"""entrypoint.py as the runner starts a Docker action: only INPUT_* / GITHUB_* in the environment,
a real event payload, a real MLflow server and the GitHub fake over real HTTP."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from entrypoint_helpers import Step, launch
from fakes.github_server import (
    BOT_LOGIN,
    READONLY_TOKEN,
    REPOSITORY,
    WORKFLOW_TOKEN,
    FakeGitHub,
)
from fakes.wandb_server import FAKE_WANDB_KEY, FakeWandbServer
from mlflow_helpers import RunLogger

ROOT = Path(__file__).resolve().parents[2]
HEAD = "a" * 40
BASE = "b" * 40
MERGE = "e" * 40
PR = 7
REPO = REPOSITORY


ActionRun = Step  # the finished step: exit code, log, outputs, summary, workspace


def pull_request_event(number: int = PR, labels: tuple[str, ...] = ()) -> dict[str, Any]:
    repo = {"full_name": "octo/models", "id": 1}
    return {
        "action": "synchronize",
        "number": number,
        "pull_request": {
            "number": number,
            "head": {"sha": HEAD, "ref": "feature", "repo": repo},
            "base": {"sha": BASE, "ref": "main", "repo": repo},
            "labels": [{"name": name} for name in labels],
        },
        "repository": repo,
        "sender": {"login": "dev"},
    }


def push_event() -> dict[str, Any]:
    return {
        "ref": "refs/heads/main",
        "before": BASE,
        "after": HEAD,
        "repository": {"full_name": "octo/models"},
    }


CONFIG = """\
tracker:
  type: mlflow
  experiment: {experiment}
  timeout: 10s
baseline: {{select: best, branch: main}}
metrics:
  accuracy: {{min: 0.90, max_regression: 0.02}}
"""


def run_entrypoint(
    tmp_path: Path,
    github: FakeGitHub,
    runs: RunLogger,
    *,
    event_name: str = "pull_request",
    event: dict[str, Any] | None = None,
    inputs: dict[str, str] | None = None,
    config: str | None = None,
    config_name: str = ".github/ml-gate.yml",
    token: str = WORKFLOW_TOKEN,
    tracking_uri: str | None = None,
    sha: str = MERGE,
    extra_env: dict[str, str] | None = None,
) -> ActionRun:
    github.pulls.add(PR)
    workspace = tmp_path / "workspace"
    (workspace / ".github").mkdir(parents=True, exist_ok=True)
    (workspace / config_name).write_text(config or CONFIG.format(experiment=runs.experiment))
    files = tmp_path / "file_commands"
    files.mkdir(exist_ok=True)
    output, summary = files / "output", files / "summary"
    for f in (output, summary):
        f.write_text("")
    event_path = tmp_path / "event.json"
    event_path.write_text(json.dumps(event if event is not None else pull_request_event()))
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": event_name,
        "GITHUB_EVENT_PATH": str(event_path),
        "GITHUB_REPOSITORY": github.repository,
        "GITHUB_SHA": sha,
        "GITHUB_REF": "refs/pull/7/merge",
        "GITHUB_API_URL": github.api_url,
        "GITHUB_SERVER_URL": "https://github.example",
        "GITHUB_RUN_ID": "99",
        "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary),
        "INPUT_CONFIG": config_name,
        "INPUT_GITHUB-TOKEN": token,
        "INPUT_COMMENT": "",
        "INPUT_DRY-RUN": "false",
        "INPUT_REPORT": "",
        "MLFLOW_TRACKING_URI": tracking_uri or runs.uri,
    }
    env.update({f"INPUT_{k.upper()}": v for k, v in (inputs or {}).items()})
    env.update(extra_env or {})
    return launch(env, workspace, output, summary)


def ours(github: FakeGitHub, pr: int = PR) -> list[dict[str, Any]]:
    return [c for c in github.comments(pr) if c["user"]["login"] == BOT_LOGIN]


def test_pull_request_pass_creates_then_edits_one_comment(
    tmp_path: Path, github_server: FakeGitHub, runs: RunLogger
) -> None:
    best = runs.log("1" * 40, metrics={"accuracy": 0.92})
    runs.log(MERGE, branch="feature", metrics={"accuracy": 0.10})  # the merge commit: not judged
    cand = runs.log(HEAD, branch="feature", metrics={"accuracy": 0.93})

    first = run_entrypoint(tmp_path, github_server, runs)

    assert first.code == 0, first.stdout
    assert first.outputs["passed"] == "true"
    assert first.outputs["verdict"] == "pass"
    assert first.outputs["candidate-run-id"] == cand
    assert first.outputs["baseline-run-id"] == best
    assert first.outputs["failed-checks"] == "[]"
    assert first.outputs["report"] == "ml-gate-report.json"
    report = json.loads((first.workspace / "ml-gate-report.json").read_text())
    assert report["verdict"] == "pass"
    assert "## ✅ ml-gate: passed" in first.summary
    comments = ours(github_server)
    assert len(comments) == 1
    assert comments[0]["body"].startswith("<!-- ml-gate:.github/ml-gate.yml -->")
    assert first.outputs["comment-url"] == comments[0]["html_url"]
    assert f"https://github.example/{REPO}/actions/runs/99" in comments[0]["body"]
    lines = first.stdout.splitlines()
    assert lines[0] == f"::add-mask::{WORKFLOW_TOKEN}"  # masked before anything is printed
    assert WORKFLOW_TOKEN not in "\n".join(lines[1:])

    runs.log(HEAD, branch="feature", metrics={"accuracy": 0.80})  # a newer run for the head
    for _ in range(2):
        again = run_entrypoint(tmp_path, github_server, runs)
    assert again.code == 1
    comments = ours(github_server)
    assert len(comments) == 1  # edited in place, never a second one
    assert "## ❌ ml-gate: failed" in comments[0]["body"]
    assert len(github_server.requests_to("create_comment")) == 1


def test_failing_gate_annotates_and_exits_1(
    tmp_path: Path, github_server: FakeGitHub, runs: RunLogger
) -> None:
    runs.log("1" * 40, metrics={"accuracy": 0.95})
    runs.log(HEAD, branch="feature", metrics={"accuracy": 0.85})

    result = run_entrypoint(tmp_path, github_server, runs)

    assert result.code == 1
    assert result.outputs["passed"] == "false"
    assert json.loads(result.outputs["failed-checks"]) == [
        "accuracy.min",
        "accuracy.max_regression",
    ]
    errors = [line for line in result.stdout.splitlines() if line.startswith("::error ")]
    assert len(errors) == 2
    assert errors[0].startswith("::error title=ml-gate%3A accuracy.min::")


def test_push_event_judges_github_sha_and_posts_nothing(
    tmp_path: Path, github_server: FakeGitHub, runs: RunLogger
) -> None:
    cand = runs.log(HEAD, metrics={"accuracy": 0.95})

    result = run_entrypoint(
        tmp_path, github_server, runs, event_name="push", event=push_event(), sha=HEAD
    )

    assert result.code == 0, result.stdout
    assert result.outputs["candidate-run-id"] == cand
    assert result.outputs["comment-url"] == ""
    assert github_server.requests_to("create_comment") == []
    assert "No pull request" in result.stdout


def test_fork_token_403_keeps_outputs_and_exit_code(
    tmp_path: Path, github_server: FakeGitHub, runs: RunLogger
) -> None:
    runs.log("1" * 40, metrics={"accuracy": 0.95})
    runs.log(HEAD, branch="feature", metrics={"accuracy": 0.85})

    result = run_entrypoint(tmp_path, github_server, runs, token=READONLY_TOKEN)

    assert result.code == 1  # the gate's verdict, not the comment's failure
    assert result.outputs["verdict"] == "fail"
    assert "## ❌ ml-gate: failed" in result.summary
    warning = next(line for line in result.stdout.splitlines() if line.startswith("::warning "))
    assert "docs/fork-prs.md" in warning
    assert github_server.comments(PR) == []


def test_comment_never_posts_nothing(
    tmp_path: Path, github_server: FakeGitHub, runs: RunLogger
) -> None:
    runs.log(HEAD, metrics={"accuracy": 0.5})

    result = run_entrypoint(tmp_path, github_server, runs, inputs={"comment": "never"})

    assert result.code == 1
    assert github_server.comments(PR) == []
    assert result.outputs["verdict"] == "fail"


def test_on_failure_mode_posts_on_failure_and_updates_when_green(
    tmp_path: Path, github_server: FakeGitHub, runs: RunLogger
) -> None:
    runs.log("c" * 40, branch="main", metrics={"accuracy": 0.95})  # the baseline
    runs.log(HEAD, branch="feature", metrics={"accuracy": 0.95})
    run_entrypoint(tmp_path, github_server, runs, inputs={"comment": "on_failure"})
    assert github_server.comments(PR) == []  # green: nothing to say

    runs.log(HEAD, branch="feature", metrics={"accuracy": 0.5})
    run_entrypoint(tmp_path, github_server, runs, inputs={"comment": "on_failure"})
    assert len(ours(github_server)) == 1

    runs.log(HEAD, branch="feature", metrics={"accuracy": 0.97})
    run_entrypoint(tmp_path, github_server, runs, inputs={"comment": "on_failure"})
    comments = ours(github_server)
    assert len(comments) == 1
    assert "## ✅ ml-gate: passed" in comments[0]["body"]  # the old failure is not left standing


def test_two_gates_keep_two_comments(
    tmp_path: Path, github_server: FakeGitHub, runs: RunLogger
) -> None:
    runs.log(HEAD, metrics={"accuracy": 0.95, "latency_ms": 30})
    other = (
        f"tracker: {{experiment: {runs.experiment}}}\n"
        "metrics:\n  latency_ms: {goal: minimize, max: 50}\n"
    )
    for _ in range(2):
        run_entrypoint(tmp_path, github_server, runs)
        run_entrypoint(
            tmp_path, github_server, runs, config=other, config_name=".github/latency.yml"
        )

    bodies = sorted(c["body"].splitlines()[0] for c in ours(github_server))
    assert bodies == [
        "<!-- ml-gate:.github/latency.yml -->",
        "<!-- ml-gate:.github/ml-gate.yml -->",
    ]


def test_dry_run_reports_but_posts_nothing(
    tmp_path: Path, github_server: FakeGitHub, runs: RunLogger
) -> None:
    runs.log("c" * 40, metrics={"accuracy": 0.95})  # the baseline on main
    runs.log(HEAD, metrics={"accuracy": 0.95})

    result = run_entrypoint(tmp_path, github_server, runs, inputs={"dry-run": "true"})

    assert result.code == 0
    assert result.outputs["verdict"] == "pass"
    assert "## ✅ ml-gate: passed" in result.summary
    assert github_server.requests_to("list_comments") == []


def test_saved_report_is_posted_by_the_second_workflow(
    tmp_path: Path, github_server: FakeGitHub, runs: RunLogger
) -> None:
    runs.log(HEAD, metrics={"accuracy": 0.5})
    evaluated = run_entrypoint(tmp_path, github_server, runs, inputs={"dry-run": "true"})
    assert evaluated.code == 1
    assert github_server.comments(PR) == []

    posted = run_entrypoint(
        tmp_path,
        github_server,
        runs,
        event_name="workflow_run",
        event={"workflow_run": {}},
        inputs={"report": "ml-gate-report.json", "pr-number": str(PR)},
    )

    assert posted.code == 0, posted.stdout
    comments = ours(github_server)
    assert len(comments) == 1
    assert "## ❌ ml-gate: failed" in comments[0]["body"]
    assert posted.outputs["comment-url"] == comments[0]["html_url"]


def test_unreachable_tracker_is_exit_2_with_outputs(
    tmp_path: Path, github_server: FakeGitHub, runs: RunLogger
) -> None:
    result = run_entrypoint(tmp_path, github_server, runs, tracking_uri="http://127.0.0.1:9")

    assert result.code == 2
    assert result.outputs["verdict"] == "error"
    assert result.outputs["passed"] == "false"
    assert "the MLflow server at http://127.0.0.1:9 refused the connection" in result.summary
    assert any(
        line.startswith("::error title=ml-gate%3A tracker error::")
        for line in result.stdout.splitlines()
    )


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"comment": "sometimes"}, "input `comment` must be always, on_failure or never"),
        ({"dry-run": "maybe"}, "input `dry-run` must be true or false"),
    ],
)
def test_bad_inputs_are_usage_errors(
    tmp_path: Path,
    github_server: FakeGitHub,
    runs: RunLogger,
    inputs: dict[str, str],
    message: str,
) -> None:
    result = run_entrypoint(tmp_path, github_server, runs, inputs=inputs)
    assert result.code == 2
    assert message in result.stdout
    assert result.outputs["verdict"] == "error"


def test_tracker_text_cannot_issue_workflow_commands(
    tmp_path: Path, github_server: FakeGitHub, runs: RunLogger
) -> None:
    runs.log("c" * 40, metrics={"accuracy": 0.95})  # the baseline on main
    runs.log(HEAD, metrics={"accuracy": 0.95}, name="::set-output name=passed::false")

    result = run_entrypoint(tmp_path, github_server, runs)

    lines = result.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("::stop-commands::"))
    pause = lines[start].removeprefix("::stop-commands::")
    end = lines.index(f"::{pause}::")
    table = "\n".join(lines[start + 1 : end])
    assert table.startswith("ml-gate: PASS (passed)")
    assert "::set-output name=passed::false" in table  # shown, inside the paused region
    assert len(pause) == 32
    assert result.outputs["passed"] == "true"


def test_wandb_gate_through_the_entrypoint(
    tmp_path: Path, github_server: FakeGitHub, runs: RunLogger, wandb_server: FakeWandbServer
) -> None:
    wandb_server.add_project("acme", "iris")
    wandb_server.add_run(
        "acme",
        "iris",
        id="base1",
        commit="1" * 40,
        config={"git_branch": "main"},
        summary={"accuracy": 0.95},
    )
    wandb_server.add_run(
        "acme",
        "iris",
        id="cand1",
        commit=HEAD,
        config={"git_branch": "feature"},
        summary={"accuracy": 0.90},
    )
    config = (
        "tracker: {type: wandb, experiment: acme/iris, timeout: 20s}\n"
        "baseline: {select: best, branch: main}\n"
        "metrics:\n  accuracy: {min: 0.8, max_regression: 0.02}\n"
    )

    result = run_entrypoint(
        tmp_path,
        github_server,
        runs,
        config=config,
        extra_env={"WANDB_BASE_URL": wandb_server.url, "WANDB_API_KEY": FAKE_WANDB_KEY},
    )

    assert result.code == 1, result.stdout
    assert result.outputs["candidate-run-id"] == "cand1"
    assert result.outputs["baseline-run-id"] == "base1"
    assert json.loads(result.outputs["failed-checks"]) == ["accuracy.max_regression"]
    assert f"::add-mask::{FAKE_WANDB_KEY}" in result.stdout.splitlines()
    assert FAKE_WANDB_KEY not in "\n".join(
        line for line in result.stdout.splitlines() if not line.startswith("::add-mask::")
    )
    assert len(ours(github_server)) == 1


def test_github_app_token_keeps_one_comment_with_comment_author(
    tmp_path: Path, github_server: FakeGitHub, runs: RunLogger
) -> None:
    app_token = "ghs_AppInstallationToken0123456789abcdef"
    github_server.add_token(app_token, "ml-gate-app[bot]", can_call_user=False)
    runs.log(HEAD, metrics={"accuracy": 0.95})
    inputs = {"comment-author": "ml-gate-app[bot]"}

    for _ in range(3):
        result = run_entrypoint(tmp_path, github_server, runs, token=app_token, inputs=inputs)
        assert result.code == 0, result.stdout

    mine = [c for c in github_server.comments(PR) if c["user"]["login"] == "ml-gate-app[bot]"]
    assert len(mine) == 1
    assert len(github_server.requests_to("create_comment")) == 1
