"""The Action on GitHub's real example payloads (tests/payloads/, @octokit/webhooks-examples),
against the loopback GitHub fake and a real MLflow server: which commit is judged, which
baseline, which pull request gets the comment, what the outputs say."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fakes.github_server import WORKFLOW_TOKEN, FakeGitHub
from mlflow_helpers import RunLogger
from runner_helpers import parse_outputs

from mlaction.action import run_action

PAYLOADS = Path(__file__).resolve().parents[1] / "payloads"
HELLO = "Codertocat/Hello-World"
OCTO = "octo-org/octo-repo"
PR_HEAD = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"  # pull_request.head.sha of the examples
PR_BASE = "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"
MERGE_REF_SHA = "9" * 40  # GITHUB_SHA of a pull_request run: the merge commit, never judged
DEFAULT_TIP = "d" * 40  # GITHUB_SHA of an issue_comment run: the default branch's tip
CONFIG = """\
tracker: {{type: mlflow, uri: "{uri}", experiment: {experiment}, timeout: 10s}}
baseline: {{select: base_commit}}
metrics:
  accuracy: {{min: 0.5, max_regression: 0.05}}
"""


@dataclass
class Result:
    code: int
    stdout: str
    outputs: dict[str, str]
    summary: str


def payload(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PAYLOADS / f"{name}.json").read_text(encoding="utf-8"))
    return data


def run(
    tmp_path: Path,
    github: FakeGitHub,
    runs: RunLogger,
    event_name: str,
    event: dict[str, Any],
    *,
    sha: str | None,
    ref: str = "refs/heads/master",
    token: str = WORKFLOW_TOKEN,
) -> Result:
    workspace = tmp_path / "ws"
    (workspace / ".github").mkdir(parents=True, exist_ok=True)
    (workspace / ".github/ml-gate.yml").write_text(
        CONFIG.format(experiment=runs.experiment, uri=runs.uri)
    )
    (tmp_path / "event.json").write_text(json.dumps(event))
    output, summary = tmp_path / "output", tmp_path / "summary"
    output.write_text("")
    summary.write_text("")
    env = {
        "GITHUB_EVENT_NAME": event_name,
        "GITHUB_EVENT_PATH": str(tmp_path / "event.json"),
        "GITHUB_REPOSITORY": github.repository,
        "GITHUB_REF": ref,
        "GITHUB_API_URL": github.api_url,
        "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary),
        "INPUT_GITHUB-TOKEN": token,
        "MLFLOW_TRACKING_URI": runs.uri,
    }
    if sha:
        env["GITHUB_SHA"] = sha
    out = io.StringIO()
    code = run_action(env, stream=out)
    return Result(code, out.getvalue(), parse_outputs(output.read_text()), summary.read_text())


@pytest.fixture
def hello() -> Any:
    with FakeGitHub(repository=HELLO, pulls=(2,)) as server:
        yield server


@pytest.fixture
def octo() -> Any:
    with FakeGitHub(repository=OCTO, pulls=()) as server:
        yield server


def commented(github: FakeGitHub, pr: int) -> list[str]:
    return [c["body"] for c in github.comments(pr)]


@pytest.mark.parametrize("name", ["pull_request.opened", "pull_request.synchronize"])
def test_pull_request_judges_the_head_against_the_base(
    tmp_path: Path, hello: FakeGitHub, runs: RunLogger, name: str
) -> None:
    base = runs.log(PR_BASE, metrics={"accuracy": 0.90})
    runs.log(MERGE_REF_SHA, metrics={"accuracy": 0.10})
    cand = runs.log(PR_HEAD, branch="changes", metrics={"accuracy": 0.91})
    result = run(tmp_path, hello, runs, "pull_request", payload(name), sha=MERGE_REF_SHA)
    assert result.code == 0, result.stdout
    assert (result.outputs["candidate-run-id"], result.outputs["baseline-run-id"]) == (cand, base)
    assert len(commented(hello, 2)) == 1
    assert result.outputs["comment-url"].endswith(
        f"/pull/2#issuecomment-{hello.comments(2)[0]['id']}"
    )


def test_pull_request_labeled_comments_on_the_pr(
    tmp_path: Path, hello: FakeGitHub, runs: RunLogger
) -> None:
    runs.log(PR_HEAD, metrics={"accuracy": 0.3})
    result = run(
        tmp_path, hello, runs, "pull_request", payload("pull_request.labeled"), sha=MERGE_REF_SHA
    )
    assert result.code == 1
    assert result.outputs["verdict"] == "fail"
    assert "ml-gate: failed" in commented(hello, 2)[0]


def test_merge_group_judges_the_group_head_against_its_base(
    tmp_path: Path, octo: FakeGitHub, runs: RunLogger
) -> None:
    event = payload("merge_group.checks_requested")
    group = event["merge_group"]
    base = runs.log(group["base_sha"], metrics={"accuracy": 0.90})
    cand = runs.log(group["head_sha"], branch=None, metrics={"accuracy": 0.92})
    runs.log("1" * 40, metrics={"accuracy": 0.99})  # the latest run: not the baseline
    result = run(tmp_path, octo, runs, "merge_group", event, sha=group["head_sha"],
                 ref=group["head_ref"])  # fmt: skip
    assert result.code == 0, result.stdout
    assert (result.outputs["candidate-run-id"], result.outputs["baseline-run-id"]) == (cand, base)
    assert result.outputs["comment-url"] == ""
    assert octo.requests_to("create_comment") == []


def test_merge_group_without_github_sha_still_knows_the_commit(
    tmp_path: Path, octo: FakeGitHub, runs: RunLogger
) -> None:
    event = payload("merge_group.checks_requested")
    cand = runs.log(event["merge_group"]["head_sha"], metrics={"accuracy": 0.92})
    runs.log("1" * 40, metrics={"accuracy": 0.99})  # the latest run: not the candidate
    result = run(tmp_path, octo, runs, "merge_group", event, sha=None)
    assert result.outputs["candidate-run-id"] == cand


def test_workflow_run_with_pull_requests_comments_on_that_pr(
    tmp_path: Path, octo: FakeGitHub, runs: RunLogger
) -> None:
    event = payload("workflow_run.with_pull_requests")
    head = event["workflow_run"]["head_sha"]
    octo.pulls.add(2)
    base = runs.log(PR_BASE, metrics={"accuracy": 0.90})
    cand = runs.log(head, metrics={"accuracy": 0.95})
    result = run(tmp_path, octo, runs, "workflow_run", event, sha="f" * 40)
    assert (result.outputs["candidate-run-id"], result.outputs["baseline-run-id"]) == (cand, base)
    assert len(commented(octo, 2)) == 1


def test_workflow_run_of_a_non_pr_event_without_pull_requests_posts_nothing(
    tmp_path: Path, octo: FakeGitHub, runs: RunLogger
) -> None:
    event = payload("workflow_run.without_pull_requests")  # event: repository_dispatch
    cand = runs.log(event["workflow_run"]["head_sha"], metrics={"accuracy": 0.95})
    result = run(tmp_path, octo, runs, "workflow_run", event, sha="f" * 40)
    assert result.code == 0, result.stdout
    assert result.outputs["candidate-run-id"] == cand
    assert [r.route for r in octo.requests if r.route not in ("graphql",)] == []


def test_workflow_run_of_a_fork_pr_finds_the_pr_from_the_head(
    tmp_path: Path, octo: FakeGitHub, runs: RunLogger
) -> None:
    # The same real payload, as GitHub sends it for a fork's pull request: event pull_request,
    # head repository the fork, `pull_requests` empty.
    event = payload("workflow_run.without_pull_requests")
    run_ = event["workflow_run"]
    run_["event"] = "pull_request"
    run_["head_repository"]["full_name"] = "contributor/octo-repo"
    head = run_["head_sha"]
    octo.add_pull(5, head_sha=head, base_sha=PR_BASE, head_ref="master",
                  head_repo="contributor/octo-repo")  # fmt: skip
    octo.add_pull(6, head_sha="7" * 40, base_sha=PR_BASE, head_ref="master")
    base = runs.log(PR_BASE, metrics={"accuracy": 0.90})
    cand = runs.log(head, metrics={"accuracy": 0.95})
    result = run(tmp_path, octo, runs, "workflow_run", event, sha="f" * 40)
    assert (result.outputs["candidate-run-id"], result.outputs["baseline-run-id"]) == (cand, base)
    assert len(commented(octo, 5)) == 1
    assert commented(octo, 6) == []
    [search] = octo.requests_to("list_pulls")
    assert search.query["head"] == ["contributor:master"]


def test_issue_comment_on_a_pr_judges_the_pr_not_the_default_branch(
    tmp_path: Path, hello: FakeGitHub, runs: RunLogger
) -> None:
    hello.add_pull(1, head_sha=PR_HEAD, base_sha=PR_BASE, head_ref="changes", base_ref="master")
    runs.log(DEFAULT_TIP, metrics={"accuracy": 0.99})
    base = runs.log(PR_BASE, metrics={"accuracy": 0.90})
    cand = runs.log(PR_HEAD, branch="changes", metrics={"accuracy": 0.60})
    event = payload("issue_comment.created.on_pull_request")
    result = run(tmp_path, hello, runs, "issue_comment", event, sha=DEFAULT_TIP)
    assert result.code == 1
    assert (result.outputs["candidate-run-id"], result.outputs["baseline-run-id"]) == (cand, base)
    assert len(commented(hello, 1)) == 1


def test_issue_comment_on_a_pr_without_a_token_refuses_and_posts_nothing(
    tmp_path: Path, hello: FakeGitHub, runs: RunLogger
) -> None:
    runs.log(DEFAULT_TIP, metrics={"accuracy": 0.99})
    event = payload("issue_comment.created.on_pull_request")
    result = run(tmp_path, hello, runs, "issue_comment", event, sha=DEFAULT_TIP, token="")
    assert result.code == 2
    assert result.outputs["verdict"] == "error"
    assert "head commit of pull request #1" in result.stdout
    assert hello.comments(1) == []


def test_a_push_that_deletes_a_tag_is_skipped_with_a_note(
    tmp_path: Path, hello: FakeGitHub, runs: RunLogger
) -> None:
    event = payload("push.deleted")
    result = run(tmp_path, hello, runs, "push", event, sha=event["before"], ref=event["ref"])
    assert result.code == 0, result.stdout
    assert (result.outputs["verdict"], result.outputs["passed"]) == ("skip", "false")
    assert "deleted tag <code>simple-tag</code>" in result.summary
    assert "::notice title=ml-gate%3A skipped::" in result.stdout


def test_a_tag_push_judges_the_tags_commit(
    tmp_path: Path, hello: FakeGitHub, runs: RunLogger
) -> None:
    event = payload("push.tag")
    cand = runs.log(event["head_commit"]["id"], metrics={"accuracy": 0.95})
    result = run(tmp_path, hello, runs, "push", event, sha=None, ref=event["ref"])
    assert result.code == 0, result.stdout
    assert result.outputs["candidate-run-id"] == cand


@pytest.mark.parametrize("with_github_sha", [True, False])
def test_a_release_judges_the_tags_commit(
    tmp_path: Path, hello: FakeGitHub, runs: RunLogger, with_github_sha: bool
) -> None:
    tagged = "6113728f27ae82c7b1a177c8d03f9e96e0adf246"
    hello.tags["0.0.1"] = tagged
    hello.history.append(tagged)
    cand = runs.log(tagged, metrics={"accuracy": 0.95})
    runs.log(DEFAULT_TIP, metrics={"accuracy": 0.99})  # the latest run: not the candidate
    result = run(tmp_path, hello, runs, "release", payload("release.published"),
                 sha=tagged if with_github_sha else None, ref="refs/tags/0.0.1")  # fmt: skip
    assert result.outputs["candidate-run-id"] == cand, result.stdout


def test_check_suite_judges_its_head_and_comments_on_its_pr(
    tmp_path: Path, hello: FakeGitHub, runs: RunLogger
) -> None:
    base = runs.log(PR_BASE, metrics={"accuracy": 0.90})
    cand = runs.log(PR_HEAD, metrics={"accuracy": 0.95})
    result = run(
        tmp_path, hello, runs, "check_suite", payload("check_suite.completed"), sha=DEFAULT_TIP
    )
    assert (result.outputs["candidate-run-id"], result.outputs["baseline-run-id"]) == (cand, base)
    assert len(commented(hello, 2)) == 1


@pytest.mark.parametrize(
    ("client_payload", "message"),
    [
        ({"sha": "abc"}, "`client_payload.sha` must be a full 40-character"),
        ({"pr": -3}, "`client_payload.pr` must be a positive pull request number"),
        ({"pr": 2, "sha": "5" * 40}, "is not the head of pull request #2"),
    ],
)
def test_repository_dispatch_values_are_validated(
    tmp_path: Path, hello: FakeGitHub, runs: RunLogger, client_payload: dict[str, Any], message: str
) -> None:
    hello.add_pull(2, head_sha=PR_HEAD, base_sha=PR_BASE)
    event = payload("repository_dispatch")
    event["client_payload"] = client_payload
    result = run(tmp_path, hello, runs, "repository_dispatch", event, sha=DEFAULT_TIP)
    assert result.code == 2
    assert message in result.stdout
    assert hello.comments(2) == []


def test_repository_dispatch_with_a_pr_judges_that_pr(
    tmp_path: Path, hello: FakeGitHub, runs: RunLogger
) -> None:
    hello.add_pull(2, head_sha=PR_HEAD, base_sha=PR_BASE)
    base = runs.log(PR_BASE, metrics={"accuracy": 0.90})
    cand = runs.log(PR_HEAD, metrics={"accuracy": 0.95})
    event = payload("repository_dispatch")
    event["client_payload"] = {"pr": 2}
    result = run(tmp_path, hello, runs, "repository_dispatch", event, sha=DEFAULT_TIP)
    assert (result.outputs["candidate-run-id"], result.outputs["baseline-run-id"]) == (cand, base)
    assert len(commented(hello, 2)) == 1
