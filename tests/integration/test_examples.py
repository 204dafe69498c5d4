"""`make demo` (examples/run.sh), the README's first command: it shows a passing gate and a
failing one, and exits 0 when both verdicts are the expected ones."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_demo_shows_a_pass_and_a_regression(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "MLFLOW_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["ML_GATE_EXAMPLE_DIR"] = str(tmp_path)

    done = subprocess.run(
        [str(ROOT / "examples" / "run.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    verdicts = [line for line in done.stdout.splitlines() if line.startswith("ml-gate: ")]
    assert verdicts == ["ml-gate: PASS (passed)", "ml-gate: FAIL (failed)"]
    assert "worse candidate: exit 1 (expected 1: the regression this demo shows" in done.stdout
    assert "demo OK: one passing gate, one failing gate" in done.stdout
