"""Publish a report on GitHub: step outputs, job summary, annotations, the sticky PR comment.

Outputs and the summary are written first, so GitHub refusing the comment never hides the verdict.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Literal

from mlaction.errors import GitHubError
from mlaction.github.runner import (
    CommentMode,
    annotation,
    append_summary,
    escape_data,
    write_outputs,
)
from mlaction.report.format import md_text
from mlaction.report.model import Report

if TYPE_CHECKING:
    from mlaction.waiting import WaitEvent


@dataclass(frozen=True)
class StepFiles:
    """The runner's files for this step: $GITHUB_OUTPUT and $GITHUB_STEP_SUMMARY."""

    output_path: str | None = None
    summary_path: str | None = None

    def outputs(self, outputs: Mapping[str, str]) -> None:
        if self.output_path:
            write_outputs(self.output_path, outputs)

    def summary(self, markdown: str) -> None:
        if self.summary_path:
            append_summary(self.summary_path, markdown)


def outputs_for(report: Report, report_path: str | None) -> dict[str, str]:
    promotion = report.promotion
    action = promotion.action if promotion else None
    return {
        "passed": "true" if report.verdict in ("pass", "warn") else "false",
        "verdict": report.verdict,
        "candidate-run-id": report.candidate.id,
        "baseline-run-id": report.baseline.id if report.baseline else "",
        "failed-checks": json.dumps(list(report.failed_checks)),
        "report": report_path or "",
        "more-runs": str(report.more_runs),
        "promoted": "true" if action == "promoted" else "false",
        "promoted-version": (promotion.version or "")
        if promotion and action in ("promoted", "already")
        else "",
    }


def error_outputs(report_path: str | None = None) -> dict[str, str]:
    return {
        "passed": "false",
        "verdict": "error",
        "candidate-run-id": "",
        "baseline-run-id": "",
        "failed-checks": "[]",
        "report": report_path or "",
        "more-runs": "0",
        "promoted": "false",
        "promoted-version": "",
        "comment-url": "",
    }


def annotate(report: Report, stream: IO[str]) -> None:
    """One `::error` per failed check, one `::warning` per warning."""
    for check in report.checks:
        if check.status in ("fail", "warn"):
            level: Literal["error", "warning"] = "error" if check.status == "fail" else "warning"
            print(annotation(level, check.message, title=f"ml-gate: {check.name}"), file=stream)


def should_create(mode: CommentMode, verdict: str) -> bool:
    """Whether a new comment may be created; an existing one is always kept up to date."""
    if mode == "always":
        return True
    if mode == "on_failure":
        return verdict in ("fail", "error")
    return False


def comment_failure_warning(exc: GitHubError) -> str:
    """The one warning printed when the comment could not be posted."""
    status = getattr(exc, "status", None)
    refusal = getattr(exc, "refusal", None)
    text = f"The PR comment could not be posted: {exc}"
    if refusal == "locked":
        text += " The verdict, outputs and job summary are unaffected."
    elif status == 403 and refusal != "rate_limited":
        text += (
            " The verdict, outputs and job summary are unaffected. Pull requests from forks get a "
            "read-only token: use the two-workflow `workflow_run` recipe in docs/fork-prs.md to "
            "comment on them, or grant `permissions: pull-requests: write` for same-repository "
            "pull requests."
        )
    return text


def publish_skip(files: StepFiles, reason: str, stream: IO[str]) -> int:
    """Nothing to judge (a push that deleted a branch or tag): say so everywhere, exit 0.

    The outputs say `verdict=skip` and `passed=false`: nothing passed, nothing failed.
    """
    files.outputs({**error_outputs(), "verdict": "skip"})
    # The reason names the deleted ref: PR-controlled text, escaped like tracker text.
    files.summary(f"## ⏭️ ml-gate: skipped\n\n{md_text(reason)}\n")
    print(annotation("notice", f"ml-gate skipped: {reason}", title="ml-gate: skipped"), file=stream)
    return 0


def report_file_name(comment_id: str, default_id: str) -> str:
    if comment_id == default_id:
        return "ml-gate-report.json"
    slug = "".join(ch if ch.isalnum() else "-" for ch in comment_id).strip("-")
    return f"ml-gate-report-{slug}.json"


def relative_to(path: Path, workspace: Path) -> str:
    try:
        return path.resolve().relative_to(workspace.resolve()).as_posix()
    except ValueError:
        return str(path)


def print_untrusted(text: str, out: IO[str]) -> None:
    """Tracker text printed between stop-commands markers: a run named `::set-env ...` is
    shown, never obeyed by the runner."""
    pause = uuid.uuid4().hex
    print(f"::stop-commands::{pause}\n{text}\n::{pause}::", file=out)


def print_progress(event: WaitEvent, out: IO[str]) -> None:
    """A wait's progress: a log line per poll, a notice when the run appears and when it is
    ready (the text is one line: tracker text in it is capped and made printable)."""
    if event.kind == "waiting":
        print(escape_data(event.text), file=out, flush=True)
    else:
        print(annotation("notice", event.text, title="ml-gate: waiting"), file=out, flush=True)


def announce_promotion(report: Report, out: IO[str]) -> None:
    promotion = report.promotion
    if promotion is None:
        return
    if promotion.action == "failed":
        print(annotation("error", promotion.reason, title="ml-gate: promotion"), file=out)
    elif promotion.action in ("promoted", "already", "would_promote"):
        text = (
            f"promotion: {promotion.action} `{promotion.model}` @ `{promotion.alias}` -> "
            f"version {promotion.version} (was {promotion.previous})"
        )
        print_untrusted(text, out)
