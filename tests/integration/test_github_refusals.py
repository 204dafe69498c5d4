"""GitHub's refusals and identities as GitHub really answers them, through the loopback fake."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from fakes.github_server import (
    BOT_LOGIN,
    LOCKED,
    REPOSITORY_ID,
    WORKFLOW_TOKEN,
    FakeGitHub,
)

from mlaction.errors import GitHubError
from mlaction.gitcontext import git_ancestors
from mlaction.github.client import GitHubAPIError, GitHubClient
from mlaction.github.publish import comment_failure_warning

PR = 1
MARKER = "<!-- ml-gate:gate -->"
APP_TOKEN = "ghs_AppInstallationToken0123456789abcdef"
APP_LOGIN = "ml-gate-app[bot]"
MakeClient = Callable[..., GitHubClient]


@pytest.fixture
def waits() -> list[float]:
    return []


@pytest.fixture
def make_client(github_server: FakeGitHub, waits: list[float]) -> MakeClient:
    def make(token: str = WORKFLOW_TOKEN, **kwargs: Any) -> GitHubClient:
        kwargs.setdefault("api_url", github_server.api_url)
        kwargs.setdefault("repository", github_server.repository)
        return GitHubClient(token, sleep=waits.append, timeout=5.0, **kwargs)

    return make


# -- rate-limited and lost comment creation ---------------------------------------------------


def test_a_rate_limited_create_is_retried(
    github_server: FakeGitHub, make_client: MakeClient, waits: list[float]
) -> None:
    github_server.rate_limit_next("create_comment", retry_after=5)
    github_server.secondary_rate_limit_next("create_comment", retry_after=7)
    result = make_client().upsert_comment(PR, MARKER, "report")
    assert result.action == "created"
    assert len(github_server.comments(PR)) == 1
    assert waits == [5.0, 7.0]
    # before each new POST, the comments were read again to find one that may have landed
    routes = [r.route for r in github_server.requests if r.route != "graphql"]
    assert routes == ["list_comments"] + ["create_comment", "list_comments"] * 2 + [
        "create_comment"
    ]


def test_two_failed_creates_where_the_second_landed_leave_one_comment(
    github_server: FakeGitHub, make_client: MakeClient
) -> None:
    github_server.fail_next("create_comment", 502)  # not carried out
    github_server.lose_response_next("create_comment", 502)  # carried out, answer lost
    result = make_client().upsert_comment(PR, MARKER, "report")
    assert len(github_server.comments(PR)) == 1
    assert result.id == github_server.comments(PR)[0]["id"]
    assert len(github_server.requests_to("create_comment")) == 2


def test_repeated_lost_responses_never_duplicate(
    github_server: FakeGitHub, make_client: MakeClient
) -> None:
    github_server.lose_response_next("create_comment", 504, count=3)
    make_client().upsert_comment(PR, MARKER, "report")
    assert len(github_server.comments(PR)) == 1


def test_a_create_rate_limited_past_the_retries_says_how_many_retries(
    github_server: FakeGitHub, make_client: MakeClient, waits: list[float]
) -> None:
    github_server.rate_limit_next("create_comment", retry_after=1, count=10)
    with pytest.raises(GitHubAPIError, match="after 2 retries") as info:
        make_client(max_retries=2).upsert_comment(PR, MARKER, "report")
    assert info.value.refusal == "rate_limited"
    assert "docs/fork-prs.md" not in comment_failure_warning(info.value)
    assert waits == [1.0, 1.0]


# -- 422 and locked ------------------------------------------------------------------------------


def test_422_shows_githubs_reason_from_errors(
    github_server: FakeGitHub, make_client: MakeClient
) -> None:
    with pytest.raises(GitHubError) as info:
        make_client().create_comment(PR, "x" * 70_000)
    text = str(info.value)
    assert "Validation Failed: Body is too long (maximum is 65536 characters)" in text
    assert "65,536" in text


def test_422_for_another_reason_is_not_blamed_on_the_length(
    github_server: FakeGitHub, make_client: MakeClient
) -> None:
    spam = [{"resource": "IssueComment", "code": "unprocessable", "field": "data",
             "message": "was submitted too quickly"}]  # fmt: skip
    github_server.fail_next("create_comment", 422, errors=spam)
    with pytest.raises(GitHubError) as info:
        make_client().create_comment(PR, "x")
    assert "Validation Failed: was submitted too quickly" in str(info.value)
    assert "65,536" not in str(info.value)


def test_a_locked_pull_request_is_said_to_be_locked(
    github_server: FakeGitHub, make_client: MakeClient
) -> None:
    github_server.lock(PR)
    with pytest.raises(GitHubAPIError) as info:
        make_client().upsert_comment(PR, MARKER, "report")
    assert info.value.refusal == "locked"
    assert LOCKED in str(info.value)
    assert "conversation is locked" in str(info.value)
    warning = comment_failure_warning(info.value)
    assert "fork" not in warning
    assert "unaffected" in warning


# -- identity ------------------------------------------------------------------------------------


def test_a_github_app_token_keeps_one_comment_without_comment_author(
    github_server: FakeGitHub, make_client: MakeClient
) -> None:
    github_server.add_token(APP_TOKEN, APP_LOGIN, can_call_user=False)
    for run in range(3):
        client = make_client(APP_TOKEN)  # a new process each run
        client.upsert_comment(PR, MARKER, f"run {run}")
        assert client.warnings == []
    [comment] = github_server.comments(PR)
    assert comment["user"]["login"] == APP_LOGIN
    assert comment["body"] == f"{MARKER}\nrun 2"


def test_an_identity_that_cannot_be_learned_is_warned_about(
    github_server: FakeGitHub, make_client: MakeClient
) -> None:
    github_server.add_token(APP_TOKEN, APP_LOGIN, can_call_user=False, can_graphql=False)
    result = make_client(APP_TOKEN).upsert_comment(PR, MARKER, "report")
    assert len(result.warnings) == 2
    assert "Could not learn the GitHub token's identity" in result.warnings[0]
    assert f"`comment-author: {APP_LOGIN}`" in result.warnings[1]
    fixed = make_client(APP_TOKEN, login=APP_LOGIN).upsert_comment(PR, MARKER, "again")
    assert (fixed.action, fixed.warnings) == ("updated", ())


def test_the_marker_must_start_the_body(github_server: FakeGitHub, make_client: MakeClient) -> None:
    quoted = github_server.add_comment(PR, f"> {MARKER}\n> quoted by us", login=BOT_LOGIN)
    result = make_client().upsert_comment(PR, MARKER, f"{MARKER}\nreport")
    assert result.action == "created"
    assert result.id != quoted["id"]
    assert github_server.comments(PR)[0]["body"] == quoted["body"]


# -- the fake answers like GitHub --------------------------------------------------------------


def test_bad_credentials_come_before_not_found(github_server: FakeGitHub) -> None:
    url = f"{github_server.api_url}/repos/nobody/nothing/issues/1/comments"
    reply = requests.get(url, headers={"Authorization": "Bearer wrong"}, timeout=5)
    assert (reply.status_code, reply.json()["message"]) == (401, "Bad credentials")


def test_every_reply_carries_rate_limit_headers(github_server: FakeGitHub) -> None:
    for auth in ("Bearer wrong", f"Bearer {WORKFLOW_TOKEN}"):
        reply = requests.get(f"{github_server.api_url}/nope", headers={"Authorization": auth})
        assert {"x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"} <= {
            k.lower() for k in reply.headers
        }


def test_pages_link_to_the_repositories_id_form_and_per_page_is_clamped(
    github_server: FakeGitHub, make_client: MakeClient
) -> None:
    for i in range(150):
        github_server.add_comment(PR, f"chatter {i}")
    auth = {"Authorization": f"Bearer {WORKFLOW_TOKEN}"}
    url = f"{github_server.api_url}/repos/{github_server.repository}/issues/{PR}/comments"
    reply = requests.get(url, params={"per_page": 500}, headers=auth, timeout=5)
    assert len(reply.json()) == 100
    assert f"/repositories/{REPOSITORY_ID}/issues/{PR}/comments?" in reply.links["next"]["url"]
    assert len(make_client().list_issue_comments(PR)) == 150
    paths = [r.path for r in github_server.requests_to("list_comments")]
    assert paths[-1] == f"/repositories/{REPOSITORY_ID}/issues/{PR}/comments"


# -- first-parent history, through git and through the API ----------------------------------


GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run([*GIT, *args], cwd=repo, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def merge_history(repo: Path) -> str:
    """main: m1 - m2 - M(merge of feature) - m4, with feature f1, f2 committed in between
    (dates interleave, so date order is not first-parent order)."""
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    stamp = iter(range(1_700_000_000, 1_700_100_000, 60))

    def commit(message: str) -> None:
        when = f"@{next(stamp)} +0000"
        env = {"GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when, "PATH": "/usr/bin:/bin"}
        subprocess.run([*GIT, "commit", "-q", "--allow-empty", "-m", message], cwd=repo,
                       env=env, check=True)  # fmt: skip

    commit("m1")
    _git(repo, "checkout", "-q", "-b", "feature")
    commit("f1")
    _git(repo, "checkout", "-q", "main")
    commit("m2")
    _git(repo, "checkout", "-q", "feature")
    commit("f2")
    _git(repo, "checkout", "-q", "main")
    when = f"@{next(stamp)} +0000"
    dated = {"GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when, "PATH": "/usr/bin:/bin"}
    subprocess.run([*GIT, "merge", "-q", "--no-ff", "-m", "M", "feature"], cwd=repo, env=dated,
                   check=True)  # fmt: skip
    commit("m4")
    return _git(repo, "rev-parse", "HEAD")


def test_api_ancestors_follow_first_parents_like_git(
    tmp_path: Path, github_server: FakeGitHub, make_client: MakeClient
) -> None:
    repo = tmp_path / "repo"
    head = merge_history(repo)
    # The commits API lists everything reachable, newest first by date (f2 between M and m2).
    for line in _git(repo, "log", "--date-order", "--format=%H %P", head).splitlines():
        sha, *parents = line.split()
        github_server.history.append(sha)
        github_server.parents[sha] = parents
    via_git = git_ancestors(repo)(head, 10)
    via_api = make_client().ancestors(head, 10)
    assert len(via_git) == 3  # M, m2, m1: the feature commits are not first parents
    assert via_api == via_git
    assert make_client().ancestors(head, 2) == via_git[:2]
