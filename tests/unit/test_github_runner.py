"""Runner-side GitHub helpers: workflow commands, inputs, the event context."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

from mlaction.errors import GitHubError
from mlaction.github.runner import (
    GitHubContext,
    annotation,
    append_summary,
    mask,
    read_input,
    write_outputs,
)

HEAD_SHA = "a" * 40
MERGE_SHA = "m" * 40
BASE_SHA = "b" * 40
BEFORE_SHA = "c" * 40
AFTER_SHA = "d" * 40

# -- annotations ------------------------------------------------------------------------------


def test_annotation_without_title() -> None:
    assert annotation("warning", "comment not posted") == "::warning::comment not posted"


def test_annotation_escapes_message_data() -> None:
    message = "100% sure\r\nline two\nline: three, four"
    assert annotation("error", message) == (
        "::error::100%25 sure%0D%0Aline two%0Aline: three, four"
    )


def test_annotation_escapes_title_property_including_colon_and_comma() -> None:
    line = annotation("notice", "ok", title="gate: accuracy, f1 100%\n")
    assert line == "::notice title=gate%3A accuracy%2C f1 100%25%0A::ok"


def test_annotation_percent_is_escaped_first() -> None:
    # A literal "%0A" in the text must survive as text, not become a newline.
    assert annotation("error", "%0A") == "::error::%250A"


def test_annotation_rejects_unknown_level() -> None:
    with pytest.raises(ValueError, match="error, warning or notice"):
        annotation("debug", "x")  # type: ignore[arg-type]


def test_mask_writes_add_mask_command() -> None:
    stream = io.StringIO()
    mask("s3cr3t", stream)
    assert stream.getvalue() == "::add-mask::s3cr3t\n"


def test_mask_masks_each_line_of_a_multiline_secret_and_skips_empty() -> None:
    stream = io.StringIO()
    mask("line-one\n\nline-two%", stream)
    mask("", stream)
    assert stream.getvalue() == "::add-mask::line-one\n::add-mask::line-two%25\n"


# -- outputs and summary -----------------------------------------------------------------------


def _parse_outputs(text: str) -> dict[str, str]:
    """Parse $GITHUB_OUTPUT the way the runner does (delimiter syntax only)."""
    result: dict[str, str] = {}
    lines = text.split("\n")
    i = 0
    while i < len(lines) and lines[i]:
        name, delimiter = lines[i].split("<<", 1)
        end = lines.index(delimiter, i + 1)
        result[name] = "\n".join(lines[i + 1 : end])
        i = end + 1
    return result


def test_write_outputs_uses_delimiter_syntax_for_every_value(tmp_path: Path) -> None:
    path = tmp_path / "output"
    write_outputs(path, {"passed": "true", "verdict": "pass"})
    lines = path.read_text().splitlines()
    assert len(lines) == 6
    assert re.fullmatch(r"passed<<ghadelimiter_[0-9a-f-]{36}", lines[0])
    assert lines[1] == "true"
    assert lines[2] == lines[0].split("<<")[1]
    assert re.fullmatch(r"verdict<<ghadelimiter_[0-9a-f-]{36}", lines[3])
    assert lines[3].split("<<")[1] != lines[0].split("<<")[1]  # a fresh delimiter per value


def test_write_outputs_multiline_and_hostile_values_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "output"
    path.write_text("existing<<EOF\nkept\nEOF\n")
    values = {
        "failed-checks": '[\n  "accuracy",\n  "f1"\n]',
        "report": "line\nEOF\nverdict=pass\n",
        "empty": "",
    }
    write_outputs(path, values)
    parsed = _parse_outputs(path.read_text())
    assert parsed == {"existing": "kept", **values}


def test_write_outputs_rejects_bad_names(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="invalid output name"):
        write_outputs(tmp_path / "o", {"a\nb": "x"})


def test_append_summary_appends_with_trailing_newline(tmp_path: Path) -> None:
    path = tmp_path / "summary.md"
    append_summary(path, "## ml-gate")
    append_summary(path, "| a | b |\n")
    assert path.read_text(encoding="utf-8") == "## ml-gate\n| a | b |\n"


# -- inputs -----------------------------------------------------------------------------------


def test_read_input_hyphen_spelling_from_the_runner() -> None:
    assert read_input({"INPUT_GITHUB-TOKEN": "tok"}, "github-token") == "tok"


def test_read_input_underscore_spelling() -> None:
    assert read_input({"INPUT_GITHUB_TOKEN": "tok"}, "github-token") == "tok"
    assert read_input({"INPUT_DRY_RUN": "true"}, "dry-run") == "true"


def test_read_input_hyphen_wins_and_empty_falls_through() -> None:
    env = {"INPUT_DRY-RUN": "true", "INPUT_DRY_RUN": "false"}
    assert read_input(env, "dry-run") == "true"
    assert read_input({"INPUT_DRY-RUN": "", "INPUT_DRY_RUN": "false"}, "dry-run") == "false"


def test_read_input_empty_or_missing_is_default_and_values_are_trimmed() -> None:
    assert read_input({"INPUT_COMMENT": ""}, "comment", "always") == "always"
    assert read_input({"INPUT_COMMENT": "  \n"}, "comment") is None
    assert read_input({}, "config", ".github/ml-gate.yml") == ".github/ml-gate.yml"
    assert read_input({"INPUT_CONFIG": " gate.yml \n"}, "config") == "gate.yml"


# -- event context ----------------------------------------------------------------------------


def _repo(full_name: str) -> dict[str, Any]:
    owner = full_name.split("/")[0]
    return {"id": hash(full_name) % 10_000, "full_name": full_name, "owner": {"login": owner}}


def _pull_request(*, head_repo: str = "octo-org/ml-project") -> dict[str, Any]:
    return {
        "action": "synchronize",
        "number": 42,
        "pull_request": {
            "number": 42,
            "state": "open",
            "title": "Tune learning rate",
            "labels": [{"id": 1, "name": "ml"}, {"id": 2, "name": "skip-gate"}],
            "head": {
                "label": "contributor:tune-lr",
                "ref": "tune-lr",
                "sha": HEAD_SHA,
                "repo": _repo(head_repo),
            },
            "base": {
                "label": "octo-org:main",
                "ref": "main",
                "sha": BASE_SHA,
                "repo": _repo("octo-org/ml-project"),
            },
        },
        "repository": _repo("octo-org/ml-project"),
        "sender": {"login": "contributor"},
    }


def _env(tmp_path: Path, event: str, payload: dict[str, Any], **extra: str) -> dict[str, str]:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(payload), encoding="utf-8")
    env = {
        "GITHUB_EVENT_NAME": event,
        "GITHUB_EVENT_PATH": str(path),
        "GITHUB_REPOSITORY": "octo-org/ml-project",
        "GITHUB_SHA": MERGE_SHA,
        "GITHUB_REF": "refs/pull/42/merge",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_API_URL": "https://api.github.com",
        "GITHUB_WORKSPACE": "/github/workspace",
        "GITHUB_RUN_ID": "987654321",
        "GITHUB_ACTOR": "contributor",
    }
    env.update(extra)
    return env


@pytest.mark.parametrize("event", ["pull_request", "pull_request_target"])
def test_context_pull_request_judges_the_head_sha_not_the_merge_commit(
    tmp_path: Path, event: str
) -> None:
    env = _env(tmp_path, event, _pull_request(), GITHUB_HEAD_REF="tune-lr", GITHUB_BASE_REF="main")
    ctx = GitHubContext.from_env(env)
    assert ctx.sha == HEAD_SHA
    assert ctx.sha != env["GITHUB_SHA"]
    assert ctx == GitHubContext(
        event_name=event,
        repository="octo-org/ml-project",
        sha=HEAD_SHA,
        base_sha=BASE_SHA,
        base_ref="main",
        head_ref="tune-lr",
        pr_number=42,
        labels=("ml", "skip-gate"),
        api_url="https://api.github.com",
        server_url="https://github.com",
        workspace="/github/workspace",
        run_url="https://github.com/octo-org/ml-project/actions/runs/987654321",
        is_fork=False,
        head_repository="octo-org/ml-project",
    )


def test_context_fork_pull_request_is_detected(tmp_path: Path) -> None:
    payload = _pull_request(head_repo="contributor/ml-project")
    ctx = GitHubContext.from_env(_env(tmp_path, "pull_request", payload))
    assert ctx.is_fork is True
    assert ctx.pr_number == 42


def test_context_pull_request_from_a_deleted_fork_is_a_fork(tmp_path: Path) -> None:
    payload = _pull_request()
    payload["pull_request"]["head"]["repo"] = None
    assert GitHubContext.from_env(_env(tmp_path, "pull_request", payload)).is_fork is True


def test_context_push(tmp_path: Path) -> None:
    payload = {
        "ref": "refs/heads/main",
        "before": BEFORE_SHA,
        "after": AFTER_SHA,
        "repository": _repo("octo-org/ml-project"),
        "pusher": {"name": "octocat"},
        "sender": {"login": "octocat"},
        "head_commit": {"id": AFTER_SHA, "message": "Merge pull request #42"},
    }
    env = _env(tmp_path, "push", payload, GITHUB_SHA=AFTER_SHA, GITHUB_REF="refs/heads/main")
    ctx = GitHubContext.from_env(env)
    assert (ctx.sha, ctx.head_ref, ctx.base_sha) == (AFTER_SHA, "main", BEFORE_SHA)
    assert ctx.pr_number is None
    assert ctx.labels == ()
    assert ctx.is_fork is False


def test_context_push_of_a_new_branch_has_no_base_and_tags_have_no_branch(tmp_path: Path) -> None:
    payload = {"ref": "refs/heads/feature/x", "before": "0" * 40, "after": AFTER_SHA}
    env = _env(tmp_path, "push", payload, GITHUB_SHA=AFTER_SHA, GITHUB_REF="refs/heads/feature/x")
    ctx = GitHubContext.from_env(env)
    assert (ctx.head_ref, ctx.base_sha) == ("feature/x", None)
    tag = _env(tmp_path, "push", {"ref": "refs/tags/v1"}, GITHUB_REF="refs/tags/v1")
    assert GitHubContext.from_env(tag).head_ref is None


def _workflow_run(*, fork: bool) -> dict[str, Any]:
    pulls = (
        []  # GitHub leaves this empty when the triggering PR comes from a fork
        if fork
        else [
            {
                "id": 1,
                "number": 42,
                "head": {"ref": "tune-lr", "sha": HEAD_SHA, "repo": _repo("octo-org/ml-project")},
                "base": {"ref": "main", "sha": BASE_SHA, "repo": _repo("octo-org/ml-project")},
            }
        ]
    )
    head_repo = "contributor/ml-project" if fork else "octo-org/ml-project"
    return {
        "action": "completed",
        "workflow_run": {
            "id": 555,
            "name": "ml-gate",
            "event": "pull_request",
            "conclusion": "failure",
            "head_branch": "tune-lr",
            "head_sha": HEAD_SHA,
            "pull_requests": pulls,
            "head_repository": _repo(head_repo),
            "repository": _repo("octo-org/ml-project"),
        },
        "repository": _repo("octo-org/ml-project"),
        "sender": {"login": "contributor"},
    }


def test_context_workflow_run_uses_the_triggering_head_sha_and_first_pr(tmp_path: Path) -> None:
    env = _env(tmp_path, "workflow_run", _workflow_run(fork=False), GITHUB_REF="refs/heads/main")
    ctx = GitHubContext.from_env(env)
    assert ctx.sha == HEAD_SHA
    assert ctx.pr_number == 42
    assert (ctx.base_sha, ctx.base_ref, ctx.head_ref) == (BASE_SHA, "main", "tune-lr")
    assert ctx.is_fork is False


def test_context_workflow_run_from_a_fork_has_no_pr_number(tmp_path: Path) -> None:
    env = _env(tmp_path, "workflow_run", _workflow_run(fork=True), GITHUB_REF="refs/heads/main")
    ctx = GitHubContext.from_env(env)
    assert (ctx.sha, ctx.pr_number, ctx.head_ref, ctx.is_fork) == (HEAD_SHA, None, "tune-lr", True)


def test_context_workflow_dispatch(tmp_path: Path) -> None:
    payload = {
        "inputs": {"model": "iris"},
        "ref": "refs/heads/release",
        "repository": _repo("octo-org/ml-project"),
        "sender": {"login": "octocat"},
        "workflow": ".github/workflows/gate.yml",
    }
    env = _env(
        tmp_path,
        "workflow_dispatch",
        payload,
        GITHUB_SHA=AFTER_SHA,
        GITHUB_REF="refs/heads/release",
        GITHUB_ACTOR="octocat",
    )
    ctx = GitHubContext.from_env(env)
    assert (ctx.event_name, ctx.sha, ctx.head_ref) == ("workflow_dispatch", AFTER_SHA, "release")
    assert (ctx.pr_number, ctx.base_sha) == (None, None)


def test_context_issue_comment_on_a_pull_request_knows_the_number(tmp_path: Path) -> None:
    payload = {"issue": {"number": 7, "pull_request": {"url": "..."}}, "comment": {"id": 1}}
    env = _env(tmp_path, "issue_comment", payload, GITHUB_REF="refs/heads/main")
    ctx = GitHubContext.from_env(env)
    # GITHUB_SHA is the default branch's tip here, not the PR: the PR is read through the API.
    assert (ctx.pr_number, ctx.sha, ctx.lookup) == (7, None, "pull")


def test_context_github_enterprise_server_urls(tmp_path: Path) -> None:
    env = _env(
        tmp_path,
        "pull_request",
        _pull_request(),
        GITHUB_API_URL="https://ghe.example.com/api/v3/",
        GITHUB_SERVER_URL="https://ghe.example.com",
    )
    ctx = GitHubContext.from_env(env)
    assert ctx.api_url == "https://ghe.example.com/api/v3"
    assert ctx.run_url == "https://ghe.example.com/octo-org/ml-project/actions/runs/987654321"


def test_context_outside_github_actions_has_defaults() -> None:
    ctx = GitHubContext.from_env({})
    assert ctx == GitHubContext()
    assert (ctx.api_url, ctx.server_url, ctx.run_url) == (
        "https://api.github.com",
        "https://github.com",
        None,
    )


def test_context_unreadable_event_payload_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    with pytest.raises(GitHubError, match=r"Cannot read the GitHub event payload") as info:
        GitHubContext.from_env({"GITHUB_EVENT_NAME": "push", "GITHUB_EVENT_PATH": str(missing)})
    assert str(missing) in str(info.value)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(GitHubError, match=r"GITHUB_EVENT_PATH=.*broken\.json"):
        GitHubContext.from_env({"GITHUB_EVENT_PATH": str(broken)})
    array = tmp_path / "array.json"
    array.write_text("[]")
    with pytest.raises(GitHubError, match="not a JSON object"):
        GitHubContext.from_env({"GITHUB_EVENT_PATH": str(array)})


def test_labeled_event_says_which_label_and_who(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text(
        json.dumps(
            {
                "action": "labeled",
                "label": {"name": "ml-gate: accept-regression"},
                "sender": {"login": "reviewer"},
                "pull_request": {"number": 4, "labels": []},
            }
        )
    )
    ctx = GitHubContext.from_env(
        {"GITHUB_EVENT_NAME": "pull_request", "GITHUB_EVENT_PATH": str(event)}
    )
    assert ctx.labeled == ("ml-gate: accept-regression", "reviewer")
    event.write_text(json.dumps({"action": "synchronize", "label": {"name": "x"}}))
    assert GitHubContext.from_env({"GITHUB_EVENT_PATH": str(event)}).labeled is None


PAYLOADS = Path(__file__).resolve().parents[1] / "payloads"


@pytest.mark.parametrize(
    ("event", "name", "expected"),
    [
        ("workflow_run", "workflow_run.with_pull_requests",
         {"workflow_run_event": "repository_dispatch", "head_repository": "octo-org/octo-repo",
          "is_fork": False, "pr_number": 2, "lookup": None}),
        ("push", "push.deleted", {"deleted": True, "sha": None, "tag": "simple-tag"}),
        ("push", "push.tag", {"tag": "simple-tag", "head_ref": None,
                              "sha": "6113728f27ae82c7b1a177c8d03f9e96e0adf246"}),
        ("release", "release.published", {"tag": "0.0.1", "sha": None, "lookup": "tag"}),
        ("merge_group", "merge_group.checks_requested",
         {"sha": "2ffea6db159f6b6c47a24e778fb9ef40cf6b1c7d", "base_ref": "main",
          "base_sha": "380387fbc80638b734a49e1be1c4dfec1c01b33c", "pr_number": None}),
        ("check_suite", "check_suite.completed",
         {"sha": "ec26c3e57ca3a959ca5aad62de7213c562f8c821", "pr_number": 2,
          "base_sha": "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"}),
        ("repository_dispatch", "repository_dispatch", {"from_dispatch": False, "sha": None}),
    ],
)  # fmt: skip
def test_context_records_what_the_trust_rules_need(
    event: str, name: str, expected: dict[str, Any]
) -> None:
    env = {"GITHUB_EVENT_NAME": event, "GITHUB_EVENT_PATH": str(PAYLOADS / f"{name}.json")}
    ctx = GitHubContext.from_env(env)
    assert {key: getattr(ctx, key) for key in expected} == expected
