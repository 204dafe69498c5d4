"""The starter config `ml-gate init` writes: the sound defaults, commented."""

from __future__ import annotations

STARTER = """\
# ml-gate: the quality gate for this repository's model.
# Reference: https://github.com/ml-gate/ml-gate/blob/main/docs/configuration.md
tracker:
  type: mlflow                  # mlflow | wandb
  uri: ${MLFLOW_TRACKING_URI}
  experiment: my-experiment     # W&B: entity/project
candidate:
  select: commit                # the run tagged with this commit
baseline:
  select: base_commit           # the PR's base commit (default) | best | latest | run_id | alias
  branch: main                  # history on main: the noise of each metric (10+ runs)
metrics:                        # max_regression: noise-aware when main has 10+ runs
  accuracy: {min: 0.90, max_regression: 0.02}
  # val_loss: {goal: minimize, max_regression: 5%}
  # auc: {min_improvement: 0.5%}     # with baseline alias champion: promote only a better model
# comparable: {params: [eval_dataset], inputs: true}   # refuse scores from different test sets
confirm:
  on_inconclusive: fail         # an ambiguous first run asks for more seeds (output more-runs)
run:
  max_age: 7d
comment:
  mode: always
on_failure: fail
"""
