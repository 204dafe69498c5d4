# The ml-gate Docker action. GitHub builds this file on the runner for every job, so it holds no
# installation at all: it starts FROM the prebuilt dependency image (docker/deps.Dockerfile, pushed
# by the release workflow) and copies the package on top. A job pulls one image and copies two
# paths; the tag below is the hash of the lock file and docker/deps.Dockerfile, rewritten by
# `make lock` (a test fails when it is stale). `make image` builds that image locally first.
FROM ghcr.io/ml-gate/ml-gate-deps:27fea04869326e79

COPY mlaction /app/mlaction
COPY entrypoint.py /app/entrypoint.py

# No USER: GitHub runs Docker actions as root with the workspace mounted at /github/workspace,
# and files the action writes there must stay writable by later steps.
ENTRYPOINT ["python", "/app/entrypoint.py"]
