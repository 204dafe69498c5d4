"""Shared fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fakes.github_server import FakeGitHub
from fakes.wandb_server import FAKE_WANDB_KEY, FakeWandbServer
from mlflow_helpers import RunLogger, mlflow_server


@pytest.fixture(scope="session")
def mlflow_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a real `mlflow server` on 127.0.0.1 (sqlite backend in a temp dir), one per session:
    the integration and the container tests share it."""
    with mlflow_server(tmp_path_factory.mktemp("mlflow-server")) as url:
        yield url


@pytest.fixture
def runs(mlflow_uri: str) -> RunLogger:
    """A fresh experiment on the shared server and a helper that logs runs into it."""
    return RunLogger(mlflow_uri)


@pytest.fixture
def github_server() -> Iterator[FakeGitHub]:
    """A fresh fake GitHub REST API on 127.0.0.1 (one per test)."""
    with FakeGitHub() as server:
        yield server


@pytest.fixture(scope="session")
def _wandb_server_session() -> Iterator[FakeWandbServer]:
    with FakeWandbServer() as server:
        yield server


@pytest.fixture
def wandb_server(
    _wandb_server_session: FakeWandbServer, monkeypatch: pytest.MonkeyPatch
) -> FakeWandbServer:
    """The fake W&B server on 127.0.0.1, emptied for this test; WANDB_* env points at it."""
    server = _wandb_server_session
    server.reset()
    monkeypatch.setenv("WANDB_BASE_URL", server.url)
    monkeypatch.setenv("WANDB_API_KEY", FAKE_WANDB_KEY)
    for name in ("WANDB_MODE", "WANDB_ENTITY", "WANDB_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    return server


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--regen-golden",
        action="store_true",
        default=False,
        help="rewrite tests/golden/ from the current output (review the diff before committing)",
    )


@pytest.fixture
def regen_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--regen-golden"))


@pytest.fixture(autouse=True)
def _mlflow_http_settings_stay_in_their_test(monkeypatch: pytest.MonkeyPatch) -> None:
    """The MLflow tracker sets MLFLOW_HTTP_* for its process (a CLI run is one gate); in this
    shared test process they are restored after each test, so one gate's 3 s timeout never
    becomes the next test's client timeout."""
    for name in (
        "MLFLOW_HTTP_REQUEST_TIMEOUT",
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES",
        "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR",
        "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER",
    ):
        monkeypatch.delenv(name, raising=False)
