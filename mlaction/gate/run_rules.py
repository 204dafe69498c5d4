"""Checks on the candidate run itself and on the model registry. Pure."""

from __future__ import annotations

from datetime import datetime

from mlaction.config.schema import GateConfig, RegistryRules
from mlaction.gate.results import CheckResult, fail, fmt_duration, judged, required
from mlaction.runs import FAILED, KILLED, Run, Selection

# --- run checks ----------------------------------------------------------------------------


def run_checks(config: GateConfig, selection: Selection, now: datetime) -> list[CheckResult]:
    run = selection.candidate
    rules = config.run
    checks: list[CheckResult] = []
    if run.status in (FAILED, KILLED):
        checks.append(
            fail(
                "run.status",
                f"the candidate run `{run.label}` {run.status}",
                observed=run.status,
                threshold="finished",
            )
        )
    if rules.max_duration is not None:
        checks.append(_duration(run, rules.max_duration))
    if rules.max_age is not None:
        checks.append(_age(run, rules.max_age, now))
    for kind, wanted, present in (
        ("params", rules.required_params, run.params),
        ("tags", rules.required_tags, run.tags),
    ):
        if wanted:
            checks.append(required(f"run.required_{kind}", kind[:-1], wanted, set(present)))
    if rules.required_artifacts:
        checks.append(
            required(
                "run.required_artifacts",
                "artifact",
                rules.required_artifacts,
                set(selection.artifacts or ()),
            )
        )
    return checks


def _duration(run: Run, limit: float) -> CheckResult:
    rule = f"≤ {fmt_duration(limit)}"
    duration = run.duration
    if duration is None:
        return CheckResult(
            "run.max_duration",
            "skip",
            "the run has no end time yet",
            threshold=limit,
            rule=rule,
            unit="seconds",
        )
    seconds = duration.total_seconds()
    if seconds < 0:  # tracker data: an end before the start is no duration, never a pass
        return fail(
            "run.max_duration",
            f"the run's end time is {fmt_duration(-seconds)} before its start time: "
            "its duration cannot be judged",
            threshold=limit,
            rule=rule,
            unit="seconds",
        )
    ok = seconds <= limit
    message = f"ran for {fmt_duration(seconds)}, limit {fmt_duration(limit)}"
    return judged(
        "run.max_duration",
        ok,
        message,
        observed=seconds,
        threshold=limit,
        rule=rule,
        unit="seconds",
    )


def _age(run: Run, limit: float, now: datetime) -> CheckResult:
    rule = f"≤ {fmt_duration(limit)} old"
    moment = run.end or run.start
    if moment is None:
        return fail(
            "run.max_age",
            "the run has no start or end time",
            threshold=limit,
            rule=rule,
            unit="seconds",
        )
    seconds = max(0.0, (now - moment).total_seconds())
    ok = seconds <= limit
    message = f"finished {fmt_duration(seconds)} ago, limit {fmt_duration(limit)}"
    return judged(
        "run.max_age", ok, message, observed=seconds, threshold=limit, rule=rule, unit="seconds"
    )


# --- registry checks -----------------------------------------------------------------------


def registry_checks(rules: RegistryRules | None, selection: Selection) -> list[CheckResult]:
    info = selection.registry
    if rules is None or info is None:
        return []
    run = selection.candidate.label
    newest = info.versions[0] if info.versions else None
    checks: list[CheckResult] = []
    if rules.require_version or rules.version_tags:
        if newest is None:
            message = f"the candidate run `{run}` has no version of model `{info.model}`"
            checks.append(fail("registry.version", message, rule=f"registered in {info.model}"))
        else:
            message = f"model `{info.model}` version {newest.version} was made from this run"
            checks.append(
                CheckResult(
                    "registry.version",
                    "pass",
                    message,
                    observed=newest.version,
                    rule=f"registered in {info.model}",
                )
            )
    if rules.version_tags and newest is not None:
        present = {key for key, _ in newest.tags}
        checks.append(required("registry.version_tags", "version tag", rules.version_tags, present))
    if rules.require_alias:
        rule = f"alias {rules.require_alias} set"
        if info.alias_version is None:
            message = f"alias `{rules.require_alias}` of model `{info.model}` points at no version"
            checks.append(fail("registry.alias", message, rule=rule))
        else:
            message = f"`{rules.require_alias}` → version {info.alias_version}"
            checks.append(
                CheckResult(
                    "registry.alias", "pass", message, observed=info.alias_version, rule=rule
                )
            )
    return checks
