"""Credentials in the tracking URI (`http://user:pass@host`) reach no annotation, summary, JSON
report, comment or log line; the Action masks the password and the user information.

Three trackers: one that cannot be reached, a real MLflow server asked for an experiment it does
not have (its error names the URI), and a real MLflow server that answers (run URLs are built
from the URI). The real entrypoint, the GitHub fake.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from entrypoint_helpers import Step, run_step
from fakes.github_server import REPOSITORY, FakeGitHub
from mlflow_helpers import RunLogger, free_port

HEAD = "c" * 40
PR = 3
USER, PASSWORD = "ci-bot", "Pa55-w0rd-xyzzy"


def pull_request_event() -> dict[str, object]:
    repo = {"full_name": REPOSITORY}
    return {
        "action": "synchronize",
        "number": PR,
        "pull_request": {
            "number": PR,
            "head": {"sha": HEAD, "ref": "feature", "repo": repo},
            "base": {"sha": "d" * 40, "ref": "main", "repo": repo},
            "labels": [],
        },
        "repository": repo,
    }


def with_userinfo(uri: str) -> str:
    return uri.replace("http://", f"http://{USER}:{PASSWORD}@", 1)


def gate(tmp_path: Path, github: FakeGitHub, uri: str, experiment: str) -> Step:
    github.pulls.add(PR)
    config = (
        f"tracker: {{experiment: {experiment}, timeout: 5s}}\n"
        "baseline: {select: none}\nmetrics:\n  accuracy: {min: 0.5}\n"
    )
    return run_step(
        tmp_path,
        github,
        config=config,
        event_name="pull_request",
        event=pull_request_event(),
        sha="e" * 40,
        env={"MLFLOW_TRACKING_URI": uri},
    )


def assert_nowhere(step: Step, github: FakeGitHub) -> None:
    """Neither the password nor `user:password` in anything ml-gate wrote, but the masks."""
    lines = step.log.splitlines()
    assert f"::add-mask::{PASSWORD}" in lines
    assert f"::add-mask::{USER}:{PASSWORD}" in lines
    written = [line for line in lines if not line.startswith("::add-mask::")]
    written += [step.summary, *step.outputs.values()]
    written += [c["body"] for c in github.comments(PR)]
    written += [p.read_text() for p in step.workspace.glob("ml-gate-report*.json")]
    leaks = [text for text in written if PASSWORD in text]
    assert not leaks


def test_unreachable_tracker(tmp_path: Path, github_server: FakeGitHub) -> None:
    step = gate(tmp_path, github_server, with_userinfo(f"http://127.0.0.1:{free_port()}"), "x")
    assert step.code == 2, step.log
    assert "::error title=ml-gate%3A tracker error::" in step.log
    assert_nowhere(step, github_server)


def test_tracker_error_that_names_the_uri(
    tmp_path: Path, github_server: FakeGitHub, runs: RunLogger
) -> None:
    step = gate(tmp_path, github_server, with_userinfo(runs.uri), "no-such-experiment")
    assert step.code == 2, step.log
    assert step.outputs["verdict"] == "error"
    assert_nowhere(step, github_server)


@pytest.mark.parametrize("debug", [False, True])
def test_answering_tracker(
    tmp_path: Path, github_server: FakeGitHub, runs: RunLogger, debug: bool
) -> None:
    runs.log(HEAD, metrics={"accuracy": 0.9})
    uri = with_userinfo(runs.uri)
    github_server.pulls.add(PR)
    config = (
        f"tracker: {{experiment: {runs.experiment}, timeout: 10s}}\n"
        "baseline: {select: none}\nmetrics:\n  accuracy: {min: 0.5}\n"
    )
    step = run_step(
        tmp_path,
        github_server,
        config=config,
        event_name="pull_request",
        event=pull_request_event(),
        sha="e" * 40,
        env={"MLFLOW_TRACKING_URI": uri, "RUNNER_DEBUG": "1" if debug else "0"},
    )
    assert step.code == 0, step.log
    assert step.report()["candidate"]["url"].startswith(runs.uri + "/#/experiments/")
    assert_nowhere(step, github_server)
