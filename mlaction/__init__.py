"""ml-gate: turn ML model quality into a required status check."""

from __future__ import annotations

__version__ = "0.1.0"
