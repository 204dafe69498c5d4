"""Run entrypoint.py as the runner starts a Docker action: only INPUT_* / GITHUB_* (and the
tracker's) variables, a workspace, the runner's file commands, the event payload on disk.

`ML_GATE_SOURCE` (a checkout of another ml-gate commit) runs that commit's entrypoint instead of
this one's: the attack tests of the trust boundaries can be run against the code before a fix.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fakes.github_server import WORKFLOW_TOKEN, FakeGitHub
from runner_helpers import parse_outputs

ROOT = Path(__file__).resolve().parents[1]
SOURCE = Path(os.environ.get("ML_GATE_SOURCE") or ROOT)


@dataclass
class Step:
    code: int
    log: str  # stdout then stderr, as the runner shows them
    outputs: dict[str, str]
    summary: str
    workspace: Path

    @property
    def stdout(self) -> str:
        return self.log

    def report(self, name: str = "ml-gate-report.json") -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.workspace / name).read_text())
        return data


def run_step(
    tmp_path: Path,
    github: FakeGitHub,
    *,
    config: str,
    event_name: str,
    event: dict[str, Any],
    sha: str,
    env: dict[str, str] | None = None,
    inputs: dict[str, str] | None = None,
    files: dict[str, str] | None = None,
) -> Step:
    """One action step; `files` are written into the workspace first (a saved report...)."""
    workspace = tmp_path / "workspace"
    (workspace / ".github").mkdir(parents=True, exist_ok=True)
    (workspace / ".github" / "ml-gate.yml").write_text(config)
    for name, text in (files or {}).items():
        (workspace / name).write_text(text)
    commands = tmp_path / "file_commands"
    commands.mkdir(exist_ok=True)
    output, summary, event_path = commands / "output", commands / "summary", tmp_path / "ev.json"
    output.write_text("")
    summary.write_text("")
    event_path.write_text(json.dumps(event))
    step_env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "PYTHONPATH": str(SOURCE),
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": event_name,
        "GITHUB_EVENT_PATH": str(event_path),
        "GITHUB_REPOSITORY": github.repository,
        "GITHUB_SHA": sha,
        "GITHUB_REF": "refs/heads/main",
        "GITHUB_API_URL": github.api_url,
        "GITHUB_SERVER_URL": "https://github.example",
        "GITHUB_RUN_ID": "99",
        "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary),
        "INPUT_CONFIG": ".github/ml-gate.yml",
        "INPUT_GITHUB-TOKEN": WORKFLOW_TOKEN,
        "INPUT_DRY-RUN": "false",
        **{f"INPUT_{k.upper()}": v for k, v in (inputs or {}).items()},
        **(env or {}),
    }
    return launch(step_env, workspace, output, summary)


def launch(env: dict[str, str], workspace: Path, output: Path, summary: Path) -> Step:
    """`python entrypoint.py` as the runner starts the container: `env` only, in the workspace;
    the step's outputs and summary read back from the runner's files."""
    done = subprocess.run(
        [sys.executable, str(SOURCE / "entrypoint.py")],
        env=env,
        cwd=workspace,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return Step(
        done.returncode,
        done.stdout + done.stderr,
        parse_outputs(output.read_text()),
        summary.read_text(),
        workspace,
    )
