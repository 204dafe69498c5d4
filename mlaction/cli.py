"""Door 1, the `ml-gate` command: check, validate, render, comment, init. Owns terminal output.

Every subcommand runs behind the one error boundary (mlaction.errors): expected errors print one
line and exit 2, anything else prints "internal error ... please report it" and exits 2 (the
traceback only with --debug, accepted before or after the subcommand). Exit 1 means one thing:
the gate was evaluated and a rule failed.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from mlaction import __version__
from mlaction.errors import EXIT_ERROR, EXIT_PASS, UsageError, handle, printable

if TYPE_CHECKING:
    from mlaction.engine import GateResult, Settings
    from mlaction.promote import PromotionContext
    from mlaction.trackers.base import Tracker
    from mlaction.waiting import WaitEvent

DEFAULT_CONFIG = ".github/ml-gate.yml"


def build_parser() -> argparse.ArgumentParser:
    # --debug is accepted before and after the subcommand (`ml-gate --debug check`).
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show what was queried and, on an internal error, the traceback",
    )
    parser = argparse.ArgumentParser(
        prog="ml-gate",
        description="Judge an ML run from MLflow or W&B against a YAML gate config.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"ml-gate {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_check(sub, common)
    _add_others(sub, common)
    return parser


def _add_check(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    check = sub.add_parser(
        "check", help="evaluate the gate and print the verdict", parents=[common]
    )
    _config_arg(check)
    check.add_argument(
        "--commit", help="commit to judge (default: PR head sha, $GITHUB_SHA, or git HEAD)"
    )
    check.add_argument("--base-commit", help="base commit for `baseline.select: base_commit`")
    check.add_argument("--run-id", help="judge this run (same as `candidate.select: run_id`)")
    check.add_argument(
        "--wait",
        metavar="DURATION",
        help="wait up to this long (30m, 2h) for the commit's run to appear and finish "
        "(same as `candidate.wait`)",
    )
    check.add_argument("--json", type=Path, metavar="PATH", help="write the JSON report here")
    check.add_argument(
        "--markdown", metavar="PATH", help="write the Markdown comment here (`-` prints it)"
    )
    check.add_argument("--branch", help="branch of the commit (default: the event's, or git's)")
    check.add_argument(
        "--promote",
        action="store_true",
        help="on a pass, move the `promote:` alias to the candidate (branch rules apply)",
    )
    check.add_argument(
        "--dry-run",
        action="store_true",
        help="with --promote: say what would be promoted, change nothing",
    )
    check.add_argument("--quiet", action="store_true", help="print nothing but errors")


def _add_others(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    validate = sub.add_parser(
        "validate", help="check a config file without querying", parents=[common]
    )
    _config_arg(validate)

    render = sub.add_parser("render", help="re-render a JSON report as Markdown", parents=[common])
    render.add_argument("--report", type=Path, required=True, metavar="PATH")
    render.add_argument("--template", type=Path, help="a Jinja2 template (sandboxed)")
    render.add_argument("--output", type=Path, help="write here instead of printing")
    render.add_argument(
        "--comment-id", help="the comment's id for its marker (default: the report's)"
    )

    comment = sub.add_parser(
        "comment",
        help="post a JSON report as the sticky PR comment (fork-PR recipe)",
        parents=[common],
    )
    _config_arg(comment)
    comment.add_argument("--report", type=Path, required=True, metavar="PATH")
    comment.add_argument("--pr", type=int, required=True, metavar="N", help="pull request number")
    comment.add_argument("--repo", help="owner/name (default: $GITHUB_REPOSITORY)")
    comment.add_argument(
        "--author", help="login the comment is posted as (a GitHub App: `<slug>[bot]`)"
    )
    comment.add_argument(
        "--mode",
        choices=["always", "on_failure", "never"],
        default="always",
        help="create a new comment always, only on failure, or never (existing: always updated)",
    )

    init = sub.add_parser("init", help="write a starter config", parents=[common])
    _config_arg(init)
    init.add_argument("--force", action="store_true", help="overwrite an existing file")


def _config_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        "-c",
        type=Path,
        default=Path(DEFAULT_CONFIG),
        metavar="PATH",
        help=f"gate config (default: {DEFAULT_CONFIG})",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = bool(getattr(args, "debug", False))
    if args.command is None:
        parser.print_help()
        return EXIT_ERROR
    handler = {
        "check": cmd_check,
        "validate": cmd_validate,
        "render": cmd_render,
        "comment": cmd_comment,
        "init": cmd_init,
    }[args.command]
    with _debug(debug):
        try:
            return handler(args)
        except (Exception, KeyboardInterrupt) as exc:  # the one boundary
            return handle(exc, sys.stderr, debug=debug).exit_code


@dataclass
class Outcome:
    """What `check` did: its exit code, the result when there was one, the error when not."""

    exit_code: int
    result: GateResult | None = None
    error: BaseException | None = None

    @property
    def report(self) -> dict[str, Any] | None:  # the JSON report, when there is a verdict
        return self.result.to_json() if self.result else None

    @property
    def markdown(self) -> str | None:
        return self.result.markdown if self.result else None


def check(
    settings: Settings,
    *,
    json_path: Path | None = None,
    markdown: str | None = None,
    quiet: bool = False,
    tracker: Tracker | None = None,
    out: IO[str] | None = None,
    err: IO[str] | None = None,
    debug: bool = False,
) -> Outcome:
    """`ml-gate check`: evaluate, print the verdict, then write the requested files.

    A verdict that was computed is printed before any later failure (a --json path in a missing
    folder prints the verdict, then the error, and exits 2).
    """
    from mlaction.engine import evaluate_gate
    from mlaction.report.model import dump_report
    from mlaction.report.terminal import render_terminal

    stdout, stderr = out or sys.stdout, err or sys.stderr
    try:
        result = evaluate_gate(settings, tracker)
    except (Exception, KeyboardInterrupt) as exc:
        return Outcome(handle(exc, stderr, debug=debug).exit_code, error=exc)
    if not quiet:
        print(render_terminal(result.report.to_json()), file=stdout)
    if markdown == "-":
        print("\n" + result.markdown, file=stdout)
    try:
        if json_path is not None:
            dump_report(result.report, json_path)
        if markdown and markdown != "-":
            _write_text(Path(markdown), result.markdown, "--markdown")
    except (Exception, KeyboardInterrupt) as exc:
        return Outcome(handle(exc, stderr, debug=debug).exit_code, result, exc)
    promotion = result.promotion
    if promotion is not None and promotion.action == "failed":
        print(f"ml-gate: promotion failed: {printable(promotion.reason, 4_000)}", file=stderr)
    return Outcome(result.exit_code, result)


def cmd_check(args: argparse.Namespace) -> int:
    from mlaction.engine import Settings
    from mlaction.gitcontext import discover_git

    env = dict(os.environ)
    git = discover_git(env, args.commit, args.base_commit, args.branch, run_id=args.run_id)
    settings = Settings(
        config_path=args.config,
        git=git,
        env=env,
        dry_run=args.dry_run,
        promotion=_promotion(env, git.head_branch) if args.promote else None,
        run_id=args.run_id,
        wait=_wait_flag(args.wait),
        progress=_print_progress,
    )
    return check(
        settings,
        json_path=args.json,
        markdown=args.markdown,
        quiet=args.quiet,
        debug=bool(getattr(args, "debug", False)),
    ).exit_code


def _promotion(env: Mapping[str, str], branch: str | None) -> PromotionContext:
    """--promote: inside a GitHub workflow the event's rules apply (a PR, a fork or a
    PR-triggered workflow_run never promotes); elsewhere it is asked for explicitly."""
    from mlaction.action import promotion_context
    from mlaction.github.runner import GitHubContext
    from mlaction.promote import PromotionContext

    if not env.get("GITHUB_EVENT_NAME"):
        return PromotionContext(None, branch)
    return replace(promotion_context(GitHubContext.from_env(env)), branch=branch)


def _wait_flag(value: str | None) -> float | None:
    from mlaction.config.schema import parse_duration

    try:
        return None if value is None else parse_duration(value)
    except ValueError as exc:
        raise UsageError(f"--wait: {exc}.") from None


def _print_progress(event: WaitEvent) -> None:
    """A wait's progress, one line each on stderr (stdout keeps the verdict)."""
    print(f"ml-gate: {event.text}", file=sys.stderr, flush=True)


def cmd_validate(args: argparse.Namespace) -> int:
    from mlaction.config import load_config

    loaded = load_config(args.config, lenient=True)
    for warning in loaded.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    gate = loaded.gate
    rules = sum(
        (r.min is not None) + (r.max is not None) + (r.max_regression is not None)
        for r in gate.metrics.values()
    )
    print(
        f"{loaded.path}: OK — {gate.tracker.type} experiment `{gate.tracker.experiment}`, "
        f"{len(gate.metrics)} metric(s) with {rules} rule(s), baseline `{gate.baseline.select}`, "
        f"comment id `{loaded.comment_id}`."
    )
    return EXIT_PASS


def cmd_render(args: argparse.Namespace) -> int:
    from mlaction.config.load import clean_comment_id
    from mlaction.engine import comment_marker
    from mlaction.report.markdown import render_markdown
    from mlaction.report.model import load_report

    saved = load_report(args.report)
    # Printing only: the report's own id may name the marker, reduced to safe characters.
    raw_id = args.comment_id or saved.comment_id
    marker = comment_marker(clean_comment_id(raw_id)) if raw_id else None
    text = render_markdown(saved, marker=marker, user_template=args.template)
    if args.output:
        _write_text(args.output, text, "--output")
    else:
        sys.stdout.write(text)
    return EXIT_PASS


def cmd_comment(args: argparse.Namespace) -> int:
    """Post a saved report. Its purpose is posting: failing to post is exit 2."""
    from mlaction.action import trusted_comment_id
    from mlaction.engine import comment_marker
    from mlaction.gitcontext import github_token
    from mlaction.github.client import GitHubClient
    from mlaction.github.publish import should_create
    from mlaction.github.runner import GitHubContext
    from mlaction.report.markdown import render_markdown
    from mlaction.report.model import load_report

    env = os.environ
    ctx = GitHubContext.from_env(env)
    repository = args.repo or ctx.repository
    if not repository:
        raise UsageError("no repository: pass --repo owner/name or set GITHUB_REPOSITORY.")
    token = github_token(env) or ""
    saved = load_report(args.report)  # untrusted: validated, and never the source of the marker
    marker = comment_marker(trusted_comment_id(args.config, Path.cwd(), env))
    client = GitHubClient(token, api_url=ctx.api_url, repository=repository, login=args.author)
    result = client.upsert_comment(
        args.pr,
        marker,
        render_markdown(saved, marker=marker),
        create=should_create(args.mode, saved.verdict),
    )
    print(f"PR #{args.pr}: comment {result.action} {result.url or ''}".rstrip())
    return EXIT_PASS


def cmd_init(args: argparse.Namespace) -> int:
    from mlaction.config.starter import STARTER

    path: Path = args.config
    if path.exists() and not args.force:
        raise UsageError(f"{path} already exists.", hint="Pass --force to overwrite it.")
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_text(path, STARTER, "--config")
    print(f"wrote {path}; edit the experiment and metrics, then run `ml-gate validate`.")
    return EXIT_PASS


def _debug(enabled: bool) -> AbstractContextManager[None]:
    """With --debug, what was queried and retried goes to stderr."""
    from mlaction.debuglog import debug_lines

    return (
        debug_lines(lambda line: print(f"ml-gate debug: {line}", file=sys.stderr))
        if enabled
        else nullcontext()
    )


def _write_text(path: Path, text: str, flag: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(
            f"cannot write {flag} {path}: {exc.strerror}.",
            hint="Pass a file path in an existing, writable folder.",
        ) from None


if __name__ == "__main__":
    sys.exit(main())
