"""Which MLflow tracking URIs ml-gate reads, checked before MLflow touches them.

MLflow creates what it opens: a `sqlite:///` path becomes a new, empty database (and its
folder), a `file:` path a new store. ml-gate only reads, so a store that does not exist is an
error naming the path, never a side effect.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

from mlaction.errors import TrackerError
from mlaction.trackers.mlflow_errors import redact

_log = logging.getLogger(__name__)
# Read by MLflow's own clients, unchanged.
PASS_THROUGH = ("http", "https", "databricks", "databricks-uc", "uc")
DATABASES = ("postgresql", "mysql", "mssql")


def check_store(uri: str) -> str:
    """`uri` unchanged when ml-gate can read it; else a TrackerError that says why."""
    scheme = urlsplit(uri).scheme.lower()
    if scheme in PASS_THROUGH or uri == "databricks":
        return uri
    if scheme == "sqlite":
        _need_sqlalchemy(uri)
        path = _sqlite_path(uri)
        if not path.is_file():
            raise TrackerError(
                f"no MLflow database at {path} (from `{redact(uri)}`); ml-gate reads a store and "
                "never creates one.",
                hint="Check the path: `sqlite:///rel/path.db` is relative to the working "
                "directory, `sqlite:////abs/path.db` is absolute (in the Action, the "
                "workspace is /github/workspace).",
            )
        return uri
    if scheme.split("+")[0] in DATABASES:
        _need_sqlalchemy(uri)
        return uri
    if scheme in ("", "file") and len(scheme) != 1:  # a one-letter scheme is a Windows drive
        return _file_store(uri)
    raise TrackerError(
        f"ml-gate cannot read the MLflow tracking URI `{redact(uri)}` (scheme `{scheme}`).",
        hint="Use the tracking server's http(s):// URL, a sqlite:/// database, a file: "
        "store or `databricks`.",
    )


def _sqlite_path(uri: str) -> Path:
    # SQLAlchemy: sqlite:///relative.db, sqlite:////absolute.db; the query string is options.
    rest = uri.split("?", 1)[0][len("sqlite:") :]
    if not rest.startswith("///") or rest in ("///", "///:memory:"):
        raise TrackerError(
            f"`{redact(uri)}` names no database file (an in-memory database has no runs).",
            hint="Use sqlite:///path/to/mlflow.db.",
        )
    return Path(unquote(rest[3:]))


def _need_sqlalchemy(uri: str) -> None:
    try:
        import alembic  # noqa: F401  (MLflow's SQL store checks the schema version with it)
        import sqlalchemy  # noqa: F401
    except ImportError:
        raise TrackerError(
            f"reading `{redact(uri)}` directly needs SQLAlchemy and Alembic, which are missing.",
            hint="Install ml-gate with its MLflow extra (pip install 'ml-gate[mlflow]'), or use "
            "the tracking server's http(s):// URL.",
        ) from None


def _file_store(uri: str) -> str:
    parts = urlsplit(uri)
    path = Path(unquote(parts.path) if parts.scheme else uri)
    if not path.is_dir():
        raise TrackerError(
            f"no MLflow file store at {path} (from `{redact(uri)}`); ml-gate reads a store and "
            "never creates one.",
            hint="Check the path (a folder like ./mlruns), or use the tracking server's "
            "http(s):// URL.",
        )
    # MLflow 3 keeps the file store in maintenance mode and refuses to open it unless told to;
    # reading runs from it is harmless, so ml-gate opts in (unless the environment says no).
    if os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true").lower() != "true":
        _log.debug("MLFLOW_ALLOW_FILE_STORE is set and not true: MLflow will refuse %s", path)
    _log.warning(
        "reading the MLflow file store at %s: MLflow 3 keeps it in maintenance mode "
        "(`mlflow migrate-filestore` moves it to a database)",
        path,
    )
    return uri
