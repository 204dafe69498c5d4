"""ml-gate on MLflow + PostgreSQL with 1k, 100k and 1M runs, against today's query shapes.

Not part of CI: it takes minutes and a few GB of disk. It installs nothing itself; it needs
    apt-get install -y postgresql          # server binaries (initdb, pg_ctl) and pg_stat_statements
    .venv/bin/pip install psycopg2-binary  # the driver `mlflow server` uses for postgresql://
It starts its own PostgreSQL on 127.0.0.1 in a temporary folder (as the `postgres` user when run
as root), creates the schema with MLflow's own store code, bulk-fills each database with COPY
(85% of the runs on `main`, 95% finished, one run a minute), ANALYZEs, starts `mlflow server` on
it, and prints for the default config (`baseline.select: base_commit`) and for `select: best`:
- the whole `ml-gate check` time (median of --repeat);
- the database time per gate: the pg_stat_statements total of the statements one gate caused;
- the same database time for today's query shapes (no time window, best query unbounded),
  measured in the same run; then again with the two indexes docs/scale.md documents.

Usage: python benchmarks/bench_postgres.py [--sizes 1000 100000 1000000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from mlflow_helpers import free_port  # noqa: E402
from timing import median_time  # noqa: E402

CANDIDATE = "c" * 40  # some runs on main beat it (accuracy 0.915 against N(0.90, 0.01))
BASE = "b" * 40  # the base commit: a finished run on main, an hour old
# docs/scale.md: a partial index on the commit tag (a full (key, value) index would refuse tag
# values over ~2.7 kB, such as long `mlflow.note.content` notes), and runs by start time.
INDEXES = (
    "CREATE INDEX IF NOT EXISTS tags_commit ON tags (value) WHERE key = 'mlflow.source.git.commit'",
    "CREATE INDEX IF NOT EXISTS runs_experiment_start ON runs (experiment_id, start_time)",
)
CONFIG = """\
tracker: {{uri: '{uri}', experiment: bench, timeout: 120s}}
baseline: {{select: {select}, branch: main}}
metrics:
  accuracy: {{min: 0.80, max_regression: 0.02}}
  val_loss: {{goal: minimize, max_regression: 10%}}
comment: {{history: 20}}
"""


def pg_bin(name: str) -> str:
    found = shutil.which(name) or next(
        iter(sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))), None
    )
    if not found:
        sys.exit(f"{name} not found: apt-get install -y postgresql")
    return str(found)


def as_postgres(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@contextmanager
def postgres(work: Path) -> Iterator[str]:
    """A throwaway PostgreSQL on 127.0.0.1; yields its base DSN."""
    data, port = work / "pgdata", free_port()
    data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(work, "postgres")
        shutil.chown(data, "postgres")
    run = lambda cmd: subprocess.run(as_postgres(cmd), check=True, capture_output=True)  # noqa: E731
    run([pg_bin("initdb"), "-D", str(data), "-U", "bench", "--auth=trust", "-E", "UTF8"])
    options = (
        f"-p {port} -k {work} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all"
    )
    run(
        [
            pg_bin("pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(work / "pg.log"),
            "-w",
            "start",
        ]
    )
    try:
        yield f"postgresql://bench@127.0.0.1:{port}"
    finally:
        run([pg_bin("pg_ctl"), "-D", str(data), "-m", "fast", "stop"])


def sql(dsn: str, *statements: str) -> list[Any]:
    import psycopg2

    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    rows: list[Any] = []
    with conn.cursor() as cur:
        for statement in statements:
            cur.execute(statement)
            rows = cur.fetchall() if cur.description else []
    conn.close()
    return rows


def create_db(base: str, name: str) -> str:
    """A database with MLflow's schema (created by MLflow's own store) and one experiment."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    sql(f"{base}/postgres", f"CREATE DATABASE {name}")
    dsn = f"{base}/{name}"
    sql(dsn, "CREATE EXTENSION pg_stat_statements")
    store = SqlAlchemyStore(dsn.replace("postgresql:", "postgresql+psycopg2:"), "/tmp/bench-art")
    store.create_experiment("bench")
    store.engine.dispose()
    return dsn


def fill(dsn: str, count: int, seed: int = 7) -> None:
    """`count` runs with COPY, in chunks; the candidate last, the base commit an hour earlier."""
    import psycopg2

    rng = random.Random(seed)
    conn = psycopg2.connect(dsn)
    with conn.cursor() as cur:
        cur.execute("SELECT experiment_id FROM experiments WHERE name = 'bench'")
        (experiment,) = cur.fetchone()
        start = int(time.time() * 1000) - count * 60_000
        for first in range(0, count + 1, 100_000):
            tables: dict[str, io.StringIO] = {
                t: io.StringIO() for t in ("runs", "m", "tags", "params")
            }
            for i in range(first, min(first + 100_000, count + 1)):
                fill_run(tables, rng, i, count, start + i * 60_000, experiment)
            columns = {
                "runs": "runs (run_uuid, name, source_type, source_name, entry_point_name, user_id,"
                " status, start_time, end_time, source_version, lifecycle_stage, artifact_uri,"
                " experiment_id)",
                "metrics": "metrics (key, value, timestamp, step, is_nan, run_uuid)",
                "latest_metrics": "latest_metrics (key, value, timestamp, step, is_nan, run_uuid)",
                "tags": "tags (key, value, run_uuid)",
                "params": "params (key, value, run_uuid)",
            }
            for table, spec in columns.items():
                buffer = tables["m" if "metrics" in table else table]
                buffer.seek(0)
                cur.copy_expert(f"COPY {spec} FROM STDIN", buffer)
        conn.commit()
    conn.close()
    sql(dsn, "VACUUM ANALYZE")


def fill_run(
    tables: dict[str, io.StringIO], rng: random.Random, i: int, count: int, t0: int, exp: int
) -> None:
    run_id = uuid.UUID(int=rng.getrandbits(128)).hex
    is_candidate = i == count
    commit = CANDIDATE if is_candidate else BASE if i == count - 60 else f"{i:040x}"
    branch = (
        "feature" if is_candidate else ("main" if rng.random() < 0.85 or commit == BASE else "dev")
    )
    done = is_candidate or commit == BASE or rng.random() < 0.95
    status = "FINISHED" if done else "FAILED"
    tables["runs"].write(
        f"{run_id}\trun-{i}\tLOCAL\t\t\tbench\t{status}\t{t0}\t{t0 + 30_000}\t\tactive\t"
        f"file:///tmp/{run_id}\t{exp}\n"
    )
    accuracy = 0.915 if is_candidate else rng.gauss(0.90, 0.01)
    loss = 0.30 if is_candidate else rng.gauss(0.30, 0.02)
    for key, value in (("accuracy", accuracy), ("val_loss", loss), ("f1", accuracy - 0.01)):
        tables["m"].write(f"{key}\t{value!r}\t{t0}\t0\tfalse\t{run_id}\n")
    for key, text in (
        ("mlflow.source.git.commit", commit),
        ("mlflow.source.git.branch", branch),
        ("mlflow.runName", f"run-{i}"),
    ):
        tables["tags"].write(f"{key}\t{text}\t{run_id}\n")
    tables["params"].write(f"lr\t{rng.choice([0.1, 0.01])}\t{run_id}\nseed\t{i}\t{run_id}\n")


@contextmanager
def mlflow_on(dsn: str, work: Path) -> Iterator[str]:
    port = free_port()
    mlflow_bin = Path(sys.executable).with_name("mlflow")
    backend = dsn.replace("postgresql:", "postgresql+psycopg2:")
    command = [
        str(mlflow_bin), "server", "--backend-store-uri", backend,
        "--artifacts-destination", str(work / "artifacts"), "--host", "127.0.0.1",
        "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    log = (work / f"mlflow-{port}.log").open("w")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    import requests

    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(400):
            try:
                if requests.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def db_time(dsn: str, fn: Callable[[], object], repeat: int) -> float:
    """Median database time (s) of the statements one call of `fn` causes (pg_stat_statements)."""
    fn()
    totals = []
    for _ in range(repeat):
        sql(dsn, "SELECT pg_stat_statements_reset()")
        fn()
        ((total,),) = sql(
            dsn,
            "SELECT coalesce(sum(total_exec_time), 0) FROM pg_stat_statements WHERE dbid = "
            "(SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND query NOT ILIKE '%pg_stat_statements%'",
        )
        totals.append(float(total) / 1000)
    return statistics.median(totals)


TOP_STATEMENTS = (
    "SELECT calls, total_exec_time, query FROM pg_stat_statements WHERE dbid = "
    "(SELECT oid FROM pg_database WHERE datname = current_database()) "
    "AND query NOT ILIKE '%pg_stat_statements%' ORDER BY total_exec_time DESC LIMIT 6"
)


def cli_check(config: Path) -> Callable[[], object]:
    command = [sys.executable, "-m", "mlaction.cli", "check", "--config", str(config),
               "--commit", CANDIDATE, "--base-commit", BASE, "--quiet"]  # fmt: skip

    def run() -> object:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        assert done.returncode in (0, 1), done.stderr
        return done.returncode

    return run


def todays_shapes(uri: str, select: str) -> Callable[[], object]:
    """The queries a gate sent before the time window and the candidate bound."""
    from mlaction.config.schema import TrackerConfig
    from mlaction.trackers.base import RunQuery
    from mlaction.trackers.mlflow import MlflowTracker

    def run() -> object:
        tracker = MlflowTracker(uri, TrackerConfig(uri=uri, experiment="bench", timeout=120))
        tracker.search(RunQuery(limit=50, commits=(CANDIDATE,), finished_only=False))
        if select == "best":
            tracker.search(RunQuery(limit=10, branch="main", order_by="accuracy"))
        else:
            tracker.search(RunQuery(limit=50, commits=(BASE,)))
        return tracker.search(RunQuery(limit=23, branch="main"))

    return run


def measure(dsn: str, uri: str, work: Path, repeat: int, indexed: bool) -> dict[str, float]:
    row: dict[str, float] = {}
    for select in ("base_commit", "best"):
        config = work / f"{select}.yml"
        config.write_text(CONFIG.format(uri=uri, select=select))
        name = "default" if select == "base_commit" else "best"
        if not indexed:
            row[f"{name}: check (s)"] = median_time(cli_check(config), repeat)
            row[f"{name}: db, today (s)"] = db_time(dsn, todays_shapes(uri, select), repeat)
        row[f"{name}: db (s)"] = db_time(dsn, cli_check(config), repeat)
        print(f"  statements of the last {name} gate ({'two indexes' if indexed else 'plain'}):")
        for calls, total, text in sql(dsn, TOP_STATEMENTS):
            print(f"    {calls:3} x {total / calls:9.2f} ms  {' '.join(text.split())[:150]}")
    return row


def report(results: dict[str, dict[str, float]], sizes: list[int]) -> None:
    small, large = f"plain/{min(sizes)}", f"plain/{max(sizes)}"
    ismall, ilarge = f"indexed/{min(sizes)}", f"indexed/{max(sizes)}"
    print(
        f"\n== ratios ({max(sizes)} vs {min(sizes)} runs; today = the shapes before this change) =="
    )
    for name in ("default", "best"):
        a, b = results[small], results[large]
        print(f"[{name}]")
        print(
            f"  check time, {max(sizes)} / {min(sizes)}:          "
            f"{b[f'{name}: check (s)'] / a[f'{name}: check (s)']:.2f}x (target <= 1.5x)"
        )
        print(
            f"  db time, today / now at {max(sizes)}:     "
            f"{b[f'{name}: db, today (s)'] / b[f'{name}: db (s)']:.1f}x lower "
            f"(target >= {5 if name == 'default' else 3}x)"
        )
        print(
            f"  db time, {max(sizes)} / {min(sizes)}, no indexes:  "
            f"{b[f'{name}: db (s)'] / a[f'{name}: db (s)']:.1f}x"
        )
        print(f"  db time, {max(sizes)} / {min(sizes)}, two indexes: "
              f"{results[ilarge][f'{name}: db (s)'] / results[ismall][f'{name}: db (s)']:.1f}x"
              " (target <= 2x)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp, postgres(Path(tmp)) as base:
        for size in args.sizes:
            started = time.perf_counter()
            dsn = create_db(base, f"bench_{size}")
            fill(dsn, size)
            print(
                f"== {size} runs (filled in {time.perf_counter() - started:.0f} s) ==", flush=True
            )
            work = Path(tmp) / f"w{size}"
            work.mkdir()
            with mlflow_on(dsn, work) as uri:
                results[f"plain/{size}"] = measure(dsn, uri, work, args.repeat, indexed=False)
                sql(dsn, *INDEXES, "ANALYZE")
                results[f"indexed/{size}"] = measure(dsn, uri, work, args.repeat, indexed=True)
            for key in ("plain", "indexed"):
                for name, value in results[f"{key}/{size}"].items():
                    print(f"  {key:8} {name:26} {value:8.3f}", flush=True)
            sql(f"{base}/postgres", f"DROP DATABASE bench_{size}")
    report(results, args.sizes)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
