"""The workflows shown in the README and docs/ are valid: actionlint checks every one."""

from __future__ import annotations

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
