"""The `ml-gate` command as a user runs it: exit codes, messages, no tracebacks, no hangs."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from cli_helpers import ml_gate
from fakes.loopback import serving
from mlflow_helpers import RunLogger

SHA = "f" * 40


def config(tmp_path: Path, uri: str, experiment: str, extra: str = "") -> Path:
    path = tmp_path / "gate.yml"
    path.write_text(
        f"tracker:\n  uri: {uri}\n  experiment: {experiment}\n  timeout: 3s\n"
        f"metrics:\n  accuracy: {{min: 0.9}}\n{extra}"
    )
    return path


def test_help_lists_the_commands(tmp_path: Path) -> None:
    done = ml_gate("--help", cwd=tmp_path)
    assert done.returncode == 0
    for command in ("check", "validate", "render", "comment", "init"):
        assert command in done.stdout


def test_check_pass_and_fail_exit_codes(tmp_path: Path, runs: RunLogger) -> None:
    runs.log(SHA, metrics={"accuracy": 0.95})
    path = config(tmp_path, runs.uri, runs.experiment)

    done = ml_gate("check", "--config", str(path), "--commit", SHA, "--markdown", "-", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ml-gate: PASS (passed)")
    assert "<!-- ml-gate:gate.yml -->" in done.stdout

    runs.log(SHA, metrics={"accuracy": 0.5})
    report = tmp_path / "r.json"
    markdown = tmp_path / "c.md"
    done = ml_gate(
        "check",
        "-c",
        str(path),
        "--commit",
        SHA,
        "--json",
        str(report),
        "--markdown",
        str(markdown),
        cwd=tmp_path,
    )
    assert done.returncode == 1
    assert json.loads(report.read_text())["failed_checks"] == ["accuracy.min"]
    assert "## ❌ ml-gate: failed" in markdown.read_text()

    rendered = ml_gate("render", "--report", str(report), cwd=tmp_path)
    assert rendered.returncode == 0
    assert rendered.stdout == markdown.read_text()


def test_commit_comes_from_the_pull_request_event(tmp_path: Path, runs: RunLogger) -> None:
    cand = runs.log(SHA, metrics={"accuracy": 0.95})
    event = tmp_path / "event.json"
    event.write_text(
        json.dumps(
            {
                "pull_request": {
                    "number": 3,
                    "head": {"sha": SHA, "ref": "f"},
                    "base": {"sha": "0" * 39 + "1", "ref": "main"},
                }
            }
        )
    )
    path = config(tmp_path, runs.uri, runs.experiment)
    report = tmp_path / "r.json"

    done = ml_gate(
        "check",
        "-c",
        str(path),
        "--json",
        str(report),
        cwd=tmp_path,
        env={
            "GITHUB_EVENT_NAME": "pull_request",
            "GITHUB_EVENT_PATH": str(event),
            "GITHUB_SHA": "e" * 40,
        },
    )

    assert done.returncode == 0, done.stderr
    assert json.loads(report.read_text())["candidate"]["id"] == cand


def test_commit_defaults_to_git_head(tmp_path: Path, runs: RunLogger) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "x"], cwd=repo, check=True)
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()
    cand = runs.log(head, metrics={"accuracy": 0.95})
    path = config(tmp_path, runs.uri, runs.experiment)
    report = tmp_path / "r.json"

    done = ml_gate("check", "-c", str(path), "--json", str(report), cwd=repo)

    assert done.returncode == 0, done.stderr
    assert json.loads(report.read_text())["candidate"]["id"] == cand


def test_no_run_for_commit_names_commit_and_experiment(tmp_path: Path, runs: RunLogger) -> None:
    path = config(tmp_path, runs.uri, runs.experiment)
    done = ml_gate("check", "-c", str(path), "--commit", SHA, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith(
        f"ml-gate: run not found: no run for commit {SHA} in MLflow experiment "
        f"`{runs.experiment}` at {runs.uri}.\nThe training step must tag its run"
    )
    assert "Traceback" not in done.stderr


def test_missing_experiment(tmp_path: Path, mlflow_uri: str) -> None:
    path = config(tmp_path, mlflow_uri, "no-such-experiment")
    done = ml_gate("check", "-c", str(path), "--commit", SHA, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith(
        f"ml-gate: tracker error: MLflow experiment `no-such-experiment` does not exist at "
        f"{mlflow_uri}.\nCheck `tracker.experiment`"
    )


def test_debug_shows_the_traceback(tmp_path: Path, mlflow_uri: str) -> None:
    path = config(tmp_path, mlflow_uri, "no-such-experiment")
    done = ml_gate("check", "-c", str(path), "--commit", SHA, "--debug", cwd=tmp_path)
    assert done.returncode == 2
    assert "Traceback (most recent call last)" in done.stderr


def test_server_down_fails_fast(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    path = config(tmp_path, f"http://127.0.0.1:{port}", "x")
    done = ml_gate("check", "-c", str(path), "--commit", SHA, cwd=tmp_path)
    assert done.returncode == 2
    assert f"the MLflow server at http://127.0.0.1:{port} refused the connection" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.fixture
def hung_server() -> Iterator[int]:
    """Accepts connections and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(sock.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield sock.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    sock.close()


def test_hung_server_is_an_error_not_a_hang(tmp_path: Path, hung_server: int) -> None:
    path = config(tmp_path, f"http://127.0.0.1:{hung_server}", "x")
    done = ml_gate("check", "-c", str(path), "--commit", SHA, cwd=tmp_path)
    assert done.returncode == 2
    assert f"127.0.0.1:{hung_server}" in done.stderr
    assert "Traceback" not in done.stderr


class _Refuse(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"error_code": "UNAUTHENTICATED", "message": "bad token"}')

    do_POST = do_GET

    def log_message(self, *args: object) -> None:
        pass


def test_rejected_credentials(tmp_path: Path) -> None:
    with serving(_Refuse) as uri:
        path = config(tmp_path, uri, "x")
        done = ml_gate(
            "check",
            "-c",
            str(path),
            "--commit",
            SHA,
            cwd=tmp_path,
            env={"MLFLOW_TRACKING_URI": uri, "MLFLOW_TRACKING_TOKEN": "secret-token-value"},
        )
    assert done.returncode == 2
    assert done.stderr == (
        f"ml-gate: tracker error: the MLflow server at {uri} refused the credentials "
        "(HTTP 401).\nSet MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and "
        "MLFLOW_TRACKING_PASSWORD, in the step's `env:` (from repository secrets).\n"
    )
    assert "secret-token-value" not in done.stderr + done.stdout


def test_direct_sqlite_store(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'local.db'}"
    logger = RunLogger(uri)
    cand = logger.log(SHA, metrics={"accuracy": 0.97})
    path = config(tmp_path, uri, logger.experiment)
    report = tmp_path / "r.json"

    done = ml_gate("check", "-c", str(path), "--commit", SHA, "--json", str(report), cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    data = json.loads(report.read_text())
    assert data["candidate"]["id"] == cand
    assert data["candidate"]["url"] is None  # a local store has no UI page


def test_validate(tmp_path: Path) -> None:
    good = config(tmp_path, "http://x", "iris")
    done = ml_gate("validate", "--config", str(good), cwd=tmp_path)
    assert done.returncode == 0
    assert "OK" in done.stdout
    assert "1 metric(s) with 1 rule(s)" in done.stdout

    bad = tmp_path / "bad.yml"
    bad.write_text("tracker: {experiment: x}\nmetrics:\n  acc: {mn: 1}\n")
    done = ml_gate("validate", "--config", str(bad), cwd=tmp_path)
    assert done.returncode == 2
    assert "line 3, key `metrics.acc.mn`: unknown key. Did you mean `min`?" in done.stderr


def test_init_writes_a_valid_starter_and_refuses_to_overwrite(tmp_path: Path) -> None:
    done = ml_gate("init", cwd=tmp_path)
    assert done.returncode == 0
    written = tmp_path / ".github" / "ml-gate.yml"
    assert written.exists()
    again = ml_gate("init", cwd=tmp_path)
    assert again.returncode == 2
    assert "already exists" in again.stderr
    valid = ml_gate("validate", cwd=tmp_path, env={"MLFLOW_TRACKING_URI": "http://x"})
    assert valid.returncode == 0, valid.stderr


def test_missing_config_is_exit_2(tmp_path: Path) -> None:
    done = ml_gate("check", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith(
        "ml-gate: config error: config file .github/ml-gate.yml not found."
    )
