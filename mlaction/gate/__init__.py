"""The gate: pure functions from a selection of runs and a config to a verdict."""

from __future__ import annotations

from mlaction.gate.results import CheckResult, Status
from mlaction.gate.verdict import Override, Verdict, VerdictName, evaluate

__all__ = ["CheckResult", "Override", "Status", "Verdict", "VerdictName", "evaluate"]
