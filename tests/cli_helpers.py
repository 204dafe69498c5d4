"""The `ml-gate` command as a user runs it: a subprocess with a clean environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ML_GATE = [sys.executable, "-m", "mlaction.cli"]


def ml_gate(
    *args: str,
    cwd: Path,
    env: dict[str, str] | None = None,
    dropped: tuple[str, ...] = ("GITHUB_", "MLFLOW_", "WANDB_", "INPUT_"),
) -> subprocess.CompletedProcess[str]:
    """Run `ml-gate ARGS` in `cwd` without the caller's variables that start with `dropped`
    (plus `env`). A hang fails the test through the timeout: the bound is part of the
    contract."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    return subprocess.run(
        [*ML_GATE, *args],
        cwd=cwd,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# Runs the command after argv[1] and writes to argv[1] the largest resident size of that one
# child, in KiB (Linux's ru_maxrss unit); exits with the child's code.
_PEAK_RSS = (
    "import resource, subprocess, sys\n"
    "code = subprocess.call(sys.argv[2:])\n"
    "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "open(sys.argv[1], 'w').write(str(peak))\n"
    "sys.exit(code)\n"
)


def run_measured(
    command: list[str], *, cwd: Path, env: dict[str, str], timeout: float
) -> tuple[subprocess.CompletedProcess[str], float]:
    """`command` (text output captured) and the peak resident size of its process in MiB.
    A wrapper process reads the child's `ru_maxrss` (KiB on Linux); TimeoutExpired propagates."""
    rss = cwd / ".peak-rss"
    done = subprocess.run(
        [sys.executable, "-c", _PEAK_RSS, str(rss), *command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    peak = int(rss.read_text()) / 1024 if rss.is_file() else 0.0
    rss.unlink(missing_ok=True)
    return done, peak
