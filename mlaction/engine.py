"""THE pipeline: (settings, tracker) -> GateResult, a typed, frozen value.

Load the config, select the runs (candidate, baseline, history), judge them, promote when the
context allows it, build the report and its Markdown. No printing, no exit codes, no GitHub: the
doors (cli.py, action.py) turn a GateResult into terminal output, files, outputs and comments.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

from mlaction.config import GateConfig, LoadedConfig, load_config
from mlaction.errors import EXIT_ERROR, EXIT_FAIL, EXIT_PASS, MlGateError, TrackerError, UsageError
from mlaction.gate.verdict import Override, Verdict, evaluate
from mlaction.gitcontext import GitContext
from mlaction.promote import PromotionContext as PromotionContext
from mlaction.promote import PromotionResult, promote, skip_reason
from mlaction.report.markdown import render_markdown
from mlaction.report.model import Report, build_report
from mlaction.runs import Selection
from mlaction.selection import select_runs
from mlaction.trackers import build_tracker
from mlaction.trackers.base import Tracker
from mlaction.waiting import Progress, wait_for_candidate

log = logging.getLogger(__name__)
_T = TypeVar("_T")
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,199}$")


@dataclass(frozen=True)
class Settings:
    """What the engine needs from either door."""

    config_path: Path
    git: GitContext = field(default_factory=GitContext)
    env: Mapping[str, str] = field(default_factory=dict)  # for ${VAR} in the config
    root: Path | None = None  # the workspace: config paths (comment ids) are named from it
    now: datetime | None = None
    run_url: str | None = None
    labels: tuple[str, ...] = ()  # the pull request's labels (the reviewed override)
    label_author: Callable[[str], str | None] | None = None
    promotion: PromotionContext | None = None  # None: never promote
    dry_run: bool = False  # promotion: say what would happen, change nothing
    run_id: str | None = None  # judge this run (`run-id` input, --run-id)
    wait: float | None = None  # seconds; overrides `candidate.wait` (--wait)
    progress: Progress | None = None  # the lines of a wait for the candidate (waiting.py)


@dataclass(frozen=True)
class GateResult:
    """Everything one evaluation decided, typed; the report is its JSON form."""

    config: LoadedConfig
    verdict: Verdict
    report: Report
    markdown: str
    override: Override | None = None
    promotion: PromotionResult | None = None

    @property
    def exit_code(self) -> int:
        return exit_code(self.report)

    @property
    def marker(self) -> str:
        return comment_marker(self.config.comment_id)

    def to_json(self) -> dict[str, Any]:
        return self.report.to_json()

    @staticmethod
    def from_json(data: object, source: str = "report") -> Report:
        """A saved result, validated as untrusted data (its runs' history is not in it)."""
        return Report.from_json(data, source)


def comment_marker(comment_id: str) -> str:
    """The sticky comment's identity. `comment_id` comes from the trusted config side."""
    return f"<!-- ml-gate:{comment_id} -->"


def exit_code(report: Report) -> int:
    """0 pass/warn, 1 fail; 2 when a promotion that should have happened could not be made."""
    if report.promotion is not None and report.promotion.action == "failed":
        return EXIT_ERROR
    return EXIT_FAIL if report.verdict == "fail" else EXIT_PASS


def evaluate_gate(settings: Settings, tracker: Tracker | None = None) -> GateResult:
    """Load the config, query the tracker, judge, promote when allowed, build the report."""
    loaded = load_config(settings.config_path, settings.env)
    if settings.root is not None:
        loaded = replace(loaded, root=settings.root)
    gate = _with_run_id(loaded.gate, settings.run_id)
    if settings.wait is not None:  # --wait
        candidate = gate.candidate.model_copy(update={"wait": settings.wait})
        gate = gate.model_copy(update={"candidate": candidate})
    template = loaded.template_file()  # inside the repository, checked before any query
    tracker = tracker or build_tracker(gate.tracker)
    # Each request is bounded by the timeout and few retries; the whole tracker phase also has
    # a hard deadline (45 s with the default 30 s timeout), so a hung tracker never hangs a job.
    deadline = gate.tracker.timeout + min(15.0, gate.tracker.timeout / 2 + 5)
    selection = _select(gate, tracker, settings, deadline)
    log.debug("candidate: run %r; baseline: %s", selection.candidate.id, selection.baseline_reason)
    override = find_override(gate.override.label, settings)
    verdict = evaluate(gate, selection, settings.now or datetime.now(timezone.utc), override)
    promotion = None
    if gate.promote is not None and settings.promotion is not None:
        context = settings.promotion
        promotion = with_deadline(
            lambda: run_promotion(gate, tracker, verdict, context, settings.dry_run),
            deadline,
            tracker.describe(),
        )
    meta = {
        "title": gate.comment.title,
        "config": loaded.path.as_posix(),
        "comment_id": loaded.comment_id,
        "run_url": settings.run_url,
        "history_branch": gate.baseline.branch,
        "tracker": gate.tracker.type,
        "experiment": gate.tracker.experiment,
    }
    report = build_report(
        verdict,
        meta=meta,
        override=override,
        promotion=vars(promotion) if promotion else None,
    )
    markdown = render_markdown(
        report, marker=comment_marker(loaded.comment_id), user_template=template
    )
    return GateResult(loaded, verdict, report, markdown, override, promotion)


def _select(gate: GateConfig, tracker: Tracker, settings: Settings, deadline: float) -> Selection:
    """Wait for the candidate when asked (its own phase: bounded by `candidate.wait`, each
    poll by the tracker deadline), then select the runs under the deadline."""
    waited = wait_for_candidate(
        gate,
        tracker,
        settings.git,
        bounded=lambda look: with_deadline(look, deadline, tracker.describe()),
        progress=settings.progress,
    )
    selection = with_deadline(
        lambda: select_runs(gate, tracker, settings.git), deadline, tracker.describe()
    )
    if waited is not None and waited.note:
        selection = replace(selection, notes=(*selection.notes, waited.note))
    return selection


def _with_run_id(gate: GateConfig, run_id: str | None) -> GateConfig:
    """`run-id` / --run-id: judge that run (`candidate.select: run_id`), one lookup by key."""
    if not run_id:
        return gate
    if not _RUN_ID.match(run_id):
        raise UsageError(
            f"run id {run_id[:80]!r} is not a run id.",
            hint="Pass the id the tracker gave the run (MLflow: 32 hex characters; W&B: the "
            "run's id, not its display name).",
        )
    candidate = gate.candidate.model_copy(update={"select": "run_id", "run_id": run_id})
    return gate.model_copy(update={"candidate": candidate})


def find_override(label: str | None, settings: Settings) -> Override | None:
    """The reviewed override: the PR carries the configured label (and who added it)."""
    if not label or label not in settings.labels:
        return None
    by = settings.label_author(label) if settings.label_author else None
    return Override(label, by)


def run_promotion(
    gate: GateConfig,
    tracker: Tracker,
    verdict: Verdict,
    context: PromotionContext,
    dry_run: bool,
) -> PromotionResult:
    """Promote when the event, branch and verdict allow; a failure is recorded, not raised."""
    config = gate.promote
    assert config is not None
    reason = skip_reason(config, verdict.verdict, context)
    if reason:
        return PromotionResult(config.model, config.alias, "skipped", reason=reason)
    try:
        return promote(config, tracker, verdict.selection.candidate, dry_run=dry_run)
    except MlGateError as exc:
        return PromotionResult(config.model, config.alias, "failed", reason=str(exc))


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
