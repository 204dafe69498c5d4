"""GitHubClient against the loopback GitHub fake, over real HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from fakes.github_server import (
    BOT_LOGIN,
    PERSONAL_LOGIN,
    PERSONAL_TOKEN,
    READONLY_TOKEN,
    WORKFLOW_TOKEN,
    FakeGitHub,
)

from mlaction.errors import GitHubError
from mlaction.github.client import CommentResult, GitHubClient

PR = 1
MARKER = "<!-- ml-gate:gate -->"
ALL_TOKENS = (WORKFLOW_TOKEN, READONLY_TOKEN, PERSONAL_TOKEN)

MakeClient = Callable[..., GitHubClient]


@pytest.fixture
def waits() -> list[float]:
    return []


@pytest.fixture
def make_client(github_server: FakeGitHub, waits: list[float]) -> MakeClient:
    def make(token: str = WORKFLOW_TOKEN, **kwargs: Any) -> GitHubClient:
        kwargs.setdefault("api_url", github_server.api_url)
        kwargs.setdefault("repository", github_server.repository)
        kwargs.setdefault("timeout", 5.0)
        return GitHubClient(token, sleep=waits.append, **kwargs)

    return make


def _ours(server: FakeGitHub, pr: int = PR, marker: str = MARKER) -> list[dict[str, Any]]:
    return [
        c for c in server.comments(pr) if marker in c["body"] and c["user"]["login"] == BOT_LOGIN
    ]


# -- the sticky comment -----------------------------------------------------------------------


def test_first_upsert_creates_one_comment(
    github_server: FakeGitHub, make_client: MakeClient
) -> None:
    result = make_client().upsert_comment(PR, MARKER, f"{MARKER}\n## ml-gate: pass")
    [comment] = github_server.comments(PR)
    assert result == CommentResult("created", comment["html_url"], comment["id"])
    assert comment["body"] == f"{MARKER}\n## ml-gate: pass"
    assert comment["user"]["login"] == BOT_LOGIN


def test_upserts_edit_the_same_comment_in_place(
    github_server: FakeGitHub, make_client: MakeClient
) -> None:
    client = make_client()
    results = [client.upsert_comment(PR, MARKER, f"{MARKER}\nrun {i}") for i in range(5)]
    assert [r.action for r in results] == ["created"] + ["updated"] * 4
    assert len({r.id for r in results}) == 1
    [comment] = _ours(github_server)
    assert comment["body"] == f"{MARKER}\nrun 4"
    assert len(github_server.requests_to("create_comment")) == 1
    assert len(github_server.requests_to("update_comment")) == 4


def test_identical_body_is_not_patched(github_server: FakeGitHub, make_client: MakeClient) -> None:
    client = make_client()
    first = client.upsert_comment(PR, MARKER, f"{MARKER}\nsame")
    second = client.upsert_comment(PR, MARKER, f"{MARKER}\nsame")
    assert second == CommentResult("unchanged", first.url, first.id)
    assert github_server.requests_to("update_comment") == []


def test_a_strangers_comment_with_the_marker_is_untouched(
    github_server: FakeGitHub, make_client: MakeClient
) -> None:
    stranger = github_server.add_comment(PR, f"quoting you: {MARKER} old report", login="mallory")
    result = make_client().upsert_comment(PR, MARKER, f"{MARKER}\nnew report")
    assert result.action == "created"
    assert result.id != stranger["id"]
    comments = {c["id"]: c for c in github_server.comments(PR)}
    assert comments[stranger["id"]]["body"] == f"quoting you: {MARKER} old report"
    assert comments[stranger["id"]]["updated_at"] == stranger["updated_at"]
    assert github_server.requests_to("update_comment") == []


def test_create_false_skips_when_there_is_no_comment_but_still_updates(
    github_server: FakeGitHub, make_client: MakeClient
) -> None:
    client = make_client()
    assert client.upsert_comment(PR, MARKER, "x", create=False) == CommentResult(
        "skipped", None, None
    )
    assert github_server.comments(PR) == []
    created = client.upsert_comment(PR, MARKER, f"{MARKER}\nfail")
    updated = client.upsert_comment(PR, MARKER, f"{MARKER}\npass", create=False)
    assert (updated.action, updated.id) == ("updated", created.id)


def test_a_body_without_the_marker_gets_it_so_the_next_run_finds_it(
    github_server: FakeGitHub, make_client: MakeClient
) -> None:
    client = make_client()
    client.upsert_comment(PR, MARKER, "report one")
    result = client.upsert_comment(PR, MARKER, "report two")
    assert result.action == "updated"
    [comment] = github_server.comments(PR)
    assert comment["body"] == f"{MARKER}\nreport two"


def test_150_comments_are_paginated_and_ours_is_found_on_page_two(
    github_server: FakeGitHub, make_client: MakeClient
) -> None:
    for i in range(120):
        github_server.add_comment(PR, f"chatter {i}", login="reviewer")
    ours = github_server.add_comment(PR, f"{MARKER}\nold", login=BOT_LOGIN)
    for i in range(29):
        github_server.add_comment(PR, f"more chatter {i}", login="reviewer")
    assert len(github_server.comments(PR)) == 150

    client = make_client()
    assert len(client.list_issue_comments(PR)) == 150
    result = client.upsert_comment(PR, MARKER, f"{MARKER}\nnew")
    assert (result.action, result.id) == ("updated", ours["id"])
    assert len(github_server.comments(PR)) == 150
    pages = github_server.requests_to("list_comments")
    assert [(r.query.get("per_page"), r.query.get("page")) for r in pages] == [
        (["100"], None),
        (["100"], ["2"]),
    ] * 2


def test_the_newest_of_several_of_ours_is_updated_and_the_others_left(
    github_server: FakeGitHub, make_client: MakeClient
) -> None:
    older = github_server.add_comment(PR, f"{MARKER}\nfrom a buggy past", login=BOT_LOGIN)
    newer = github_server.add_comment(PR, f"{MARKER}\nalso ours", login=BOT_LOGIN)
    result = make_client().upsert_comment(PR, MARKER, f"{MARKER}\ncurrent")
    assert (result.action, result.id) == ("updated", newer["id"])
    bodies = {c["id"]: c["body"] for c in github_server.comments(PR)}
    assert bodies == {
        older["id"]: f"{MARKER}\nfrom a buggy past",
        newer["id"]: f"{MARKER}\ncurrent",
    }


def test_two_markers_keep_two_comments(github_server: FakeGitHub, make_client: MakeClient) -> None:
    client = make_client()
    a, b = "<!-- ml-gate:classifier -->", "<!-- ml-gate:ranker -->"
    for run in range(3):
        client.upsert_comment(PR, a, f"{a}\nclassifier run {run}")
        client.upsert_comment(PR, b, f"{b}\nranker run {run}")
    bodies = sorted(c["body"] for c in github_server.comments(PR))
    assert bodies == [f"{a}\nclassifier run 2", f"{b}\nranker run 2"]


def test_comments_on_another_pr_are_not_considered(
    github_server: FakeGitHub, make_client: MakeClient
) -> None:
    elsewhere = github_server.add_comment(2, f"{MARKER}\nPR 2", login=BOT_LOGIN)
    result = make_client().upsert_comment(PR, MARKER, f"{MARKER}\nPR 1")
    assert result.action == "created"
    assert github_server.comments(2)[0]["body"] == elsewhere["body"]


# -- identity ---------------------------------------------------------------------------------


def test_workflow_token_identity_is_the_actions_bot(
    github_server: FakeGitHub, make_client: MakeClient
) -> None:
    client = make_client()
    assert client.whoami() == BOT_LOGIN
    assert client.whoami() == BOT_LOGIN
    assert len(github_server.requests_to("graphql")) == 1  # GraphQL `viewer`, cached
    assert github_server.requests_to("user") == []
    assert client.warnings == []


def test_personal_token_identity_uses_the_user_login(
    github_server: FakeGitHub, make_client: MakeClient
) -> None:
    github_server.add_comment(PR, f"{MARKER}\nbot's, from another setup", login=BOT_LOGIN)
    client = make_client(PERSONAL_TOKEN)
    assert client.whoami() == PERSONAL_LOGIN
    result = client.upsert_comment(PR, MARKER, f"{MARKER}\nmine")
    assert result.action == "created"
    again = client.upsert_comment(PR, MARKER, f"{MARKER}\nmine, edited")
    assert (again.action, again.id) == ("updated", result.id)
    authors = sorted(c["user"]["login"] for c in github_server.comments(PR))
    assert authors == [BOT_LOGIN, PERSONAL_LOGIN]


def test_whoami_does_not_hide_other_failures(
    github_server: FakeGitHub, make_client: MakeClient
) -> None:
    github_server.fail_next("graphql", 403)
    github_server.fail_next("user", 404)
    with pytest.raises(GitHubError) as info:
        make_client(PERSONAL_TOKEN).whoami()
    assert getattr(info.value, "status", None) == 404


def test_requests_carry_the_api_headers(github_server: FakeGitHub, make_client: MakeClient) -> None:
    make_client().upsert_comment(PR, MARKER, "x")
    assert github_server.requests
    for request in github_server.requests:
        assert request.headers["Authorization"] == "Bearer <redacted>"
        assert request.headers["Accept"] == "application/vnd.github+json"
        assert request.headers["X-GitHub-Api-Version"] == "2022-11-28"
        assert request.headers["User-Agent"].startswith("ml-gate")
        assert request.login == BOT_LOGIN


def test_github_enterprise_server_prefix(waits: list[float]) -> None:
    with FakeGitHub(prefix="/api/v3") as ghes:
        client = GitHubClient(
            WORKFLOW_TOKEN,
            api_url=ghes.api_url + "/",
            repository=ghes.repository,
            sleep=waits.append,
        )
        result = client.upsert_comment(PR, MARKER, "on GHES")
        assert result.action == "created"
        assert {r.path.split("/repos/")[0] for r in ghes.requests_to("create_comment")} == {
            "/api/v3"
        }
        assert all(r.path.startswith("/api/v3/") or r.path == "/api/graphql" for r in ghes.requests)
        assert [r.path for r in ghes.requests_to("graphql")] == ["/api/graphql"]


# -- errors that say what to fix ----------------------------------------------------------------


def test_403_on_create_explains_fork_prs_and_permissions(
    github_server: FakeGitHub, make_client: MakeClient
) -> None:
    with pytest.raises(GitHubError) as info:
        make_client(READONLY_TOKEN).upsert_comment(PR, MARKER, "report")
    error = info.value
    assert getattr(error, "status", None) == 403
    text = str(error)
    assert "Resource not accessible by integration" in text
    assert "forks" in text
    assert "permissions: pull-requests: write" in text
    assert "docs/fork-prs.md" in text
    assert "workflow_run" in text
    assert github_server.comments(PR) == []


def test_404_says_repository_or_pr_not_found(
    github_server: FakeGitHub, make_client: MakeClient
) -> None:
    with pytest.raises(GitHubError) as info:
        make_client(repository="octo-org/does-not-exist").list_issue_comments(PR)
    assert getattr(info.value, "status", None) == 404
    assert "octo-org/does-not-exist" in str(info.value)
    assert "not found" in str(info.value)
    with pytest.raises(GitHubError, match="pull request #999") as missing_pr:
        make_client().create_comment(999, "x")
    assert getattr(missing_pr.value, "status", None) == 404


def test_bad_credentials_are_not_retried(
    github_server: FakeGitHub, make_client: MakeClient, waits: list[float]
) -> None:
    with pytest.raises(GitHubError, match="invalid, expired or revoked") as info:
        make_client("ghp_not-a-real-token").list_issue_comments(PR)
    assert getattr(info.value, "status", None) == 401
    assert waits == []
    assert len(github_server.requests) == 1


def test_invalid_client_arguments() -> None:
    with pytest.raises(GitHubError, match="No GitHub token"):
        GitHubClient("", repository="octo-org/ml-project")
    with pytest.raises(GitHubError, match="owner/name"):
        GitHubClient(WORKFLOW_TOKEN, repository="ml-project")


# -- retries and rate limits ----------------------------------------------------------------------


def test_502_then_success_is_retried(
    github_server: FakeGitHub, make_client: MakeClient, waits: list[float]
) -> None:
    github_server.fail_next("create_comment", 502)
    result = make_client().upsert_comment(PR, MARKER, "report")
    assert result.action == "created"
    assert len(github_server.requests_to("create_comment")) == 2
    assert len(github_server.comments(PR)) == 1
    assert waits == [1.0]


def test_a_lost_response_to_the_create_is_not_posted_twice(
    github_server: FakeGitHub, make_client: MakeClient, waits: list[float]
) -> None:
    # GitHub created the comment but the answer was a 502: posting again would duplicate it.
    github_server.lose_response_next("create_comment", 502)
    result = make_client().upsert_comment(PR, MARKER, "report")
    assert len(github_server.comments(PR)) == 1
    assert len(github_server.requests_to("create_comment")) == 1
    assert result.id == github_server.comments(PR)[0]["id"]
    assert waits == [1.0]


def test_connection_errors_are_retried_with_exponential_backoff(
    github_server: FakeGitHub, make_client: MakeClient, waits: list[float]
) -> None:
    github_server.disconnect_next("list_comments", count=2)
    github_server.fail_next("list_comments", 503)
    assert make_client().list_issue_comments(PR) == []
    assert len(github_server.requests_to("list_comments")) == 4
    assert waits == [1.0, 2.0, 4.0]


def test_persistent_5xx_gives_up_after_max_retries(
    github_server: FakeGitHub, make_client: MakeClient, waits: list[float]
) -> None:
    github_server.fail_next("*", 502, count=10)
    with pytest.raises(GitHubError, match="after 2 retries") as info:
        make_client(max_retries=2).list_issue_comments(PR)
    assert getattr(info.value, "status", None) == 502
    assert len(github_server.requests) == 3
    assert waits == [1.0, 2.0]


def test_429_retry_after_is_honoured(
    github_server: FakeGitHub, make_client: MakeClient, waits: list[float]
) -> None:
    github_server.rate_limit_next("create_comment", retry_after=7)
    result = make_client().create_comment(PR, "x")
    assert result["body"] == "x"
    assert waits == [7.0]
    assert len(github_server.requests_to("create_comment")) == 2


def test_secondary_rate_limit_403_with_retry_after_is_retried_not_reported_as_fork(
    github_server: FakeGitHub, make_client: MakeClient, waits: list[float]
) -> None:
    github_server.secondary_rate_limit_next("update_comment", retry_after=3)
    client = make_client()
    client.upsert_comment(PR, MARKER, "one")
    assert client.upsert_comment(PR, MARKER, "two").action == "updated"
    assert waits == [3.0]


def test_exhausted_primary_rate_limit_waits_until_reset(
    github_server: FakeGitHub, make_client: MakeClient, waits: list[float]
) -> None:
    github_server.secondary_rate_limit_next("list_comments", reset_at=int(time.time()) + 5)
    assert make_client().list_issue_comments(PR) == []
    [wait] = waits
    assert 4.0 <= wait <= 7.0


def test_retry_after_past_the_wait_bound_fails_fast_without_sleeping(
    github_server: FakeGitHub, make_client: MakeClient, waits: list[float]
) -> None:
    github_server.rate_limit_next("create_comment", retry_after=3600)
    with pytest.raises(GitHubError, match="past the 60s bound") as info:
        make_client().create_comment(PR, "x")
    assert getattr(info.value, "status", None) == 429
    assert "rate limit" in str(info.value)
    assert waits == []


def test_total_wait_is_bounded(
    github_server: FakeGitHub, make_client: MakeClient, waits: list[float]
) -> None:
    github_server.fail_next("*", 503, count=50)
    with pytest.raises(GitHubError, match="bound on waiting"):
        make_client(max_retries=20, max_total_wait=10.0).list_issue_comments(PR)
    assert waits == [1.0, 2.0, 4.0]  # 8 more would pass 10
    assert sum(waits) <= 10.0
    assert len(github_server.requests) == 4


# -- the token stays secret ----------------------------------------------------------------------


def _failures(server: FakeGitHub, client: GitHubClient) -> list[BaseException]:
    errors: list[BaseException] = []
    scenarios: list[Callable[[], object]] = [
        lambda: server.fail_next("create_comment", 403),
        lambda: server.fail_next("list_comments", 404),
        lambda: server.fail_next("*", 502, count=10),
        lambda: server.rate_limit_next("*", retry_after=10_000),
        lambda: server.disconnect_next("*", count=10),
        lambda: server.fail_next("create_comment", 422, message="Validation Failed"),
    ]
    for arm in scenarios:
        arm()
        try:
            client.upsert_comment(PR, MARKER, "x")
        except GitHubError as exc:
            errors.append(exc)
        server.clear_failures()
    return errors


@pytest.mark.parametrize("token", ALL_TOKENS)
def test_the_token_never_appears_in_errors_or_repr(
    github_server: FakeGitHub, make_client: MakeClient, token: str
) -> None:
    client = make_client(token, max_retries=1)
    assert token not in repr(client)
    assert token not in str(client)
    errors = _failures(github_server, client)
    assert len(errors) >= 5
    for error in errors:
        assert token not in str(error)
        assert token not in repr(error)
        assert token not in repr(error.args)
    for request in github_server.requests:
        assert token not in repr(request)


def test_a_token_echoed_by_the_server_is_redacted(
    github_server: FakeGitHub, make_client: MakeClient
) -> None:
    github_server.fail_next("create_comment", 422, message=f"bad token {PERSONAL_TOKEN} here")
    with pytest.raises(GitHubError) as info:
        make_client(PERSONAL_TOKEN).create_comment(PR, "x")
    assert PERSONAL_TOKEN not in str(info.value)
    assert "bad token *** here" in str(info.value)


def test_unreachable_api_fails_with_a_clear_message(waits: list[float]) -> None:
    with FakeGitHub() as gone:
        api_url = gone.api_url
    client = GitHubClient(WORKFLOW_TOKEN, api_url=api_url, repository="o/r", sleep=waits.append)
    with pytest.raises(GitHubError, match="Could not create a comment") as info:
        client.create_comment(PR, "x")
    assert getattr(info.value, "status", "unset") is None
    assert "ConnectionError" in str(info.value)
    assert WORKFLOW_TOKEN not in str(info.value)
    assert waits == [1.0, 2.0, 4.0, 8.0]
