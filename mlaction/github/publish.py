"""Publish a report on GitHub: step outputs, job summary, annotations, the sticky PR comment.

Outputs and the summary are written first, so GitHub refusing the comment never hides the verdict.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

from mlaction.errors import GitHubError
from mlaction.github.client import CommentResult, GitHubClient
from mlaction.github.runner import annotation, append_summary, write_outputs

CommentMode = Literal["always", "on_failure", "never"]


@dataclass(frozen=True)
class Destination:
    """Where a report goes on GitHub (from the runner's environment)."""

    output_path: str | None = None
    summary_path: str | None = None
    pr_number: int | None = None
    dry_run: bool = False


def outputs_for(report: Mapping[str, Any], report_path: str | None) -> dict[str, str]:
    verdict = str(report.get("verdict", "error"))
    candidate = report.get("candidate") or {}
    baseline = report.get("baseline") or {}
    promotion = report.get("promotion") or {}
    return {
        "passed": "true" if verdict in ("pass", "warn") else "false",
        "verdict": verdict,
        "candidate-run-id": str(candidate.get("id") or ""),
        "baseline-run-id": str(baseline.get("id") or ""),
        "failed-checks": json.dumps(list(report.get("failed_checks", []))),
        "report": report_path or "",
        "promoted": "true" if promotion.get("action") == "promoted" else "false",
        "promoted-version": str(promotion.get("version") or "")
        if promotion.get("action") in ("promoted", "already")
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
        "promoted": "false",
        "promoted-version": "",
    }


def write_step_outputs(dest: Destination, outputs: Mapping[str, str]) -> None:
    if dest.output_path:
        write_outputs(dest.output_path, outputs)


def write_summary(dest: Destination, markdown: str) -> None:
    if dest.summary_path:
        append_summary(dest.summary_path, markdown)


def annotate(report: Mapping[str, Any], stream: IO[str]) -> None:
    """One `::error` per failed check, one `::warning` per warning."""
    for check in report.get("checks", []):
        status = check.get("status")
        if status in ("fail", "warn"):
            level: Literal["error", "warning"] = "error" if status == "fail" else "warning"
            title = f"ml-gate: {check.get('name')}"
            print(annotation(level, str(check.get("message", "")), title=title), file=stream)


def should_create(mode: CommentMode, verdict: str) -> bool:
    """Whether a new comment may be created; an existing one is always kept up to date."""
    if mode == "always":
        return True
    if mode == "on_failure":
        return verdict in ("fail", "error")
    return False


def post_comment(
    client: GitHubClient, pr: int, marker: str, body: str, *, create: bool
) -> CommentResult:
    return client.upsert_comment(pr, marker, body, create=create)


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


def publish_skip(dest: Destination, reason: str, stream: IO[str]) -> int:
    """Nothing to judge (a push that deleted a branch or tag): say so everywhere, exit 0.

    The outputs say `verdict=skip` and `passed=false`: nothing passed, nothing failed.
    """
    write_step_outputs(dest, {**error_outputs(), "verdict": "skip", "comment-url": ""})
    write_summary(dest, f"## ⏭️ ml-gate: skipped\n\n{reason}\n")
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
