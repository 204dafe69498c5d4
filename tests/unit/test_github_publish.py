"""Publishing a skip: the deleted ref's name is PR-controlled text."""

from __future__ import annotations

import io
from pathlib import Path

from mlaction.github.publish import StepFiles, publish_skip


def test_a_deleted_branch_name_reaches_the_summary_escaped(tmp_path: Path) -> None:
    summary = tmp_path / "summary"
    name = "<img src=x> @org/admins **bold** `tick`"
    reason = f"this push deleted branch `{name}`: there is no commit to judge."
    log = io.StringIO()

    assert publish_skip(StepFiles(None, str(summary)), reason, log) == 0

    text = summary.read_text()
    assert "<img" not in text
    assert "@org" not in text  # no mention: a zero-width joiner follows the @
    assert "**bold**" not in text
    assert "<code>" in text  # the quoted name is shown as code, escaped
    assert log.getvalue().startswith("::notice title=ml-gate%3A skipped::")
