"""The workflows shown in the README and docs/ are valid: actionlint checks every one."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^( *)```ya?ml\n(.*?)^ *```", re.S | re.M)


def blocks(doc: Path) -> list[str]:
    return [textwrap.dedent(body) for _, body in BLOCK.findall(doc.read_text(encoding="utf-8"))]


def workflows() -> list[tuple[str, str]]:
    found = []
    for doc in DOCS:
        for i, block in enumerate(blocks(doc)):
            if re.search(r"^jobs:", block, re.M):
                found.append((f"{doc.name}#{i}", block))
    return found


def actionlint() -> str:
    local = Path(sys.executable).with_name("actionlint")
    found = str(local) if local.exists() else shutil.which("actionlint")
    assert found, "actionlint is not installed (it is in the dev group)"
    return found


def test_docs_show_workflows() -> None:
    names = [name for name, _ in workflows()]
    assert any(n.startswith("README.md") for n in names)
    assert any(n.startswith("fork-prs.md") for n in names)


@pytest.mark.parametrize(("name", "text"), workflows(), ids=[n for n, _ in workflows()])
def test_documented_workflow_passes_actionlint(name: str, text: str, tmp_path: Path) -> None:
    assert isinstance(yaml.safe_load(text), dict)
    path = tmp_path / ".github" / "workflows" / "doc.yml"
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")
    done = subprocess.run(
        [actionlint(), str(path)], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"{name}:\n{done.stdout}{done.stderr}"


GATE_KEYS = {
    "tracker",
    "candidate",
    "baseline",
    "metrics",
    "run",
    "comment",
    "on_failure",
    "registry",
    "promote",
    "override",
}


def test_config_examples_in_docs_are_valid() -> None:
    """Every YAML block made of gate keys parses; partial ones get a minimal tracker/metrics."""
    from mlaction.config import parse_config

    checked = 0
    for doc in DOCS:
        for block in blocks(doc):
            data = yaml.safe_load(block)
            if not isinstance(data, dict) or not data or not set(data) <= GATE_KEYS:
                continue
            text = block
            if "tracker" not in data:
                text = "tracker: {experiment: x}\n" + text
            if "metrics" not in data:
                text += "\nmetrics: {accuracy: {min: 0.5}}\n"
            parse_config(text, doc, {"MLFLOW_TRACKING_URI": "http://x", "WANDB_BASE_URL": "x"})
            checked += 1
    assert checked >= 10


WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
_HOST_ONLY = re.compile(r"github\.workspace|\blocalhost\b|127\.0\.0\.1")


def action_steps() -> list[tuple[str, dict[str, str]]]:
    """Every step that runs this action (`uses: ./` or `*/ml-gate@*`), with the environment it
    sees (the workflow's, the job's, then the step's own `env:`) and its `with:` inputs."""
    sources = [(p.name, p.read_text(encoding="utf-8")) for p in WORKFLOWS] + workflows()
    found = []
    for name, text in sources:
        data = yaml.safe_load(text)
        for job_name, job in (data.get("jobs") or {}).items():
            for i, step in enumerate(job.get("steps") or []):
                uses = str(step.get("uses", ""))
                if uses != "./" and "/ml-gate@" not in uses:
                    continue
                seen = {**(data.get("env") or {}), **(job.get("env") or {})}
                seen.update(step.get("env") or {})
                seen.update({f"with.{k}": v for k, v in (step.get("with") or {}).items()})
                found.append((f"{name}:{job_name}#{i}", {k: str(v) for k, v in seen.items()}))
    return found


def test_the_action_is_never_handed_a_path_or_host_of_the_runner() -> None:
    """Inside the action's container the workspace is /github/workspace and localhost is the
    container (docs/action.md, "Container facts"): a `${{ github.workspace }}` path or a
    localhost URL handed to the action points at nothing."""
    steps = action_steps()
    assert any(name.startswith("dogfood.yml") for name, _ in steps)
    for name, seen in steps:
        wrong = {k: v for k, v in seen.items() if _HOST_ONLY.search(v)}
        assert not wrong, f"{name}: {wrong}"


PYTHON_BLOCK = re.compile(r"^( *)```python\n(.*?)^ *```", re.S | re.M)


def python_snippets() -> dict[str, str]:
    found = {}
    for doc in DOCS:
        bodies = PYTHON_BLOCK.findall(doc.read_text(encoding="utf-8"))
        for i, (_, body) in enumerate(bodies):
            found[f"{doc.name}#py{i}"] = textwrap.dedent(body)
    return found


# Snippets that continue a script shown elsewhere run after this setup, which the doc's text
# describes (here: "log the model from the training run").
_TRAINED = (
    "import joblib, wandb\n"
    "from sklearn.datasets import load_iris\n"
    "from sklearn.linear_model import LogisticRegression\n"
    "run = wandb.init(project='iris-classifier')\n"
    "joblib.dump(LogisticRegression(max_iter=200).fit(*load_iris(return_X_y=True)), "
    "'model.pkl')\n"
)
CONTINUES = {"wandb.md#py0": _TRAINED}
# W&B snippets run with the real wandb client in offline mode (WANDB_MODE=offline: the run is
# written to ./wandb, as `wandb sync` would upload it): the W&B fake serves the read API the gate
# uses, not the write path of `wandb.init`.
WANDB = {"wandb.md#py0", "wandb.md#py2"}
# Snippets that need a live service this suite does not have, and why (each is still listed, so
# a new snippet cannot go untested by accident).
NEEDS_A_SERVER = {
    # `run.link_artifact` raises NotImplementedError in offline mode (wandb 0.31.0,
    # wandb_run.py `link_artifact`); linking is tested through the W&B fake in
    # tests/integration/test_wandb_registry.py.
    "wandb.md#py1": "links into the W&B Registry: needs a W&B server",
}
SHA = "d0c5" * 10


def run_snippet(name: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    code = CONTINUES.get(name, "") + python_snippets()[name]
    script = cwd / "snippet.py"
    script.write_text(code, encoding="utf-8")
    base = {
        k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "MLFLOW_", "WANDB"))
    }
    return subprocess.run(
        [sys.executable, str(script)],
        cwd=cwd,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def test_every_python_snippet_is_run_by_a_test() -> None:
    tested = {"README.md#py0", "registry.md#py0", *WANDB}
    assert set(python_snippets()) == tested | set(NEEDS_A_SERVER)
    assert not tested & set(NEEDS_A_SERVER)


def test_readme_quick_start_logs_a_run_the_readme_config_gates(
    tmp_path: Path, mlflow_uri: str
) -> None:
    """Quick start steps 1-3 as written: the logging snippet, the config, `ml-gate check`."""
    env = {"MLFLOW_TRACKING_URI": mlflow_uri, "ML_GATE_COMMIT": SHA, "ML_GATE_BRANCH": "main"}
    done = run_snippet("README.md#py0", tmp_path, env)
    assert done.returncode == 0, done.stderr[-3000:]

    readme_config = next(b for b in blocks(ROOT / "README.md") if b.startswith("tracker:"))
    (tmp_path / ".github").mkdir()
    (tmp_path / ".github" / "ml-gate.yml").write_text(readme_config, encoding="utf-8")
    gate = subprocess.run(
        [sys.executable, "-m", "mlaction.cli", "check", "--commit", SHA],
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")} | env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert gate.returncode == 0, gate.stderr
    assert gate.stdout.startswith(("ml-gate: PASS", "ml-gate: WARN")), gate.stdout


def test_registry_snippet_registers_a_tagged_version(tmp_path: Path, mlflow_uri: str) -> None:
    from mlflow.tracking import MlflowClient

    sha = "5eed" * 10
    env = {"MLFLOW_TRACKING_URI": mlflow_uri, "ML_GATE_COMMIT": sha}
    done = run_snippet("registry.md#py0", tmp_path, env)
    assert done.returncode == 0, done.stderr[-3000:]

    client = MlflowClient(tracking_uri=mlflow_uri)
    versions = client.search_model_versions("name = 'iris-classifier'")
    tagged = [
        v
        for v in versions
        if client.get_run(str(v.run_id)).data.tags.get("mlflow.source.git.commit") == sha
    ]
    assert tagged
    assert tagged[0].tags["training_dataset_version"] == "v7"


@pytest.mark.parametrize("name", sorted(WANDB))
def test_wandb_snippets_run_with_the_real_client_offline(name: str, tmp_path: Path) -> None:
    env = {"WANDB_MODE": "offline", "WANDB_SILENT": "true", "GITHUB_SHA": SHA}
    done = run_snippet(name, tmp_path, env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert list((tmp_path / "wandb").glob("offline-run-*"))


class _Recording(dict[str, str]):
    """An environment that records which variables were asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: set[str] = set()

    def get(self, key: str, default: object = None) -> Any:
        self.asked.add(key)
        return super().get(key, default)


def test_action_yml_declares_every_input_read_and_every_output_written() -> None:
    from mlaction.action import ActionInputs
    from mlaction.github.publish import error_outputs

    meta = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
    env = _Recording()
    ActionInputs.from_env(env)
    read = {key.removeprefix("INPUT_").replace("_", "-") for key in env.asked if "INPUT_" in key}
    assert read <= {name.upper() for name in meta["inputs"]}
    assert set(error_outputs()) <= set(meta["outputs"])
