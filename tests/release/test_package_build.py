"""The release's package: `python -m build`, `twine check --strict`, a fresh install, the command.

This is what the release workflow's `dist` job runs, so a package PyPI would refuse (or a README it
would not render) fails here first. The fresh environment installs `ml-gate[all]` with uv (fast,
and a cached download after the first run).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest
from release_helpers import ROOT

import mlaction

VERSION = mlaction.__version__


def run(*command: str | Path, cwd: Path = ROOT) -> str:
    done = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, f"{' '.join(map(str, command))}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    installer = (
        ["--installer", "uv"]
        if shutil.which("uv") or Path(sys.executable).with_name("uv").exists()
        else []
    )
    run(sys.executable, "-m", "build", *installer, "--outdir", out, ROOT)
    return out


def test_build_makes_an_sdist_and_a_wheel_that_twine_accepts(dist: Path) -> None:
    names = sorted(path.name for path in dist.iterdir())
    assert names == [f"ml_gate-{VERSION}-py3-none-any.whl", f"ml_gate-{VERSION}.tar.gz"]
    run(sys.executable, "-m", "twine", "check", "--strict", *sorted(dist.iterdir()))


def test_the_wheel_holds_the_package_data_and_the_license(dist: Path) -> None:
    with zipfile.ZipFile(dist / f"ml_gate-{VERSION}-py3-none-any.whl") as wheel:
        files = set(wheel.namelist())
        metadata = Parser().parsestr(
            wheel.read(f"ml_gate-{VERSION}.dist-info/METADATA").decode("utf-8")
        )
    assert "mlaction/py.typed" in files
    assert any(name.startswith("mlaction/report/templates/") for name in files)
    assert f"ml_gate-{VERSION}.dist-info/licenses/LICENSE" in files
    assert metadata["License-Expression"] == "Apache-2.0"
    assert metadata["Version"] == VERSION
    assert "Source, https://github.com/ml-gate/ml-gate" in metadata.get_all("Project-URL", [])


def test_a_fresh_environment_installs_the_wheel_with_all_extras(dist: Path, tmp_path: Path) -> None:
    uv = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
    venv = tmp_path / "venv"
    run(uv, "venv", "--quiet", "--python", sys.executable, venv)
    wheel = dist / f"ml_gate-{VERSION}-py3-none-any.whl"
    run(uv, "pip", "install", "--quiet", "--python", venv / "bin" / "python", f"{wheel}[all]")

    assert run(venv / "bin" / "ml-gate", "--version") == f"ml-gate {VERSION}\n"
    run(venv / "bin" / "python", "-c", "import mlflow.tracking, wandb, numpy")
