"""Failures that are not a failed gate, as a new user meets them: exit 2, one line, no traceback;
in the Action still `verdict=error` outputs and a job summary. Exit 1 stays "a rule failed"."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest
from cli_helpers import ml_gate
from mlflow_helpers import RunLogger
from runner_helpers import parse_outputs

from mlaction import selection
from mlaction.action import run_action

SHA = "f" * 40


def gate_file(tmp_path: Path, uri: str, experiment: str, extra: str = "") -> Path:
    path = tmp_path / "gate.yml"
    path.write_text(
        f"tracker:\n  uri: {uri}\n  experiment: {experiment}\n  timeout: 5s\n"
        f"metrics:\n  accuracy: {{min: 0.9}}\n{extra}",
        encoding="utf-8",
    )
    return path


def assert_one_line_error(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr + done.stdout
    assert done.stderr.startswith("ml-gate: ")


def test_json_into_a_missing_folder_prints_the_verdict_then_the_error(
    tmp_path: Path, runs: RunLogger
) -> None:
    runs.log(SHA, metrics={"accuracy": 0.5})  # a failing gate: the error must still win (2)
    path = gate_file(tmp_path, runs.uri, runs.experiment)
    missing = tmp_path / "no" / "such" / "dir" / "r.json"

    done = ml_gate("check", "-c", str(path), "--commit", SHA, "--json", str(missing), cwd=tmp_path)

    assert_one_line_error(done)
    assert done.stdout.startswith("ml-gate: FAIL (failed)")  # the verdict came first
    assert f"cannot write the JSON report to {missing}" in done.stderr
    assert not missing.parent.exists()


def test_markdown_pointing_at_a_folder_is_a_usage_error(tmp_path: Path, runs: RunLogger) -> None:
    runs.log(SHA, metrics={"accuracy": 0.95})
    path = gate_file(tmp_path, runs.uri, runs.experiment)

    done = ml_gate(
        "check", "-c", str(path), "--commit", SHA, "--markdown", str(tmp_path), cwd=tmp_path
    )

    assert_one_line_error(done)
    assert done.stdout.startswith("ml-gate: PASS (passed)")
    assert done.stderr.startswith(f"ml-gate: usage error: cannot write --markdown {tmp_path}")


def test_a_history_value_of_1_7e308_is_drawn_not_a_crash(tmp_path: Path, runs: RunLogger) -> None:
    # Anyone who can log a run writes the history: extreme values must not break the trend.
    runs.log("1" * 40, metrics={"accuracy": 1.7e308})
    runs.log("2" * 40, metrics={"accuracy": -1.7e308})
    runs.log(SHA, branch="feature", metrics={"accuracy": 0.95})
    path = gate_file(
        tmp_path, runs.uri, runs.experiment, "baseline: {select: latest, branch: main}\n"
    )

    done = ml_gate("check", "-c", str(path), "--commit", SHA, "--markdown", "-", cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "→" in done.stdout  # the sparkline was drawn


def test_the_sql_store_without_its_packages_is_exit_2_not_a_traceback(tmp_path: Path) -> None:
    # `pip install 'ml-gate[mlflow]'` once lacked what MLflow's SQL store imports: a user with
    # a sqlite:/// URI got a traceback and exit 1. Hide SQLAlchemy the way a lean install does.
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "sqlalchemy.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'sqlalchemy'\")\n"
    )
    path = gate_file(tmp_path, f"sqlite:///{tmp_path / 'mlflow.db'}", "exp")

    done = ml_gate(
        "check", "-c", str(path), "--commit", SHA, cwd=tmp_path, env={"PYTHONPATH": str(shadow)}
    )

    assert_one_line_error(done)


def test_debug_before_or_after_the_subcommand_shows_the_traceback(tmp_path: Path) -> None:
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "sqlalchemy.py").write_text("raise RuntimeError('boom in a dependency')\n")
    path = gate_file(tmp_path, f"sqlite:///{tmp_path / 'mlflow.db'}", "exp")
    env = {"PYTHONPATH": str(shadow)}
    for args in (["--debug", "check"], ["check", "--debug"]):
        done = ml_gate(*args, "-c", str(path), "--commit", SHA, cwd=tmp_path, env=env)
        assert done.returncode == 2
        assert "Traceback (most recent call last)" in done.stderr
        assert done.stderr.rstrip().splitlines()[-1].startswith("ml-gate: ")


def action_env(tmp_path: Path, config: Path, **extra: str) -> dict[str, str]:
    (tmp_path / "out").write_text("")
    (tmp_path / "summary").write_text("")
    return {
        "GITHUB_WORKSPACE": str(tmp_path),
        "GITHUB_OUTPUT": str(tmp_path / "out"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"),
        "GITHUB_EVENT_NAME": "workflow_dispatch",
        "GITHUB_SHA": SHA,
        "INPUT_CONFIG": config.name,
        **extra,
    }


def test_the_action_turns_an_unexpected_error_into_error_outputs(
    tmp_path: Path, runs: RunLogger, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs.log(SHA, metrics={"accuracy": 0.95})
    path = gate_file(tmp_path, runs.uri, runs.experiment)

    def broken(*_: object) -> None:
        raise ValueError("year -33709 is out of range")

    monkeypatch.setattr(selection, "find_history", broken)
    out = io.StringIO()

    code = run_action(action_env(tmp_path, path), stream=out)

    assert code == 2
    outputs = parse_outputs((tmp_path / "out").read_text())
    assert (outputs["verdict"], outputs["passed"], outputs["more-runs"]) == ("error", "false", "0")
    summary = (tmp_path / "summary").read_text()
    assert "## 💥 ml-gate: internal error" in summary
    assert "ValueError: year -33709 is out of range" in summary
    log = out.getvalue()
    assert "::error title=ml-gate%3A internal error::ValueError" in log
    assert "Traceback" not in log


def test_the_action_prints_the_traceback_only_with_runner_debug(
    tmp_path: Path, runs: RunLogger, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs.log(SHA, metrics={"accuracy": 0.95})
    path = gate_file(tmp_path, runs.uri, runs.experiment)

    def broken(*_: object) -> None:
        raise KeyError("verdict")

    monkeypatch.setattr(selection, "find_history", broken)
    out = io.StringIO()

    assert run_action(action_env(tmp_path, path, RUNNER_DEBUG="1"), stream=out) == 2
    log = out.getvalue()
    assert "Traceback (most recent call last)" in log
    # The traceback is printed between stop-commands markers: its text is never obeyed.
    before = log[: log.index("Traceback")]
    assert "::stop-commands::" in before


def test_the_action_reports_queries_as_debug_lines(tmp_path: Path, runs: RunLogger) -> None:
    runs.log(SHA, metrics={"accuracy": 0.95})
    path = gate_file(tmp_path, runs.uri, runs.experiment)
    out = io.StringIO()

    assert run_action(action_env(tmp_path, path), stream=out) == 0

    debug = [line for line in out.getvalue().splitlines() if line.startswith("::debug::")]
    assert any("candidate: run" in line for line in debug), debug


def test_a_pr_number_input_of_superscript_two_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "gate.yml"
    path.write_text("tracker: {experiment: x}\nmetrics: {a: {min: 0}}\n")
    out = io.StringIO()

    code = run_action(action_env(tmp_path, path, **{"INPUT_PR-NUMBER": "²"}), stream=out)

    assert code == 2
    assert "input `pr-number` must be a pull request number, got '²'" in out.getvalue()
    assert parse_outputs((tmp_path / "out").read_text())["verdict"] == "error"
