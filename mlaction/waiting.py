"""Wait for the candidate: poll the tracker until the commit's run exists and has finished.

Models are often trained outside the pull request's workflow and logged minutes or hours
later. With `candidate.wait` (CLI: --wait) the gate looks for the commit's runs with one query
per poll (selection.commit_runs; `run_id`: one read of that run) until the candidate is ready
(selection.ready: finished, or failed / killed and judged as such; with `replicates`,
`replicates.min` finished runs), then selection runs as usual. Each poll is bounded by the
tracker's deadline; the whole wait by `candidate.wait` (the job's `timeout-minutes` stays the
outer bound). The interval starts at `candidate.poll` and grows by half after each look, up to
4x `candidate.poll` (30 s, 45 s, 67.5 s, 101 s, then every 2 min by default).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

from mlaction.config.schema import GateConfig
from mlaction.errors import RunNotFinishedError, RunNotFoundError, TrackerError
from mlaction.gate.results import fmt_duration
from mlaction.gitcontext import GitContext
from mlaction.runs import FINISHED, RUNNING, Run
from mlaction.selection import commit_runs, ready, shown
from mlaction.trackers.base import Tracker

log = logging.getLogger(__name__)
_T = TypeVar("_T")
GROWTH = 1.5  # each interval is this much longer than the one before
MAX_FACTOR = 4.0  # up to this many times `candidate.poll`


@dataclass(frozen=True)
class WaitEvent:
    """One line of progress: `waiting` per poll; `found` when the first run of the commit
    appears, `ready` when the candidate has finished (the Action prints those as notices)."""

    kind: Literal["waiting", "found", "ready"]
    text: str


Progress = Callable[[WaitEvent], None]
Bounded = Callable[[Callable[[], list[Run]]], list[Run]]


@dataclass(frozen=True)
class WaitOutcome:
    polls: int
    waited: float  # seconds
    note: str | None = None  # the wait ran out with fewer replicate runs than wanted


def intervals(poll: float) -> Iterator[float]:
    """The pauses between two polls: `poll`, then half as long again each time, up to 4x."""
    current = poll
    while True:
        yield current
        current = min(current * GROWTH, poll * MAX_FACTOR)


def polls_in(wait: float, poll: float) -> int:
    """How many tracker looks a wait that runs out costs (the first look, one per pause, and
    the last one at the end of the wait)."""
    elapsed, count = 0.0, 1
    for pause in intervals(poll):
        if elapsed + pause >= wait:
            return count + 1
        elapsed += pause
        count += 1
    raise AssertionError("unreachable")  # pragma: no cover


def wait_for_candidate(
    config: GateConfig,
    tracker: Tracker,
    git: GitContext,
    *,
    bounded: Bounded,
    progress: Progress | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> WaitOutcome | None:
    """Poll until the candidate is ready; None when the config asks for no wait."""
    spec = config.candidate
    mode = spec.select or ("commit" if git.commit else "latest")
    if spec.wait <= 0 or mode not in ("commit", "run_id") or (mode == "commit" and not git.commit):
        return None  # `latest` and `sweep_best` read finished runs only
    if mode == "commit":
        commit = git.commit or ""
        what = f"the run of {commit[:7]} in {tracker.describe()}"

        def look() -> list[Run]:
            return commit_runs(config, tracker, commit)
    else:
        run_id = spec.run_id or ""
        what = f"run `{shown(run_id)}` in {tracker.describe()}"

        def look() -> list[Run]:
            return [tracker.get_run(run_id)]

    need = _replicates(config) if mode == "commit" else 1
    watch = _Watch(what, spec.wait, need, progress or (lambda event: None), clock)
    pauses = intervals(spec.poll)
    while True:
        runs = bounded(look)
        done = watch.saw(runs)
        if done is not None:
            return done
        remaining = watch.deadline - clock()
        sleep(max(0.0, min(next(pauses), remaining)))


def _replicates(config: GateConfig) -> int:
    wanted = [r.replicates.min for r in config.metrics.values() if r.replicates]
    return max(wanted, default=1)


class _Watch:
    """What the polls have seen so far, the progress lines, and the end of the wait."""

    def __init__(
        self, what: str, wait: float, need: int, progress: Progress, clock: Callable[[], float]
    ) -> None:
        self.what, self.wait, self.need = what, wait, need
        self.progress, self.clock = progress, clock
        self.start = clock()
        self.deadline = self.start + wait
        self.polls = 0
        self.seen = False

    def saw(self, runs: Sequence[Run]) -> WaitOutcome | None:
        """One poll's answer: the outcome when the wait is over, None to poll again."""
        self.polls += 1
        waited = self.clock() - self.start
        found = ready(runs, self.need)
        if runs and not self.seen and (found is None or self.polls > 1):
            self.progress(WaitEvent("found", f"found {self.what}: {_state(runs, self.need)}"))
        self.seen = self.seen or bool(runs)
        if found is not None:
            if self.polls > 1:
                run = shown(found[0].id)
                text = f"{self.what} is ready after {_took(waited)}: judging run `{run}`"
                self.progress(WaitEvent("ready", text))
            log.debug("wait: %d poll(s), %.1f s", self.polls, waited)
            return WaitOutcome(self.polls, waited)
        seen = _state(runs, self.need)
        line = f"waiting for {self.what}: {seen} ({_took(waited)} of {_took(self.wait)})"
        self.progress(WaitEvent("waiting", line))
        if self.clock() < self.deadline:
            return None
        return self._ran_out(runs, waited)

    def _ran_out(self, runs: Sequence[Run], waited: float) -> WaitOutcome:
        some = ready(runs, 1) if self.need > 1 else None
        if some is not None and some[0].status == FINISHED:
            note = (
                f"The gate waited {_took(waited)} for {self.need} finished runs of the commit; "
                f"{len(some[1])} had finished: judged on those."
            )
            self.progress(WaitEvent("ready", note))
            return WaitOutcome(self.polls, waited, note)
        last = _state(runs, self.need)
        hint = (
            f"Raise `candidate.wait` (now {_took(self.wait)}) in the config, or pass a longer "
            "`--wait` to `ml-gate check`; the job's `timeout-minutes` must be longer still. "
            "Or let the training system start the gate when it ends (repository_dispatch, "
            "docs/waiting.md)."
        )
        message = f"waited {_took(waited)} ({self.polls} polls) for {self.what}; last seen: {last}."
        error: TrackerError = (
            RunNotFinishedError(message, hint=hint)
            if runs
            else RunNotFoundError(message, hint=hint)
        )
        raise error


def _state(runs: Sequence[Run], need: int) -> str:
    """What a poll saw, in a few words (tracker text shown, capped)."""
    if not runs:
        return "none yet"
    finished = sum(r.status == FINISHED for r in runs)
    running = sum(r.status == RUNNING for r in runs)
    if need > 1:
        return f"{finished} of {need} runs finished, {running} running"
    newest = runs[0]
    return f"run `{shown(newest.id)}` {newest.status}"


def _took(seconds: float) -> str:
    return fmt_duration(seconds)
