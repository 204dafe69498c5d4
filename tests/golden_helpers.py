"""Whole rendered comments compared with files in tests/golden/ (rewritten only on request)."""

from __future__ import annotations

from pathlib import Path

GOLDEN = Path(__file__).parent / "golden"


def check_golden(name: str, text: str, regen: bool) -> None:
    """`text` must equal tests/golden/NAME; `pytest --regen-golden` rewrites it (read the diff)."""
    path = GOLDEN / name
    if regen:
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"golden file {path} missing: run pytest --regen-golden and review it"
    assert text == path.read_text(encoding="utf-8")
