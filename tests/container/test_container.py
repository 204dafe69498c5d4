"""The Docker image run the way the GitHub runner runs a Docker action.

The runner mounts the workspace, the file-command files and the event payload under /github, and
passes each variable with `-e NAME` (input names keep their hyphens: `INPUT_GITHUB-TOKEN`). The
MLflow server and the GitHub fake listen on 127.0.0.1; the container reaches them through the
host's network.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fakes.github_server import WORKFLOW_TOKEN, FakeGitHub
from mlflow_helpers import RunLogger
from runner_helpers import parse_outputs, pull_request_event, push_event

pytestmark = pytest.mark.container

HEAD = "a" * 40  # the PR head: the commit the gate judges
BASE = "b" * 40
MERGE = "e" * 40  # GITHUB_SHA of a pull_request event: the test merge commit, never judged
PR = 7
PR_REF = f"refs/pull/{PR}/merge"
CONFIG_PATH = ".github/ml-gate.yml"
MARKER = f"<!-- ml-gate:{CONFIG_PATH} -->"
RUN_TIMEOUT = 180

CONFIG = """\
tracker:
  type: mlflow
  uri: ${{MLFLOW_TRACKING_URI}}
  experiment: {experiment}
  timeout: 20s
baseline: {{select: best, branch: main}}
metrics:
  accuracy: {{min: 0.90, max_regression: 0.02}}
  val_loss: {{goal: minimize, max_regression: 10%}}
"""


@dataclass
class ContainerRun:
    code: int
    stdout: str
    stderr: str
    outputs: dict[str, str]
    summary: str
    workspace: Path

    def __str__(self) -> str:  # what an assertion message shows
        return f"exit {self.code}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


@dataclass
class ActionContainer:
    """Runs the image as one step of one job: the workspace persists between runs."""

    image: str
    github: FakeGitHub
    tracking_uri: str
    root: Path
    timings: list[tuple[str, float]]

    @property
    def workspace(self) -> Path:
        return self.root / "workspace"

    def run(self, event_name: str, event: dict[str, Any], *, sha: str, ref: str) -> ContainerRun:
        step = self.root / f"step-{uuid.uuid4().hex[:8]}"
        file_commands, workflow = step / "file_commands", step / "workflow"
        for directory in (self.workspace, file_commands, workflow):
            directory.mkdir(parents=True, exist_ok=True)
        output, summary = file_commands / "output", file_commands / "summary"
        for path in (output, summary):
            path.write_text("")
        (workflow / "event.json").write_text(json.dumps(event))
        # The runner passes each variable as `-e NAME`, the value from the docker client's
        # environment; the action's inputs (all of them, defaults included) keep their hyphens.
        values = {
            "GITHUB_ACTIONS": "true",
            "GITHUB_EVENT_NAME": event_name,
            "GITHUB_EVENT_PATH": "/github/workflow/event.json",
            "GITHUB_OUTPUT": "/github/file_commands/output",
            "GITHUB_STEP_SUMMARY": "/github/file_commands/summary",
            "GITHUB_REPOSITORY": self.github.repository,
            "GITHUB_SHA": sha,
            "GITHUB_REF": ref,
            "GITHUB_RUN_ID": "99",
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_API_URL": self.github.api_url,
            "GITHUB_WORKSPACE": "/github/workspace",
            "INPUT_CONFIG": CONFIG_PATH,
            "INPUT_GITHUB-TOKEN": WORKFLOW_TOKEN,
            "INPUT_COMMENT": "",
            "INPUT_DRY-RUN": "false",
            "INPUT_REPORT": "",
            "INPUT_PR-NUMBER": "",
            "MLFLOW_TRACKING_URI": self.tracking_uri,
        }
        name = f"ml-gate-test-{uuid.uuid4().hex[:12]}"
        command = [
            "docker", "run", "--name", name,
            "--workdir", "/github/workspace",
            "--network", "host",
            "-v", f"{self.workspace}:/github/workspace",
            "-v", f"{file_commands}:/github/file_commands",
            "-v", f"{workflow}:/github/workflow",
            *(arg for variable in values for arg in ("-e", variable)),
            self.image,
        ]  # fmt: skip
        start = time.monotonic()
        try:
            # No --rm: through the podman engine `docker run --rm` always exits 0.
            done = subprocess.run(
                command,
                env={**os.environ, **values},
                capture_output=True,
                text=True,
                timeout=RUN_TIMEOUT,
                check=False,
            )
        finally:
            subprocess.run(
                ["docker", "rm", "--force", name], capture_output=True, timeout=60, check=False
            )
        self.timings.append((f"docker run ({event_name})", time.monotonic() - start))
        return ContainerRun(
            done.returncode,
            done.stdout,
            done.stderr,
            parse_outputs(output.read_text(encoding="utf-8")),
            summary.read_text(encoding="utf-8"),
            self.workspace,
        )


@pytest.fixture
def action(
    action_image: str,
    container_timings: list[tuple[str, float]],
    runs: RunLogger,
    github_server: FakeGitHub,
    tmp_path: Path,
) -> ActionContainer:
    github_server.pulls.add(PR)
    container = ActionContainer(action_image, github_server, runs.uri, tmp_path, container_timings)
    (container.workspace / ".github").mkdir(parents=True)
    (container.workspace / CONFIG_PATH).write_text(CONFIG.format(experiment=runs.experiment))
    return container


def pr_event() -> dict[str, Any]:
    return pull_request_event(PR, head_sha=HEAD, base_sha=BASE)


def test_pull_request_pass_posts_one_comment_and_edits_it(
    action: ActionContainer, runs: RunLogger, github_server: FakeGitHub
) -> None:
    best = runs.log(BASE, metrics={"accuracy": 0.92, "val_loss": 0.30})
    runs.log(MERGE, branch="feature", metrics={"accuracy": 0.10, "val_loss": 9.0})
    candidate = runs.log(HEAD, branch="feature", metrics={"accuracy": 0.93, "val_loss": 0.29})

    first = action.run("pull_request", pr_event(), sha=MERGE, ref=PR_REF)

    assert first.code == 0, first
    assert first.outputs["passed"] == "true"
    assert first.outputs["verdict"] == "pass"
    assert first.outputs["candidate-run-id"] == candidate
    assert first.outputs["baseline-run-id"] == best
    assert first.outputs["failed-checks"] == "[]"
    assert first.outputs["report"] == "ml-gate-report.json"
    report = json.loads((action.workspace / "ml-gate-report.json").read_text(encoding="utf-8"))
    assert report["verdict"] == "pass"
    assert "ml-gate: passed" in first.summary
    assert candidate in first.summary
    (comment,) = github_server.comments(PR)
    assert comment["body"].startswith(MARKER)
    assert comment["user"]["login"] == "github-actions[bot]"  # the token arrived
    assert first.outputs["comment-url"] == comment["html_url"]
    assert first.stdout.splitlines()[0] == f"::add-mask::{WORKFLOW_TOKEN}"
    assert WORKFLOW_TOKEN not in first.stdout.split("\n", 1)[1] + first.stderr

    retrained = runs.log(HEAD, branch="feature", metrics={"accuracy": 0.94, "val_loss": 0.28})
    second = action.run("pull_request", pr_event(), sha=MERGE, ref=PR_REF)

    assert second.code == 0, second
    assert second.outputs["candidate-run-id"] == retrained
    (edited,) = github_server.comments(PR)
    assert edited["id"] == comment["id"]
    assert edited["body"] != comment["body"]
    assert len(github_server.requests_to("create_comment")) == 1
    assert len(github_server.requests_to("update_comment")) == 1
    assert "PR comment updated" in second.stdout


def test_failing_gate_exits_1_with_failed_checks_and_annotations(
    action: ActionContainer, runs: RunLogger, github_server: FakeGitHub
) -> None:
    runs.log(BASE, metrics={"accuracy": 0.95, "val_loss": 0.30})
    runs.log(HEAD, branch="feature", metrics={"accuracy": 0.85, "val_loss": 0.29})

    result = action.run("pull_request", pr_event(), sha=MERGE, ref=PR_REF)

    assert result.code == 1, result
    assert result.outputs["passed"] == "false"
    assert result.outputs["verdict"] == "fail"
    assert json.loads(result.outputs["failed-checks"]) == [
        "accuracy.min",
        "accuracy.max_regression",
    ]
    errors = [line for line in result.stdout.splitlines() if line.startswith("::error ")]
    assert errors[0].startswith("::error title=ml-gate%3A accuracy.min::"), result
    assert len(errors) == 2
    assert "ml-gate: failed" in result.summary
    (comment,) = github_server.comments(PR)
    assert "ml-gate: failed" in comment["body"]


def test_push_event_writes_outputs_and_posts_no_comment(
    action: ActionContainer, runs: RunLogger, github_server: FakeGitHub
) -> None:
    runs.log(BASE, metrics={"accuracy": 0.92, "val_loss": 0.30})
    candidate = runs.log(HEAD, metrics={"accuracy": 0.925, "val_loss": 0.30})

    result = action.run(
        "push", push_event(before=BASE, after=HEAD), sha=HEAD, ref="refs/heads/main"
    )

    assert result.code == 0, result
    assert result.outputs["verdict"] == "pass"
    assert result.outputs["candidate-run-id"] == candidate
    assert result.outputs["comment-url"] == ""
    assert "ml-gate: passed" in result.summary
    assert "No pull request in this `push` event" in result.stdout
    assert github_server.requests == []


# The dogfood workflow's setup (.github/workflows/dogfood.yml): the job trains into a sqlite store
# in the workspace with the runner's Python, and the action reads it at the container's path.
DOGFOOD_DB = "mlruns.db"
ROOT = Path(__file__).resolve().parents[2]


def train(workspace: Path, commit: str, branch: str, *extra: str) -> None:
    """`examples/iris/train.py` as the dogfood job runs it, outside the container."""
    script = str(ROOT / "examples/iris/train.py")
    subprocess.run(
        [sys.executable, script, "--commit", commit, "--branch", branch, *extra],
        cwd=workspace,
        env={**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{workspace / DOGFOOD_DB}"},
        capture_output=True,
        timeout=300,
        check=True,
    )


@pytest.fixture
def dogfood(
    action_image: str,
    container_timings: list[tuple[str, float]],
    github_server: FakeGitHub,
    tmp_path: Path,
) -> ActionContainer:
    github_server.pulls.add(PR)
    container = ActionContainer(
        action_image, github_server, f"sqlite:////github/workspace/{DOGFOOD_DB}", tmp_path,
        container_timings,
    )  # fmt: skip
    (container.workspace / ".github").mkdir(parents=True)
    config = (ROOT / "examples/iris/ml-gate.yml").read_text(encoding="utf-8")
    (container.workspace / CONFIG_PATH).write_text(config)
    return container


def test_the_dogfood_sqlite_store_is_read_in_the_container(
    dogfood: ActionContainer, github_server: FakeGitHub
) -> None:
    train(dogfood.workspace, "1" * 40, "main")
    train(dogfood.workspace, HEAD, "feature", "--C", "2.0")
    db = dogfood.workspace / DOGFOOD_DB
    before = db.read_bytes()

    result = dogfood.run("pull_request", pr_event(), sha=MERGE, ref=PR_REF)

    assert result.code == 0, result
    assert result.outputs["verdict"] == "pass", result
    assert result.outputs["candidate-run-id"], result
    assert result.outputs["baseline-run-id"], result  # base_commit fell back to main's latest
    assert "iris-classifier: passed" in result.summary
    (comment,) = github_server.comments(PR)
    assert "iris-classifier: passed" in comment["body"]
    assert db.read_bytes() == before  # read, never written


@pytest.mark.parametrize(
    "uri",
    [
        f"sqlite:///github/workspace/{DOGFOOD_DB}",  # three slashes: relative to /github/workspace
        f"sqlite:////home/runner/work/repo/repo/{DOGFOOD_DB}",  # ${{ github.workspace }}
    ],
    ids=["relative", "runner-path"],
)
def test_a_wrong_sqlite_path_in_the_container_is_an_error_that_creates_nothing(
    dogfood: ActionContainer, uri: str
) -> None:
    train(dogfood.workspace, HEAD, "feature")
    dogfood.tracking_uri = uri
    before = sorted(p.name for p in dogfood.workspace.rglob("*"))

    result = dogfood.run("pull_request", pr_event(), sha=MERGE, ref=PR_REF)

    assert result.code == 2, result
    assert result.outputs["verdict"] == "error", result
    path = uri.removeprefix("sqlite:///")
    assert f"no MLflow database at {path}" in result.stdout + result.stderr, result
    assert "/github/workspace" in result.summary
    assert sorted(p.name for p in dogfood.workspace.rglob("*")) == before
