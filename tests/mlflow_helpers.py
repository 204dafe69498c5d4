"""A real `mlflow server` on 127.0.0.1 for the tests, and a small run logger."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def mlflow_server(workdir: Path, db: Path | None = None) -> Iterator[str]:
    """Start `mlflow server` (sqlite backend in `workdir`), wait until it answers, stop it."""
    port = free_port()
    log = (workdir / "server.log").open("w")
    mlflow_bin = Path(sys.executable).with_name("mlflow")
    command = [
        str(mlflow_bin) if mlflow_bin.exists() else "mlflow",
        "server",
        "--backend-store-uri",
        f"sqlite:///{workdir / 'mlflow.db'}",
        "--artifacts-destination",
        str(workdir / "artifacts"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    # No background job runner: the tests and benchmarks use only the tracking API.
    env = {**os.environ, "MLFLOW_TRACKING_URI": "", "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=workdir)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"mlflow server exited: {(workdir / 'server.log').read_text()}")
            try:
                if requests.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("mlflow server did not start within 120 s")
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@dataclass
class RunLogger:
    """Logs runs into one fresh experiment through the public MLflow client."""

    uri: str
    experiment: str = field(default_factory=lambda: f"exp-{uuid.uuid4().hex[:10]}")
    clock: int = field(default_factory=lambda: int(time.time() * 1000) - 86_400_000)

    def __post_init__(self) -> None:
        from mlflow.tracking import MlflowClient

        self.client = MlflowClient(tracking_uri=self.uri)
        self.experiment_id = self.client.create_experiment(self.experiment)

    def log(
        self,
        commit: str | None = None,
        *,
        branch: str | None = "main",
        metrics: Mapping[str, float] | None = None,
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        status: str = "FINISHED",
        name: str | None = None,
        duration_s: float = 60.0,
        start_ms: int | None = None,
        commit_tag: str = "mlflow.source.git.commit",
    ) -> str:
        """Log one run; runs are spaced one minute apart in start time, in logging order."""
        from mlflow.entities import Metric, Param

        self.clock += 60_000
        start = start_ms if start_ms is not None else self.clock
        all_tags = dict(tags or {})
        if commit:
            all_tags[commit_tag] = commit
        if branch:
            all_tags["mlflow.source.git.branch"] = branch
        run = self.client.create_run(
            self.experiment_id, start_time=start, tags=all_tags, run_name=name
        )
        run_id: str = run.info.run_id
        self.client.log_batch(
            run_id,
            metrics=[Metric(k, float(v), start, 0) for k, v in (metrics or {}).items()],
            params=[Param(k, str(v)) for k, v in (params or {}).items()],
        )
        if status != "RUNNING":
            end = start + int(duration_s * 1000)
            self.client.set_terminated(run_id, status=status, end_time=end)
        return run_id
