# The action's dependency image: Python and every dependency of `ml-gate[all]`, installed from the
# lock file requirements/image.txt (exact versions, hashes checked), nothing of ml-gate itself.
# The release workflow pushes it as ghcr.io/ml-gate/ml-gate-deps:<tag>, the tag a hash of this file
# and the lock (`python scripts/release.py deps-tag`), so a tag never changes content. The
# Dockerfile at the root starts FROM it: a job pulls it and only copies the package on top.
#
# The Python base is pinned by digest (Dependabot proposes new digests). Where that digest cannot be
# pulled, `--build-arg PYTHON_IMAGE=<image>` replaces it (`make image BASE_IMAGE=...`); the pinned
# stage is then unused and never pulled.
#
# Size: the tracker SDKs are the bulk. mlflow-skinny (not `mlflow`: no pandas, scipy, SQLAlchemy,
# Flask or UI) still brings databricks-sdk, opentelemetry, protobuf, fastapi and GitPython; wandb
# ships its Go `wandb-core` binary. No compilers, no apt packages, no pip cache.
#
# Bytecode: compiling every installed module adds ~70 MB; compiling none makes every run compile
# what it imports (~5 s per job, as long as the gate itself). So pip installs without .pyc files
# and one import of what ml-gate uses writes the .pyc files of exactly those modules.
ARG PYTHON_IMAGE=pinned-python
FROM python:3.12-slim@sha256:78387bc3881b8273120a12ebe6c1ab22b018ccc2c9adf565ae1ac9b536e184ea AS pinned-python

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.source="https://github.com/ml-gate/ml-gate" \
      org.opencontainers.image.description="ml-gate's dependencies (Python, MLflow and W&B clients)" \
      org.opencontainers.image.licenses="Apache-2.0"
# mlflow-skinny imports GitPython, which refuses to import without a `git` binary unless told to be
# quiet; ml-gate reads the commit from GITHUB_SHA / the event, so the image needs no git.
ENV PYTHONUNBUFFERED=1 \
    PYTHONPATH=/app \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    GIT_PYTHON_REFRESH=quiet
COPY requirements/image.txt /tmp/image.txt
RUN pip install --no-compile --require-hashes --only-binary :all: -r /tmp/image.txt \
 && rm /tmp/image.txt \
 && python -c "import jinja2, numpy, pydantic, requests, yaml, mlflow.tracking, wandb"
WORKDIR /app
