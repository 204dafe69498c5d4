"""Time to a verdict of one gate, three ways, in one run (needs a Docker-compatible engine).

(a) the baseline: the single-stage `image: Dockerfile` every job built before release images
    (pip install of ml-gate[all] on the Python base), built with no layer cache beyond the base,
    then one gate in it;
(b) the per-job path: the dependency image is there (a job pulls it; the pull is not timed here,
    its size is printed), the action's Dockerfile built with no cache, then one gate in it;
(c) `ml-gate check` outside a container.

Each gate is `ml-gate check` of the same candidate against the same real `mlflow server`. Also
printed: the image's size and its own layers (the base is the engine's stand-in Python image),
and the dependency image's compressed size (what a job downloads on top of the base).

Usage: python benchmarks/bench_image.py [--base-image python:3.12-slim] [--repeat 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "scripts"))

from mlflow_helpers import RunLogger, mlflow_server  # noqa: E402
from release import deps_tag  # noqa: E402

IMAGE = "ml-gate-bench"
HEAD = "c" * 40
# The Dockerfile of ml-gate before release images, as it was (comments shortened).
SINGLE_STAGE = """\
FROM {base}
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \\
    PIP_ROOT_USER_ACTION=ignore GIT_PYTHON_REFRESH=quiet
WORKDIR /app
COPY pyproject.toml README.md LICENSE ./
COPY mlaction ./mlaction
COPY entrypoint.py ./
RUN pip install --no-compile '.[all]'
ENTRYPOINT ["python", "/app/entrypoint.py"]
"""
CONFIG = """\
tracker: {{type: mlflow, uri: {uri}, experiment: {experiment}, timeout: 30s}}
baseline: {{select: best, branch: main}}
metrics:
  accuracy: {{min: 0.80, max_regression: 0.02}}
  val_loss: {{goal: minimize, max_regression: 10%}}
"""


def timed(command: list[str], cwd: Path | None = None) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    return seconds


def gate_in(image: str, workdir: Path) -> float:
    """One `ml-gate check` in a fresh container of `image` (no --rm: see tests/container)."""
    name = f"{IMAGE}-{uuid.uuid4().hex[:8]}"
    command = [
        "docker", "run", "--name", name, "--network", "host", "-v", f"{workdir}:/work",
        "--entrypoint", "python", image,
        "-m", "mlaction.cli", "check", "--config", "/work/ml-gate.yml", "--commit", HEAD,
    ]  # fmt: skip
    try:
        return timed(command)
    finally:
        subprocess.run(["docker", "rm", "--force", name], capture_output=True, check=False)


def single_stage_context(base: str, into: Path) -> Path:
    for name in ("pyproject.toml", "README.md", "LICENSE", "entrypoint.py"):
        shutil.copy(ROOT / name, into / name)
    shutil.copytree(
        ROOT / "mlaction", into / "mlaction", ignore=shutil.ignore_patterns("__pycache__")
    )
    (into / "Dockerfile").write_text(SINGLE_STAGE.format(base=base))
    return into


def layers(image: str, base: str) -> list[tuple[str, int]]:
    def history(ref: str) -> list[tuple[str, int]]:
        fields = "{{.CreatedBy}}\t{{.Size}}"
        command = ["docker", "history", "--no-trunc", "--human=false", "--format", fields, ref]
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        rows = [line.rsplit("\t", 1) for line in out.splitlines() if "\t" in line]
        return [(what.strip(), int(size)) for what, size in rows]

    own = history(image)
    return own[: len(own) - len(history(base))]


def image_bytes(ref: str) -> int:
    out = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Size}}", ref],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return int(out.strip())


def compressed_bytes(ref: str) -> int:
    save = subprocess.Popen(["docker", "save", ref], stdout=subprocess.PIPE)
    gzip = subprocess.run(["gzip", "-6"], stdin=save.stdout, capture_output=True, check=True)
    save.wait()
    return len(gzip.stdout)


def measure(base: str, repeat: int, work: Path) -> dict[str, list[float]]:
    """Build and gate (a) and (b), and gate (c), `repeat` times, interleaved."""
    cli = [str(Path(sys.executable).with_name("ml-gate"))]
    times: dict[str, list[float]] = {key: [] for key in ("a_build", "a", "b_build", "b", "c")}
    for _ in range(repeat):
        context = single_stage_context(base, Path(tempfile.mkdtemp(dir=work.parent)))
        build = ["docker", "build", "--no-cache", "-t"]
        times["a_build"].append(timed([*build, f"{IMAGE}:a", str(context)]))
        times["a"].append(gate_in(f"{IMAGE}:a", work))
        times["b_build"].append(timed([*build, f"{IMAGE}:b", str(ROOT)]))
        times["b"].append(gate_in(f"{IMAGE}:b", work))
        times["c"].append(
            timed([*cli, "check", "--config", str(work / "ml-gate.yml"), "--commit", HEAD])
        )
    return times


def report(times: dict[str, list[float]], base: str, deps_build: float) -> None:
    med = {key: statistics.median(values) for key, values in times.items()}
    a, b, c = med["a_build"] + med["a"], med["b_build"] + med["b"], med["c"]
    print(f"\nmedian of {len(times['c'])}, seconds      build    gate   total")
    print(f"(a) single-stage Dockerfile   {med['a_build']:7.1f} {med['a']:7.1f} {a:7.1f}")
    print(f"(b) per-job Dockerfile        {med['b_build']:7.1f} {med['b']:7.1f} {b:7.1f}")
    print(f"(c) ml-gate check, no container         {c:7.1f} {c:7.1f}")
    print(f"(a)/(b) = {a / b:.1f}x    (b)/(c) = {b / c:.1f}x")
    print(f"(the dependency image itself, built once per lock: {deps_build:.1f} s)")

    mb, image = 1e6, f"{IMAGE}:b"
    print(f"\nimage {image}: {image_bytes(image) / mb:.0f} MB", end="")
    print(f" (base {base}: {image_bytes(base) / mb:.0f} MB); its own layers:")
    for what, size in layers(image, base):
        if size:
            print(f"  {size / mb:8.1f} MB  {what[:90]}")
    deps = f"ghcr.io/ml-gate/ml-gate-deps:{deps_tag()}"
    own = compressed_bytes(deps) - compressed_bytes(base)
    print(f"compressed, what a job pulls on top of the base: ~{own / mb:.0f} MB")
    print(f"single-stage image {IMAGE}:a: {image_bytes(f'{IMAGE}:a') / mb:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-image", default="python:3.12-slim")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, mlflow_server(Path(tmp)) as uri:
        work = Path(tmp) / "work"
        work.mkdir()
        runs = RunLogger(uri)
        runs.log("b" * 40, metrics={"accuracy": 0.92, "val_loss": 0.30})
        runs.log(HEAD, branch="feature", metrics={"accuracy": 0.93, "val_loss": 0.29})
        (work / "ml-gate.yml").write_text(CONFIG.format(uri=uri, experiment=runs.experiment))

        print(f"dependency image: make image BASE_IMAGE={args.base_image}")
        make = ["make", "image", f"IMAGE={IMAGE}:b", f"BASE_IMAGE={args.base_image}"]
        deps_build = timed(make, cwd=ROOT)
        try:
            report(measure(args.base_image, args.repeat, work), args.base_image, deps_build)
        finally:
            subprocess.run(["docker", "rmi", f"{IMAGE}:a", f"{IMAGE}:b"], capture_output=True)


if __name__ == "__main__":
    main()
