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

(e) default:    ml-gate's default for a metric with `max_regression` (tolerance) and a 20-run
                history: the tuned noise rule (mlaction/gate/noise.py), one candidate run. A
                "fail" is a shown regression; an inconclusive run is counted apart (with the
                default `confirm.on_inconclusive: fail` it also blocks until more runs come).
(f) confirm:    (e), then on `more-runs > 0` that many more runs of the candidate commit are
                trained and the gate judges their mean again, until it decides (at most 10 runs;
                still inconclusive then: fail). Runs/PR is the average number of candidate runs.

(c) to (f) run the real decision code in mlaction/gate/; (a) and (b) are the one-line rules
written inline. Everything is seeded: the same arguments print the same tables.

Besides the base scenario, the same table for: drift on main (the history's mean rises by
0.1 pt per run, the base commit and an unchanged candidate sit at its newest value), one outlier
run in the history (10 σ low), σ = 0.2 and 1.0, a history of 5 runs. Targets are judged on the base
scenario only.

The targets sit close to what one run per commit allows (a one-sided t test at 1% with σ estimated
from 20 runs detects about 90% of 4σ drops), so the base scenario simulates 40000 + 40000 PRs:
at 4000 the simulation's own error (±0.3 pt on a 1% rate) is larger than the margins.

Usage: python benchmarks/noise_simulation.py [--prs 4000] [--judged-prs 40000] [--seed 20260601]
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

from mlaction.gate import noise as tuned
from mlaction.gate.stats import noise_band, noise_regression, replicate_regression

MAX_CANDIDATE_RUNS = tuned.MAX_RUNS

Array = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Scenario:
    """The simulated runs of `prs` PRs whose candidate's true mean is `mean`."""

    history: Array  # (prs, window): runs on main
    base: Array  # (prs, replicates): runs of the PR's base commit; column 0 is (b)'s single run
    candidate: Array  # (prs, MAX_CANDIDATE_RUNS): runs of the PR; column 0 is the first run


@dataclass(frozen=True)
class Method:
    name: str
    # (history, base, candidate) of one PR -> (failed, candidate runs used, inconclusive)
    judge: Callable[[Array, Array, Array], tuple[bool, int, bool]]
    max_false_fails: float | None = None
    min_detection: float | None = None
    max_runs: float | None = None  # average candidate runs per no-change PR


@dataclass(frozen=True)
class Setting:
    """One simulated world: noise, history length, drift on main, an outlier in the history."""

    name: str
    sigma: float
    window: int
    drift: float = 0.0  # history mean change per run (newest run last)
    outlier: bool = False
    judged: bool = False  # the targets apply


def simulate(
    rng: np.random.Generator, prs: int, args: argparse.Namespace, world: Setting, shift: float
) -> Scenario:
    def runs(count: int, center: float) -> Array:
        drawn: Array = rng.normal(center, world.sigma, size=(prs, count))
        return drawn

    # Drift: the history's mean moves by `drift` per run; its newest run sits at args.mean.
    trend = world.drift * (np.arange(world.window) - (world.window - 1))
    history = runs(world.window, args.mean) + trend
    if world.outlier:
        history[:, world.window // 2] = args.mean - 10 * world.sigma
    return Scenario(
        history=history,
        base=runs(args.replicates, args.mean),
        candidate=runs(MAX_CANDIDATE_RUNS, args.mean - shift),
    )


def expected_max(n: int) -> float:
    """E[max of n standard normals] = ∫ x · n φ(x) Φ(x)^(n-1) dx (1.8675 for n = 20)."""
    x = np.linspace(-12.0, 12.0, 240_001)
    pdf = np.exp(-x * x / 2) / math.sqrt(2 * math.pi)
    cdf = 0.5 * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))
    return float(np.sum(x * n * pdf * cdf ** (n - 1)) * (x[1] - x[0]))


def methods(args: argparse.Namespace, window: int) -> list[Method]:
    tol = args.tolerance
    r = args.replicates

    def best_run(history: Array, base: Array, cand: Array) -> tuple[bool, int, bool]:
        return bool(history.max() - cand[0] > tol), 1, False

    def base_run(history: Array, base: Array, cand: Array) -> tuple[bool, int, bool]:
        return bool(base[0] - cand[0] > tol), 1, False

    def band(history: Array, base: Array, cand: Array) -> tuple[bool, int, bool]:
        found = noise_band(history.tolist(), k=args.k)
        assert found is not None
        decided = noise_regression(float(cand[0]), found, goal="maximize", ceiling=None)
        return decided.regression, 1, False

    def replicates(history: Array, base: Array, cand: Array) -> tuple[bool, int, bool]:
        decided = replicate_regression(
            cand[:r].tolist(), base.tolist(), goal="maximize", tolerance=tol, confidence=0.95
        )
        return decided.regression, r, False

    def default(history: Array, base: Array, cand: Array) -> tuple[bool, int, bool]:
        outcome = _tuned(history, cand[:1], tol)
        return outcome.outcome == "fail", 1, outcome.outcome == "inconclusive"

    def confirm(history: Array, base: Array, cand: Array) -> tuple[bool, int, bool]:
        m = 1
        while True:
            outcome = _tuned(history, cand[:m], tol)
            if outcome.outcome != "inconclusive":
                return outcome.outcome == "fail", m, False
            if outcome.more_runs == 0:
                return True, m, True  # confirm.on_inconclusive: fail
            m += outcome.more_runs

    return [
        Method(f"(a) best of {window} runs on main − {tol:g}", best_run),
        Method(f"(b) one base-commit run − {tol:g}", base_run),
        Method(f"(c) noise band, k={args.k:g}, window {window}", band),
        Method(f"(d) {r} vs {r} replicates, bootstrap", replicates, 0.01, 0.95),
        Method("(e) default: tuned noise rule, 1 run", default, 0.01, 0.90),
        Method("(f) default + confirm by rerun", confirm, 0.01, 0.99, 1.5),
    ]


def _tuned(history: Array, cand: Array, tol: float) -> tuned.NoiseOutcome:
    """ml-gate's default regression rule, as gate/comparisons.py calls it (goal maximize)."""
    found = noise_band(history.tolist(), outlier_mads=tuned.OUTLIER_MADS)
    assert found is not None
    drop = found.center - float(np.mean(cand))
    return tuned.regression(drop, found.sigma, found.n, len(cand), found.n, tol)


@dataclass(frozen=True)
class Tally:
    failed: int
    count: int
    runs: float  # average candidate runs per PR
    inconclusive: int


def tally(method: Method, scenario: Scenario) -> Tally:
    count = len(scenario.history)
    failed = runs = undecided = 0
    for i in range(count):
        fails, used, inconclusive = method.judge(
            scenario.history[i], scenario.base[i], scenario.candidate[i]
        )
        failed += fails
        runs += used
        undecided += inconclusive
    return Tally(failed, count, runs / count, undecided)


def rate(failed: int, count: int) -> str:
    """The rate and its 95% Wilson score interval (the simulation's own sampling error)."""
    z, p = 1.959964, failed / count
    center = (p + z * z / (2 * count)) / (1 + z * z / count)
    half = z * math.sqrt(p * (1 - p) / count + z * z / (4 * count * count)) / (1 + z * z / count)
    return f"{p:.2%} [{max(0.0, center - half):.2%}, {min(1.0, center + half):.2%}]"


def verdict(method: Method, same: Tally, drop: Tally) -> tuple[str, str]:
    """(the targets, "yes" or which target was missed), judged on the point estimates."""
    false_fails, detection = same.failed / same.count, drop.failed / drop.count
    targets, missed = [], []
    if method.max_false_fails is not None:
        targets.append(f"false fails ≤ {method.max_false_fails:.0%}")
        if false_fails > method.max_false_fails:
            missed.append("false fails")
    if method.min_detection is not None:
        targets.append(f"detection ≥ {method.min_detection:.0%}")
        if detection < method.min_detection:
            missed.append("detection")
    if method.max_runs is not None:
        targets.append(f"runs/PR ≤ {method.max_runs:g}")
        if same.runs > method.max_runs:
            missed.append("runs")
    if not targets:
        return "—", "—"
    return ", ".join(targets), f"**no** ({', '.join(missed)})" if missed else "yes"


def table(args: argparse.Namespace, world: Setting, rng: np.random.Generator) -> list[str]:
    prs = args.judged_prs if world.judged else args.prs
    same = simulate(rng, prs, args, world, 0.0)
    drop = simulate(rng, prs, args, world, args.drop)
    lines = [
        f"### {world.name} ({prs} + {prs} PRs)",
        "",
        "| method | false fails (no change) | detection (true drop) | inconclusive first run "
        "(no change / drop) | runs per PR (no change / drop) | target | met? |",
        "|---|--:|--:|--:|--:|---|---|",
    ]
    for method in methods(args, world.window):
        a, b = tally(method, same), tally(method, drop)
        target, met = verdict(method, a, b) if world.judged else ("—", "—")
        undecided = (
            f"{a.inconclusive / a.count:.2%} / {b.inconclusive / b.count:.2%}"
            if method.name.startswith("(e)")
            else "—"
        )
        lines.append(
            f"| {method.name} | {rate(a.failed, a.count)} | {rate(b.failed, b.count)} | "
            f"{undecided} | {a.runs:.2f} / {b.runs:.2f} | {target} | {met} |"
        )
    return [*lines, ""]


def worlds(args: argparse.Namespace) -> list[Setting]:
    s, n = args.sigma, args.window
    return [
        Setting(f"base: σ = {s:g}, {n} runs of history", s, n, judged=True),
        Setting(f"drift on main: +0.1 pt per run, σ = {s:g}, {n} runs", s, n, drift=0.1),
        Setting(f"one outlier run (−10 σ) in the history, σ = {s:g}, {n} runs", s, n, outlier=True),
        Setting(f"σ = 0.2, {n} runs of history", 0.2, n),
        Setting(f"σ = 1.0, {n} runs of history", 1.0, n),
        Setting(f"history of 5 runs, σ = {s:g}", s, 5),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prs", type=int, default=4000, help="PRs per scenario (default 4000)")
    parser.add_argument(
        "--judged-prs",
        type=int,
        default=40000,
        help="PRs in the base scenario, where the targets are judged (default 40000: its "
        "sampling error, ±0.1 pt on a 1%% rate, is below the margins it judges)",
    )
    parser.add_argument("--seed", type=int, default=20260601)
    parser.add_argument("--mean", type=float, default=90.0, help="true metric mean on main")
    parser.add_argument("--sigma", type=float, default=0.5, help="run-to-run noise (points)")
    parser.add_argument("--drop", type=float, default=2.0, help="the true drop to detect")
    parser.add_argument("--tolerance", type=float, default=1.0, help="max_regression (points)")
    parser.add_argument("--window", type=int, default=20, help="runs of history")
    parser.add_argument("--replicates", type=int, default=5)
    parser.add_argument("--k", type=float, default=3.0)
    parser.add_argument("--only-base", action="store_true", help="the base scenario only")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    print(
        f"Per scenario, PRs that change nothing + PRs with a true {args.drop:g}-point drop "
        f"(counts in each heading); metric mean {args.mean:g}, tolerance (max_regression) "
        f"{args.tolerance:g}, seed {args.seed}\n"
    )
    chosen = worlds(args)[:1] if args.only_base else worlds(args)
    for world in chosen:
        rng = np.random.default_rng(args.seed)  # every scenario draws from the same seed
        print("\n".join(table(args, world, rng)))
    elapsed = time.perf_counter() - started
    print(
        f"(a) is biased: the best of {args.window} noisy runs sits about "
        f"{expected_max(args.window):.2f}σ above their mean (expected maximum of {args.window} "
        "normal draws), so it fails PRs that changed nothing.\n"
    )
    print(
        "Rates are point estimates with their 95% Wilson interval [low, high] over the "
        "simulated PRs; a target is judged on the point estimate of the base scenario."
    )
    print(f"\nwall time: {elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
