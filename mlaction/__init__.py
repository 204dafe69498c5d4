"""ml-gate: turn ML model quality into a required status check."""

from __future__ import annotations

# The one place the version is written: pyproject.toml reads it (`tool.setuptools.dynamic`), the
# action's image imports it, and a release tag must be `v` + this (docs/releasing.md).
__version__ = "0.1.0"
