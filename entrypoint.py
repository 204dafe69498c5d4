"""The Docker action's entry point: settings come from the runner's environment."""

from __future__ import annotations

import os
import sys

from mlaction.action import run_action

if __name__ == "__main__":
    sys.exit(run_action(os.environ))
