"""run(settings, tracker, ...) -> exit code. The CLI and the Action entrypoint both call it."""

from __future__ import annotations

import os
import sys
import threading
import traceback
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any, TypeVar

from mlaction.config import GateConfig, LoadedConfig, load_config
from mlaction.errors import EXIT_ERROR, EXIT_FAIL, EXIT_PASS, MlGateError, TrackerError
from mlaction.gate.verdict import Override, Verdict, evaluate
from mlaction.gitcontext import GitContext
from mlaction.promote import PromotionResult, promote, skip_reason
from mlaction.report.markdown import render_markdown
from mlaction.report.model import build_report, dump_report
from mlaction.report.terminal import render_terminal
from mlaction.selection import select_runs
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
    event_name: str | None = None
    root: Path | None = None  # the workspace: config paths (comment ids) are named from it
    dry_run: bool = False
    promote: bool = False  # the Action promotes (event/branch rules apply); the CLI on --promote
    labels: tuple[str, ...] = ()
    label_author: Callable[[str], str | None] | None = None


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
    """Load the config, query the tracker, judge, promote when asked, build report and Markdown."""
    loaded = load_config(settings.config_path, settings.env)
    if settings.root is not None:
        loaded = replace(loaded, root=settings.root)
    gate = loaded.gate
    template = loaded.template_file()  # inside the repository, checked before any query
    tracker = tracker or build_tracker(gate.tracker)
    # Each request is bounded by the timeout and few retries; the whole tracker phase also has
    # a hard deadline (45 s with the default 30 s timeout), so a hung tracker never hangs a job.
    deadline = gate.tracker.timeout + min(15.0, gate.tracker.timeout / 2 + 5)
    selection = with_deadline(
        lambda: select_runs(gate, tracker, settings.git), deadline, tracker.describe()
    )
    override = find_override(gate.override.label, settings)
    verdict = evaluate(gate, selection, settings.now or datetime.now(timezone.utc), override)
    promotion = None
    if gate.promote is not None and settings.promote:
        promotion = with_deadline(
            lambda: run_promotion(gate, tracker, verdict, settings), deadline, tracker.describe()
        )
    meta = {
        "title": gate.comment.title,
        "config": loaded.path.as_posix(),
        "comment_id": loaded.comment_id,
        "marker": f"<!-- ml-gate:{loaded.comment_id} -->",
        "run_url": settings.run_url,
        "history_branch": gate.baseline.branch,
        "tracker": gate.tracker.type,
        "experiment": gate.tracker.experiment,
        "override": {"label": override.label, "by": override.by} if override else None,
        "promotion": asdict(promotion) if promotion else None,
    }
    report = build_report(verdict, meta)
    markdown = render_markdown(report, user_template=template)
    return loaded, report, markdown


def find_override(label: str | None, settings: Settings) -> Override | None:
    """The reviewed override: the PR carries the configured label (and who added it)."""
    if not label or label not in settings.labels:
        return None
    by = settings.label_author(label) if settings.label_author else None
    return Override(label, by)


def run_promotion(
    gate: GateConfig, tracker: Tracker, verdict: Verdict, settings: Settings
) -> PromotionResult:
    """Promote when the event, branch and verdict allow; a failure is recorded, not raised."""
    config = gate.promote
    assert config is not None
    reason = skip_reason(config, verdict.verdict, settings.event_name, settings.git.head_branch)
    if reason:
        return PromotionResult(config.model, config.alias, "skipped", reason=reason)
    try:
        return promote(config, tracker, verdict.selection.candidate, dry_run=settings.dry_run)
    except MlGateError as exc:
        return PromotionResult(config.model, config.alias, "failed", reason=str(exc))


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
    promotion = report.get("promotion") or {}
    if promotion.get("action") == "failed":
        print(f"ml-gate: promotion failed: {promotion.get('reason')}", file=sys.stderr)
    return Outcome(exit_code_for(report), report, markdown, loaded)


def exit_code_for(report: Mapping[str, Any]) -> int:
    """0 pass/warn, 1 fail; 2 when a promotion that should have happened could not be made."""
    if (report.get("promotion") or {}).get("action") == "failed":
        return EXIT_ERROR
    verdict = str(report.get("verdict"))
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
