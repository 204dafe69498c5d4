"""What the Action writes on the runner and in the PR: the sticky comment is only a comment that
starts with its marker; the job summary fits GitHub's 1 MiB (in bytes); the JSON report is
written without following a symbolic link the workspace holds. The real entrypoint, a real
MLflow server, the GitHub fake."""

from __future__ import annotations

import json
from pathlib import Path

from entrypoint_helpers import Step, run_step
from fakes.github_server import BOT_LOGIN, REPOSITORY, FakeGitHub
from mlflow_helpers import RunLogger

HEAD = "a" * 40
PR = 6
MARKER = "<!-- ml-gate:.github/ml-gate.yml -->"
SUMMARY_BYTES = 1024 * 1024  # GitHub: "a maximum of 1MiB of content" per step


def pull_request_event() -> dict[str, object]:
    repo = {"full_name": REPOSITORY}
    return {
        "action": "synchronize",
        "number": PR,
        "pull_request": {
            "number": PR,
            "head": {"sha": HEAD, "ref": "feature", "repo": repo},
            "base": {"sha": "b" * 40, "ref": "main", "repo": repo},
            "labels": [],
        },
        "repository": repo,
    }


def gate(tmp_path: Path, github: FakeGitHub, runs: RunLogger, metrics: str) -> Step:
    github.pulls.add(PR)
    config = (
        f"tracker: {{experiment: {runs.experiment}, timeout: 20s}}\n"
        f"baseline: {{select: none}}\nmetrics:\n{metrics}"
    )
    return run_step(
        tmp_path,
        github,
        config=config,
        event_name="pull_request",
        event=pull_request_event(),
        sha="e" * 40,
        env={"MLFLOW_TRACKING_URI": runs.uri},
    )


def test_a_comment_that_only_quotes_the_marker_is_not_the_sticky_comment(
    tmp_path: Path, github_server: FakeGitHub, runs: RunLogger
) -> None:
    """Another workflow of the same bot quoted the marker: that comment is left alone."""
    quoting = f"Deploy preview ready.\n\n> {MARKER}\n"
    github_server.add_comment(PR, quoting, login=BOT_LOGIN)
    runs.log(HEAD, metrics={"accuracy": 0.95})

    step = gate(tmp_path, github_server, runs, "  accuracy: {min: 0.9}\n")

    assert step.code == 0, step.log
    bodies = [c["body"] for c in github_server.comments(PR) if c["user"]["login"] == BOT_LOGIN]
    assert bodies[0] == quoting
    assert len(bodies) == 2
    assert bodies[1].startswith(MARKER + "\n")


def test_the_summary_fits_githubs_limit_in_bytes(
    tmp_path: Path, github_server: FakeGitHub, runs: RunLogger
) -> None:
    """Metric names of three-byte characters: under a million characters, over a MiB."""
    names = [f"{i:03d}" + "指" * 246 for i in range(600)]  # MLflow keys hold 250 characters
    runs.log(HEAD, metrics=dict.fromkeys(names, 0.95))
    rules = "".join(f"  {name}: {{min: 0.9}}\n" for name in names)

    step = gate(tmp_path, github_server, runs, rules)

    assert step.code == 0, step.log
    size = len(step.summary.encode("utf-8"))
    assert size <= SUMMARY_BYTES
    assert "This report was truncated" in step.summary
    said = step.summary.rpartition("it is ")[2].partition(" bytes")[0]
    assert int(said.replace(",", "")) > SUMMARY_BYTES  # the note tells the real size, in bytes


def test_the_report_is_not_written_through_a_symlink(
    tmp_path: Path, github_server: FakeGitHub, runs: RunLogger
) -> None:
    """A PR can commit `ml-gate-report.json` as a link to a file of the runner."""
    target = tmp_path / "runner-file"
    target.write_text("keep me\n")
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / "ml-gate-report.json").symlink_to(target)
    runs.log(HEAD, metrics={"accuracy": 0.95})

    step = gate(tmp_path, github_server, runs, "  accuracy: {min: 0.9}\n")

    assert step.code == 0, step.log
    assert target.read_text() == "keep me\n"
    report = workspace / "ml-gate-report.json"
    assert not report.is_symlink()
    assert json.loads(report.read_text())["verdict"] == "pass"
