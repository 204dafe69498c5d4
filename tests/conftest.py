"""Shared fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fakes.github_server import FakeGitHub


@pytest.fixture
def github_server() -> Iterator[FakeGitHub]:
    """A fresh fake GitHub REST API on 127.0.0.1 (one per test)."""
    with FakeGitHub() as server:
        yield server
