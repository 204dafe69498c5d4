"""JSON report -> Markdown: the PR comment and the job summary (Jinja2; user templates sandboxed).

Templates render from the JSON report alone, so `ml-gate render` reproduces a comment exactly.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

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
        env = _environment(False, jinja2.PackageLoader("mlaction.report", "templates"))
        text = env.get_template(template).render(context)
    marker = context.get("marker")
    if marker and marker not in text:
        text = f"{marker}\n{text}"
    return cap(text, SUMMARY_LIMIT if summary else COMMENT_LIMIT)


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
