#!/usr/bin/env bash
# Train the iris model twice (a main-branch baseline and a candidate commit), log both runs to a
# local MLflow sqlite store, then gate the candidate and print the verdict and the Markdown comment.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=${ML_GATE_EXAMPLE_DIR:-$(mktemp -d)}
export MLFLOW_TRACKING_URI="sqlite:///$work/mlruns.db"
python "$here/iris/train.py" --commit 1111111111111111111111111111111111111111 --branch main --C 1.0
python "$here/iris/train.py" --commit 2222222222222222222222222222222222222222 --branch feature --C 2.0
set +e
cd "$here/.."
ml-gate check --config examples/iris/ml-gate.yml --commit 2222222222222222222222222222222222222222 \
  --json "$work/report.json" --markdown -
code=$?
set -e
echo
echo "ml-gate exit code: $code (0 pass/warn, 1 gate failed, 2 error); report: $work/report.json"
exit "$code"
