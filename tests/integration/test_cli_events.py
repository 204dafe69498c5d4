"""`ml-gate check` as a workflow's `run:` step, on an event whose payload does not name the
commit (a comment on a pull request, GitHub's example payload in tests/payloads/): it reads the
pull request through the API as the Action does, and never judges git's HEAD (on such events,
the default branch) or the newest run instead."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_helpers import ml_gate
from fakes.github_server import WORKFLOW_TOKEN, FakeGitHub
from mlflow_helpers import RunLogger

PAYLOAD = (
    Path(__file__).resolve().parents[1] / "payloads/issue_comment.created.on_pull_request.json"
)
HELLO = "Codertocat/Hello-World"
PR_HEAD = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
PR_BASE = "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"
DEFAULT_TIP = "d" * 40  # GITHUB_SHA of an issue_comment run: the default branch's tip


@pytest.fixture
def hello() -> Iterator[FakeGitHub]:
    with FakeGitHub(repository=HELLO, pulls=()) as server:
        yield server


def check(tmp_path: Path, runs: RunLogger, github: FakeGitHub, token: str) -> tuple[int, str]:
    config = tmp_path / "ml-gate.yml"
    config.write_text(
        f"tracker: {{uri: '{runs.uri}', experiment: {runs.experiment}, timeout: 10s}}\n"
        "baseline: {select: base_commit}\nmetrics:\n  accuracy: {min: 0.5, max_regression: 0.05}\n"
    )
    event = tmp_path / "event.json"
    event.write_text(PAYLOAD.read_text(encoding="utf-8"))
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "issue_comment",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_REPOSITORY": github.repository,
        "GITHUB_SHA": DEFAULT_TIP,
        "GITHUB_REF": "refs/heads/master",
        "GITHUB_API_URL": github.api_url,
    }
    if token:
        env["GITHUB_TOKEN"] = token
    report = tmp_path / "report.json"
    done = ml_gate("check", "-c", str(config), "--json", str(report), cwd=tmp_path, env=env)
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
