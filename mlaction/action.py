"""Door 2, the Docker Action: ActionInputs.from_env -> engine -> GitHub.

Order matters: the JSON report, the step outputs and the job summary are written before the PR
comment is posted, so GitHub refusing the comment never hides the verdict. Every failure,
expected or not, still writes `verdict=error` outputs, a job summary and one `::error`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import unquote, urlsplit

from mlaction.config import DEFAULT_CONFIG_PATH, load_config
from mlaction.config.load import comment_id
from mlaction.debuglog import debug_lines
from mlaction.engine import GateResult, PromotionContext, Settings, comment_marker, evaluate_gate
from mlaction.errors import EXIT_PASS, ConfigError, GitHubError, UsageError, classify, redact
from mlaction.gitcontext import GitContext, ancestry
from mlaction.github.checks import CheckRun, start_check_run
from mlaction.github.client import GitHubClient
from mlaction.github.events import resolve as resolve_event
from mlaction.github.publish import (
    StepFiles,
    annotate,
    announce_promotion,
    comment_failure_warning,
    error_outputs,
    outputs_for,
    print_progress,
    print_untrusted,
    publish_skip,
    relative_to,
    report_file_name,
    should_create,
)
from mlaction.github.runner import (
    CommentMode,
    GitHubContext,
    annotation,
    escape_data,
    input_comment_mode,
    input_flag,
    input_pr_number,
    mask,
    read_input,
)
from mlaction.report.markdown import render_markdown
from mlaction.report.model import Report, dump_report, load_report
from mlaction.report.terminal import render_terminal
from mlaction.trackers.base import Tracker

SECRET_VARIABLES = (
    "MLFLOW_TRACKING_TOKEN",
    "MLFLOW_TRACKING_PASSWORD",
    "WANDB_API_KEY",
    "DATABRICKS_TOKEN",
)
URI_VARIABLES = ("MLFLOW_TRACKING_URI", "WANDB_BASE_URL", "MLFLOW_REGISTRY_URI")


@dataclass(frozen=True)
class ActionInputs:
    """The action's inputs, each cleaned once (the token hidden from repr)."""

    config: str = DEFAULT_CONFIG_PATH
    token: str = field(default="", repr=False)
    comment: CommentMode | None = None
    dry_run: bool = False
    pr_number: int | None = None
    report: str | None = None
    comment_author: str | None = None
    run_id: str | None = None
    check_run: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ActionInputs:
        return cls(
            config=read_input(env, "config") or DEFAULT_CONFIG_PATH,
            token=read_input(env, "github-token") or env.get("GITHUB_TOKEN") or "",
            comment=input_comment_mode(read_input(env, "comment")),
            dry_run=input_flag(read_input(env, "dry-run"), "dry-run"),
            pr_number=input_pr_number(read_input(env, "pr-number")),
            report=read_input(env, "report"),
            comment_author=read_input(env, "comment-author"),
            run_id=read_input(env, "run-id"),
            check_run=input_flag(read_input(env, "check-run"), "check-run"),
        )


def main() -> int:
    """The entrypoint: the runner's environment in, the exit code out."""
    return run_action(os.environ)


def run_action(
    env: Mapping[str, str],
    *,
    tracker: Tracker | None = None,
    client: GitHubClient | None = None,
    stream: IO[str] | None = None,
) -> int:
    """The whole Action behind the one error boundary; returns the exit code."""
    out = stream or sys.stdout
    files = StepFiles(env.get("GITHUB_OUTPUT"), env.get("GITHUB_STEP_SUMMARY"))
    with debug_lines(lambda line: print(f"::debug::{escape_data(line)}", file=out)):
        try:
            for secret in secrets_of(env):
                mask(secret, out)
            inputs = ActionInputs.from_env(env)
            return _run(inputs, GitHubContext.from_env(env), env, files, tracker, client, out)
        except BaseException as exc:  # the boundary: every failure ends in outputs + summary
            if isinstance(exc, SystemExit):
                raise
            return _publish_error(exc, files, out, debug=env.get("RUNNER_DEBUG") == "1")


def secrets_of(env: Mapping[str, str]) -> list[str]:
    """What the runner must hide: the token, tracker credentials, and the user information
    (and its password) of a tracker URI such as `http://user:pass@host`."""
    found = [read_input(env, "github-token"), *map(env.get, SECRET_VARIABLES)]
    for name in URI_VARIABLES:
        try:
            parts = urlsplit(env.get(name) or "")
        except ValueError:  # not a URL: nothing in it is a credential we can find
            continue
        userinfo = parts.netloc.rpartition("@")[0]
        if userinfo:
            found += [userinfo, parts.password, unquote(parts.password or "")]
    return list(dict.fromkeys(s for s in found if s))


def _run(
    inputs: ActionInputs,
    ctx: GitHubContext,
    env: Mapping[str, str],
    files: StepFiles,
    tracker: Tracker | None,
    client: GitHubClient | None,
    out: IO[str],
) -> int:
    workspace = Path(ctx.workspace or env.get("GITHUB_WORKSPACE") or ".")
    github = _Lazy(inputs, ctx, client)
    if ctx.skip:
        return publish_skip(files, ctx.skip, out)
    if ctx.lookup is not None:  # the payload alone does not say which commit or PR
        ctx = resolve_event(ctx, github.client() if github.available else None)
    pr = inputs.pr_number if inputs.pr_number is not None else ctx.pr_number
    if inputs.report:
        return _post_saved_report(inputs, workspace, env, pr, github, files, out)
    settings = Settings(
        config_path=workspace / inputs.config,
        git=GitContext(
            ctx.sha,
            ctx.base_sha,
            ctx.base_ref,
            ctx.head_ref,
            ancestors=ancestry(workspace, github.ancestors),
        ),
        env=env,
        root=workspace,
        run_url=ctx.run_url,
        labels=ctx.labels if pr is not None else (),
        label_author=_label_author(ctx, github, pr),
        promotion=promotion_context(ctx),
        dry_run=inputs.dry_run,
        run_id=inputs.run_id,
        progress=lambda event: print_progress(event, out),
    )
    check = _start_check_run(inputs, ctx, workspace, env, github, out)
    try:
        result = evaluate_gate(settings, tracker)
    except Exception as exc:  # outputs and summary first, then the check run's failure
        if check is None:
            raise
        code = _publish_error(exc, files, out, debug=env.get("RUNNER_DEBUG") == "1")
        check.fail(classify(exc).text)
        return code
    _publish(result, inputs, ctx, workspace, pr, github, files, out)
    if check is not None:
        summary = render_markdown(result.report, template="summary.md.j2", summary=True)
        path = relative_to(result.config.path, workspace)
        check.complete(result.report, summary, path, result.config.lines)
    return result.exit_code


def promotion_context(ctx: GitHubContext) -> PromotionContext:
    """What promotion's rules need to know about where the judged commit came from."""
    return PromotionContext(
        ctx.event_name,
        ctx.head_ref,
        tag=ctx.tag,
        repository=ctx.repository,
        head_repository=ctx.head_repository,
        workflow_run_event=ctx.workflow_run_event,
        is_fork=ctx.is_fork,
    )


def _start_check_run(
    inputs: ActionInputs, ctx: GitHubContext, workspace: Path, env: Mapping[str, str],
    github: _Lazy, out: IO[str],
) -> CheckRun | None:  # fmt: skip
    """`check-run: true` (not in a dry run): `ml-gate: <comment id>` on the judged commit."""
    if not inputs.check_run or inputs.dry_run:
        return None
    name = f"ml-gate: {trusted_comment_id(workspace / inputs.config, workspace, env)}"
    client = github.client if github.available else None
    return start_check_run(client, name, ctx.sha, out, details_url=ctx.run_url)


def _publish(
    result: GateResult,
    inputs: ActionInputs,
    ctx: GitHubContext,
    workspace: Path,
    pr: int | None,
    github: _Lazy,
    files: StepFiles,
    out: IO[str],
) -> None:
    report = result.report
    report_path = workspace / report_file_name(result.config.comment_id, DEFAULT_CONFIG_PATH)
    dump_report(report, report_path)
    files.outputs(outputs_for(report, relative_to(report_path, workspace)))
    files.summary(render_markdown(report, template="summary.md.j2", summary=True))
    print_untrusted(render_terminal(report.to_json()), out)
    annotate(report, out)
    announce_promotion(report, out)
    mode: CommentMode = inputs.comment or result.config.gate.comment.mode
    url = None
    if inputs.dry_run:
        print("dry-run: the PR comment was not posted.", file=out)
    elif pr is None:
        print(f"No pull request in this `{ctx.event_name}` event: no PR comment.", file=out)
    else:
        url = _comment(github, pr, result.marker, result.markdown, report, mode, out)
    files.outputs({"comment-url": url or ""})


def _comment(
    github: _Lazy,
    pr: int,
    marker: str,
    markdown: str,
    report: Report,
    mode: CommentMode,
    out: IO[str],
) -> str | None:
    """Upsert the PR comment; a GitHub refusal is one warning, never a change of verdict."""
    try:
        result = github.client().upsert_comment(
            pr, marker, markdown, create=should_create(mode, report.verdict)
        )
    except GitHubError as exc:
        warning = comment_failure_warning(exc)
        print(annotation("warning", warning, title="ml-gate: comment"), file=out)
        return None
    print(f"PR comment {result.action}: {result.url or '(none)'}", file=out)
    for warning in result.warnings:
        print(annotation("warning", warning, title="ml-gate: comment"), file=out)
    return result.url


def _post_saved_report(
    inputs: ActionInputs,
    workspace: Path,
    env: Mapping[str, str],
    pr: int | None,
    github: _Lazy,
    files: StepFiles,
    out: IO[str],
) -> int:
    """The fork recipe's second workflow: post a report an earlier dry run saved.

    The report is untrusted (the workflow that made it ran the fork's code): it is validated
    and escaped like tracker text, and the comment's identity (marker) comes from this
    workflow's own config, never from the report.
    """
    if pr is None:
        raise UsageError(
            "`report` is set but no pull request is known.",
            hint="Pass the PR number with the `pr-number` input (docs/fork-prs.md).",
        )
    report = load_report(workspace / (inputs.report or ""))
    marker = comment_marker(trusted_comment_id(workspace / inputs.config, workspace, env))
    markdown = render_markdown(report, marker=marker)
    create = should_create(inputs.comment or "always", report.verdict)
    result = github.client().upsert_comment(pr, marker, markdown, create=create)
    files.outputs({**outputs_for(report, inputs.report), "comment-url": result.url or ""})
    print(f"PR comment {result.action}: {result.url or '(none)'}", file=out)
    return EXIT_PASS


def trusted_comment_id(config_path: Path, root: Path, env: Mapping[str, str]) -> str:
    """The comment id of the gate config at `config_path` (the base branch's checkout), or of
    its path when the file is not there: the same id the evaluating workflow used."""
    try:
        explicit = load_config(config_path, env).gate.comment.id
    except ConfigError:
        # Not there, or it needs variables only the evaluating workflow has: the path names it.
        explicit = None
    return comment_id(config_path, root, explicit)


def _publish_error(exc: BaseException, files: StepFiles, out: IO[str], *, debug: bool) -> int:
    """An error still produces outputs, a summary and one annotation."""
    failure = classify(exc)
    if debug and not failure.expected:
        import traceback

        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        print_untrusted(redact(tb), out)
    try:
        files.outputs(error_outputs())
        fence = "````"  # longer than any ``` an error message could contain
        text = failure.text.replace(fence, "'" * 4)
        files.summary(f"## 💥 ml-gate: {failure.title}\n\n{fence}text\n{text}\n{fence}\n")
    except OSError as write_error:  # the runner's files are gone: still say what happened
        print(f"ml-gate: cannot write step outputs: {write_error}", file=out)
    print(annotation("error", failure.text, title=f"ml-gate: {failure.title}"), file=out)
    return failure.exit_code


class _Lazy:
    """The GitHub client, made on first use (many runs never need one)."""

    def __init__(
        self, inputs: ActionInputs, ctx: GitHubContext, client: GitHubClient | None
    ) -> None:
        self._inputs, self._ctx, self._client = inputs, ctx, client

    def client(self) -> GitHubClient:
        if self._client is None:
            if not self._ctx.repository:
                raise GitHubError("GITHUB_REPOSITORY is not set: cannot talk to GitHub.")
            self._client = GitHubClient(
                self._inputs.token,
                api_url=self._ctx.api_url,
                repository=self._ctx.repository,
                login=self._inputs.comment_author,
            )
        return self._client

    @property
    def available(self) -> bool:
        """Whether there is a client, or a token and a repository to make one."""
        return self._client is not None or bool(self._inputs.token and self._ctx.repository)

    def ancestors(self, sha: str, count: int) -> list[str]:
        return self.client().ancestors(sha, count) if self.available else []


def _label_author(ctx: GitHubContext, github: _Lazy, pr: int | None) -> Callable[[str], str | None]:
    """Who added a label: the `labeled` event's sender, else the PR's issue events."""

    def author(label: str) -> str | None:
        if ctx.labeled and ctx.labeled[0] == label and ctx.labeled[1]:
            return ctx.labeled[1]
        if pr is None:
            return None
        try:
            return github.client().label_added_by(pr, label)
        except GitHubError:
            return None

    return author
