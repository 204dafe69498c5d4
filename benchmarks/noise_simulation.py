"""How often each gating rule fails a PR that changed nothing, and catches a real drop.

Simulated PRs on a noisy metric (accuracy in %, true mean 90.0, run-to-run noise σ = 0.5 points,
20 runs of history on main). Half of the PRs change nothing; the other half truly lower the mean
by 2 points. Each PR is judged by four rules, on the same simulated runs:

(a) best run:   candidate >= best run of the history - tolerance (1 point), the common default;
(b) base run:   candidate >= one fresh run of the base commit - tolerance;
(c) noise band: ml-gate's `noise_regression` against `noise_band` of the 20-run history
                (k = 3, no ceiling), one candidate run;
(d) replicates: ml-gate's `replicate_regression`, 5 candidate runs vs 5 base-commit runs,
                bootstrap, tolerance 1 point, confidence 0.95.

(c) and (d) run the real decision code in mlaction/stats.py; (a) and (b) are the one-line rules
written inline. Everything is seeded: the same arguments print the same table.

Usage: python benchmarks/noise_simulation.py [--prs 4000] [--seed 20260601]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mlaction.gate.stats import noise_band, noise_regression, replicate_regression

Array = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Scenario:
    """The simulated runs of `prs` PRs whose candidate's true mean is `mean`."""

    history: Array  # (prs, window): runs on main
    base: Array  # (prs, replicates): runs of the PR's base commit; column 0 is (b)'s single run
    candidate: Array  # (prs, replicates): runs of the PR; column 0 is the single candidate run


@dataclass(frozen=True)
class Method:
    name: str
    fails: Callable[[Array, Array, Array], bool]  # (history, base, candidate) of one PR
    max_false_fails: float | None = None
    min_detection: float | None = None


def simulate(rng: np.random.Generator, prs: int, args: argparse.Namespace, mean: float) -> Scenario:
    def runs(count: int, center: float) -> Array:
        drawn: Array = rng.normal(center, args.sigma, size=(prs, count))
        return drawn

    return Scenario(
        history=runs(args.window, args.mean),
        base=runs(args.replicates, args.mean),
        candidate=runs(args.replicates, mean),
    )


def expected_max(n: int) -> float:
    """E[max of n standard normals] = ∫ x · n φ(x) Φ(x)^(n-1) dx (1.8675 for n = 20)."""
    x = np.linspace(-12.0, 12.0, 240_001)
    pdf = np.exp(-x * x / 2) / math.sqrt(2 * math.pi)
    cdf = 0.5 * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))
    return float(np.sum(x * n * pdf * cdf ** (n - 1)) * (x[1] - x[0]))


def methods(args: argparse.Namespace) -> list[Method]:
    tol = args.tolerance

    def best_run(history: Array, base: Array, cand: Array) -> bool:
        return bool(history.max() - cand[0] > tol)

    def base_run(history: Array, base: Array, cand: Array) -> bool:
        return bool(base[0] - cand[0] > tol)

    def band(history: Array, base: Array, cand: Array) -> bool:
        found = noise_band(history.tolist(), k=args.k)
        assert found is not None
        return noise_regression(float(cand[0]), found, goal="maximize", ceiling=None).regression

    def replicates(history: Array, base: Array, cand: Array) -> bool:
        return replicate_regression(
            cand.tolist(), base.tolist(), goal="maximize", tolerance=tol, confidence=0.95
        ).regression

    return [
        Method(f"(a) best of {args.window} runs on main − {tol:g}", best_run),
        Method(f"(b) one base-commit run − {tol:g}", base_run),
        Method(f"(c) noise band, k={args.k:g}, window {args.window}", band, 0.01, 0.80),
        Method(
            f"(d) {args.replicates} vs {args.replicates} replicates, bootstrap",
            replicates,
            0.01,
            0.95,
        ),
    ]


def fail_rate(method: Method, scenario: Scenario) -> tuple[int, int]:
    """(PRs failed, PRs judged)."""
    count = len(scenario.history)
    failed = sum(
        method.fails(scenario.history[i], scenario.base[i], scenario.candidate[i])
        for i in range(count)
    )
    return failed, count


def rate(failed: int, count: int) -> str:
    """The rate and its 95% Wilson score interval (the simulation's own sampling error)."""
    z, p = 1.959964, failed / count
    center = (p + z * z / (2 * count)) / (1 + z * z / count)
    half = z * math.sqrt(p * (1 - p) / count + z * z / (4 * count * count)) / (1 + z * z / count)
    return f"{p:.2%} [{max(0.0, center - half):.2%}, {min(1.0, center + half):.2%}]"


def verdict(method: Method, false_fails: float, detection: float) -> tuple[str, str]:
    """(the targets, "yes" or which target was missed), judged on the point estimates."""
    targets, missed = [], []
    if method.max_false_fails is not None:
        targets.append(f"false fails ≤ {method.max_false_fails:.0%}")
        if false_fails > method.max_false_fails:
            missed.append("false fails")
    if method.min_detection is not None:
        targets.append(f"detection ≥ {method.min_detection:.0%}")
        if detection < method.min_detection:
            missed.append("detection")
    if not targets:
        return "—", "—"
    return ", ".join(targets), f"**no** ({', '.join(missed)})" if missed else "yes"


def _share(counts: tuple[int, int]) -> float:
    return counts[0] / counts[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prs", type=int, default=4000, help="PRs per scenario (default 4000)")
    parser.add_argument("--seed", type=int, default=20260601)
    parser.add_argument("--mean", type=float, default=90.0, help="true metric mean on main")
    parser.add_argument("--sigma", type=float, default=0.5, help="run-to-run noise (points)")
    parser.add_argument("--drop", type=float, default=2.0, help="the true drop to detect")
    parser.add_argument("--tolerance", type=float, default=1.0, help="max_regression (points)")
    parser.add_argument("--window", type=int, default=20, help="runs of history")
    parser.add_argument("--replicates", type=int, default=5)
    parser.add_argument("--k", type=float, default=3.0)
    args = parser.parse_args(argv)

    started = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    same = simulate(rng, args.prs, args, args.mean)
    drop = simulate(rng, args.prs, args, args.mean - args.drop)
    rows = []
    for method in methods(args):
        false_fails, detection = fail_rate(method, same), fail_rate(method, drop)
        target, met = verdict(method, _share(false_fails), _share(detection))
        rows.append(
            f"| {method.name} | {rate(*false_fails)} | {rate(*detection)} | {target} | {met} |"
        )
    elapsed = time.perf_counter() - started

    best_above = float(np.mean(same.history.max(axis=1) - args.mean)) / args.sigma
    print(
        f"{args.prs} PRs that change nothing + {args.prs} PRs with a true {args.drop:g}-point "
        f"drop; metric mean {args.mean:g}, noise σ {args.sigma:g}, tolerance {args.tolerance:g}, "
        f"seed {args.seed}\n"
    )
    print("| method | false fails (no change) | detection (true drop) | target | met? |")
    print("|---|--:|--:|---|---|")
    print("\n".join(rows))
    print(
        f"\n(a) is biased: the best of {args.window} noisy runs sits {best_above:.2f}σ above "
        f"their mean in this simulation (expected max of {args.window} normals ≈ mean + "
        f"{expected_max(args.window):.2f}σ), so it fails PRs that changed nothing.\n"
    )
    print(
        "Rates are point estimates with their 95% Wilson interval [low, high] over the "
        "simulated PRs; a target is judged on the point estimate."
    )
    print(f"\nwall time: {elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
