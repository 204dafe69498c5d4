"""The `ml-gate` command: check, validate, render, init."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from mlaction import __version__
from mlaction.errors import EXIT_ERROR, EXIT_PASS, MlGateError, UsageError

STARTER = """\
# ml-gate: the quality gate for this repository's model.
# Reference: https://github.com/ml-gate/ml-gate/blob/main/docs/configuration.md
tracker:
  type: mlflow                  # mlflow | wandb
  uri: ${MLFLOW_TRACKING_URI}
  experiment: my-experiment     # W&B: entity/project
candidate:
  select: commit                # the run tagged with this commit
baseline:
  select: best                  # best | base_commit | latest | run_id | alias | none
  branch: main
metrics:
  accuracy: {min: 0.90, max_regression: 0.02}
  # val_loss: {goal: minimize, max_regression: 5%}
run:
  max_age: 7d
comment:
  mode: always
on_failure: fail
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ml-gate",
        description="Judge an ML run from MLflow or W&B against a YAML gate config.",
    )
    parser.add_argument("--version", action="version", version=f"ml-gate {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    check = sub.add_parser("check", help="evaluate the gate and print the verdict")
    _config_arg(check)
    check.add_argument(
        "--commit", help="commit to judge (default: PR head sha, $GITHUB_SHA, or git HEAD)"
    )
    check.add_argument("--base-commit", help="base commit for `baseline.select: base_commit`")
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
    check.add_argument("--debug", action="store_true", help="show tracebacks")

    validate = sub.add_parser("validate", help="check a config file without querying")
    _config_arg(validate)
    validate.add_argument("--debug", action="store_true", help="show tracebacks")

    render = sub.add_parser("render", help="re-render a JSON report as Markdown")
    render.add_argument("--report", type=Path, required=True, metavar="PATH")
    render.add_argument("--template", type=Path, help="a Jinja2 template (sandboxed)")
    render.add_argument("--output", type=Path, help="write here instead of printing")
    render.add_argument("--debug", action="store_true", help="show tracebacks")

    comment = sub.add_parser(
        "comment", help="post a JSON report as the sticky PR comment (fork-PR recipe)"
    )
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
    comment.add_argument("--debug", action="store_true", help="show tracebacks")

    init = sub.add_parser("init", help="write a starter config")
    _config_arg(init)
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    return parser


def _config_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        "-c",
        type=Path,
        default=None,
        metavar="PATH",
        help="gate config (default: .github/ml-gate.yml)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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
    try:
        return handler(args)
    except MlGateError as exc:
        from mlaction.engine import report_error

        report_error(exc, getattr(args, "debug", False))
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


def _config_path(args: argparse.Namespace) -> Path:
    from mlaction.config import DEFAULT_CONFIG_PATH

    path: Path = args.config or Path(os.environ.get("INPUT_CONFIG") or DEFAULT_CONFIG_PATH)
    return path


def cmd_check(args: argparse.Namespace) -> int:
    from mlaction.engine import Settings, run
    from mlaction.gitcontext import GitContext

    env = dict(os.environ)
    commit, base, base_branch, branch = discover_commits(env)
    git = GitContext(
        commit=args.commit or commit,
        base_commit=args.base_commit or base,
        base_branch=base_branch,
        head_branch=args.branch or branch,
        ancestors=_ancestors(env),
    )
    to_stdout = args.markdown == "-"
    settings = Settings(
        config_path=_config_path(args),
        git=git,
        json_path=args.json,
        markdown_path=None if to_stdout or not args.markdown else Path(args.markdown),
        markdown_stdout=to_stdout,
        quiet=args.quiet,
        debug=args.debug,
        env=env,
        event_name=env.get("GITHUB_EVENT_NAME") or None,
        dry_run=args.dry_run,
        promote=args.promote,
    )
    return run(settings).exit_code


def _ancestors(env: Mapping[str, str]) -> Callable[[str, int], list[str]]:
    """git's history, else the GitHub API when GITHUB_TOKEN and GITHUB_REPOSITORY are set."""
    from mlaction.gitcontext import first_of, git_ancestors

    def from_api(sha: str, count: int) -> list[str]:
        token, repository = env.get("GITHUB_TOKEN"), env.get("GITHUB_REPOSITORY")
        if not token or not repository:
            return []
        from mlaction.github.client import GitHubClient

        api = env.get("GITHUB_API_URL") or "https://api.github.com"
        return GitHubClient(token, api_url=api, repository=repository).ancestors(sha, count)

    return first_of([git_ancestors(), from_api])


def cmd_validate(args: argparse.Namespace) -> int:
    from mlaction.config import load_config

    loaded = load_config(_config_path(args), lenient=True)
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
    from mlaction.report.markdown import render_markdown
    from mlaction.report.model import load_report

    report = load_report(args.report)
    text = render_markdown(report, user_template=args.template)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return EXIT_PASS


def cmd_comment(args: argparse.Namespace) -> int:
    """Post a saved report. Its purpose is posting: failing to post is exit 2."""
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
    token = env.get("GITHUB_TOKEN") or env.get("GH_TOKEN") or ""
    report = load_report(args.report)
    if not report.get("marker"):
        raise UsageError(
            f"report {args.report} has no comment marker (`marker` field).",
            hint="Pass the JSON report written by `ml-gate check --json PATH` or by the "
            "action (its `report` output); the marker identifies the comment to update.",
        )
    client = GitHubClient(token, api_url=ctx.api_url, repository=repository, login=args.author)
    create = should_create(args.mode, str(report["verdict"]))
    result = client.upsert_comment(
        args.pr, str(report["marker"]), render_markdown(report), create=create
    )
    print(f"PR #{args.pr}: comment {result.action} {result.url or ''}".rstrip())
    return EXIT_PASS


def cmd_init(args: argparse.Namespace) -> int:
    path = _config_path(args)
    if path.exists() and not args.force:
        raise UsageError(f"{path} already exists.", hint="Pass --force to overwrite it.")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(STARTER, encoding="utf-8")
    print(f"wrote {path}; edit the experiment and metrics, then run `ml-gate validate`.")
    return EXIT_PASS


def discover_commits(
    env: Mapping[str, str],
) -> tuple[str | None, str | None, str | None, str | None]:
    """(commit, base commit, base branch, branch): the PR head sha of the GitHub event when
    there is one, else $GITHUB_SHA, else the working directory's git HEAD."""
    from mlaction.gitcontext import git_branch, git_head
    from mlaction.github.runner import GitHubContext

    ctx = GitHubContext.from_env(env)
    if ctx.sha:
        return ctx.sha, ctx.base_sha, ctx.base_ref, ctx.head_ref
    return git_head(), None, None, git_branch()


if __name__ == "__main__":
    sys.exit(main())
