"""The Docker action's entry point: the runner's environment in, the exit code out."""

from __future__ import annotations

import sys

from mlaction.action import main

if __name__ == "__main__":
    sys.exit(main())
