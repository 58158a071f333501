# syntax=docker/dockerfile:1.7
# One image for every InTheGrid component: `inthegrid feed|calculator|recorder|gateway|operator|...`.
#   docker build -t inthegrid:dev .
# Runs as uid 10001 with a read-only root filesystem: mount an emptyDir at /tmp (HOME and TMPDIR).

# Pinned base (exact Python patch release and Debian release); both stages use the same one, so the
# virtualenv's interpreter link stays valid in the final stage.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

# ---- builder: the project wheel, installed with its runtime dependencies pinned by the lock file ----
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python -m venv /opt/inthegrid
# Dependencies first (a layer that changes only with the lock file) ...
COPY requirements.lock ./
COPY pyproject.toml README.md ./
# ... then the sources, built into a wheel.
COPY services/ services/
COPY operator/ operator/
RUN python -m pip wheel --no-deps --wheel-dir /wheels . \
 # --constraint: only the runtime dependencies of the wheel get installed (the lock file also pins
 # the dev and local extras, which the image does not need), each at its locked version.
 && /opt/inthegrid/bin/pip install --constraint requirements.lock /wheels/inthegrid-*.whl \
 && /opt/inthegrid/bin/pip uninstall --yes pip setuptools \
 && find /opt/inthegrid -name '*.pyc' -path '*/tests/*' -delete \
 && rm -rf /wheels /root/.cache

# ---- final: the interpreter, the virtualenv and the sample prices; no compilers, no caches ----
FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="inthegrid" \
      org.opencontainers.image.description="Cross-border electricity arbitrage detection for European bidding zones" \
      org.opencontainers.image.source="https://github.com/inthegrid/inthegrid" \
      org.opencontainers.image.licenses="MIT"
ENV PATH=/opt/inthegrid/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    TMPDIR=/tmp \
    GRADIO_TEMP_DIR=/tmp/gradio \
    GRADIO_ANALYTICS_ENABLED=False \
    MPLCONFIGDIR=/tmp/matplotlib \
    XDG_CACHE_HOME=/tmp/.cache
RUN groupadd --system --gid 10001 inthegrid \
 && useradd --system --uid 10001 --gid 10001 --home-dir /tmp --no-create-home \
      --shell /usr/sbin/nologin inthegrid \
 && rm -rf /root/.cache /var/lib/apt/lists/*
COPY --from=builder /opt/inthegrid /opt/inthegrid
WORKDIR /app
# The sample price table (see data/prices/ATTRIBUTION.md): `inthegrid feed --source replay`,
# `inthegrid backtest --prices data/prices/...` work inside the image.
COPY data/prices/ /app/data/prices/
USER 10001:10001
EXPOSE 8000 9100
ENTRYPOINT ["inthegrid"]
CMD ["--help"]
