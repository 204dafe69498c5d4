"""`ml-gate check` as a workflow's `run:` step, on an event whose payload does not name the
commit (a comment on a pull request, GitHub's example payload in tests/payloads/): it reads the
pull request through the API as the Action does, and never judges git's HEAD (on such events,
the default branch) or the newest run instead."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import ml_gate
from fakes.github_server import WORKFLOW_TOKEN, FakeGitHub
from mlflow_helpers import RunLogger

PAYLOADS = Path(__file__).resolve().parents[1] / "payloads"
PAYLOAD = PAYLOADS / "issue_comment.created.on_pull_request.json"
HELLO = "Codertocat/Hello-World"
PR_HEAD = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
PR_BASE = "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"
DEFAULT_TIP = "d" * 40  # GITHUB_SHA of an issue_comment run: the default branch's tip


@pytest.fixture
def hello() -> Iterator[FakeGitHub]:
    with FakeGitHub(repository=HELLO, pulls=()) as server:
        yield server


def check(
    tmp_path: Path,
    runs: RunLogger,
    github: FakeGitHub,
    token: str,
    *args: str,
    event_name: str = "issue_comment",
    event: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
) -> tuple[int, str]:
    """`ml-gate check ARGS` in a workflow step of `event_name`; (exit code, the candidate's run
    id, stdout and stderr in one text)."""
    config = tmp_path / "ml-gate.yml"
    config.write_text(
        f"tracker: {{uri: '{runs.uri}', experiment: {runs.experiment}, timeout: 10s}}\n"
        "baseline: {select: base_commit}\nmetrics:\n  accuracy: {min: 0.5, max_regression: 0.05}\n"
    )
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event) if event else PAYLOAD.read_text(encoding="utf-8"))
    variables = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": event_name,
        "GITHUB_EVENT_PATH": str(path),
        "GITHUB_REPOSITORY": github.repository,
        "GITHUB_SHA": DEFAULT_TIP,
        "GITHUB_REF": "refs/heads/master",
        "GITHUB_API_URL": github.api_url,
        **(env or {}),
    }
    if token:
        variables["GITHUB_TOKEN"] = token
    report = tmp_path / "report.json"
    done = ml_gate(
        "check", "-c", str(config), "--json", str(report), *args, cwd=tmp_path, env=variables
    )
    verdict = json.loads(report.read_text()) if report.is_file() else {}
    candidate = verdict.get("candidate", {}).get("id", "")
    return done.returncode, f"{candidate}\n{done.stdout}\n{done.stderr}"


def test_a_comment_on_a_pr_judges_the_prs_head(
    tmp_path: Path, runs: RunLogger, hello: FakeGitHub
) -> None:
    hello.add_pull(1, head_sha=PR_HEAD, base_sha=PR_BASE, head_ref="changes", base_ref="master")
    runs.log(PR_BASE, metrics={"accuracy": 0.90})
    head = runs.log(PR_HEAD, branch="changes", metrics={"accuracy": 0.91})
    runs.log("e" * 40, branch="other", metrics={"accuracy": 0.10})  # the newest run

    code, text = check(tmp_path, runs, hello, WORKFLOW_TOKEN)

    # Before: the newest run of the experiment was judged (exit 1, accuracy 0.10).
    assert code == 0, text
    assert text.startswith(head), text
    assert len(hello.requests_to("get_pull")) == 1


def test_a_comment_on_a_pr_without_a_token_says_how_to_name_the_commit(
    tmp_path: Path, runs: RunLogger, hello: FakeGitHub
) -> None:
    runs.log("e" * 40, metrics={"accuracy": 0.10})

    code, text = check(tmp_path, runs, hello, token="")

    assert code == 2, text
    assert "this `issue_comment` event does not name the commit to judge" in text
    assert "GITHUB_TOKEN: ${{ github.token }}" in text
    assert "--commit" in text
    assert hello.requests == []


def test_a_comment_on_a_pr_with_a_run_id_needs_no_token(
    tmp_path: Path, runs: RunLogger, hello: FakeGitHub
) -> None:
    run_id = runs.log(PR_HEAD, branch="changes", metrics={"accuracy": 0.91})

    code, text = check(tmp_path, runs, hello, "", "--run-id", run_id)

    assert code == 0, text  # before: exit 2, "does not name the commit to judge"
    assert text.startswith(run_id), text


def test_a_release_without_its_commit_or_a_token_names_the_tag(
    tmp_path: Path, runs: RunLogger, hello: FakeGitHub
) -> None:
    release = json.loads((PAYLOADS / "release.published.json").read_text(encoding="utf-8"))

    code, text = check(
        tmp_path, runs, hello, "", event_name="release", event=release, env={"GITHUB_SHA": ""}
    )

    assert code == 2, text
    assert "cannot read the commit of tag '0.0.1' through the API" in text, text
    assert "pull request" not in text


def test_a_forks_workflow_run_is_judged_when_its_pr_cannot_be_read(
    tmp_path: Path, runs: RunLogger, hello: FakeGitHub
) -> None:
    # A fork's run: the commit is in the payload, only its PR needs the API. The API refuses
    # (a repository this token cannot see): the commit is judged without the PR's base.
    event = json.loads(
        (PAYLOADS / "workflow_run.without_pull_requests.json").read_text(encoding="utf-8")
    )
    event["workflow_run"]["event"] = "pull_request"
    event["workflow_run"]["head_repository"]["full_name"] = "contributor/octo-repo"
    head = runs.log(event["workflow_run"]["head_sha"], metrics={"accuracy": 0.95})

    code, text = check(
        tmp_path, runs, hello, WORKFLOW_TOKEN, event_name="workflow_run", event=event,
        env={"GITHUB_REPOSITORY": "octo-org/octo-repo"},
    )  # fmt: skip

    assert code == 0, text  # before: exit 2, the 404 of the pull-request lookup
    assert text.startswith(head), text
    assert len(hello.requests_to("commit_pulls")) == 1  # asked, and refused (404)
