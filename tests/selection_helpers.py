"""Shared by the selection unit tests: a config gating `accuracy`, and one selection."""

from __future__ import annotations

from typing import Any

from fakes.memory_tracker import MemoryTracker

from mlaction.config.schema import GateConfig
from mlaction.gitcontext import GitContext
from mlaction.runs import Selection
from mlaction.selection import select_runs

HEAD = "a" * 40
OTHER = "c" * 40


def gate(**sections: Any) -> GateConfig:
    """A config gating `accuracy`; sections replace the defaults (history off unless given:
    no trend, and no noise rule, which would read the history)."""
    data: dict[str, Any] = {
        "tracker": {"experiment": "demo"},
        "metrics": {"accuracy": {"max_regression": 0.02, "noise": False}},
        "comment": {"history": 0},
    }
    data.update(sections)
    # These tests were written for `best` as the default baseline; base_commit has its own file.
    data["baseline"] = {"select": "best", **sections.get("baseline", {})}
    for rule in data["metrics"].values():
        if "max_regression" in rule:
            rule.setdefault("noise", False)
    return GateConfig.model_validate(data)


def select(tracker: MemoryTracker, config: GateConfig, git: GitContext | None = None) -> Selection:
    return select_runs(config, tracker, git if git is not None else GitContext(commit=HEAD))
