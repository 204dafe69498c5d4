"""DESIGN.md's import rules and the fast start, checked in a fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

CORE = ["mlaction.config", "mlaction.runs", "mlaction.gate", "mlaction.stats", "mlaction.errors"]
EDGES = [
    "mlaction.trackers",
    "mlaction.github",
    "mlaction.report",
    "mlaction.action",
    "mlaction.cli",
    "mlaction.ghaction",
    "mlaction.publish",
]


def loaded_after(*modules: str) -> set[str]:
    code = (
        f"import sys, json; [__import__(m) for m in {list(modules)!r}]; "
        "print(json.dumps(sorted(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(json.loads(done.stdout))


@pytest.mark.parametrize("module", CORE)
def test_the_core_imports_no_edge(module: str) -> None:
    loaded = loaded_after(module)
    assert not {m for m in loaded for edge in EDGES if m == edge or m.startswith(edge + ".")}


def test_the_cli_imports_no_sdk() -> None:
    loaded = loaded_after("mlaction", "mlaction.cli")
    assert not loaded & {"mlflow", "wandb", "numpy", "requests", "jinja2", "pydantic"}


def test_the_tracker_registry_imports_no_sdk_until_used() -> None:
    loaded = loaded_after("mlaction.trackers", "mlaction.select", "mlaction.action")
    assert not loaded & {"mlflow", "wandb", "numpy"}


def test_reports_never_import_a_tracker() -> None:
    loaded = loaded_after("mlaction.report", "mlaction.github", "mlaction.publish")
    assert not {m for m in loaded if m.startswith("mlaction.trackers")}
