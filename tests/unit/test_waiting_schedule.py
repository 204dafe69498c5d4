"""The wait's poll schedule (mlaction.waiting): what a wait costs in tracker looks."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from mlaction.config import CandidateConfig, parse_config
from mlaction.errors import ConfigError
from mlaction.waiting import intervals, polls_in


def candidate(text: str) -> CandidateConfig:
    config = f"tracker: {{experiment: x}}\ncandidate: {text}\nmetrics: {{a: {{min: 0}}}}\n"
    return parse_config(config, Path("gate.yml"), {}).gate.candidate


def test_the_pauses_start_at_poll_and_grow_to_four_times_poll() -> None:
    assert list(itertools.islice(intervals(30.0), 7)) == [30, 45, 67.5, 101.25, 120, 120, 120]


def test_a_two_hour_wait_with_the_defaults_costs_63_looks() -> None:
    spec = candidate("{wait: 2h}")
    assert (spec.wait, spec.poll) == (7200, 30)
    assert polls_in(spec.wait, spec.poll) == 63  # as docs/waiting.md says


def test_poll_faster_than_once_a_second_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="poll at most once a second"):
        candidate("{poll: 0.1}")
