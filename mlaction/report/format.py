"""Text for people: numbers, Markdown escaping of untrusted text, the template filters.

Every value a template prints is escaped for Markdown unless it is marked safe: tracker text
(run names, tags, params, metric names) can never inject markup, mentions, issue references or
break a table. GitHub decodes HTML entities before it looks for `@mentions` and `#123`
references, so an entity (`&#64;`) is not enough: a zero-width joiner after `@` and `#` (and
`GH-`) breaks the pattern GitHub matches, while the text reads the same. Invisible and
direction-changing characters (bidi overrides, zero-width spaces, byte-order marks), which let a
run name disguise itself, are removed from untrusted text first.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Mapping
from typing import Any

from markupsafe import Markup

from mlaction.errors import CONTROL
from mlaction.gate.results import fmt, fmt_duration

__all__ = [
    "CONTROL",
    "HEADLINES",
    "ICONS",
    "fmt",
    "fmt_duration",
    "md_escape",
    "md_link",
    "md_text",
]

ICONS = {"pass": "✅", "fail": "❌", "warn": "⚠️", "skip": "⏭️", "error": "💥"}
HEADLINES = {"pass": "passed", "fail": "failed", "warn": "passed with warnings", "error": "error"}
SPARKS = "▁▂▃▄▅▆▇█"
_MD_SPECIAL = re.compile(r"([\\`*_\[\]~|])")
_JOINER = "\u200d"  # zero-width joiner: `@\u200dorg` is no mention, `#\u200d1` no reference
_REFERENCE = re.compile(r"([@#])|\b(GH-)(?=[0-9])", re.IGNORECASE)


def md_escape(value: object, limit: int = 300) -> str:
    """Plain text for a Markdown table cell: no HTML, no markup, no mentions, no line breaks."""
    text = CONTROL.sub(" ", str(value))
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MD_SPECIAL.sub(r"\\\1", text)
    # No mentions (@org/team), issue references (#1, owner/repo#2, GH-3) or autolinked URLs.
    text = _REFERENCE.sub(lambda m: (m.group(1) or m.group(2)) + _JOINER, text)
    return text.replace("://", "&#58;//").replace("www.", "www&#46;")


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


def finalize(value: object) -> object:
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
    points = [float(v) for v in values if _finite_number(v)]
    if len(points) < 2:
        return ""
    mark = (
        float(candidate)
        if isinstance(candidate, int | float) and _finite_number(candidate)
        else None
    )
    scale = points + ([mark] if mark is not None else [])
    low, high = min(scale), max(scale)
    # Halves: `high - low` overflows to inf for values near ±1.7e308; halves never do.
    span = high / 2 - low / 2

    def spark(v: float) -> str:
        if span == 0:
            return SPARKS[3]
        return SPARKS[round((v / 2 - low / 2) / span * (len(SPARKS) - 1))]

    line = "".join(spark(v) for v in points)
    if mark is not None:
        line += "→" + spark(mark)
    return line


def _finite_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def ordinal(rank: object, total: object) -> str:
    if not isinstance(rank, int) or not isinstance(total, int):
        return ""
    if rank == 1:
        return f"best of {total}"
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(rank % 10 if rank % 100 not in (11, 12, 13) else 0)
    return f"{rank}{suffix or 'th'} of {total}"


def mermaid(row: Mapping[str, Any]) -> Markup:
    """A Mermaid `xychart-beta` of the history and the candidate (GitHub renders it)."""
    points = [float(v) for v in row.get("trend") or [] if _finite_number(v)]
    candidate = row.get("candidate")
    if isinstance(candidate, int | float) and math.isfinite(candidate):
        points.append(float(candidate))
        labels = [str(i) for i in range(1, len(points))] + ["PR"]
    else:
        labels = [str(i) for i in range(1, len(points) + 1)]
    if len(points) < 2:
        return Markup("")
    title = re.sub(r"[^A-Za-z0-9 ._/-]", "_", str(row.get("name", "")))[:60]
    band = [float(v) for v in row.get("band") or [] if isinstance(v, int | float)]
    band = band if len(band) == 2 and all(math.isfinite(v) for v in band) else []
    low, high = min(points + band), max(points + band)
    pad = (high / 2 - low / 2) * 0.2 or abs(high) * 0.01 or 1.0  # halves: no overflow
    bottom = max(low - pad, -sys.float_info.max)
    top = min(high + pad, sys.float_info.max)
    axis = ", ".join(f'"{label}"' for label in labels)
    line = ", ".join(f"{v:.6g}" for v in points)
    # The noise band the decision used: two flat lines at its edges.
    edges = "".join(f"\n    line [{', '.join(f'{edge:.6g}' for _ in points)}]" for edge in band)
    return Markup(
        f'```mermaid\nxychart-beta\n    title "{title}"\n    x-axis [{axis}]\n'
        f'    y-axis "{title}" {bottom:.6g} --> {top:.6g}\n    line [{line}]{edges}\n```'
    )


def short(sha: object) -> str:
    return str(sha)[:7] if sha else ""
