"""Integration fixtures: a real MLflow server for the whole session, one experiment per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from mlflow_helpers import RunLogger, mlflow_server


@pytest.fixture(scope="session")
def mlflow_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a real `mlflow server` on 127.0.0.1 (sqlite backend in a temp dir)."""
    with mlflow_server(tmp_path_factory.mktemp("mlflow-server")) as url:
        yield url


@pytest.fixture
def runs(mlflow_uri: str) -> RunLogger:
    """A fresh experiment on the shared server and a helper that logs runs into it."""
    return RunLogger(mlflow_uri)


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[[str], Path]:
    """Write a gate config file and return its path."""

    def write(text: str, name: str = "ml-gate.yml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write
