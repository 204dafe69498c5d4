"""A config's `tracker.uri` never receives the environment's credentials (real MLflow and
wandb clients, a loopback server standing in for the host the config names)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from fakes.loopback import serving
from fakes.wandb_server import FakeWandbServer

from mlaction.config import TrackerConfig
from mlaction.errors import ConfigError, MlGateError
from mlaction.trackers import build_tracker
from mlaction.trackers.base import RunQuery


class _Recorder(BaseHTTPRequestHandler):
    seen: list[str]

    def _answer(self) -> None:
        self.seen.append(self.headers.get("Authorization") or "")
        body = b'{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "no"}'
        self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def elsewhere() -> Iterator[tuple[str, list[str]]]:
    """A loopback server that records the Authorization header of every request."""
    seen: list[str] = []
    handler = type("Recorder", (_Recorder,), {"seen": seen})
    with serving(handler) as url:
        yield url, seen


def test_mlflow_token_stays_with_the_environments_server(
    tmp_path: Path, elsewhere: tuple[str, list[str]]
) -> None:
    url, seen = elsewhere
    (tmp_path / "gate.yml").write_text(
        f"tracker:\n  uri: {url}\n  experiment: x\n  timeout: 3s\nmetrics:\n  a: {{min: 1}}\n"
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "MLFLOW_"))}
    env = {
        **base,
        "MLFLOW_TRACKING_URI": "http://127.0.0.1:9",
        "MLFLOW_TRACKING_TOKEN": "tok-from-secrets",
    }
    done = subprocess.run(
        [sys.executable, "-m", "mlaction.cli", "check", "-c", "gate.yml", "--commit", "a" * 40],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert seen == []
    assert done.returncode == 2
    assert done.stderr.startswith(f"ml-gate: config error: tracker.uri names {url}, but the ")
    assert "tok-from-secrets" not in done.stderr + done.stdout


def test_wandb_key_stays_with_the_environments_server(
    wandb_server: FakeWandbServer, elsewhere: tuple[str, list[str]]
) -> None:
    url, seen = elsewhere
    config = TrackerConfig(type="wandb", uri=url, experiment="acme/iris", timeout=3)
    refusal = ""
    try:
        build_tracker(config).search(RunQuery(limit=1))
    except ConfigError as exc:
        refusal = str(exc)
    except MlGateError:  # the recorder's 404
        pass
    assert seen == []
    assert "ml-gate does not send them to another server" in refusal


def test_opt_in_sends_them(
    elsewhere: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, seen = elsewhere
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "tok")
    config = TrackerConfig(uri=url, experiment="x", timeout=3, send_credentials_to_config_uri=True)
    with contextlib.suppress(MlGateError):
        build_tracker(config).search(RunQuery(limit=1))
    assert seen
    assert seen[0] == "Bearer tok"
