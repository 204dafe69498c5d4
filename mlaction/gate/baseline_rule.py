"""`baseline.on_missing`: a gate that found no baseline never passes quietly. Pure.

When a metric compares with a baseline (`max_regression`, `min_improvement`, noise,
replicates) and none was found, those comparisons are skipped; this check makes that visible in
the verdict: `warn` (default) or `fail`. `on_missing: pass` keeps a plain pass, and
`baseline.select: none` is an explicit, quiet choice: no check then.
"""

from __future__ import annotations

from collections.abc import Sequence

from mlaction.config.schema import GateConfig
from mlaction.gate.comparability import is_comparison
from mlaction.gate.results import CheckResult, Status
from mlaction.runs import Selection

CHECK = "baseline.on_missing"


def missing_baseline_check(
    config: GateConfig, selection: Selection, checks: Sequence[CheckResult] = ()
) -> CheckResult | None:
    """The check a missing baseline raises, None when there is nothing to say: only metrics
    whose every comparison was skipped count (a noise rule that compared the candidate with the
    history's mean did compare it)."""
    spec = config.baseline
    if selection.baseline is not None or spec.select == "none" or spec.on_missing == "pass":
        return None
    decided = {c.metric for c in checks if is_comparison(c.name) and c.status != "skip"}
    compared = [
        name
        for name, rule in config.metrics.items()
        if (rule.compares or rule.min_improvement is not None) and name not in decided
    ]
    if not compared:
        return None
    names = ", ".join(f"`{name}`" for name in compared)
    why = selection.baseline_reason.partition(": regression checks are skipped")[0]
    message = f"{names} not compared, no baseline: {why} (`baseline.on_missing: {spec.on_missing}`)"
    status: Status = "fail" if spec.on_missing == "fail" else "warn"
    return CheckResult(
        CHECK,
        status,
        message,
        rule=f"a baseline is found (`on_missing: {spec.on_missing}`)",
        violated=status == "fail",
    )
