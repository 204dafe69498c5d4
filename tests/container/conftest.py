"""The action's Docker image, built once per session by a Docker-compatible engine.

Outside CI a machine with no engine skips the container tests; with `CI` set a missing engine is
an error, so CI can never pass without having run them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "ml-gate:test"
# The Python base the image is built on here: the engine's local image. The pinned digest of
# docker/deps.Dockerfile needs a registry; `make image` replaces it with BASE_IMAGE.
BASE_IMAGE = os.environ.get("ML_GATE_TEST_BASE_IMAGE", "python:3.12-slim")
BUILD = ["make", "image", f"IMAGE={IMAGE}", f"BASE_IMAGE={BASE_IMAGE}"]
START_ENGINE = "start a Docker-compatible engine and set DOCKER_HOST (.ci/run shows how)"
BUILD_TIMEOUT = 900

Timings = list[tuple[str, float]]
_TIMINGS = pytest.StashKey[Timings]()


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def engine_problem() -> str | None:
    """Why no engine answers, or None when `docker info` succeeds."""
    if shutil.which("docker") is None:
        return "there is no `docker` command on PATH"
    try:
        done = subprocess.run(
            ["docker", "info"], capture_output=True, text=True, timeout=60, check=False
        )
    except subprocess.TimeoutExpired:
        return "`docker info` did not answer within 60 s"
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        return f"`docker info` failed: {lines[-1] if lines else f'exit {done.returncode}'}"
    return None


@pytest.fixture(scope="session")
def container_timings(pytestconfig: pytest.Config) -> Timings:
    """(what, seconds) pairs, printed at the end of the session."""
    return pytestconfig.stash.setdefault(_TIMINGS, [])


@pytest.fixture(scope="session")
def container_engine() -> None:
    problem = engine_problem()
    if problem is None:
        return
    message = f"no container engine ({problem}): {START_ENGINE}"
    if in_ci():
        pytest.fail(f"{message}. CI is set: the container tests must run, not skip.")
    pytest.skip(message)


@pytest.fixture(scope="session")
def action_image(container_engine: None, container_timings: Timings) -> str:
    """`make image`: the dependency image from the lock file, then the action's Dockerfile."""
    command = " ".join(BUILD)
    start = time.monotonic()
    try:
        done = subprocess.run(
            BUILD, cwd=ROOT, capture_output=True, text=True, timeout=BUILD_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"`{command}` took longer than {BUILD_TIMEOUT} s")
    container_timings.append((command, time.monotonic() - start))
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-40:])
        pytest.fail(f"`{command}` failed (exit {done.returncode}):\n{tail}")
    return IMAGE


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    timings = config.stash.get(_TIMINGS, [])
    if timings:
        terminalreporter.write_sep("-", "container timings")
        for what, seconds in timings:
            terminalreporter.write_line(f"{seconds:6.1f} s  {what}")
