"""JSON report -> plain text for the terminal and the Action's log."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from mlaction.report.format import CONTROL, HEADLINES, fmt, fmt_duration


def render_terminal(report: Mapping[str, Any]) -> str:
    """A plain-text verdict for the CLI: untrusted text has its control characters removed."""

    def clean(value: object) -> str:
        return CONTROL.sub("?", "—" if value is None else str(value))

    verdict = report["verdict"]
    lines = [f"ml-gate: {verdict.upper()} ({HEADLINES.get(verdict, verdict)})"]
    cand, base = report.get("candidate") or {}, report.get("baseline")
    lines.append(
        f"candidate: {clean(cand.get('name') or cand.get('id'))} [{clean(cand.get('id'))}]"
        + (f" commit {clean(cand.get('commit'))[:12]}" if cand.get("commit") else "")
    )
    if base:
        lines.append(
            f"baseline:  {clean(base.get('name') or base.get('id'))} [{clean(base.get('id'))}]"
            f" ({clean(report.get('baseline_reason'))})"
        )
    else:
        lines.append(f"baseline:  none ({clean(report.get('baseline_reason'))})")
    rows = [("STATUS", "CHECK", "OBSERVED", "THRESHOLD", "BASELINE", "MESSAGE")]
    for c in report["checks"]:
        rows.append(
            (
                c["status"].upper(),
                clean(c["name"]),
                _cell(c.get("observed"), c.get("unit")),
                _cell(c.get("threshold"), c.get("unit")),
                _cell(c.get("baseline_value")),
                clean(c.get("message")),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for r in rows:
        lines.append("  ".join(r[i].ljust(widths[i]) for i in range(5)) + "  " + r[5])
    lines.extend(f"note: {clean(n)}" for n in report.get("notes", []))
    return "\n".join(lines)


def _cell(value: object, unit: object = None) -> str:
    if unit == "seconds" and isinstance(value, int | float) and math.isfinite(value):
        return fmt_duration(float(value))
    if isinstance(value, float):
        return fmt(value)
    return "—" if value is None else CONTROL.sub("?", str(value))[:40]
