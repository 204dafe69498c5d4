"""Train a small scikit-learn model on iris and log it to MLflow, tagged with the git commit.

Usage: python examples/iris/train.py --tracking-uri sqlite:///mlruns.db --commit SHA [--branch main]
       [--features N]
"""

from __future__ import annotations

import argparse
import os
import time

import mlflow
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, log_loss
from sklearn.model_selection import train_test_split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tracking-uri", default=os.environ.get("MLFLOW_TRACKING_URI"))
    parser.add_argument("--experiment", default="iris-classifier")
    parser.add_argument("--commit", required=True, help="the git commit this model was trained at")
    parser.add_argument("--branch", default="main")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--C", type=float, default=1.0, help="inverse regularisation strength")
    parser.add_argument("--max-iter", type=int, default=200)
    parser.add_argument(
        "--features",
        type=int,
        default=4,
        help="train on the first N of iris's 4 features (fewer: a deliberately worse model)",
    )
    args = parser.parse_args()

    if args.tracking_uri:
        mlflow.set_tracking_uri(args.tracking_uri)
    mlflow.set_experiment(args.experiment)

    x, y = load_iris(return_X_y=True)
    x = x[:, : args.features]
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.3, random_state=args.seed, stratify=y
    )
    with mlflow.start_run(run_name=f"iris-{args.commit[:7]}-s{args.seed}") as run:
        mlflow.set_tags(
            {
                "mlflow.source.git.commit": args.commit,
                "mlflow.source.git.branch": args.branch,
            }
        )
        mlflow.log_params(
            {
                "C": args.C,
                "max_iter": args.max_iter,
                "seed": args.seed,
                "features": args.features,
                "model": "LogisticRegression",
            }
        )
        started = time.perf_counter()
        model = LogisticRegression(C=args.C, max_iter=args.max_iter)
        model.fit(x_train, y_train)
        mlflow.log_metric("train_seconds", time.perf_counter() - started)
        predicted = model.predict(x_test)
        mlflow.log_metrics(
            {
                "accuracy": accuracy_score(y_test, predicted),
                "f1": f1_score(y_test, predicted, average="macro"),
                "val_loss": log_loss(y_test, model.predict_proba(x_test)),
            }
        )
        print(f"logged run {run.info.run_id} for commit {args.commit[:12]} on {args.branch}")


if __name__ == "__main__":
    main()
