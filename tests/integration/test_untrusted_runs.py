"""What anyone who can log a run can write never crashes, hangs or floods the gate: a 10 MiB run
name, 100,000 metrics on the candidate, an end time before the start time. A real MLflow server,
the `ml-gate` command and the Action's entrypoint, as users run them."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

from mlflow_helpers import RunLogger

ROOT = Path(__file__).resolve().parents[2]
HEAD = "a" * 40
TRUNCATED = "… (truncated)"
MIB = 1024 * 1024


def gate_config(tmp_path: Path, runs: RunLogger, extra: str = "") -> Path:
    path = tmp_path / ".github" / "ml-gate.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"tracker: {{uri: {runs.uri}, experiment: {runs.experiment}, timeout: 30s}}\n"
        "baseline: {select: none}\nmetrics:\n  accuracy: {min: 0.9}\n" + extra
    )
    return path


def check(tmp_path: Path, config: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    """`ml-gate check` with the JSON report and the Markdown comment written to files."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "MLFLOW_"))}
    out = {"json": str(tmp_path / "r.json"), "md": str(tmp_path / "c.md")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mlaction.cli",
            "check",
            "-c",
            str(config),
            "--commit",
            HEAD,
            "--json",
            out["json"],
            "--markdown",
            out["md"],
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    return done, {k: Path(v).read_text(encoding="utf-8") for k, v in out.items()}


def action(tmp_path: Path, runs: RunLogger) -> tuple[int, str, str]:
    """The Action's entrypoint on a push event, dry run: its log (annotations) and summary."""
    summary, output = tmp_path / "summary.md", tmp_path / "output"
    summary.write_text("")
    output.write_text("")
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"ref": "refs/heads/main", "before": "b" * 40, "after": HEAD}))
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "push",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_REPOSITORY": "octo/models",
        "GITHUB_SHA": HEAD,
        "GITHUB_REF": "refs/heads/main",
        "GITHUB_WORKSPACE": str(tmp_path),
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary),
        "INPUT_CONFIG": ".github/ml-gate.yml",
        "INPUT_DRY-RUN": "true",
        "MLFLOW_TRACKING_URI": runs.uri,
    }
    done = subprocess.run(
        [sys.executable, str(ROOT / "entrypoint.py")],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr, summary.read_text(encoding="utf-8")


def test_a_10_mib_run_name_is_capped_where_it_is_printed(tmp_path: Path, runs: RunLogger) -> None:
    # MLflow's server stores a run name of any length given to create_run (seen: 10 MiB).
    runs.log(HEAD, name="N" * (10 * MIB), metrics={"accuracy": 0.5})
    config = gate_config(tmp_path, runs)

    done, files = check(tmp_path, config)

    assert done.returncode == 1, done.stderr[-2000:]  # the gate judged the run: accuracy fails
    sizes = {"stdout": len(done.stdout), **{k: len(v) for k, v in files.items()}}
    assert max(sizes.values()) < 20_000, sizes  # before (9462a6b): 10.5 MB stdout and report
    assert TRUNCATED in done.stdout
    assert TRUNCATED in json.loads(files["json"])["candidate"]["name"]

    code, log, summary = action(tmp_path, runs)
    assert code == 1, log[-2000:]
    assert len(log) < 50_000, len(log)  # log lines and ::error annotations
    assert len(summary) < 70_000, len(summary)
    assert "N" * 1000 not in log + summary


def test_100k_metrics_on_the_candidate(tmp_path: Path, runs: RunLogger) -> None:
    from mlflow.entities import Metric

    run_id = runs.log(HEAD, metrics={"accuracy": 0.95}, status="RUNNING")
    stamp = int(time.time() * 1000)
    for batch in range(100):  # MLflow takes at most 1,000 metrics per log_batch
        names = (f"m{batch * 1000 + i:06d}" for i in range(1000))
        runs.client.log_batch(run_id, metrics=[Metric(n, 0.5, stamp, 0) for n in names])
    runs.client.set_terminated(run_id, end_time=stamp)
    config = gate_config(tmp_path, runs)

    done, files = check(tmp_path, config)  # bounded by the subprocess timeout: never a hang

    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(files["json"])
    assert report["candidate"]["metrics"]["accuracy"] == 0.95  # the gated metric is kept
    assert len(report["candidate"]["metrics"]) <= 201
    assert len(files["json"]) < 50_000  # before (9462a6b): 2.2 MB
    assert len(done.stdout) < 5_000
    code, log, summary = action(tmp_path, runs)
    assert code == 0, log[-2000:]
    assert len(summary) < 20_000
    assert "m099999" not in log + summary


def test_an_end_before_the_start_is_no_duration(tmp_path: Path, runs: RunLogger) -> None:
    start = int(time.time() * 1000) - 3_600_000
    run_id = runs.log(HEAD, metrics={"accuracy": 0.95}, status="RUNNING", start_ms=start)
    runs.client.set_terminated(run_id, end_time=start - 3_600_000)
    config = gate_config(tmp_path, runs, "run: {max_duration: 1h, max_age: 7d}\n")

    done, _ = check(tmp_path, config)

    assert done.returncode == 1, done.stderr  # before: PASS, "ran for -1d 23h"
    assert (
        "run.max_duration  —         1h         —         the run's end time is 1h before its "
        "start time: its duration cannot be judged"
    ) in done.stdout


def test_infinite_runs_never_become_the_best_baseline(tmp_path: Path, runs: RunLogger) -> None:
    # MLflow stores +inf as 1.797e308 and returns that number: read as it is, a diverged run
    # ranks as the best baseline, and a page of them hides every finite run.
    best = runs.log("1" * 40, metrics={"accuracy": 0.90})
    for i in range(12):  # more than the ten runs a best query asks for
        runs.log(f"{i + 2:x}" * 40, metrics={"accuracy": math.inf})
    runs.log(HEAD, branch="feature", metrics={"accuracy": 0.91})
    config = gate_config(tmp_path, runs)
    config.write_text(
        config.read_text().replace("baseline: {select: none}", "baseline: {select: best}")
    )

    done, files = check(tmp_path, config)

    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(files["json"])
    assert report["baseline"]["id"] == best  # before: a run with accuracy 1.797e308


def test_an_infinite_candidate_is_not_a_record(tmp_path: Path, runs: RunLogger) -> None:
    runs.log("1" * 40, metrics={"accuracy": 0.90})
    runs.log(HEAD, branch="feature", metrics={"accuracy": math.inf})
    config = gate_config(tmp_path, runs)

    done, files = check(tmp_path, config)

    assert done.returncode == 1, done.stderr[-2000:]  # before: 0, "accuracy 1.797e+308 ≥ 0.9"
    assert "1.797" not in files["md"]
