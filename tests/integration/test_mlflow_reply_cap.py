"""A huge reply from the tracker costs a bounded amount of memory and ends in one clear error.

The MLflow client reads a whole reply into memory with no limit of its own; `tracker.max_reply_mb`
(default 64 MiB, mlaction/httpcap.py) bounds what ml-gate reads. Against a real MLflow server
(a run whose reply is larger than a lowered limit) and against a loopback server that answers
every MLflow call with 400 MiB of well-formed JSON, streamed (chunked) or announced by
Content-Length, the shapes a misbehaving proxy or a run with an enormous payload produce.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import ML_GATE, ml_gate, run_measured
from fakes.huge_reply import MIB, huge_reply_server
from fakes.loopback import serving
from mlflow_helpers import RunLogger

from mlaction.config import TrackerConfig
from mlaction.trackers.base import RunQuery
from mlaction.trackers.mlflow import MlflowTracker

HEAD = "a" * 40


@pytest.fixture(params=[False, True], ids=["chunked", "content-length"])
def huge_server(request: pytest.FixtureRequest) -> Iterator[tuple[str, list[int]]]:
    with huge_reply_server(announce=request.param) as found:
        yield found


def write_config(tmp_path: Path, uri: str, experiment: str, extra: str = "") -> Path:
    path = tmp_path / "ml-gate.yml"
    path.write_text(
        f"tracker: {{uri: '{uri}', experiment: {experiment}, timeout: 30s{extra}}}\n"
        "baseline: {select: none}\nmetrics:\n  accuracy: {min: 0.5}\n"
    )
    return path


def check_measured(config: Path, tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    """`ml-gate check` and its peak resident size in MiB."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "MLFLOW_"))}
    command = [*ML_GATE, "check", "-c", str(config), "--commit", HEAD]
    return run_measured(command, cwd=tmp_path, env=env, timeout=300)


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss units differ off Linux")
def test_a_400_mib_reply_is_refused_after_the_limit(
    tmp_path: Path, huge_server: tuple[str, list[int]]
) -> None:
    uri, sent = huge_server

    started = time.monotonic()
    done, rss = check_measured(write_config(tmp_path, uri, "e"), tmp_path)
    took = time.monotonic() - started

    assert done.returncode == 2, done.stderr[-2000:]
    first = done.stderr.strip().splitlines()[0]
    assert "sent a reply larger than 64 MiB (`tracker.max_reply_mb`)" in first, first
    assert "GET /api/2.0/mlflow/experiments/get-by-name" in first, first
    assert "tracker.max_reply_mb" in done.stderr.split("\n", 1)[1]  # the fix
    # Before (no limit): the whole 400 MiB was read, decoded and parsed, exit 2 with a
    # 400 MiB-long experiment in memory and a peak over 1.5 GiB.
    assert rss < 400, f"peak resident size {rss:.0f} MiB"
    assert sum(sent) < 200 * MIB, f"the server wrote {sum(sent) / MIB:.0f} MiB"
    print(f"refused after {sum(sent) / MIB:.0f} MiB sent, peak {rss:.0f} MiB, {took:.1f} s")


def test_a_real_servers_reply_over_a_lowered_limit(tmp_path: Path, runs: RunLogger) -> None:
    from mlflow.entities import Metric

    run_id = runs.log(HEAD, metrics={"accuracy": 0.9}, status="RUNNING")
    stamp = int(time.time() * 1000)
    for batch in range(20):  # about 1.8 MB of metrics in every reply that carries the run
        names = (f"metric_{batch * 1000 + i:06d}" for i in range(1000))
        runs.client.log_batch(run_id, metrics=[Metric(n, 0.5, stamp, 0) for n in names])
    runs.client.set_terminated(run_id, end_time=stamp)

    lowered = ml_gate(
        "check",
        "-c",
        str(write_config(tmp_path, runs.uri, runs.experiment, ", max_reply_mb: 1")),
        "--commit",
        HEAD,
        cwd=tmp_path,
    )
    default = ml_gate(
        "check",
        "-c",
        str(write_config(tmp_path, runs.uri, runs.experiment)),
        "--commit",
        HEAD,
        "--json",
        str(tmp_path / "report.json"),
        cwd=tmp_path,
    )

    assert lowered.returncode == 2, lowered.stderr[-2000:]
    first = lowered.stderr.strip().splitlines()[0]
    assert "sent a reply larger than 1 MiB (`tracker.max_reply_mb`)" in first, first
    assert "/api/2.0/mlflow/runs/search" in first, first
    assert default.returncode == 0, default.stderr[-2000:]
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["verdict"] == "pass"


def test_the_limit_must_be_sane(tmp_path: Path) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:9", "e", ", max_reply_mb: 0")

    done = ml_gate("validate", "-c", str(config), cwd=tmp_path)

    assert done.returncode == 2, done.stderr
    assert "max_reply_mb must be between 1 and 4096" in done.stderr


def test_many_large_runs_are_read_in_pages_under_the_limit(tmp_path: Path, runs: RunLogger) -> None:
    # 15 runs of about 150 KB each: the history's one reply (2.3 MB) is over a 1 MiB limit,
    # pages of one run are not. Before: exit 2, "sent a reply larger than 1 MiB".
    from mlflow.entities import Metric

    stamp = int(time.time() * 1000)
    for i in range(15):
        run_id = runs.log(f"{i + 1:x}" * 40, metrics={"accuracy": 0.9}, status="RUNNING")
        names = (f"per_class_{k:04d}" for k in range(1000))
        runs.client.log_batch(run_id, metrics=[Metric(n, 0.5, stamp, 0) for n in names])
        runs.client.set_terminated(run_id, end_time=stamp)
    runs.log(HEAD, branch="feature", metrics={"accuracy": 0.91})
    config = write_config(tmp_path, runs.uri, runs.experiment, ", max_reply_mb: 1")
    config.write_text(config.read_text().replace("{select: none}", "{select: latest}"))

    done = ml_gate(
        "check", "-c", str(config), "--commit", HEAD, "--json", str(tmp_path / "r.json"),
        cwd=tmp_path,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["baseline_reason"] == "latest finished run"
    assert report["history_runs"] == 14  # the other 14 of the 15 runs on the branch
    query = RunQuery(limit=16)
    whole, paged = (
        MlflowTracker(
            runs.uri, TrackerConfig(uri=runs.uri, experiment=runs.experiment, max_reply_mb=mb)
        )
        for mb in (64, 1)
    )
    assert [r.id for r in paged.search(query)] == [r.id for r in whole.search(query)]


class _EndlessPages(BaseHTTPRequestHandler):
    """An experiment, and a search that answers no runs and yet another page, forever."""

    searches: list[str]

    def _json(self, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # experiments/get-by-name
        experiment = {"experiment_id": "1", "name": "e", "lifecycle_stage": "active"}
        self._json({"experiment": experiment})

    def do_POST(self) -> None:  # runs/search
        self.searches.append(self.path)
        self._json({"runs": [], "next_page_token": "eyJvZmZzZXQiOiAxMDB9"})

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_a_server_that_pages_forever_is_asked_once(tmp_path: Path) -> None:
    searches: list[str] = []
    handler = type("Endless", (_EndlessPages,), {"searches": searches})
    with serving(handler) as uri:
        tracker = MlflowTracker(uri, TrackerConfig(uri=uri, experiment="e", timeout=5))

        found = tracker.search(RunQuery(limit=50, finished_only=False))

    assert found == []
    assert len(searches) == 1, searches  # before: a new request for every empty page, forever
