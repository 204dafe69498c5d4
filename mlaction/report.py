"""Verdict -> JSON report (plain data) -> Markdown (Jinja2) and terminal text.

Templates render from the JSON report alone, so `ml-gate render` reproduces a comment exactly.
Every value printed by a template is escaped for Markdown unless it is marked safe: tracker text
(run names, tags, params, metric names) can never inject markup, mentions or break a table.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
import jinja2.sandbox
from jinja2.exceptions import SecurityError
from markupsafe import Markup

from mlaction import __version__
from mlaction.errors import ConfigError
from mlaction.gate import Verdict, fmt, fmt_duration
from mlaction.runs import Run

COMMENT_LIMIT = 65_536
SUMMARY_LIMIT = 1_000_000  # GitHub's job summary holds 1 MiB per step
ICONS = {"pass": "✅", "fail": "❌", "warn": "⚠️", "skip": "⏭️", "error": "💥"}
HEADLINES = {"pass": "passed", "fail": "failed", "warn": "passed with warnings", "error": "error"}
SPARKS = "▁▂▃▄▅▆▇█"
_MD_SPECIAL = re.compile(r"([\\`*_\[\]~|])")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


# --- JSON report ---------------------------------------------------------------------------


def build_report(verdict: Verdict, meta: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON report: the contract fields plus what the templates need. NaN/inf -> null."""
    sel = verdict.selection
    report: dict[str, Any] = {
        "verdict": verdict.verdict,
        "passed": verdict.passed,
        "candidate": _run(sel.candidate),
        "baseline": _run(sel.baseline) if sel.baseline else None,
        "baseline_reason": sel.baseline_reason,
        "baseline_model": (
            {
                "model": sel.baseline_model.model,
                "version": sel.baseline_model.version,
                "alias": sel.baseline_model.alias,
            }
            if sel.baseline_model
            else None
        ),
        "checks": [
            {
                "name": c.name,
                "status": c.status,
                "metric": c.metric,
                "observed": c.observed,
                "threshold": c.threshold,
                "baseline_value": c.baseline_value,
                "message": c.message,
                "rule": c.rule,
                "violated": c.violated,
                "unit": c.unit,
            }
            for c in verdict.checks
        ],
        "failed_checks": verdict.failed_checks,
        "metrics": [
            {
                "name": m.name,
                "goal": m.goal,
                "candidate": m.candidate,
                "baseline": m.baseline,
                "delta": m.delta,
                "delta_pct": m.delta_pct,
                "rules": m.rules,
                "status": m.status,
                "trend": list(m.trend),
                "new_best": m.new_best,
                "rank": m.rank,
                "candidate_text": m.candidate_text,
                "baseline_text": m.baseline_text,
            }
            for m in verdict.metrics
        ],
        "notes": list(verdict.notes),
        "history_runs": len(sel.history),
        "tool": f"ml-gate {__version__}",
        "title": None,
        "config": None,
        "comment_id": None,
        "marker": None,
        "run_url": None,
        "history_branch": None,
        "override": None,
        "promotion": None,
    }
    report.update(meta)
    clean: dict[str, Any] = strict_json(report)
    return clean


def _run(run: Run | None) -> dict[str, Any] | None:
    if run is None:
        return None
    return {
        "id": run.id,
        "name": run.name,
        "url": run.url,
        "commit": run.commit,
        "branch": run.branch,
        "status": run.status,
        "start": run.start.isoformat() if run.start else None,
        "end": run.end.isoformat() if run.end else None,
        "metrics": dict(run.metrics),
    }


def strict_json(value: Any) -> Any:
    """Replace NaN and infinities by None, recursively, so the report is strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): strict_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [strict_json(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def dump_report(report: Mapping[str, Any], path: str | Path) -> None:
    text = json.dumps(report, indent=2, allow_nan=False, ensure_ascii=False)
    Path(path).write_text(text + "\n", encoding="utf-8")


def load_report(path: str | Path) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"report file {path} not found.",
            hint="Pass the path written by `ml-gate check --json PATH`.",
        ) from None
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"report file {path} is not valid JSON (line {exc.lineno}): {exc.msg}.",
            hint="Pass the file written by `ml-gate check --json PATH`.",
        ) from None
    if not isinstance(data, dict) or "verdict" not in data or "checks" not in data:
        raise ConfigError(f"report file {path} is not an ml-gate report (no `verdict`/`checks`).")
    result: dict[str, Any] = data
    return result


# --- escaping ------------------------------------------------------------------------------


def md_escape(value: object, limit: int = 300) -> str:
    """Plain text for a Markdown table cell: no HTML, no markup, no mentions, no line breaks."""
    text = _CONTROL.sub(" ", str(value))
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MD_SPECIAL.sub(r"\\\1", text)
    # No mentions (@team), no autolinked URLs (scheme://) from untrusted text.
    return text.replace("@", "&#64;").replace("://", "&#58;//").replace("www.", "www&#46;")


def md_text(value: object) -> Markup:
    """A message whose `backticked` spans become <code>, everything escaped."""
    text = str(value)
    parts = text.split("`")
    if len(parts) % 2 == 0:  # unbalanced backticks: all plain
        return Markup(md_escape(text, limit=1000))
    out = []
    for i, part in enumerate(parts):
        if i % 2:
            out.append(f"<code>{md_escape(part, limit=200)}</code>")
        else:
            out.append(md_escape(part, limit=1000))
    return Markup("".join(out))


def md_link(text: object, url: object) -> Markup:
    label = md_escape(text or "run", limit=80)
    if isinstance(url, str) and re.match(r"^https?://[^\s<>()\"']+$", url):
        return Markup(f"[{label}]({url})")
    return Markup(label)


def _finalize(value: object) -> object:
    if isinstance(value, Markup):
        return value
    if value is None:
        return "—"
    if isinstance(value, float | int) and not isinstance(value, bool):
        return fmt(float(value)) if isinstance(value, float) else str(value)
    return md_escape(value)


# --- presentation helpers (template filters) -------------------------------------------------


def num(value: object, unit: object = None) -> Markup:
    if value is None:
        return Markup("—")
    if unit == "seconds" and isinstance(value, int | float) and math.isfinite(value):
        return Markup(fmt_duration(float(value)))
    return Markup(md_escape(fmt(float(value)) if isinstance(value, int | float) else value))


def signed(value: object, pct: object = None) -> Markup:
    if not isinstance(value, int | float):
        return Markup("—")
    text = f"{value:+.4g}"
    if isinstance(pct, int | float):
        text += f" ({pct:+.1f}%)"
    return Markup(text)


def sparkline(values: list[float], candidate: object = None) -> str:
    points = [float(v) for v in values if isinstance(v, int | float)]
    if len(points) < 2:
        return ""
    scale = points + ([float(candidate)] if isinstance(candidate, int | float) else [])
    low, high = min(scale), max(scale)
    span = high - low

    def spark(v: float) -> str:
        return SPARKS[3] if span == 0 else SPARKS[round((v - low) / span * (len(SPARKS) - 1))]

    line = "".join(spark(v) for v in points)
    if isinstance(candidate, int | float):
        line += "→" + spark(float(candidate))
    return line


def ordinal(rank: object, total: object) -> str:
    if not isinstance(rank, int) or not isinstance(total, int):
        return ""
    if rank == 1:
        return f"best of {total}"
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(rank % 10 if rank % 100 not in (11, 12, 13) else 0)
    return f"{rank}{suffix or 'th'} of {total}"


def mermaid(row: Mapping[str, Any]) -> Markup:
    """A Mermaid `xychart-beta` of the history and the candidate (GitHub renders it)."""
    points = [float(v) for v in row.get("trend") or [] if isinstance(v, int | float)]
    candidate = row.get("candidate")
    if isinstance(candidate, int | float) and math.isfinite(candidate):
        points.append(float(candidate))
        labels = [str(i) for i in range(1, len(points))] + ["PR"]
    else:
        labels = [str(i) for i in range(1, len(points) + 1)]
    if len(points) < 2:
        return Markup("")
    title = re.sub(r"[^A-Za-z0-9 ._/-]", "_", str(row.get("name", "")))[:60]
    low, high = min(points), max(points)
    pad = (high - low) * 0.1 or abs(high) * 0.01 or 1.0
    axis = ", ".join(f'"{label}"' for label in labels)
    line = ", ".join(f"{v:.6g}" for v in points)
    return Markup(
        f'```mermaid\nxychart-beta\n    title "{title}"\n    x-axis [{axis}]\n'
        f'    y-axis "{title}" {low - pad:.6g} --> {high + pad:.6g}\n    line [{line}]\n```'
    )


def short(sha: object) -> str:
    return str(sha)[:7] if sha else ""


# --- rendering -----------------------------------------------------------------------------


def _environment(sandboxed: bool, loader: jinja2.BaseLoader) -> jinja2.Environment:
    cls = jinja2.sandbox.SandboxedEnvironment if sandboxed else jinja2.Environment
    env = cls(
        loader=loader,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined if not sandboxed else jinja2.ChainableUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters.update(
        text=md_text,
        link=md_link,
        num=num,
        signed=signed,
        spark=sparkline,
        short=short,
        esc=lambda v: Markup(md_escape(v)),
        mermaid=mermaid,
    )
    env.globals.update(
        icons=ICONS, headlines=HEADLINES, COMMENT_LIMIT=COMMENT_LIMIT, ordinal=ordinal
    )
    return env


def render_markdown(
    report: Mapping[str, Any],
    *,
    template: str = "comment.md.j2",
    user_template: Path | None = None,
    summary: bool = False,
) -> str:
    """The comment (or, with `summary`, the job summary) Markdown, capped at the size limit."""
    context = {"report": report, **report}
    if summary:
        context["marker"] = None
    if user_template is not None:
        text = _render_user(user_template, context)
    else:
        env = _environment(False, jinja2.PackageLoader("mlaction", "templates"))
        text = env.get_template(template).render(context)
    marker = context.get("marker")
    if marker and marker not in text:
        text = f"{marker}\n{text}"
    return cap(text, SUMMARY_LIMIT if summary else COMMENT_LIMIT)


def _render_user(path: Path, context: Mapping[str, Any]) -> str:
    try:
        source = path.read_text(encoding="utf-8")
    except OSError:
        raise ConfigError(
            f"comment.template: cannot read {path}.",
            hint="The path is relative to the config file's directory.",
        ) from None
    env = _environment(True, jinja2.DictLoader({"user": source}))
    try:
        return env.get_template("user").render(context)
    except jinja2.TemplateSyntaxError as exc:
        raise ConfigError(f"comment.template {path}, line {exc.lineno}: {exc.message}.") from None
    except SecurityError as exc:
        raise ConfigError(f"comment.template {path}: not allowed in the sandbox: {exc}.") from None
    except jinja2.TemplateError as exc:
        raise ConfigError(f"comment.template {path}: {exc}.") from None


def cap(text: str, limit: int = COMMENT_LIMIT) -> str:
    """Cut to `limit` characters at a line boundary, close open <details>, say so visibly."""
    if len(text) <= limit:
        return text
    note = (
        f"\n\n> [!WARNING]\n> This report was truncated: it is {len(text):,} characters and a "
        f"GitHub comment holds at most {limit:,}. The job summary and the JSON report are "
        "complete.\n"
    )
    cut = text[: limit - len(note) - 40]
    cut = cut[: cut.rfind("\n")] if "\n" in cut else cut
    opened = cut.count("<details") - cut.count("</details>")
    cut += "\n</details>" * max(0, opened)
    return cut + note


def render_terminal(report: Mapping[str, Any]) -> str:
    """A plain-text verdict for the CLI: untrusted text has its control characters removed."""

    def clean(value: object) -> str:
        return _CONTROL.sub("?", "—" if value is None else str(value))

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
    return "—" if value is None else _CONTROL.sub("?", str(value))[:40]
