#!/usr/bin/env bash
# The gate end to end, on a local MLflow sqlite store: a main-branch baseline, then two pull
# requests gated against it. The first is as good as the baseline (the gate passes, exit 0); the
# second trains on one feature instead of four, a deliberate regression (the gate fails, exit 1).
# The demo itself exits 0 when both verdicts are the expected ones.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=${ML_GATE_EXAMPLE_DIR:-$(mktemp -d)}
export MLFLOW_TRACKING_URI="sqlite:///$work/mlruns.db"
base=1111111111111111111111111111111111111111
good=2222222222222222222222222222222222222222
worse=3333333333333333333333333333333333333333

echo "== training: the baseline on main, a good candidate, a worse candidate (1 of 4 features)"
python "$here/iris/train.py" --commit "$base" --branch main --C 1.0
python "$here/iris/train.py" --commit "$good" --branch feature --C 2.0
python "$here/iris/train.py" --commit "$worse" --branch feature --C 1.0 --features 1

cd "$here/.."
gate() {  # gate <commit> <name>: prints the verdict and the comment; sets $code
  echo
  echo "== ml-gate check: pull request \"$2\" (commit ${1:0:7}, base ${base:0:7})"
  set +e
  ml-gate check --config examples/iris/ml-gate.yml --commit "$1" --base-commit "$base" \
    --json "$work/report-$2.json" --markdown -
  code=$?
  set -e
}
gate "$good" good
good_code=$code
gate "$worse" worse
worse_code=$code

echo
echo "== ml-gate exit codes (0 pass/warn, 1 gate failed, 2 error); reports in $work"
echo "good candidate:  exit $good_code (expected 0: the gate passes)"
echo "worse candidate: exit $worse_code (expected 1: the regression this demo shows; in CI it fails the check)"
if [ "$good_code" -eq 0 ] && [ "$worse_code" -eq 1 ]; then
  echo "demo OK: one passing gate, one failing gate"
else
  echo "demo FAILED: unexpected exit codes" >&2
  exit 1
fi
