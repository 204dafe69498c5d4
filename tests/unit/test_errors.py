"""The one error boundary (mlaction.errors): any exception -> one line and an exit code."""

from __future__ import annotations

import io

import pytest

from mlaction.errors import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    ConfigError,
    TrackerError,
    classify,
    handle,
    redact,
)


def test_an_expected_error_is_its_message_and_hint_with_exit_2() -> None:
    failure = classify(ConfigError("gate.yml, line 3: bad key.", hint="Did you mean `min`?"))
    assert (failure.title, failure.exit_code, failure.expected) == ("config error", 2, True)
    assert failure.line == "ml-gate: config error: gate.yml, line 3: bad key.\nDid you mean `min`?"


@pytest.mark.parametrize(
    "exc",
    [
        ValueError("year -33709 is out of range"),
        RecursionError("maximum recursion depth exceeded"),
        ModuleNotFoundError("No module named 'sqlalchemy'"),
        OSError(21, "Is a directory"),
        KeyError("verdict"),
    ],
)
def test_an_unexpected_error_is_an_internal_error_with_exit_2_never_1(exc: Exception) -> None:
    failure = classify(exc)
    assert failure.exit_code == EXIT_ERROR
    assert not failure.expected
    assert failure.line.startswith(f"ml-gate: internal error: {type(exc).__name__}: ")
    assert "please report it" in failure.line
    assert "\n" not in failure.line


def test_an_interrupt_exits_130() -> None:
    assert classify(KeyboardInterrupt()).exit_code == EXIT_INTERRUPTED


def test_the_traceback_only_on_request() -> None:
    def fail() -> None:
        raise ValueError("boom")

    for debug in (False, True):
        stream = io.StringIO()
        try:
            fail()
        except ValueError as exc:
            handle(exc, stream, debug=debug)
        text = stream.getvalue()
        assert ("Traceback (most recent call last)" in text) is debug
        assert text.splitlines()[-1].startswith("ml-gate: internal error: ValueError: boom;")


def test_a_long_unexpected_message_is_cut_to_one_line() -> None:
    failure = classify(RuntimeError("x" * 10_000 + "\nsecond line"))
    assert len(failure.line) < 800
    assert "(truncated)" in failure.line
    assert "second line" not in failure.line


def test_credentials_in_urls_never_reach_the_message() -> None:
    exc = TrackerError("cannot reach http://alice:s3cret@mlflow:5000/api/2.0/mlflow/runs/search")
    assert "s3cret" not in classify(exc).line
    assert "alice" not in classify(ConnectionError("https://alice:pw@host/x")).line
    assert redact("https://token@host/x and http://u:p@h") == "https://***@host/x and http://***@h"


def test_an_expected_error_carrying_untrusted_text_is_capped_and_shows_control_characters() -> None:
    # A tracker or a saved report can put a 1 MB name with terminal escapes into a message.
    name = "\x1b]0;pwned\x07\u202e" + "k" * 200_000
    failure = classify(TrackerError(f"run {name!r} not found.", hint="Check the run id."))
    assert len(failure.text) < 5_000
    assert failure.text.endswith("… (truncated)")
    assert "\x1b" not in failure.text
    assert "\x07" not in failure.text
    assert "\u202e" not in failure.text
    assert "\\u202e" in failure.text
    short = classify(TrackerError("run `a` not found.", hint="Check the run id."))
    assert short.text == "run `a` not found.\nCheck the run id."  # the hint's line break stays
