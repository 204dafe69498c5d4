"""JSON report -> Markdown: the PR comment and the job summary (Jinja2; user templates sandboxed).

Templates render from the JSON report alone, so `ml-gate render` reproduces a comment exactly.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import jinja2
import jinja2.sandbox
from markupsafe import Markup

from mlaction.config.template import TEMPLATE_MAX_BYTES
from mlaction.errors import ConfigError
from mlaction.report import sandbox
from mlaction.report.format import (
    HEADLINES,
    ICONS,
    finalize,
    md_escape,
    md_link,
    md_text,
    mermaid,
    num,
    ordinal,
    short,
    signed,
    sparkline,
)
from mlaction.report.model import Report

COMMENT_LIMIT = 65_536
SUMMARY_LIMIT = 1_000_000  # GitHub's job summary holds 1 MiB per step


def _environment(
    sandboxed: bool | type[jinja2.Environment], loader: jinja2.BaseLoader
) -> jinja2.Environment:
    """The package templates' environment, or (`sandboxed`: True or a sandbox class) one for
    user templates."""
    if isinstance(sandboxed, type):
        cls = sandboxed
    else:
        cls = jinja2.sandbox.SandboxedEnvironment if sandboxed else jinja2.Environment
    env = cls(
        loader=loader,
        finalize=finalize,
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
    report: Report,
    *,
    marker: str | None = None,
    template: str = "comment.md.j2",
    user_template: Path | None = None,
    summary: bool = False,
) -> str:
    """The comment (or, with `summary`, the job summary) Markdown, capped at GitHub's limit.

    `marker` (the comment's identity) comes from the trusted side, the config, never from the
    report: the comment starts with it, and it appears nowhere else.
    """
    data = report.to_json()
    context = {"report": data, **data, "marker": None}
    if user_template is not None:
        text = _render_user(user_template, context)
    else:
        env = _environment(False, jinja2.PackageLoader("mlaction.report", "templates"))
        text = env.get_template(template).render(context)
    if summary:
        return cap(text, SUMMARY_LIMIT, what="job summary", unit="bytes")
    if marker:
        text = f"{marker}\n" + text.replace(marker, "")
    return cap(text, COMMENT_LIMIT)


def _render_user(path: Path, context: Mapping[str, Any]) -> str:
    """A user template, rendered in a limited child process (mlaction.report.sandbox)."""
    status, value = sandbox.render_in_child(_read_template(path), context)
    if status == "ok":
        return value
    where = f"comment.template {path}"
    if value.startswith("line "):
        raise ConfigError(f"{where}, {value.rstrip('.')}.")
    raise ConfigError(
        f"{where}: {value.rstrip('.')}.",
        hint="A comment template renders in a sandbox with limits on time "
        f"({sandbox.TIME_LIMIT} s), memory ({sandbox.MEMORY_LIMIT // 2**20} MB) and output "
        f"({sandbox.OUTPUT_LIMIT:,} characters).",
    )


def _read_template(path: Path) -> str:
    """The template's text: a regular file of at most TEMPLATE_MAX_BYTES (a FIFO or a device
    is never read, so it cannot block or stream)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as file:
            if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
                raise ConfigError(f"comment.template: {path} is not a regular file.")
            data = file.read(TEMPLATE_MAX_BYTES + 1)
    except OSError:
        raise ConfigError(
            f"comment.template: cannot read {path}.",
            hint="The path is relative to the config file's directory.",
        ) from None
    if len(data) > TEMPLATE_MAX_BYTES:
        raise ConfigError(f"comment.template: {path} is larger than {TEMPLATE_MAX_BYTES:,} bytes.")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"comment.template: {path} is not UTF-8 text.") from None


def cap(
    text: str,
    limit: int = COMMENT_LIMIT,
    *,
    what: str = "GitHub comment",
    unit: Literal["characters", "bytes"] = "characters",
) -> str:
    """Cut to `limit` characters (or UTF-8 bytes) at a line boundary, close open <details>, and
    say so visibly. GitHub counts a comment in characters and a job summary in bytes."""

    def size(value: str) -> int:
        return len(value.encode("utf-8")) if unit == "bytes" else len(value)

    total = size(text)
    if total <= limit:
        return text
    note = (
        f"\n\n> [!WARNING]\n> This report was truncated: it is {total:,} {unit} and a "
        f"{what} holds at most {limit:,}. The JSON report is complete.\n"
    )
    budget = limit - size(note) - 40
    cut = text[:budget]
    while size(cut) > budget:  # bytes: multi-byte characters take more than one
        cut = cut[: len(cut) - max(1, (size(cut) - budget) // 4)]
    cut = cut[: cut.rfind("\n")] if "\n" in cut else cut
    opened = cut.count("<details") - cut.count("</details>")
    cut += "\n</details>" * max(0, opened)
    return cut + note
