"""The MLflow tracker's failures and inputs, against a real `mlflow server` and loopback sockets.

Each way of failing is told apart by type or code (never by message text), says what happened,
and never passes on credentials from the URI.
"""

from __future__ import annotations

import logging
import socket
import sqlite3
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from fakes.loopback import serving
from mlflow_helpers import RunLogger, free_port

from mlaction.config.schema import TrackerConfig
from mlaction.errors import RunNotFoundError, TrackerError
from mlaction.trackers.mlflow import MlflowTracker, create


def tracker_for(uri: str, experiment: str = "x", timeout: float = 5) -> MlflowTracker:
    return create(TrackerConfig(uri=uri, experiment=experiment, timeout=timeout))


@pytest.fixture(autouse=True)
def _few_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0")


def failure(uri: str, timeout: float = 5) -> str:
    with pytest.raises(TrackerError) as info:
        tracker_for(uri, timeout=timeout).experiment_id  # noqa: B018
    return info.value.message


# --- errors by code, not text ------------------------------------------------------------------


def test_missing_run_whose_id_contains_401_is_a_missing_run(runs: RunLogger) -> None:
    tracker = tracker_for(runs.uri, runs.experiment)
    with pytest.raises(RunNotFoundError, match="does not exist"):
        tracker.get_run("0401" + "0" * 28)


# --- four ways of not reaching a server --------------------------------------------------------


def test_refused_connection() -> None:
    message = failure(f"http://127.0.0.1:{free_port()}")
    assert "refused the connection" in message


def test_dns_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    real = socket.getaddrinfo

    def resolve(host: object, *args: object, **kwargs: object) -> object:
        # What the resolver raises for a name that does not exist (EAI_NONAME), offline.
        if host == "mlflow.nowhere.invalid":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    message = failure("http://mlflow.nowhere.invalid:5000")
    assert "cannot resolve the host name `mlflow.nowhere.invalid`" in message


def test_tls_error(mlflow_uri: str) -> None:
    message = failure(mlflow_uri.replace("http://", "https://"))
    assert "TLS handshake" in message


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A socket that accepts connections and never answers."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield server.getsockname()[1]


def test_timeout(silent_port: int) -> None:
    message = failure(f"http://127.0.0.1:{silent_port}", timeout=1)
    assert "did not answer within 1 s" in message


def test_the_four_messages_differ(mlflow_uri: str, silent_port: int) -> None:
    first_words = {
        failure(f"http://127.0.0.1:{free_port()}")[:40],
        failure(mlflow_uri.replace("http://", "https://"))[:40],
        failure(f"http://127.0.0.1:{silent_port}", timeout=1)[:40],
    }
    assert len(first_words) == 3  # DNS has its own test: it needs the resolver replaced


def test_credentials_in_the_uri_never_reach_a_message() -> None:
    message = failure(f"http://alice:s3cret@127.0.0.1:{free_port()}")
    assert "s3cret" not in message
    assert "alice" not in message


def test_retries_and_queries_are_debug_lines(
    runs: RunLogger, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="mlaction")
    runs.log("a" * 40, metrics={"accuracy": 0.9})
    tracker = tracker_for(runs.uri, runs.experiment)
    from mlaction.trackers.base import RunQuery

    tracker.search(RunQuery(limit=3, branch="main"))
    failure(f"http://127.0.0.1:{free_port()}")
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert any(line.startswith("search_runs ") and "'main'" in line for line in lines)
    assert any(line.startswith("retry: Retrying") for line in lines)


# --- something that is not MLflow --------------------------------------------------------------


class _Html(BaseHTTPRequestHandler):
    # What a web server or an SPA catch-all answers on any path: an HTML page.
    status = 200

    def do_GET(self) -> None:
        body = b"<!doctype html><html><body>Welcome</body></html>"
        self.send_response(self.status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Html404(_Html):
    status = 404


@pytest.mark.parametrize("handler", [_Html, _Html404])
def test_a_server_answering_html_is_not_mlflow(handler: type[_Html]) -> None:
    with serving(handler) as url:
        message = failure(url)
    assert "is not an MLflow server (it answered HTML with HTTP" in message
    assert "at /api/2.0/mlflow/" in message


# --- stores: what the docs list works, a wrong path creates nothing -----------------------------


def test_wrong_sqlite_path_is_an_error_and_creates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(TrackerError, match=r"no MLflow database at wrong/path\.db"):
        tracker_for("sqlite:///wrong/path.db")
    assert list(tmp_path.iterdir()) == []


def test_sqlite_store_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow.tracking import MlflowClient

    db = tmp_path / "mlflow.db"
    writer = MlflowClient(f"sqlite:///{db}")
    run = writer.create_run(writer.create_experiment("x"))
    writer.set_terminated(run.info.run_id)
    before = sqlite3.connect(db).execute("select count(*) from runs").fetchone()

    found = tracker_for(f"sqlite:///{db}").get_run(run.info.run_id)

    assert found.id == run.info.run_id
    assert sqlite3.connect(db).execute("select count(*) from runs").fetchone() == before


def test_file_store_is_read_without_mlflow_allow_file_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow.tracking import MlflowClient

    store = tmp_path / "mlruns"
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    writer = MlflowClient(store.as_uri())
    run = writer.create_run(writer.create_experiment("x"))
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE")

    assert tracker_for(store.as_uri()).get_run(run.info.run_id).id == run.info.run_id
    assert tracker_for(str(store)).get_run(run.info.run_id).id == run.info.run_id


def test_missing_file_store_is_an_error_and_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(TrackerError, match="no MLflow file store at"):
        tracker_for((tmp_path / "mlruns").as_uri())
    assert not (tmp_path / "mlruns").exists()


def test_databricks_uri_reaches_mlflow_unchanged() -> None:
    for uri in ("databricks", "databricks://my-profile"):
        assert tracker_for(uri).client.tracking_uri == uri


# --- tracker inputs never crash the gate -------------------------------------------------------


def test_out_of_range_start_time_becomes_no_start(runs: RunLogger) -> None:
    # MLflow refuses a negative metric timestamp, not a negative start time.
    run_id = runs.log("a" * 40, start_ms=-(2**50), params={"seed": "1"})
    run = tracker_for(runs.uri, runs.experiment).get_run(run_id)
    assert run.start is None
    assert run.params == {"seed": "1"}


def test_end_before_start_is_kept_for_the_gate_to_judge(runs: RunLogger) -> None:
    # Not "no end" (which would read as a run that has not ended): run.max_duration fails with
    # the reason (tests/integration/test_untrusted_runs.py).
    run_id = runs.log("a" * 40, duration_s=-3600, metrics={"accuracy": 0.9})
    run = tracker_for(runs.uri, runs.experiment).get_run(run_id)
    assert run.start is not None
    assert run.end is not None
    assert run.duration is not None
    assert run.duration.total_seconds() == -3600
