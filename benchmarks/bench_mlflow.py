"""ml-gate on a real MLflow server with 100 and 10,000 runs, against the naive approach.

The naive approach (the baseline this prints ratios against) is what a hand-written gate script
does: page through every run of the experiment with `search_runs`, then find the candidate and the
best run in Python. ml-gate asks the server for each run set with one filtered, ordered, limited
query.

Both are measured on the same server in the same run, in two database states: as filled (SQLite has
no statistics yet) and after `ANALYZE`. The database is filled in bulk with SQL (logging 10,000
runs over HTTP takes ~10 minutes); the server then serves it like any other.

Usage: python benchmarks/bench_mlflow.py [--sizes 100 10000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from mlflow_helpers import mlflow_server  # noqa: E402
from timing import import_seconds, median_time  # noqa: E402

CANDIDATE = "c" * 40  # a typical candidate: some runs on main beat it
NEW_BEST = "d" * 40  # a candidate better than every run: the baseline query must order them all
CONFIG = """\
tracker: {{uri: {uri}, experiment: bench, timeout: 30s}}
baseline: {{select: best, branch: main}}
metrics:
  accuracy: {{min: 0.80, max_regression: 0.02}}
  val_loss: {{goal: minimize, max_regression: 10%}}
comment: {{history: 20}}
"""


def create_store(db: Path) -> None:
    """Create the schema and the experiment with MLflow's own code (then fill it with SQL)."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore(f"sqlite:///{db}", str(db.parent / "artifacts"))
    store.create_experiment("bench")
    store.engine.dispose()


def fill(db: Path, count: int, seed: int = 7) -> None:
    """`count` runs like a real project's: 85% on main, 95% finished, metrics with noise."""
    rng = random.Random(seed)
    conn = sqlite3.connect(db)
    (experiment_id,) = conn.execute(
        "SELECT experiment_id FROM experiments WHERE name = 'bench'"
    ).fetchone()
    start = int(time.time() * 1000) - count * 60_000
    runs, metrics, tags, params = [], [], [], []
    for i in range(count + 2):
        run_id = uuid.uuid4().hex
        is_candidate = i >= count
        commit = {count: CANDIDATE, count + 1: NEW_BEST}.get(i, f"{i:040x}")
        branch = "feature" if is_candidate else ("main" if rng.random() < 0.85 else "dev")
        status = "FINISHED" if is_candidate or rng.random() < 0.95 else "FAILED"
        t0 = start + i * 60_000
        runs.append(
            (
                run_id,
                f"run-{i}",
                "LOCAL",
                "",
                "",
                "bench",
                status,
                t0,
                t0 + 30_000,
                "",
                "active",
                f"file:///tmp/{run_id}",
                experiment_id,
            )
        )
        accuracy = {CANDIDATE: 0.915, NEW_BEST: 0.99}.get(commit, rng.gauss(0.90, 0.01))
        loss = 0.30 if is_candidate else rng.gauss(0.30, 0.02)
        for key, value in (("accuracy", accuracy), ("val_loss", loss), ("f1", accuracy - 0.01)):
            metrics.append((key, value, t0, 0, 0, run_id))
        for key, value in (
            ("mlflow.source.git.commit", commit),
            ("mlflow.source.git.branch", branch),
            ("mlflow.runName", f"run-{i}"),
        ):
            tags.append((key, value, run_id))
        params.extend([("lr", str(rng.choice([0.1, 0.01])), run_id), ("seed", str(i), run_id)])
    conn.executemany(
        "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, "
        "status, start_time, end_time, source_version, lifecycle_stage, artifact_uri, "
        "experiment_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        runs,
    )
    conn.executemany(
        "INSERT INTO metrics (key, value, timestamp, step, is_nan, run_uuid) VALUES (?,?,?,?,?,?)",
        metrics,
    )
    conn.executemany(
        "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) "
        "VALUES (?,?,?,?,?,?)",
        metrics,
    )
    conn.executemany("INSERT INTO tags (key, value, run_uuid) VALUES (?,?,?)", tags)
    conn.executemany("INSERT INTO params (key, value, run_uuid) VALUES (?,?,?)", params)
    conn.commit()
    conn.close()


def analyze(db: Path) -> None:
    conn = sqlite3.connect(db)
    conn.execute("ANALYZE")
    conn.commit()
    conn.close()


def gate_in_process(config: Path, commit: str = CANDIDATE) -> Callable[[], object]:
    from mlaction.engine import Settings, evaluate_gate
    from mlaction.gitcontext import GitContext

    settings = Settings(config_path=config, git=GitContext(commit=commit), env={})
    expected = {CANDIDATE: 0.915, NEW_BEST: 0.99}[commit]

    def run() -> object:
        report = evaluate_gate(settings).to_json()
        assert report["candidate"]["metrics"]["accuracy"] == expected
        assert report["baseline"] is not None
        return report

    return run


def naive(uri: str) -> Callable[[], object]:
    """Fetch every run, then find the candidate and the best run on main in Python."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)

    def run() -> object:
        experiment = client.get_experiment_by_name("bench")
        everything, token = [], None
        while True:
            page = client.search_runs(
                [experiment.experiment_id], max_results=1000, page_token=token
            )
            everything.extend(page)
            token = page.token
            if not token:
                break
        candidate = next(
            r for r in everything if r.data.tags.get("mlflow.source.git.commit") == CANDIDATE
        )
        main = [
            r
            for r in everything
            if r.info.status == "FINISHED" and r.data.tags.get("mlflow.source.git.branch") == "main"
        ]
        best = max(main, key=lambda r: r.data.metrics.get("accuracy", float("-inf")))
        history = sorted(main, key=lambda r: r.info.start_time, reverse=True)[:20]
        return candidate, best, history

    return run


def query_shapes(db: Path, repeat: int) -> dict[str, float]:
    """The best-run query on the store itself, with and without the "has the metric" bound."""
    from mlflow.entities import ViewType
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore(f"sqlite:///{db}", str(db.parent / "artifacts"))
    experiment = store.get_experiment_by_name("bench").experiment_id
    on_main = "tags.`mlflow.source.git.branch` = 'main' and attributes.status = 'FINISHED'"
    order = ["metrics.`accuracy` DESC", "attributes.start_time DESC"]

    def best(extra: str) -> Callable[[], object]:
        return lambda: store.search_runs(
            [experiment], on_main + extra, ViewType.ACTIVE_ONLY, 10, order
        )

    shapes = {
        "order by metric (store)": median_time(best(""), repeat),
        "same + has-metric bound": median_time(best(" and metrics.`accuracy` > -1e308"), repeat),
    }
    store.engine.dispose()
    return shapes


def cli_check(config: Path) -> Callable[[], object]:
    command = [
        sys.executable,
        "-m",
        "mlaction.cli",
        "check",
        "--config",
        str(config),
        "--commit",
        CANDIDATE,
        "--quiet",
    ]

    def run() -> object:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        assert done.returncode in (0, 1), done.stderr
        return done.returncode

    return run


def startup(repeat: int) -> dict[str, float | bool]:
    help_time = median_time(
        lambda: subprocess.run(
            [sys.executable, "-m", "mlaction.cli", "--help"], capture_output=True, check=True
        ),
        repeat,
    )
    probe = (
        "import sys, mlaction, mlaction.cli, mlaction.config, mlaction.gate, "
        "mlaction.report.markdown, mlaction.engine; "
        "print(sorted(m for m in ('mlflow', 'wandb', 'numpy') if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()

    return {
        "ml-gate --help (s)": help_time,
        "import mlaction.cli (s)": import_seconds("mlaction.cli"),
        "import mlaction.engine (s)": import_seconds("mlaction.engine"),
        "import mlflow.tracking (s)": import_seconds("mlflow.tracking"),
        "SDKs imported by the core": loaded,  # type: ignore[dict-item]
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 10_000])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    os.environ.pop("MLFLOW_TRACKING_URI", None)

    print("== start-up ==")
    for key, value in startup(args.repeat).items():
        print(f"{key:32} {value if isinstance(value, str) else f'{value:.3f}'}")

    results: dict[tuple[str, int], dict[str, float]] = {}
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            db = work / "mlflow.db"
            create_store(db)
            fill(db, size)
            for state in ("no statistics", "after ANALYZE"):
                if state == "after ANALYZE":
                    analyze(db)
                with mlflow_server(work, db=db) as uri:
                    config = work / "gate.yml"
                    config.write_text(CONFIG.format(uri=uri))
                    row = {
                        "ml-gate queries": median_time(gate_in_process(config), args.repeat),
                        "ml-gate queries, new best": median_time(
                            gate_in_process(config, NEW_BEST), args.repeat
                        ),
                        "naive queries": median_time(naive(uri), max(1, args.repeat // 2)),
                        "ml-gate check (CLI)": median_time(cli_check(config), args.repeat),
                    }
                row.update(query_shapes(db, args.repeat))
                results[(state, size)] = row
                print(f"== {size} runs, {state} ==")
                for key, value in row.items():
                    print(f"  {key:24} {value:8.3f} s")

    print("\n== ratios (baseline: the naive approach, and the 100-run gate) ==")
    small, large = min(args.sizes), max(args.sizes)
    for state in ("no statistics", "after ANALYZE"):
        s, big = results[(state, small)], results[(state, large)]
        print(f"[{state}]")
        print(
            f"  ml-gate check {large} / {small} runs:        "
            f"{big['ml-gate check (CLI)'] / s['ml-gate check (CLI)']:.2f}x (target <= 1.5x)"
        )
        print(
            f"  ml-gate queries {large} / {small} runs:      "
            f"{big['ml-gate queries'] / s['ml-gate queries']:.2f}x"
        )
        print(
            "  same, candidate is the new best:         "
            f"{big['ml-gate queries, new best'] / s['ml-gate queries, new best']:.2f}x"
        )
        print(
            f"  naive / ml-gate queries at {large} runs:  "
            f"{big['naive queries'] / big['ml-gate queries']:.1f}x faster (target >= 10x)"
        )
        print(
            f"  naive / ml-gate check (CLI) at {large}:    "
            f"{big['naive queries'] / big['ml-gate check (CLI)']:.1f}x"
        )
    print(json.dumps({f"{k[0]}/{k[1]}": v for k, v in results.items()}, indent=1))


if __name__ == "__main__":
    main()
