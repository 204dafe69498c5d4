"""Debug lines (mlaction.debuglog): what the doors print for records of the `mlaction` logger."""

from __future__ import annotations

import logging

from mlaction.debuglog import debug_lines


def test_a_debug_line_quoting_tracker_text_is_capped_and_shows_control_characters() -> None:
    lines: list[str] = []
    reason = "branch `\x1b]0;x\x07\u202e" + "m" * 100_000 + "`"
    with debug_lines(lines.append):
        logging.getLogger("mlaction.selection").debug("baseline: %s", reason)
        logging.getLogger("mlaction.trackers").debug("GET http://u:pw@host/api")
    assert len(lines) == 2
    assert len(lines[0]) < 3_000
    assert lines[0].endswith("… (truncated)")
    assert "\x1b" not in lines[0]
    assert "\\u202e" in lines[0]
    assert lines[1] == "GET http://***@host/api"
