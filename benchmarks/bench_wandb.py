"""ml-gate on W&B with 100 and 10,000 runs: requests per gate and wall time, same run.

The real `wandb` client talks to the loopback W&B server of the test suite
(tests/fakes/wandb_server.py), which filters, orders and pages like the W&B API. The baseline of
the ratios is the 100-run project, measured in the same run; the requests are counted at the
server. Also printed: the import cost of the W&B path.

Usage: python benchmarks/bench_wandb.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fakes.wandb_server import FAKE_WANDB_KEY, FakeWandbServer  # noqa: E402
from timing import import_seconds  # noqa: E402

CANDIDATE = "c" * 40
ENTITY = "acme"
CONFIG = """\
tracker: {{type: wandb, uri: {uri}, experiment: {entity}/{project}, timeout: 30s}}
baseline: {{select: best, branch: main}}
metrics:
  accuracy: {{min: 0.5, max_regression: 0.05}}
comment: {{history: 20}}
"""


def fill(server: FakeWandbServer, project: str, count: int) -> None:
    server.add_project(ENTITY, project)
    for i in range(count):
        server.add_run(
            ENTITY,
            project,
            id=f"r{i}",
            commit=f"{i:040x}",
            state="finished" if i % 20 else "crashed",
            config={"git_branch": "main" if i % 7 else "dev"},
            summary={"accuracy": 0.80 + (i % 97) / 1000},
        )
    server.add_run(
        ENTITY,
        project,
        id="cand",
        commit=CANDIDATE,
        config={"git_branch": "feature"},
        summary={"accuracy": 0.85},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    print("== import cost ==")
    for module in ("mlaction.cli", "wandb", "mlaction.trackers.wandb"):
        print(f"  import {module:28} {import_seconds(module):.3f} s")

    from mlaction.engine import Settings, evaluate_gate
    from mlaction.gitcontext import GitContext

    results: dict[int, dict[str, float]] = {}
    with FakeWandbServer() as server, tempfile.TemporaryDirectory() as tmp:
        os.environ.update(WANDB_API_KEY=FAKE_WANDB_KEY, WANDB_BASE_URL=server.url)
        for size in (100, 10_000):
            project = f"bench{size}"
            fill(server, project, size)
            config = Path(tmp) / f"gate{size}.yml"
            config.write_text(CONFIG.format(uri=server.url, entity=ENTITY, project=project))
            settings = Settings(
                config_path=config, git=GitContext(commit=CANDIDATE), env=dict(os.environ)
            )
            evaluate_gate(settings)  # warm-up: the client's helper process, connections
            times, requests, client = [], [], []
            for _ in range(args.repeat):
                before, busy = server.requests, server.busy_seconds
                started = time.perf_counter()
                report = evaluate_gate(settings).to_json()
                elapsed = time.perf_counter() - started
                times.append(elapsed)
                client.append(elapsed - (server.busy_seconds - busy))
                requests.append(server.requests - before)
                assert report["candidate"]["id"] == "cand"
                assert report["baseline"] is not None
            results[size] = {
                "seconds": statistics.median(times),
                "client": statistics.median(client),
                "requests": statistics.median(requests),
            }
            row = results[size]
            print(f"== {size} runs ==")
            print(
                f"  gate, wall time          {row['seconds']:.3f} s, {row['requests']:.0f} requests"
            )
            print(f"  without the fake's work  {row['client']:.3f} s")

    small, large = results[100], results[10_000]
    print("\n== ratios (baseline: the 100-run project) ==")
    print(
        f"  requests       10,000 / 100 runs: {large['requests'] / small['requests']:.2f}x (O(1))"
    )
    print(
        f"  ml-gate's time 10,000 / 100 runs: {large['client'] / small['client']:.2f}x "
        "(target <= 1.5x)"
    )
    print(
        f"  wall time incl. the fake server's own work: {large['seconds'] / small['seconds']:.2f}x"
        " (the fake filters and sorts every run in Python per query; W&B's server indexes them)"
    )


if __name__ == "__main__":
    main()
