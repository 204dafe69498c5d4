"""`candidate.wait` / --wait with a real MLflow server, and with the real wandb client against
the W&B fake: training logs the commit's run a few seconds after the gate started, finishes it
a few seconds later, and the gate waits for it, says so, and judges the finished run."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from cli_helpers import ml_gate as _ml_gate
from fakes.wandb_server import FakeWandbServer
from mlflow_helpers import RunLogger

HEAD = "c" * 40
ML_GATE = [sys.executable, "-m", "mlaction.cli"]


def ml_gate(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The CLI with the W&B fake's WANDB_* variables kept (the fixture points them at it)."""
    return _ml_gate(*args, cwd=cwd, dropped=("GITHUB_", "MLFLOW_"))


def mlflow_config(tmp_path: Path, runs: RunLogger, candidate: str) -> Path:
    path = tmp_path / "gate.yml"
    path.write_text(
        f"tracker: {{uri: {runs.uri}, experiment: {runs.experiment}, timeout: 10s}}\n"
        f"candidate: {candidate}\n"
        "baseline: {select: none}\n"
        "metrics:\n  accuracy: {min: 0.9}\n"
    )
    return path


def gate_while_training(
    args: list[str], cwd: Path, steps: list[tuple[str, Callable[[], None]]]
) -> subprocess.CompletedProcess[str]:
    """Run `ml-gate` and, like a training job elsewhere, take each step a second after the
    gate's progress shows the text the step waits for ("none yet": log the run; "running":
    finish it). The steps follow the gate's own lines, so the test does not race its start."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "MLFLOW_"))}
    process = subprocess.Popen(
        [*ML_GATE, *args], cwd=cwd, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert process.stderr is not None
    assert process.stdout is not None
    lines: list[str] = []
    todo = list(steps)
    for line in process.stderr:
        lines.append(line)
        if todo and todo[0][0] in line:
            time.sleep(1.0)
            todo.pop(0)[1]()
    out = process.stdout.read()
    code = process.wait(timeout=120)
    assert not todo, lines
    return subprocess.CompletedProcess(args, code, out, "".join(lines))


def test_the_gate_waits_for_the_mlflow_run_to_appear_and_finish(
    tmp_path: Path, runs: RunLogger
) -> None:
    from mlflow.entities import Metric

    created: dict[str, str] = {}

    def start_run() -> None:
        tags = {"mlflow.source.git.commit": HEAD}
        run = runs.client.create_run(runs.experiment_id, tags=tags, run_name="training")
        created["id"] = run.info.run_id
        runs.client.log_batch(created["id"], metrics=[Metric("accuracy", 0.4, 0, 0)])

    def finish_run() -> None:
        now = int(time.time() * 1000)
        runs.client.log_batch(created["id"], metrics=[Metric("accuracy", 0.95, now, 1)])
        runs.client.set_terminated(created["id"], status="FINISHED")

    config = mlflow_config(tmp_path, runs, "{wait: 90s, poll: 1s}")
    args = ["check", "--config", str(config), "--commit", HEAD]
    done = gate_while_training(args, tmp_path, [("none yet", start_run), ("running", finish_run)])

    assert done.returncode == 0, done.stderr
    assert "PASS" in done.stdout
    where = f"the run of ccccccc in MLflow experiment `{runs.experiment}` at {runs.uri}"
    lines = done.stderr.splitlines()
    first = rf"ml-gate: waiting for {re.escape(where)}: none yet \(\ds of 1m 30s\)"
    assert re.fullmatch(first, lines[0]), lines
    running = f"run `{created['id']}` running"
    assert f"ml-gate: found {where}: {running}" in lines
    assert any(line.startswith(f"ml-gate: waiting for {where}: {running} (") for line in lines)
    assert any(
        re.fullmatch(rf"ml-gate: {re.escape(where)} is ready after \d+s: judging run `\w+`", line)
        for line in lines
    )
    assert "accuracy" in done.stdout
    assert "0.95" in done.stdout


def test_a_wait_that_runs_out_is_exit_2_and_says_what_it_saw(
    tmp_path: Path, runs: RunLogger
) -> None:
    config = mlflow_config(tmp_path, runs, "{wait: 3s, poll: 1s}")

    done = ml_gate("check", "--config", str(config), "--commit", HEAD, cwd=tmp_path)

    assert done.returncode == 2
    last = done.stderr.strip().splitlines()
    assert re.fullmatch(
        rf"ml-gate: run not found: waited [34]s \(\d+ polls\) for the run of ccccccc in MLflow "
        rf"experiment `{runs.experiment}` at {re.escape(runs.uri)}; last seen: none yet\.",
        last[-2],
    ), last
    assert last[-1].startswith("Raise `candidate.wait` (now 3s) in the config, or pass a longer")
    assert "timeout-minutes" in last[-1]


def test_a_running_run_outlasting_the_wait_is_exit_2(tmp_path: Path, runs: RunLogger) -> None:
    run_id = runs.log(HEAD, metrics={"accuracy": 0.95}, status="RUNNING")

    done = ml_gate("check", "--config", str(mlflow_config(tmp_path, runs, "{poll: 1s}")),
                   "--commit", HEAD, "--wait", "2s", cwd=tmp_path)  # fmt: skip

    assert done.returncode == 2
    assert "ml-gate: run not finished: waited 2s" in done.stderr
    assert f"last seen: run `{run_id}` running." in done.stderr
    assert "Raise `candidate.wait` (now 2s)" in done.stderr


def test_a_running_candidate_without_wait_is_exit_2(tmp_path: Path, runs: RunLogger) -> None:
    run_id = runs.log(HEAD, metrics={"accuracy": 0.95}, status="RUNNING", name="training")

    done = ml_gate("check", "--config", str(mlflow_config(tmp_path, runs, "{}")),
                   "--commit", HEAD, cwd=tmp_path)  # fmt: skip

    assert done.returncode == 2, done.stdout
    assert done.stdout == ""  # no verdict, not "finished 2s ago"
    assert done.stderr.splitlines() == [
        f"ml-gate: run not finished: the run of commit {HEAD} in MLflow experiment "
        f"`{runs.experiment}` at {runs.uri} is still running (run `{run_id}`, named "
        "`training`): a run that has not finished is never judged.",
        "Run the gate after training ends, or let it wait for the run: `candidate.wait: 2h` in "
        "the config (CLI: `ml-gate check --wait 2h`); see docs/waiting.md.",
    ]


def test_replicates_wait_for_their_minimum_or_judge_what_finished(
    tmp_path: Path, runs: RunLogger
) -> None:
    runs.log(HEAD, metrics={"accuracy": 0.95})
    runs.log(HEAD, metrics={"accuracy": 0.96})
    path = tmp_path / "gate.yml"
    path.write_text(
        f"tracker: {{uri: {runs.uri}, experiment: {runs.experiment}, timeout: 10s}}\n"
        "candidate: {wait: 2s, poll: 1s}\nbaseline: {select: none}\n"
        "metrics:\n  accuracy: {min: 0.9, replicates: {min: 3}}\n"
    )

    done = ml_gate("check", "--config", str(path), "--commit", HEAD, "--markdown", "-",
                   cwd=tmp_path)  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert "2 of 3 runs finished, 0 running" in done.stderr
    note = "waited 2s for 3 finished runs of the commit; 2 had finished: judged on those."
    assert note in done.stdout


def test_the_gate_waits_for_the_wandb_run_through_the_real_client(
    tmp_path: Path, wandb_server: FakeWandbServer
) -> None:
    wandb_server.add_project("acme", "iris")
    path = tmp_path / "gate.yml"
    path.write_text(
        "tracker: {type: wandb, experiment: acme/iris, timeout: 10s}\n"
        "candidate: {wait: 90s, poll: 1s}\nbaseline: {select: none}\n"
        "metrics:\n  accuracy: {min: 0.9}\n"
    )
    box = {}

    def start_run() -> None:
        box["run"] = wandb_server.add_run(
            "acme", "iris", id="train1", state="running", commit=HEAD, summary={"accuracy": 0.4}
        )

    def finish_run() -> None:
        run = box["run"]
        run.summary["accuracy"] = 0.97
        run.state = "finished"

    args = ["check", "--config", str(path), "--commit", HEAD]
    done = gate_while_training(args, tmp_path, [("none yet", start_run), ("running", finish_run)])

    assert done.returncode == 0, done.stderr
    where = f"the run of ccccccc in W&B project `acme/iris` at {wandb_server.url}"
    first = rf"ml-gate: waiting for {re.escape(where)}: none yet \(\ds of 1m 30s\)"
    assert re.match(first, done.stderr), done.stderr
    assert f"ml-gate: found {where}: run `train1` running" in done.stderr
    assert f"ml-gate: {where} is ready after" in done.stderr
    assert "0.97" in done.stdout


def test_wait_is_exit_2_on_wandb_when_it_runs_out(
    tmp_path: Path, wandb_server: FakeWandbServer
) -> None:
    wandb_server.add_project("acme", "iris")
    wandb_server.add_run("acme", "iris", id="train1", state="running", commit=HEAD)
    path = tmp_path / "gate.yml"
    path.write_text(
        "tracker: {type: wandb, experiment: acme/iris, timeout: 10s}\n"
        "candidate: {poll: 1s}\nmetrics:\n  accuracy: {min: 0.9}\n"
    )

    done = ml_gate("check", "--config", str(path), "--commit", HEAD, "--wait", "2s", cwd=tmp_path)
    assert done.returncode == 2
    assert "ml-gate: run not finished: waited 2s" in done.stderr
    assert "last seen: run `train1` running." in done.stderr

    without = ml_gate("check", "--config", str(path), "--commit", HEAD, cwd=tmp_path)
    assert without.returncode == 2
    assert "is still running (run `train1`, named `run-train1`)" in without.stderr
