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
