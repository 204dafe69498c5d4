"""run(settings, tracker, ...) -> exit code. The CLI and the Action entrypoint both call it."""

from __future__ import annotations

import os
import sys
import threading
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any, TypeVar

from mlaction.config import DEFAULT_CONFIG_PATH, LoadedConfig, load_config
from mlaction.errors import (
    EXIT_ERROR,
    EXIT_FAIL,
    EXIT_PASS,
    GitHubError,
    MlGateError,
    TrackerError,
    UsageError,
)
from mlaction.gate import evaluate
from mlaction.github import GitHubClient, GitHubContext, annotation, mask, read_input
from mlaction.publish import (
    CommentMode,
    Destination,
    annotate,
    comment_failure_warning,
    error_outputs,
    outputs_for,
    post_comment,
    relative_to,
    report_file_name,
    should_create,
    write_step_outputs,
    write_summary,
)
from mlaction.report import (
    build_report,
    dump_report,
    load_report,
    render_markdown,
    render_terminal,
)
from mlaction.select import GitContext, select_runs
from mlaction.trackers import build_tracker
from mlaction.trackers.base import Tracker

_T = TypeVar("_T")


@dataclass
class Settings:
    config_path: Path
    git: GitContext = field(default_factory=GitContext)
    json_path: Path | None = None
    markdown_path: Path | None = None
    markdown_stdout: bool = False
    quiet: bool = False
    debug: bool = False
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    now: datetime | None = None
    run_url: str | None = None


@dataclass
class Outcome:
    exit_code: int
    report: dict[str, Any] | None = None
    markdown: str | None = None
    config: LoadedConfig | None = None
    error: MlGateError | None = None


def evaluate_gate(
    settings: Settings, tracker: Tracker | None = None
) -> tuple[LoadedConfig, dict[str, Any], str]:
    """Load the config, query the tracker, judge, build the report and its Markdown."""
    loaded = load_config(settings.config_path, settings.env)
    gate = loaded.gate
    tracker = tracker or build_tracker(gate.tracker)
    # Each request is bounded by the timeout and few retries; the whole tracker phase also has
    # a hard deadline (45 s with the default 30 s timeout), so a hung tracker never hangs a job.
    deadline = gate.tracker.timeout + min(15.0, gate.tracker.timeout / 2 + 5)
    selection = with_deadline(
        lambda: select_runs(gate, tracker, settings.git), deadline, tracker.describe()
    )
    verdict = evaluate(gate, selection, settings.now or datetime.now(timezone.utc))
    meta = {
        "title": gate.comment.title,
        "config": loaded.path.as_posix(),
        "comment_id": loaded.comment_id,
        "marker": f"<!-- ml-gate:{loaded.comment_id} -->",
        "run_url": settings.run_url,
        "history_branch": gate.baseline.branch,
        "tracker": gate.tracker.type,
        "experiment": gate.tracker.experiment,
    }
    report = build_report(verdict, meta)
    template = None
    if gate.comment.template:
        template = (loaded.path.parent / gate.comment.template).resolve()
    markdown = render_markdown(report, user_template=template)
    return loaded, report, markdown


def run(settings: Settings, tracker: Tracker | None = None, out: IO[str] | None = None) -> Outcome:
    """`ml-gate check`: judge, print, write the requested files; errors become exit code 2."""
    stream = out or sys.stdout
    try:
        loaded, report, markdown = evaluate_gate(settings, tracker)
    except MlGateError as exc:
        report_error(exc, settings.debug)
        return Outcome(EXIT_ERROR, error=exc)
    if settings.json_path:
        dump_report(report, settings.json_path)
    if settings.markdown_path:
        Path(settings.markdown_path).write_text(markdown, encoding="utf-8")
    if not settings.quiet:
        print(render_terminal(report), file=stream)
    if settings.markdown_stdout:
        print("\n" + markdown, file=stream)
    return Outcome(exit_code_for(report["verdict"]), report, markdown, loaded)


def exit_code_for(verdict: str) -> int:
    return {"pass": EXIT_PASS, "warn": EXIT_PASS, "fail": EXIT_FAIL}.get(verdict, EXIT_ERROR)


def report_error(exc: BaseException, debug: bool, stream: IO[str] | None = None) -> None:
    """The one place an error becomes a message for the user (traceback only with --debug)."""
    stream = stream or sys.stderr
    if debug:
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=stream)
    title = getattr(exc, "title", "error")
    print(f"ml-gate: {title}: {exc}", file=stream)


def with_deadline(fn: Callable[[], _T], seconds: float, where: str) -> _T:
    """Run `fn` with a hard deadline: a hung tracker is an error, never a hang."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=target, name="ml-gate-tracker", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise TrackerError(
            f"the tracker did not answer within {seconds:g} s ({where}).",
            hint="Check that the server is up and reachable from this runner; raise "
            "`tracker.timeout` if it is only slow.",
        )
    if "error" in box:
        raise box["error"]
    result: _T = box["value"]
    return result


# --- the GitHub Action -----------------------------------------------------------------------

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
    if token:
        mask(token, out)
    dest = Destination(
        output_path=env.get("GITHUB_OUTPUT"), summary_path=env.get("GITHUB_STEP_SUMMARY")
    )
    try:
        ctx = GitHubContext.from_env(env)
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
            git=GitContext(ctx.sha, ctx.base_sha, ctx.base_ref, ctx.head_ref),
            env=env,
            run_url=ctx.run_url,
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
    print(render_terminal(report), file=out)
    annotate(report, out)
    verdict = str(report["verdict"])
    comment_mode: CommentMode = mode or loaded.gate.comment.mode
    url = _comment(dest, token, ctx, client, report, markdown, comment_mode, out)
    write_step_outputs(dest, {"comment-url": url or ""})
    return exit_code_for(verdict)


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
        raise UsageError(f"report {path} has no comment marker; produce it with ml-gate ≥ 0.1.")
    client = client or _client(token, ctx)
    verdict = str(report["verdict"])
    create = should_create(mode or "always", verdict)
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
