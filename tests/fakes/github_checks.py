"""Check runs for the GitHub fake: `POST /repos/{o}/{r}/check-runs` (checks/create) and
`PATCH /repos/{o}/{r}/check-runs/{check_run_id}` (checks/update).

Shapes and limits from GitHub's OpenAPI description (@octokit/openapi 23.0.2,
generated/api.github.com.json; the operations are in tests/github_openapi_operations.json):
- create requires `name` and `head_sha`; `status` is queued | in_progress | completed (default
  queued); a `conclusion` (action_required | cancelled | failure | neutral | success | skipped |
  stale | timed_out) is required with `status: completed`, and giving one sets the status to
  completed ("Providing `conclusion` will automatically set the `status` parameter");
- `output` needs `title` and `summary` on create (`summary` on update); `summary` and `text` have
  `maxLength: 65535`; `annotations` has `maxItems: 50` ("the Checks API limits the number of
  annotations to a maximum of 50 per API request"), each needs `path`, `start_line`,
  `end_line`, `annotation_level` (notice | warning | failure) and `message`, its `title` is at
  most 255 characters; "each time you update the check run, annotations are appended";
- replies: 201 with the `check-run` object on create, 200 on update; a request that breaks the
  schema is a 422 `Validation Failed`; a read-only token (a fork's pull request, or a workflow
  without `checks: write`) gets 403 `Resource not accessible by integration` (REST docs,
  "Permissions required for GitHub Apps": checks write).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CONCLUSIONS = frozenset(
    {"action_required", "cancelled", "failure", "neutral", "success", "skipped", "stale",
     "timed_out"}
)  # fmt: skip
CREATE_STATUSES = frozenset({"queued", "in_progress", "completed"})
UPDATE_STATUSES = CREATE_STATUSES | {"waiting", "requested", "pending"}
LEVELS = frozenset({"notice", "warning", "failure"})
MAX_TEXT = 65_535
MAX_ANNOTATIONS = 50


@dataclass
class CheckRunRecord:
    id: int
    name: str
    head_sha: str
    status: str
    conclusion: str | None
    output: dict[str, Any]
    annotations: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)  # every status it was given, in order
    completions: int = 0  # how many requests completed it


class CheckRuns:
    def __init__(self, repository: str) -> None:
        self.repository = repository
        self.runs: dict[int, CheckRunRecord] = {}
        self._next_id = 5_000

    def create(self, body: Any) -> tuple[int, dict[str, Any]]:
        if not isinstance(body, dict):
            return 422, _invalid("the body must be an object")
        for key in ("name", "head_sha"):
            if not isinstance(body.get(key), str) or not body[key]:
                return 422, _invalid(f'"{key}" wasn\'t supplied.')
        status, problem = _status(body, CREATE_STATUSES, default="queued")
        problem = problem or _output(body.get("output"), ("title", "summary"))
        if problem:
            return 422, _invalid(problem)
        self._next_id += 1
        run = CheckRunRecord(
            self._next_id, body["name"], body["head_sha"], status, body.get("conclusion"), {}
        )
        self.runs[run.id] = run
        self._apply(run, body, status)
        return 201, self.shape(run)

    def update(self, check_id: int, body: Any) -> tuple[int, dict[str, Any]]:
        run = self.runs.get(check_id)
        if run is None:
            return 404, {"message": "Not Found"}
        if not isinstance(body, dict):
            return 422, _invalid("the body must be an object")
        status, problem = _status(body, UPDATE_STATUSES, default=run.status)
        problem = problem or _output(body.get("output"), ("summary",))
        if problem:
            return 422, _invalid(problem)
        self._apply(run, body, status)
        return 200, self.shape(run)

    def _apply(self, run: CheckRunRecord, body: dict[str, Any], status: str) -> None:
        run.status = status
        run.statuses.append(status)
        if status == "completed":
            run.completions += 1
            run.conclusion = body.get("conclusion")
        output = body.get("output")
        if isinstance(output, dict):
            run.annotations.extend(output.get("annotations") or [])
            run.output = {k: v for k, v in output.items() if k != "annotations"}

    def shape(self, run: CheckRunRecord) -> dict[str, Any]:
        """The `check-run` schema's fields ml-gate could read, and a few around them."""
        url = f"https://api.github.com/repos/{self.repository}/check-runs/{run.id}"
        return {
            "id": run.id,
            "node_id": f"CR_{run.id}",
            "head_sha": run.head_sha,
            "name": run.name,
            "status": run.status,
            "conclusion": run.conclusion,
            "url": url,
            "html_url": f"https://github.com/{self.repository}/runs/{run.id}",
            "output": {
                "title": run.output.get("title"),
                "summary": run.output.get("summary"),
                "text": run.output.get("text"),
                "annotations_count": len(run.annotations),
                "annotations_url": f"{url}/annotations",
            },
        }


def _status(body: dict[str, Any], allowed: frozenset[str], default: str) -> tuple[str, str | None]:
    conclusion = body.get("conclusion")
    if conclusion is not None and conclusion not in CONCLUSIONS:
        return default, f"conclusion {conclusion!r} is not a member of {sorted(CONCLUSIONS)}"
    status = body.get("status", default)
    if conclusion is not None:
        status = "completed"  # "Providing `conclusion` will automatically set the `status`"
    if status not in allowed:
        return default, f"status {status!r} is not a member of {sorted(allowed)}"
    if status == "completed" and conclusion is None:
        return default, "conclusion is required when status is completed"
    return status, None


def _output(output: Any, required: tuple[str, ...]) -> str | None:
    if output is None:
        return None
    if not isinstance(output, dict):
        return "output must be an object"
    for key in required:
        if not isinstance(output.get(key), str):
            return f'output "{key}" wasn\'t supplied.'
    for key in ("summary", "text"):
        if len(output.get(key) or "") > MAX_TEXT:
            return f"output.{key} is too long (maximum is {MAX_TEXT} characters)"
    annotations = output.get("annotations") or []
    if len(annotations) > MAX_ANNOTATIONS:
        return f"output.annotations: at most {MAX_ANNOTATIONS} per request"
    for item in annotations:
        problem = _annotation(item)
        if problem:
            return problem
    return None


def _annotation(item: Any) -> str | None:
    if not isinstance(item, dict):
        return "an annotation must be an object"
    for key in ("path", "start_line", "end_line", "annotation_level", "message"):
        if key not in item:
            return f'annotation "{key}" wasn\'t supplied.'
    if item["annotation_level"] not in LEVELS:
        return f"annotation_level {item['annotation_level']!r} is not a member of {sorted(LEVELS)}"
    if not isinstance(item["start_line"], int) or item["start_line"] < 1:
        return "start_line must be a line number (from 1)"
    if len(str(item.get("title") or "")) > 255:
        return "annotation title is too long (maximum is 255 characters)"
    return None


def _invalid(message: str) -> dict[str, Any]:
    return {
        "message": "Validation Failed",
        "errors": [{"resource": "CheckRun", "code": "custom", "message": message}],
        "documentation_url": "https://docs.github.com/rest/checks/runs",
    }
