"""Config values that are more than a type: durations, tolerances ("2%"), tracker URIs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from pydantic import ValidationInfo

_HOST = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")
_HOST_PORT = re.compile(
    r"^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\]):[0-9]{1,5}(?:/.*)?$"
)


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: object) -> float:
    """`90s`, `30m`, `1h`, `7d`, `2w` or a number of seconds -> seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 90s, 30m, 1h or 7d")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return float(value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return float(match.group(1)) * _UNITS[match.group(2)]
    raise ValueError(f"expected a duration such as 90s, 30m, 1h or 7d, got {value!r}")


@dataclass(frozen=True)
class Tolerance:
    """max_regression: an absolute amount, or a percentage of the baseline value."""

    value: float
    relative: bool

    def allowed(self, baseline: float) -> float:
        return abs(baseline) * self.value / 100 if self.relative else self.value

    def __str__(self) -> str:
        return f"{self.value:g}%" if self.relative else f"{self.value:g}"


def parse_tolerance(value: object) -> Tolerance:
    if isinstance(value, bool):
        raise ValueError('expected a number (absolute) or a percentage such as "2%"')
    if isinstance(value, int | float):
        result = Tolerance(float(value), relative=False)
    elif isinstance(value, str):
        text = value.strip()
        try:
            if text.endswith("%"):
                result = Tolerance(float(text[:-1]), relative=True)
            else:
                result = Tolerance(float(text), relative=False)
        except ValueError:
            raise ValueError(
                f'expected a number (absolute) or a percentage such as "2%", got {value!r}'
            ) from None
    else:
        raise ValueError('expected a number (absolute) or a percentage such as "2%"')
    if result.value < 0 or result.value != result.value:
        raise ValueError(f"a tolerance must be zero or positive, got {value!r}")
    return result


def check_uri(value: str, tracker: str) -> str:
    """A scheme-less `host:port` is a mistake (MLflow would read it as a local path or an
    unknown scheme); a W&B base URL is http(s). MLflow's sqlite:, file:, databricks and plain
    paths pass unchanged."""
    text = value.strip()
    if not text:
        return value
    if _HOST_PORT.match(text):
        raise ValueError(f"`{text}` has no scheme: did you mean http://{text}?")
    if tracker == "wandb":
        parts = urlsplit(text)
        if "://" not in text and _HOST.match(text):
            raise ValueError(f"`{text}` has no scheme: did you mean https://{text}?")
        if parts.scheme.lower() not in {"http", "https"} or not parts.hostname:
            raise ValueError(
                f"a W&B base URL is `https://host` or `http://host:port`, got {text!r}"
            )
    return value


def unresolved(info: ValidationInfo, value: str) -> bool:
    """Checking a config without its environment: this value still holds an unset ${VAR}."""
    context = info.context or {}
    return bool(context.get("unresolved")) and "${" in value
