"""Fail closed, before and after: each trigger run through `ml-gate` as a new user would, on a
real MLflow server, with the old code and the new code; prints a Markdown table of the exit code,
the wall time and the first line of output of each.

The baseline is a named older commit, unpacked elsewhere
(`mkdir /tmp/old && git archive 9462a6b | tar -x -C /tmp/old`); both run with the same
interpreter and server in the same run.

Usage: python benchmarks/fail_closed_table.py --old /tmp/old [--new .]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from cli_helpers import run_measured  # noqa: E402
from fakes.huge_reply import huge_reply_server  # noqa: E402
from mlflow_helpers import RunLogger, free_port, mlflow_server  # noqa: E402

HEAD = "a" * 40
METRICS = "metrics:\n  accuracy: {min: 0.5, max_regression: 0.02}\n"
NONE = "baseline: {select: none}\n"  # isolates a trigger from the missing-baseline warning


@dataclass
class Result:
    code: int
    seconds: float
    first: str
    output: int  # characters of stdout + stderr
    peak_mib: int  # the largest resident size


@dataclass
class Case:
    trigger: str
    config: str
    args: tuple[str, ...] = ("check", "--commit", HEAD)


def tracker(runs: RunLogger, uri: str | None = None) -> str:
    return f"tracker: {{uri: '{uri or runs.uri}', experiment: {runs.experiment}, timeout: 5s}}\n"


def cases(uri: str, work: Path) -> list[Case]:
    found = []

    def fresh() -> RunLogger:
        return RunLogger(uri)

    r = fresh()
    for _ in range(3):
        r.log("b" * 40, branch="main", metrics={"accuracy": 0.95})
    r.log(HEAD, branch="feature", metrics={"accuracy": 0.6})
    found.append(
        Case(
            "`baseline.branch: master`, runs on `main`",
            tracker(r) + "baseline: {select: latest, branch: master}\n" + METRICS,
        )
    )
    r = fresh()
    r.log(HEAD, metrics={"accuracy": 0.9}, status="RUNNING")
    found.append(Case("candidate still RUNNING", tracker(r) + NONE + METRICS))
    r = fresh()
    r.log("e7cd833" + "0" * 33, metrics={"accuracy": 0.9})
    found.append(
        Case(
            "`--commit e7cd833` (short sha)", tracker(r) + METRICS, ("check", "--commit", "e7cd833")
        )
    )
    found.append(
        Case("two `metrics:` blocks", tracker(r) + METRICS + "metrics:\n  f1: {min: 0.1}\n")
    )
    found.append(Case("scheme-less `127.0.0.1:5000`", tracker(r, "127.0.0.1:5000") + METRICS))
    found.append(
        Case(
            "`sqlite:///wrong/path.db`",
            tracker(r, f"sqlite:///{work}/wrong/path.db") + METRICS,
        )
    )
    found.append(
        Case("refused connection", tracker(r, f"http://127.0.0.1:{free_port()}") + METRICS)
    )
    found.append(Case("DNS failure", tracker(r, "http://mlflow.invalid:5000") + METRICS))
    found.append(
        Case(
            "`validate` with `${UNSET_VAR}`",
            "tracker: {uri: '${UNSET_VAR}', experiment: x}\n" + METRICS,
            ("validate",),
        )
    )
    laughs = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    found.append(Case("billion-laughs YAML", laughs + tracker(r) + METRICS))
    found.append(Case("YAML alias cycle", "a: &a [*a]\n" + tracker(r) + METRICS))
    r = fresh()
    r.log(HEAD, metrics={"accuracy": 0.9})
    r.log("c" * 40, name="N" * (10 * 1024 * 1024), metrics={"accuracy": 0.9})
    found.append(
        Case(
            "10 MiB run name (baseline)",
            tracker(r) + "baseline: {select: latest}\n" + METRICS,
        )
    )
    r = fresh()
    start = int(time.time() * 1000) - 3_600_000
    run_id = r.log(HEAD, metrics={"accuracy": 0.9}, status="RUNNING", start_ms=start)
    r.client.set_terminated(run_id, end_time=start - 3_600_000)
    found.append(
        Case(
            "end time before start time", tracker(r) + NONE + METRICS + "run: {max_duration: 1h}\n"
        )
    )
    r = fresh()
    for value in (1.7e308, -1.7e308, float("inf"), 0.9):
        r.log("d" * 40, metrics={"accuracy": value})
    r.log(HEAD, metrics={"accuracy": 0.9})
    found.append(Case("history values ±1.7e308, inf", tracker(r) + METRICS))
    r = fresh()
    r.log("1" * 40, metrics={"accuracy": 0.9})
    for i in range(12):
        r.log(f"{i + 2:x}" * 40, metrics={"accuracy": float("inf")})
    r.log(HEAD, branch="feature", metrics={"accuracy": 0.91})
    found.append(
        Case(
            "12 runs logged `inf`, `select: best`",
            tracker(r) + "baseline: {select: best}\n" + METRICS,
        )
    )
    r = fresh()
    r.log(HEAD, metrics={"accuracy": float("inf")})
    found.append(Case("candidate logged `accuracy` = inf", tracker(r) + NONE + METRICS))
    return found


def huge_cases(uri: str) -> list[Case]:
    config = f"tracker: {{uri: '{uri}', experiment: e, timeout: 30s}}\n" + NONE + METRICS
    return [Case("a 400 MiB reply (chunked)", config)]


def run(root: Path, case: Case, work: Path) -> Result:
    config = work / "gate.yml"
    config.write_text(case.config)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "MLFLOW_"))}
    env["PYTHONPATH"] = str(root)
    command = [sys.executable, "-m", "mlaction.cli", *case.args, "--config", str(config)]
    started = time.perf_counter()
    try:
        done, peak_mib = run_measured(command, cwd=work, env=env, timeout=150)
    except subprocess.TimeoutExpired:
        return Result(-1, time.perf_counter() - started, "(killed after 150 s)", 0, 0)
    seconds = time.perf_counter() - started
    peak = int(peak_mib)
    created = work / "wrong" / "path.db"
    if created.exists():  # reading a store must never create it
        size = created.stat().st_size
        shutil.rmtree(work / "wrong")
        return Result(
            done.returncode, seconds, f"(created wrong/path.db, {size // 1024} KB)", size, peak
        )
    text = (done.stdout + "\n" + done.stderr).strip()
    lines = [line for line in text.splitlines() if line.strip()]
    first = lines[0] if lines else "(no output)"
    if "Traceback" in text:
        first = "Traceback: " + lines[-1]
    return Result(done.returncode, seconds, first[:110], len(done.stdout) + len(done.stderr), peak)


def cell(result: Result) -> str:
    big = f", {result.output / 1e6:.1f} MB output" if result.output > 100_000 else ""
    if result.peak_mib > 400:
        big += f", peak {result.peak_mib:,} MiB"
    text = result.first.replace("|", "\\|")
    return f"exit {result.code}, {result.seconds:.1f} s{big}: `{text}`"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--old", type=Path, required=True, help="checkout of the old code")
    parser.add_argument("--new", type=Path, default=ROOT)
    args = parser.parse_args()
    for root in (args.old, args.new):
        if not (root / "mlaction" / "cli.py").is_file():
            parser.error(f"{root} is not a checkout of ml-gate (no mlaction/cli.py)")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "server").mkdir()
        with mlflow_server(work / "server") as uri:
            with contextlib.redirect_stdout(io.StringIO()):  # MLflow's "View run" lines
                all_cases = cases(uri, work)
            print("| trigger | before | after |")
            print("|---|---|---|")
            for case in all_cases:
                old = run(args.old.resolve(), case, work)
                new = run(args.new.resolve(), case, work)
                print(f"| {case.trigger} | {cell(old)} | {cell(new)} |", flush=True)
        with huge_reply_server(announce=False) as (uri, _):
            for case in huge_cases(uri):
                old = run(args.old.resolve(), case, work)
                new = run(args.new.resolve(), case, work)
                print(f"| {case.trigger} | {cell(old)} | {cell(new)} |", flush=True)


if __name__ == "__main__":
    main()
