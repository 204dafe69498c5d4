"""The gate as a GitHub check run on the judged commit (`check-run: true`).

`POST /repos/{o}/{r}/check-runs` when the gate starts (`in_progress`, also while it waits for
the candidate), `PATCH .../check-runs/{id}` once with the conclusion: success (pass), failure
(fail, error), neutral (warn, skipped). The output is the job summary's Markdown within the
Checks API's limits (GitHub's OpenAPI description: `summary` and `text` at most 65,535
characters, at most 50 annotations per request, appended on every update, an annotation's
title at most 255 characters); the annotations point at the gate config's line of each rule
that failed or warned, so "Files changed" shows them next to `accuracy: {max_regression: ...}`.

Writing a check run needs `permissions: checks: write`; a refusal (a fork's read-only token, a
missing permission) is one warning, never an error, and never changes the verdict.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import IO, TYPE_CHECKING, Any

from mlaction.errors import GitHubError
from mlaction.github.runner import annotation
from mlaction.github.transport import Transport

if TYPE_CHECKING:  # the client (CheckRunsAPI) must not load the report at run time
    from mlaction.report.model import CheckInfo, Report

MAX_OUTPUT = 65_535  # characters of `output.summary` / `output.text`
PER_REQUEST = 50  # annotations per request
MAX_ANNOTATIONS = 500  # ten requests; more is a config with thousands of failing rules
MAX_TITLE = 255
MAX_MESSAGE = 2_000  # an annotation's message (GitHub allows 64 KB: a rule's message is short)
TRUNCATED = "\n\n… (truncated: the Checks API allows 65,535 characters; see the job summary)"
_CONCLUSIONS = {"pass": "success", "fail": "failure", "error": "failure"}
_TITLES = {"pass": "passed", "warn": "passed with warnings", "fail": "failed", "skip": "skipped"}


class CheckRunsAPI(Transport):
    def create_check_run(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """`POST /repos/{o}/{r}/check-runs` (checks/create)."""
        return self._json(
            "POST", f"{self.repo_path}/check-runs", what="create the check run", json=dict(body)
        )

    def update_check_run(self, check_run_id: int, body: Mapping[str, Any]) -> dict[str, Any]:
        """`PATCH /repos/{o}/{r}/check-runs/{id}` (checks/update); annotations are appended."""
        return self._json(
            "PATCH",
            f"{self.repo_path}/check-runs/{check_run_id}",
            what="update the check run",
            json=dict(body),
        )


def conclusion(verdict: str) -> str:
    """success / failure; neutral for warn and for a gate that skipped."""
    return _CONCLUSIONS.get(verdict, "neutral")


def capped(text: str, limit: int = MAX_OUTPUT) -> str:
    return text if len(text) <= limit else text[: limit - len(TRUNCATED)] + TRUNCATED


def rule_line(check: CheckInfo, lines: Mapping[tuple[str, ...], int]) -> int:
    """The config line of the rule behind a check (`accuracy.max_regression` ->
    metrics/accuracy/max_regression), else of its metric or section, else line 1."""
    keys: list[tuple[str, ...]] = []
    if check.metric and check.name.startswith(check.metric + "."):
        rule = check.name[len(check.metric) + 1 :]
        keys += [("metrics", check.metric, rule), ("metrics", check.metric)]
    else:
        section, _, rule = check.name.partition(".")
        keys += [(section, rule), (section,)]
    keys.append(("metrics",))
    return next((lines[key] for key in keys if key in lines), 1)


def config_annotations(
    report: Report, path: str, lines: Mapping[tuple[str, ...], int]
) -> list[dict[str, Any]]:
    """One annotation per failed or warning check, on the line of its rule in the config."""
    found = []
    for check in report.checks:
        if check.status not in ("fail", "warn"):
            continue
        line = rule_line(check, lines)
        found.append(
            {
                "path": path,
                "start_line": line,
                "end_line": line,
                "annotation_level": "failure" if check.status == "fail" else "warning",
                "title": f"ml-gate: {check.name}"[:MAX_TITLE],
                "message": (check.message or check.status)[:MAX_MESSAGE],
            }
        )
    return found[:MAX_ANNOTATIONS]


def start_check_run(
    client: Callable[[], CheckRunsAPI] | None,
    name: str,
    sha: str | None,
    out: IO[str],
    details_url: str | None = None,
) -> CheckRun | None:
    """The check run, created `in_progress`; None (and one warning) without a commit or token."""
    if client is None or not sha:
        why = "no commit is known" if not sha else "there is no GitHub token"
        text = f"`check-run: true`, but {why}: no check run is reported for this event."
        print(annotation("warning", text, title="ml-gate: check run"), file=out)
        return None
    check = CheckRun(client, name, sha, out, details_url)
    check.start()
    return check


class CheckRun:
    """One check run's life: started, then completed once. Every GitHub refusal becomes one
    warning (printed to `out`), after which the check run is left alone."""

    def __init__(
        self,
        client: Callable[[], CheckRunsAPI],
        name: str,
        sha: str,
        out: IO[str],
        details_url: str | None = None,
    ) -> None:
        self._client, self.name, self.sha, self._out = client, name, sha, out
        self._details_url = details_url
        self.id: int | None = None

    def start(self, summary: str = "The gate is evaluating this commit.") -> None:
        body: dict[str, Any] = {
            "name": self.name,
            "head_sha": self.sha,
            "status": "in_progress",
            "started_at": _now(),
            "output": {"title": "evaluating", "summary": summary},
        }
        if self._details_url:
            body["details_url"] = self._details_url
        try:
            created = self._client().create_check_run(body)
        except GitHubError as exc:
            self._warn("created", exc)
            return
        check_id = created.get("id")
        self.id = check_id if isinstance(check_id, int) else None

    def complete(
        self, report: Report, summary: str, config_path: str, lines: Mapping[tuple[str, ...], int]
    ) -> None:
        """Completed with the verdict's conclusion, the summary, and the config annotations."""
        annotations = config_annotations(report, config_path, lines)
        title = f"ml-gate {_TITLES.get(report.verdict, report.verdict)}"
        if report.failed_checks:
            title += ": " + ", ".join(report.failed_checks[:5])
        self._finish(report.verdict, title[:MAX_TITLE], capped(summary), annotations)

    def fail(self, text: str) -> None:
        """The gate ended in an error (verdict=error): failure, with the error."""
        summary = capped(
            f"## ml-gate: error\n\n````text\n{text.replace('````', chr(39) * 4)}\n````\n"
        )
        self._finish("error", "ml-gate error", summary, [])

    def _finish(
        self, verdict: str, title: str, summary: str, annotations: list[dict[str, Any]]
    ) -> None:
        if self.id is None:
            return
        batches = [
            annotations[i : i + PER_REQUEST] for i in range(0, len(annotations), PER_REQUEST)
        ]
        output = {"title": title, "summary": summary}
        try:
            client = self._client()
            for batch in batches[:-1]:  # annotations are appended: all but the last batch first
                client.update_check_run(self.id, {"output": {**output, "annotations": batch}})
            last = {**output, "annotations": batches[-1]} if batches else output
            done = {"status": "completed", "conclusion": conclusion(verdict), "output": last}
            client.update_check_run(self.id, {**done, "completed_at": _now()})
        except GitHubError as exc:
            self._warn("completed", exc)

    def _warn(self, what: str, exc: GitHubError) -> None:
        text = f"The check run `{self.name}` could not be {what}: {exc.message}"
        if getattr(exc, "status", None) in (403, 404):
            text += (
                " Grant the job `permissions: checks: write` to report the gate as a check run "
                "(pull requests from forks get a read-only token: see docs/fork-prs.md)."
            )
        text += " The verdict, outputs and job summary are unaffected."
        print(annotation("warning", text, title="ml-gate: check run"), file=self._out)
        self.id = None


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
