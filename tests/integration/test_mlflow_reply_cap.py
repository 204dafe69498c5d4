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
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cli_helpers import ML_GATE, ml_gate
from mlflow_helpers import RunLogger

HEAD = "a" * 40
MIB = 1024 * 1024
HUGE = 400 * MIB
# One tag of about 1 MiB, repeated: `{"experiment": {..., "tags": [TAG, TAG, ...]}}` is what
# get-experiment-by-name answers, only larger.
TAG = b'{"key": "k", "value": "' + b"v" * (MIB - 40) + b'"}'


class _Huge(BaseHTTPRequestHandler):
    """Every call answered with HUGE bytes of MLflow-shaped JSON; counts what it sent."""

    announce = False  # True: a Content-Length header, else chunked transfer encoding
    sent: list[int]

    def _answer(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        head = b'{"experiment": {"experiment_id": "1", "name": "e", "tags": ['
        count = HUGE // (len(TAG) + 1)
        body_size = len(head) + count * (len(TAG) + 1) - 1 + len(b"]}}")
        if self.announce:
            self.send_header("Content-Length", str(body_size))
        else:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            self._write(head)
            for i in range(count):
                self._write((b"," if i else b"") + TAG)
            self._write(b"]}}")
            if not self.announce:
                self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading: what the limit is for

    def _write(self, data: bytes) -> None:
        if self.announce:
            self.wfile.write(data)
        else:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.sent.append(len(data))

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(params=[False, True], ids=["chunked", "content-length"])
def huge_server(request: pytest.FixtureRequest) -> Iterator[tuple[str, list[int]]]:
    sent: list[int] = []
    handler = type("Huge", (_Huge,), {"announce": request.param, "sent": sent})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", sent
    finally:
        server.shutdown()
        server.server_close()


def write_config(tmp_path: Path, uri: str, experiment: str, extra: str = "") -> Path:
    path = tmp_path / "ml-gate.yml"
    path.write_text(
        f"tracker: {{uri: '{uri}', experiment: {experiment}, timeout: 30s{extra}}}\n"
        "baseline: {select: none}\nmetrics:\n  accuracy: {min: 0.5}\n"
    )
    return path


def peak_rss_mib(config: Path, tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    """`ml-gate check` in a wrapper that reports the largest resident size of its one child."""
    wrapper = (
        "import resource, subprocess, sys\n"
        "code = subprocess.call(sys.argv[2:])\n"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
        "open(sys.argv[1], 'w').write(str(peak))\n"
        "sys.exit(code)\n"
    )
    rss = tmp_path / "rss"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "MLFLOW_"))}
    command = [*ML_GATE, "check", "-c", str(config), "--commit", HEAD]
    done = subprocess.run(
        [sys.executable, "-c", wrapper, str(rss), *command],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return done, int(rss.read_text()) / 1024  # ru_maxrss is in KiB on Linux


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss units differ off Linux")
def test_a_400_mib_reply_is_refused_after_the_limit(
    tmp_path: Path, huge_server: tuple[str, list[int]]
) -> None:
    uri, sent = huge_server

    started = time.monotonic()
    done, rss = peak_rss_mib(write_config(tmp_path, uri, "e"), tmp_path)
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
