"""The GitHub Action: inputs from INPUT_*, context from GITHUB_*, results to GitHub.

Order matters: the JSON report, the step outputs and the job summary are written before the PR
comment is posted, so GitHub refusing the comment never hides the verdict.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

from mlaction.config import DEFAULT_CONFIG_PATH
from mlaction.engine import Settings, evaluate_gate, exit_code_for
from mlaction.errors import EXIT_ERROR, EXIT_PASS, GitHubError, MlGateError, UsageError
from mlaction.gitcontext import Ancestors, GitContext, first_of, git_ancestors
from mlaction.github.client import GitHubClient
from mlaction.github.events import resolve as resolve_event
from mlaction.github.publish import (
    CommentMode,
    Destination,
    annotate,
    comment_failure_warning,
    error_outputs,
    outputs_for,
    post_comment,
    publish_skip,
    relative_to,
    report_file_name,
    should_create,
    write_step_outputs,
    write_summary,
)
from mlaction.github.runner import GitHubContext, annotation, mask, read_input
from mlaction.report.markdown import render_markdown
from mlaction.report.model import dump_report, load_report
from mlaction.report.terminal import render_terminal
from mlaction.trackers.base import Tracker

SECRET_VARIABLES = ("MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_PASSWORD", "WANDB_API_KEY")
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}


def run_action(
    env: Mapping[str, str],
    *,
    tracker: Tracker | None = None,
    client: GitHubClient | None = None,
    stream: IO[str] | None = None,
) -> int:
    """The Docker action: inputs from INPUT_*, context from GITHUB_*; returns the exit code."""
    out = stream or sys.stdout
    token = read_input(env, "github-token") or env.get("GITHUB_TOKEN") or ""
    for secret in (token, *(env.get(name, "") for name in SECRET_VARIABLES)):
        if secret:
            mask(secret, out)
    dest = Destination(
        output_path=env.get("GITHUB_OUTPUT"), summary_path=env.get("GITHUB_STEP_SUMMARY")
    )
    try:
        ctx = GitHubContext.from_env(env)
        author = read_input(env, "comment-author")
        if client is None and token and ctx.repository:
            client = GitHubClient(
                token, api_url=ctx.api_url, repository=ctx.repository, login=author
            )
        if ctx.skip:
            return publish_skip(dest, ctx.skip, out)
        ctx = resolve_event(ctx, client)
        dry_run = _flag(read_input(env, "dry-run"), "dry-run")
        mode = _comment_mode(read_input(env, "comment"))
        pr_input = read_input(env, "pr-number")
        pr = _pr_number(pr_input) if pr_input else ctx.pr_number
        dest = Destination(dest.output_path, dest.summary_path, pr, dry_run)
        workspace = Path(ctx.workspace or env.get("GITHUB_WORKSPACE") or ".")
        report_input = read_input(env, "report")
        if report_input:
            return _post_saved_report(workspace / report_input, dest, token, ctx, client, mode, out)
        settings = Settings(
            config_path=workspace / (read_input(env, "config") or DEFAULT_CONFIG_PATH),
            git=GitContext(
                ctx.sha,
                ctx.base_sha,
                ctx.base_ref,
                ctx.head_ref,
                ancestors=_ancestors(workspace, token, ctx, client),
            ),
            env=env,
            run_url=ctx.run_url,
            event_name=ctx.event_name,
            root=workspace,
            dry_run=dry_run,
            promote=True,
            labels=ctx.labels if pr is not None else (),
            label_author=_label_author(token, ctx, client, pr),
        )
        loaded, report, markdown = evaluate_gate(settings, tracker)
    except MlGateError as exc:
        _publish_error(exc, dest, out)
        return EXIT_ERROR

    name = report_file_name(loaded.comment_id, DEFAULT_CONFIG_PATH)
    report_path = workspace / name
    dump_report(report, report_path)
    write_step_outputs(dest, outputs_for(report, relative_to(report_path, workspace)))
    write_summary(dest, render_markdown(report, template="summary.md.j2", summary=True))
    # Tracker text (run names, messages) is printed between stop-commands markers, so a run
    # named `::set-env ...` is shown, never obeyed by the runner.
    pause = uuid.uuid4().hex
    print(f"::stop-commands::{pause}\n{render_terminal(report)}\n::{pause}::", file=out)
    annotate(report, out)
    _announce_promotion(report, out)
    comment_mode: CommentMode = mode or loaded.gate.comment.mode
    url = _comment(dest, token, ctx, client, report, markdown, comment_mode, out)
    write_step_outputs(dest, {"comment-url": url or ""})
    return exit_code_for(report)


def _announce_promotion(report: Mapping[str, Any], out: IO[str]) -> None:
    promotion = report.get("promotion") or {}
    action = promotion.get("action")
    if action == "failed":
        print(
            annotation("error", str(promotion.get("reason")), title="ml-gate: promotion"), file=out
        )
    elif action in ("promoted", "already", "would_promote"):
        print(
            f"promotion: {action} `{promotion.get('model')}` @ `{promotion.get('alias')}` -> "
            f"version {promotion.get('version')} (was {promotion.get('previous')})",
            file=out,
        )


def _label_author(
    token: str, ctx: GitHubContext, client: GitHubClient | None, pr: int | None
) -> Callable[[str], str | None]:
    """Who added a label: the `labeled` event's sender, else the PR's issue events."""

    def author(label: str) -> str | None:
        if ctx.labeled and ctx.labeled[0] == label and ctx.labeled[1]:
            return ctx.labeled[1]
        if pr is None:
            return None
        try:
            return (client or _client(token, ctx)).label_added_by(pr, label)
        except GitHubError:
            return None

    return author


def _ancestors(
    workspace: Path, token: str, ctx: GitHubContext, client: GitHubClient | None
) -> Ancestors:
    """The checked-out history first (no API call), else the GitHub commits API."""

    def from_api(sha: str, count: int) -> list[str]:
        if not token or not ctx.repository:
            return []
        return (client or _client(token, ctx)).ancestors(sha, count)

    return first_of([git_ancestors(workspace), from_api])


def _comment(
    dest: Destination,
    token: str,
    ctx: GitHubContext,
    client: GitHubClient | None,
    report: Mapping[str, Any],
    markdown: str,
    mode: CommentMode,
    out: IO[str],
) -> str | None:
    """Upsert the PR comment; a failure is one warning, never a change of verdict."""
    if dest.dry_run:
        print("dry-run: the PR comment was not posted.", file=out)
        return None
    if dest.pr_number is None:
        print(f"No pull request in this `{ctx.event_name}` event: no PR comment.", file=out)
        return None
    try:
        client = client or _client(token, ctx)
        result = post_comment(
            client,
            dest.pr_number,
            str(report["marker"]),
            markdown,
            create=should_create(mode, str(report["verdict"])),
        )
    except GitHubError as exc:
        print(
            annotation("warning", comment_failure_warning(exc), title="ml-gate: comment"), file=out
        )
        return None
    print(f"PR comment {result.action}: {result.url or '(none)'}", file=out)
    for warning in result.warnings:
        print(annotation("warning", warning, title="ml-gate: comment"), file=out)
    return result.url


def _post_saved_report(
    path: Path,
    dest: Destination,
    token: str,
    ctx: GitHubContext,
    client: GitHubClient | None,
    mode: CommentMode | None,
    out: IO[str],
) -> int:
    """The second workflow of the fork recipe: post a report made by an earlier dry run."""
    report = load_report(path)
    markdown = render_markdown(report)
    if dest.pr_number is None:
        raise UsageError(
            "`report` is set but no pull request is known.",
            hint="Pass the PR number with the `pr-number` input (docs/fork-prs.md).",
        )
    if not report.get("marker"):
        raise UsageError(
            f"report {path} has no comment marker (`marker` field).",
            hint="Pass the JSON report written by `ml-gate check --json PATH` or by the "
            "action (its `report` output); the marker identifies the comment to update.",
        )
    client = client or _client(token, ctx)
    create = should_create(mode or "always", str(report["verdict"]))
    result = post_comment(client, dest.pr_number, str(report["marker"]), markdown, create=create)
    write_step_outputs(dest, {**outputs_for(report, str(path)), "comment-url": result.url or ""})
    print(f"PR comment {result.action}: {result.url or '(none)'}", file=out)
    return EXIT_PASS


def _publish_error(exc: MlGateError, dest: Destination, out: IO[str]) -> None:
    """An error still produces outputs, a summary and one annotation."""
    write_step_outputs(dest, error_outputs())
    fence = "````"  # longer than any ``` an error message could contain
    text = str(exc).replace(fence, "'" * 4)
    write_summary(dest, f"## 💥 ml-gate: {exc.title}\n\n{fence}text\n{text}\n{fence}\n")
    print(annotation("error", str(exc), title=f"ml-gate: {exc.title}"), file=out)


def _client(token: str, ctx: GitHubContext) -> GitHubClient:
    if not ctx.repository:
        raise GitHubError("GITHUB_REPOSITORY is not set: cannot post the PR comment.")
    return GitHubClient(token, api_url=ctx.api_url, repository=ctx.repository)


def _flag(value: str | None, name: str) -> bool:
    text = (value or "").strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise UsageError(f"input `{name}` must be true or false, got {value!r}.")


def _comment_mode(value: str | None) -> CommentMode | None:
    if not value:
        return None
    if value not in ("always", "on_failure", "never"):
        raise UsageError(
            f"input `comment` must be always, on_failure or never, got {value!r}.",
            hint="Leave it empty to use the config's `comment.mode`.",
        )
    mode: CommentMode = value  # type: ignore[assignment]
    return mode


def _pr_number(value: str) -> int:
    if not value.strip().isdigit():
        raise UsageError(f"input `pr-number` must be a pull request number, got {value!r}.")
    return int(value)
