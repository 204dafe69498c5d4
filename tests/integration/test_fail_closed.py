"""Fail closed, as a user meets it through `ml-gate check` on a real MLflow server: no baseline is
never a silent pass, and a short sha is resolved or refused with the fix."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from cli_helpers import ml_gate
from mlflow_helpers import RunLogger

HEAD = "a" * 40
OTHER = "b" * 40


def gate_file(tmp_path: Path, runs: RunLogger, baseline: str) -> Path:
    path = tmp_path / "gate.yml"
    path.write_text(
        f"tracker: {{uri: {runs.uri}, experiment: {runs.experiment}, timeout: 5s}}\n"
        f"baseline: {baseline}\n"
        "metrics:\n  accuracy: {min: 0.5, max_regression: 0.02}\n"
    )
    return path


def log_main_and_dev(runs: RunLogger) -> None:
    for _ in range(3):
        runs.log(OTHER, branch="main", metrics={"accuracy": 0.95})
    runs.log(OTHER, branch="dev", metrics={"accuracy": 0.95})
    runs.log(HEAD, branch="feature", metrics={"accuracy": 0.80})  # 0.15 worse: a regression


def test_wrong_baseline_branch_warns_and_names_the_branches_that_have_runs(
    tmp_path: Path, runs: RunLogger
) -> None:
    log_main_and_dev(runs)
    path = gate_file(tmp_path, runs, "{select: latest, branch: master}")
    report = tmp_path / "r.json"

    done = ml_gate("check", "-c", str(path), "--commit", HEAD, "--json", str(report), cwd=tmp_path)

    assert done.returncode == 0, done.stderr  # warn, not a failure of the gate
    data = json.loads(report.read_text())
    assert data["verdict"] == "warn"  # before: "pass", with the regression check skipped
    check = next(c for c in data["checks"] if c["name"] == "baseline.on_missing")
    assert check["status"] == "warn"
    assert check["message"] == (
        "`accuracy` not compared, no baseline: no finished run on branch `master` to compare "
        "with; finished runs exist on `main` (3), `dev` (1) (`baseline.on_missing: warn`)"
    )
    assert done.stdout.startswith("ml-gate: WARN")


def test_on_missing_fail_fails_the_gate(tmp_path: Path, runs: RunLogger) -> None:
    log_main_and_dev(runs)
    path = gate_file(tmp_path, runs, "{select: best, branch: master, on_missing: fail}")
    report = tmp_path / "r.json"

    done = ml_gate("check", "-c", str(path), "--commit", HEAD, "--json", str(report), cwd=tmp_path)

    assert done.returncode == 1, done.stderr
    assert json.loads(report.read_text())["failed_checks"] == ["baseline.on_missing"]


def test_on_missing_pass_and_select_none_pass_quietly(tmp_path: Path, runs: RunLogger) -> None:
    log_main_and_dev(runs)
    for baseline in ("{branch: master, on_missing: pass}", "{select: none}"):
        path = gate_file(tmp_path, runs, baseline)
        done = ml_gate("check", "-c", str(path), "--commit", HEAD, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("ml-gate: PASS"), baseline


def git(repo: Path, *args: str) -> str:
    identity = ["-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    done = subprocess.run(
        ["git", *identity, *args], cwd=repo, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_a_short_sha_is_resolved_in_the_checkout(tmp_path: Path, runs: RunLogger) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "commit", "-q", "--allow-empty", "-m", "x")
    git(repo, "commit", "-q", "--allow-empty", "-m", "y")  # HEAD is not the commit judged
    sha = git(repo, "rev-parse", "HEAD~1")
    cand = runs.log(sha, metrics={"accuracy": 0.95})
    path = gate_file(tmp_path, runs, "{select: none}")
    report = tmp_path / "r.json"

    done = ml_gate("check", "-c", str(path), "--commit", sha[:7], "--json", str(report), cwd=repo)

    assert done.returncode == 0, done.stderr
    assert json.loads(report.read_text())["candidate"]["id"] == cand


def test_a_short_sha_outside_a_checkout_says_a_full_sha_is_needed(
    tmp_path: Path, runs: RunLogger
) -> None:
    runs.log("e7cd833" + "0" * 33, metrics={"accuracy": 0.95})
    path = gate_file(tmp_path, runs, "{select: none}")

    done = ml_gate("check", "-c", str(path), "--commit", "e7cd833", cwd=tmp_path)

    assert done.returncode == 2
    assert done.stderr.startswith(
        "ml-gate: usage error: commit `e7cd833` is a short sha, and no git repository here "
        "resolves it: trackers record the full 40-character sha, so it would match no run.\n"
        "Pass the full sha (`git rev-parse e7cd833` in the repository)"
    )
