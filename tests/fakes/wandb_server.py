"""A small loopback W&B server: answers the GraphQL the real wandb client sends.

wandb >= 0.2x sends GraphQL from its `wandb-core` helper process, so Python-level HTTP
mocking sees nothing: this is a real HTTP server on 127.0.0.1. It keeps an in-memory model
(runs, sweeps, artifacts, the Registry: fakes/wandb_registry.py), evaluates the Mongo-style
run filters W&B accepts, paginates with cursors, counts requests and records every operation
name (`operations`). An unknown operation is answered with a GraphQL error naming it, so a
wandb upgrade that changes its queries fails loudly. Artifact aliases behave as in W&B: an
alias is on at most one version of a collection, and adding it to one (`AddAliases`) takes it
off the others. `refuse[op] = 403` answers one operation with a refusal (a key that can only read).
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import yaml

from fakes.wandb_artifacts import ARTIFACT_HANDLERS, artifact_node
from fakes.wandb_filters import lookup, matches, sort_key
from fakes.wandb_registry import REGISTRY_HANDLERS, FakeRegistry

FAKE_WANDB_KEY = "f" * 40  # as long as a real W&B key; valid nowhere
_OP_NAME = re.compile(r"\b(?:query|mutation)\s+(\w+)")
_EPOCH = datetime(2024, 1, 1, tzinfo=timezone.utc)


@dataclass
class FakeRun:
    entity: str
    project: str
    id: str
    name: str
    state: str
    commit: str | None
    config: dict[str, Any]
    summary: dict[str, Any]
    tags: list[str]
    created_at: datetime
    heartbeat_at: datetime
    sweep: str | None = None
    files: list[str] = field(default_factory=list)


@dataclass
class FakeArtifact:
    id: str
    entity: str
    project: str
    name: str
    version: int
    type: str
    aliases: list[str]
    metadata: dict[str, Any]
    logged_by: str | None
    tags: list[str] = field(default_factory=list)  # W&B artifact tags (`ArtifactFragment.tags`)
    used_by: list[str] = field(default_factory=list)  # run ids: `run.use_artifact(...)`
    # PENDING (created, upload not committed), COMMITTED or DELETED: sdk/artifacts/
    # artifact_state.py `ArtifactState`, read by `Artifact.state` (ArtifactFragment `state`)
    state: str = "COMMITTED"


def _iso(moment: datetime) -> str:
    """W&B returns naive UTC timestamps without a zone suffix."""
    return moment.astimezone(timezone.utc).replace(tzinfo=None).isoformat(timespec="seconds")


class FakeWandbServer:
    """In-memory W&B behind a loopback HTTP server. Use as a context manager or start()/stop()."""

    def __init__(self, api_key: str | None = None) -> None:
        self.api_key = api_key
        self.operations: list[str] = []
        self.requests = 0
        self.busy_seconds = 0.0
        self.runs: dict[tuple[str, str], list[FakeRun]] = {}
        self.sweeps: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.artifacts: list[FakeArtifact] = []
        self.delay = 0.0
        # operation name -> HTTP status: "permission denied" (a read-only key), an error on 5xx
        self.refuse: dict[str, int] = {}
        # every request answered with this status (429 rate limit, 503 outage): wandb-core
        # retries both (x_graphql_retry_max), then gives up with http_status 0
        self.fail_all: int | None = None
        # operation name -> message: HTTP 200 with `data: null` and GraphQL `errors`, as W&B
        # answers a query it refuses (permission on a project, a filter it cannot run)
        self.graphql_errors: dict[str, str] = {}
        # filter keys this server does not know -> what their clause evaluates to (see
        # fakes/wandb_filters.py); W&B's recorded `commit` is not a documented filter key
        self.unknown_filter_keys: dict[str, bool] = {}
        # aliases AddAliases answers with success but does not keep (W&B manages `latest` and
        # `vN` itself): ml-gate must read the alias back, not trust the answer
        self.ignore_aliases: set[str] = set()
        self.registry = FakeRegistry()  # orgs, registry collections, links: fakes/wandb_registry.py
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def start(self) -> FakeWandbServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> FakeWandbServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self) -> None:
        """Forget all data, counters and the required key (between tests)."""
        with self._lock:
            self.api_key, self.delay, self.requests = None, 0.0, 0
            self.refuse.clear()
            self.fail_all = None
            self.graphql_errors.clear()
            self.unknown_filter_keys.clear()
            self.ignore_aliases.clear()
            self.operations.clear()
            self.runs.clear()
            self.sweeps.clear()
            self.artifacts.clear()
            self.registry.reset()

    # -- data ---------------------------------------------------------------------------------
    def add_project(self, entity: str, project: str) -> None:
        self.runs.setdefault((entity, project), [])

    def add_run(
        self,
        entity: str,
        project: str,
        *,
        id: str,
        name: str | None = None,
        state: str = "finished",
        commit: str | None = None,
        config: Mapping[str, Any] | None = None,
        summary: Mapping[str, Any] | None = None,
        tags: list[str] | tuple[str, ...] = (),
        created_at: datetime | None = None,
        runtime: float = 60.0,
        sweep: str | None = None,
        files: list[str] | tuple[str, ...] = (),
    ) -> FakeRun:
        runs = self.runs.setdefault((entity, project), [])
        created = created_at or _EPOCH + timedelta(minutes=len(runs))
        run = FakeRun(
            entity, project, id, name or f"run-{id}", state, commit, dict(config or {}),
            dict(summary or {}), list(tags), created, created + timedelta(seconds=runtime),
            sweep, list(files),
        )  # fmt: skip
        run.summary.setdefault("_runtime", runtime)
        runs.append(run)
        return run

    def add_sweep(self, entity: str, project: str, id: str, *, config: Mapping[str, Any]) -> None:
        self.add_project(entity, project)
        self.sweeps[(entity, project, id)] = dict(config)

    def add_artifact(
        self,
        entity: str,
        project: str,
        name: str,
        *,
        type: str = "model",
        aliases: list[str] | tuple[str, ...] = (),
        metadata: Mapping[str, Any] | None = None,
        logged_by: str | None = None,
        state: str = "COMMITTED",
    ) -> FakeArtifact:
        """A new version of artifact `name` (v0, v1, ...) in `state`; an alias moves to the
        newest holder (which state the version is in does not matter: fakes/wandb_artifacts.py)."""
        self.add_project(entity, project)
        same = [
            a for a in self.artifacts if (a.entity, a.project, a.name) == (entity, project, name)
        ]
        artifact = FakeArtifact(
            f"QXJ0aWZhY3Q6{len(self.artifacts) + 1}", entity, project, name, len(same), type,
            [], dict(metadata or {}), logged_by, state=state,
        )  # fmt: skip
        self.artifacts.append(artifact)
        for alias in dict.fromkeys(aliases):
            self.add_alias(artifact, alias)
        return artifact

    # -- HTTP ---------------------------------------------------------------------------------
    def handle(self, body: Mapping[str, Any], auth: str | None) -> tuple[int, dict[str, Any]]:
        query = str(body.get("query") or "")
        match = _OP_NAME.search(query)
        op = str(body.get("operationName") or (match.group(1) if match else "anonymous"))
        if op == "anonymous" and re.fullmatch(
            r"\s*query\s*\{\s*viewer\s*\{\s*id\s*\}\s*\}\s*", query
        ):
            op = "Viewer"  # wandb 0.27.x checks the key with an unnamed `query { viewer { id } }`
        with self._lock:
            self.requests += 1
            self.operations.append(op)
        if self.api_key is not None and auth != _basic(self.api_key):
            return 401, {"errors": [{"message": "user is not logged in"}]}
        if self.fail_all is not None:
            return self.fail_all, {"errors": [{"message": "fake W&B server: failing on purpose"}]}
        if op in self.graphql_errors:
            return 200, {"data": None, "errors": [{"message": self.graphql_errors[op]}]}
        if op in self.refuse:  # e.g. a read-only key: reads work, this mutation does not
            status = self.refuse[op]
            message = "internal server error" if status >= 500 else "permission denied"
            return status, {"errors": [{"message": message}]}
        handler = _HANDLERS.get(op)
        if handler is None:
            message = f"fake W&B server: unknown GraphQL operation {op!r}; teach the fake"
            return 200, {"data": None, "errors": [{"message": message}]}
        variables = body.get("variables") or {}
        started = time.perf_counter()
        data = handler(self, variables)
        with self._lock:  # the fake's own query work (filters and sorts in Python), for benchmarks
            self.busy_seconds += time.perf_counter() - started
        return 200, {"data": data}

    def _run_doc(self, run: FakeRun) -> dict[str, Any]:
        return {
            "name": run.id, "displayName": run.name, "display_name": run.name,
            "state": run.state, "commit": run.commit, "sweep": run.sweep, "tags": run.tags,
            "createdAt": run.created_at.timestamp(), "created_at": run.created_at.timestamp(),
            "config": {k: {"value": v, "desc": None} for k, v in run.config.items()},
            "summary_metrics": run.summary,
        }  # fmt: skip

    def project_node(self, v: Mapping[str, Any]) -> dict[str, Any] | None:
        key = (v.get("entity") or v.get("entityName"), v.get("project") or v.get("name"))
        if key not in self.runs:
            return None
        return {"id": f"UHJvamVjdDo{key[1]}", "internalId": "1", "name": key[1],
                "entity": {"id": "e1", "name": key[0]}, "readOnly": False}  # fmt: skip

    def find_run(self, v: Mapping[str, Any], name: str) -> FakeRun | None:
        runs = self.runs.get((v["entity"], v["project"]), [])
        return next((run for run in runs if run.id == name), None)

    def run_node(self, run: FakeRun) -> dict[str, Any]:
        return {
            "id": base64.b64encode(f"Run:{run.project}:{run.id}".encode()).decode(),
            "projectId": "1", "name": run.id, "displayName": run.name, "tags": run.tags,
            "sweepName": run.sweep, "state": run.state, "group": None, "jobType": None,
            "commit": run.commit, "readOnly": False, "createdAt": _iso(run.created_at),
            "heartbeatAt": _iso(run.heartbeat_at), "description": None, "notes": None,
            "config": json.dumps({k: {"value": v, "desc": None} for k, v in run.config.items()}),
            "summaryMetrics": json.dumps(run.summary), "systemMetrics": "{}",
            "historyLineCount": 0, "historyKeys": None, "fileCount": len(run.files),
            "user": {"name": "fake", "username": "fake"},
        }  # fmt: skip

    def find_artifact(self, artifact_id: str) -> FakeArtifact | None:
        return next((a for a in self.artifacts if a.id == artifact_id), None)

    def add_alias(self, art: FakeArtifact, alias: str) -> None:
        """As W&B: an alias names one version of a collection, so it leaves the others."""
        for other in self.artifacts:
            if (other.entity, other.project, other.name) == (art.entity, art.project, art.name):
                other.aliases = [a for a in other.aliases if a != alias]
        art.aliases.append(alias)

    def artifact_node(self, art: FakeArtifact) -> dict[str, Any]:
        return artifact_node(self, art)  # fakes/wandb_artifacts.py


def _basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"api:{key}".encode()).decode()


def page_of(
    items: list[Any], v: Mapping[str, Any], cursor_key: str, size_key: str
) -> tuple[list[Any], int, str, bool]:
    start = int(v.get(cursor_key) or 0)
    size = int(v.get(size_key) or 50)
    page = items[start : start + size]
    return page, start, str(start + len(page)), start + size < len(items)


def _viewer(s: FakeWandbServer, v: Mapping[str, Any]) -> dict[str, Any]:
    return {"viewer": {"id": "VXNlcjox", "entity": "fake", "username": "fake", "email": None,
                       "flags": "{}", "teams": {"edges": []}}}  # fmt: skip


def _runs(s: FakeWandbServer, v: Mapping[str, Any]) -> dict[str, Any]:
    project = s.project_node(v)
    if project is None:
        return {"project": None}
    filters = json.loads(v.get("filters") or "{}")
    docs = [(run, s._run_doc(run)) for run in s.runs[(v["entity"], v["project"])]]
    order = str(v.get("order") or "+created_at")
    found = [(r, doc) for r, doc in docs if matches(doc, filters, s.unknown_filter_keys)]
    key, descending = order.lstrip("+-"), order.startswith("-")
    found.sort(key=lambda pair: sort_key(lookup(pair[1], key)), reverse=descending)
    runs = [r for r, _ in found]
    page, start, end, more = page_of(runs, v, "cursor", "perPage")
    edges = [{"node": s.run_node(r), "cursor": str(start + i + 1)} for i, r in enumerate(page)]
    conn = {"edges": edges, "pageInfo": {"endCursor": end, "hasNextPage": more}}
    return {"project": {**project, "runCount": len(runs), "runs": conn}}


def _run(s: FakeWandbServer, v: Mapping[str, Any]) -> dict[str, Any]:
    project = s.project_node(v)
    if project is None:
        return {"project": None}
    run = s.find_run(v, v["name"])
    return {"project": {**project, "run": s.run_node(run) if run else None}}


def _run_files(s: FakeWandbServer, v: Mapping[str, Any]) -> dict[str, Any]:
    data = _run(s, v)
    run = s.find_run(v, v["name"]) if data["project"] else None
    if run is None:
        return data
    names = [n for n in run.files if not v.get("fileNames") or n in v["fileNames"]]
    page, start, end, more = page_of(names, v, "fileCursor", "fileLimit")
    edges = [{"node": {"id": f"f{i}", "name": n, "url": None, "directUrl": None,
                       "sizeBytes": 1, "mimetype": None, "updatedAt": None, "md5": None},
              "cursor": str(start + i + 1)} for i, n in enumerate(page)]  # fmt: skip
    files = {"edges": edges, "pageInfo": {"endCursor": end, "hasNextPage": more}}
    data["project"]["run"]["files"] = files
    return data


def _get_sweep(s: FakeWandbServer, v: Mapping[str, Any]) -> dict[str, Any]:
    project = s.project_node(v)
    config = s.sweeps.get((str(v.get("entity")), str(v.get("project")), str(v["name"])))
    if project is None or config is None:
        return {"project": project and {**project, "sweep": None}}
    runs = [r for r in s.runs[(v["entity"], v["project"])] if r.sweep == v["name"]]
    sweep = {"__typename": "Sweep", "id": f"sweep-{v['name']}", "name": v["name"],
             "displayName": None, "method": config.get("method", "grid"), "state": "FINISHED",
             "description": None, "bestLoss": None, "config": yaml.safe_dump(config),
             "createdAt": _iso(_EPOCH), "updatedAt": None, "runCount": len(runs),
             "runCountExpected": None}  # fmt: skip
    return {"project": {**project, "sweep": sweep}}


_HANDLERS: dict[str, Callable[[FakeWandbServer, Mapping[str, Any]], dict[str, Any]]] = {
    "Viewer": _viewer,
    "Runs": _runs,
    "Run": _run,
    "RunFiles": _run_files,
    "GetSweep": _get_sweep,
    **ARTIFACT_HANDLERS,
    **REGISTRY_HANDLERS,
}


def _handler(server: FakeWandbServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
                status, payload = server.handle(body, self.headers.get("Authorization"))
            except Exception as exc:  # a bug in the fake: say so, as W&B would with a 500
                status, payload = 500, {"errors": [{"message": f"fake W&B server: {exc!r}"}]}
            if server.delay:
                threading.Event().wait(server.delay)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # client gave up
                self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
