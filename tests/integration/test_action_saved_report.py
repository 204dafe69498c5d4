"""The fork recipe's second workflow posts a report that a workflow running the fork's code wrote:
the report is attacker-controlled. Through the Action's `report` input and `ml-gate comment`:
- a report naming another workflow's comment marker overwrites nothing (the marker comes from
  this workflow's config);
- an invalid report (a verdict holding workflow commands) posts nothing, exits 2, and the log
  obeys none of its text;
- HTML, mentions and references in every string field reach GitHub as inert text.
The real entrypoint and CLI, the GitHub fake.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from entrypoint_helpers import SOURCE, Step, run_step
from fakes.github_server import BOT_LOGIN, WORKFLOW_TOKEN, FakeGitHub
from github_html import ALLOWED_TAGS, MENTION, REFERENCE, evil_report_json, github_view

PR = 4
SCAN = "<!-- security-scan -->\n## Security scan: 3 critical findings"
OURS = "<!-- ml-gate:.github/ml-gate.yml -->"
INJECTED = "::set-output name=passed::true\n##[error]pwned\n::error::pwned"
CONFIG = "tracker: {experiment: iris}\nmetrics:\n  accuracy: {min: 0.9}\n"


def attack_report(**changes: Any) -> str:
    data = {**evil_report_json(), "marker": "<!-- security-scan -->", **changes}
    return json.dumps(data)


def post_with_action(tmp_path: Path, github: FakeGitHub, report: str) -> Step:
    github.pulls.add(PR)
    return run_step(
        tmp_path,
        github,
        config=CONFIG,
        event_name="workflow_run",
        event={"workflow_run": {"event": "pull_request", "head_sha": "a" * 40}},
        sha="b" * 40,
        inputs={"report": "saved.json", "pr-number": str(PR)},
        files={"saved.json": report},
    )


def post_with_cli(tmp_path: Path, github: FakeGitHub, report: str) -> Step:
    github.pulls.add(PR)
    (tmp_path / ".github").mkdir(exist_ok=True)
    (tmp_path / ".github" / "ml-gate.yml").write_text(CONFIG)
    (tmp_path / "saved.json").write_text(report)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "PYTHONPATH": str(SOURCE),
        "GITHUB_TOKEN": WORKFLOW_TOKEN,
        "GITHUB_API_URL": github.api_url,
        "GITHUB_REPOSITORY": github.repository,
    }
    command = "import sys; from mlaction.cli import main; sys.exit(main())"
    done = subprocess.run(
        [sys.executable, "-c", command, "comment", "--report", "saved.json", "--pr", str(PR)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return Step(done.returncode, done.stdout + done.stderr, {}, "", tmp_path)


POSTERS = [post_with_action, post_with_cli]


def bot_comments(github: FakeGitHub) -> list[str]:
    return [c["body"] for c in github.comments(PR) if c["user"]["login"] == BOT_LOGIN]


@pytest.mark.parametrize("post", POSTERS)
def test_another_workflows_comment_is_never_overwritten(
    tmp_path: Path, github_server: FakeGitHub, post: Any
) -> None:
    github_server.add_comment(PR, SCAN, login=BOT_LOGIN)

    step = post(tmp_path, github_server, attack_report())

    assert step.code == 0, step.log
    scan, ours = bot_comments(github_server)
    assert scan == SCAN  # untouched
    assert ours.startswith(OURS + "\n")
    assert "security-scan" not in ours.replace("security\\-scan", "")  # no marker of theirs


@pytest.mark.parametrize("post", POSTERS)
def test_every_string_field_is_inert_on_github(
    tmp_path: Path, github_server: FakeGitHub, post: Any
) -> None:
    step = post(tmp_path, github_server, attack_report())

    assert step.code == 0, step.log
    (body,) = bot_comments(github_server)
    view = github_view(body)
    text = "\n".join(view.scanned)
    assert "org/admins" in text
    assert not MENTION.findall(text)
    assert not REFERENCE.findall(text)
    assert view.tags <= ALLOWED_TAGS, view.tags - ALLOWED_TAGS
    assert all(href.startswith("https://") for href in view.hrefs), view.hrefs


@pytest.mark.parametrize("post", POSTERS)
@pytest.mark.parametrize(
    "change",
    [
        {"verdict": INJECTED},
        {"checks": [{"name": INJECTED, "status": INJECTED}]},
        {"candidate": {"id": INJECTED * 200}},
    ],
    ids=["verdict", "status", "size"],
)
def test_an_invalid_report_posts_nothing_and_commands_nothing(
    tmp_path: Path, github_server: FakeGitHub, post: Any, change: dict[str, Any]
) -> None:
    github_server.add_comment(PR, SCAN, login=BOT_LOGIN)

    step = post(tmp_path, github_server, attack_report(**change))

    assert step.code == 2, step.log
    assert "not a valid ml-gate report" in step.log
    assert bot_comments(github_server) == [SCAN]
    assert github_server.requests_to("create_comment") == []
    assert github_server.requests_to("update_comment") == []
    assert_obeys_nothing(step.log)
    if post is post_with_action:
        assert step.outputs["verdict"] == "error"


def assert_obeys_nothing(log: str) -> None:
    """Outside stop-commands blocks, every workflow command in the log is one of ml-gate's own,
    with the untrusted text escaped onto its line (`%0A`)."""
    paused: str | None = None
    for line in log.splitlines():
        stripped = line.lstrip()
        if paused is not None:
            paused = None if stripped == f"::{paused}::" else paused
            continue
        if stripped.startswith("::stop-commands::"):
            paused = stripped.removeprefix("::stop-commands::")
            continue
        assert not stripped.startswith("##["), line
        if stripped.startswith("::"):
            assert stripped.startswith(("::add-mask::", "::debug::", "::error title=ml-gate")), line
        else:  # the CLI's one line: plain text, never a command
            assert "::set-output" not in stripped.partition(":")[0], line
