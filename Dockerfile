# syntax=docker/dockerfile:1.7
# One image for every InTheGrid component: `inthegrid feed|calculator|recorder|gateway|operator|...`.
#   docker build -t inthegrid:dev .
# Runs as uid 10001 with a read-only root filesystem: mount an emptyDir at /tmp (HOME and TMPDIR).
# `make image` builds it where the public base image cannot be pulled (scripts/build-image.sh), with
# slimmer variants: --build-arg EXTRAS=services (feed, calculator, recorder, gateway without the
# dashboard) or EXTRAS=operator; docs/run-on-kubernetes.md lists their sizes.

# Pinned base (exact Python patch release and Debian release); both stages use the same one, so the
# virtualenv's interpreter link stays valid in the final stage.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm
# The pyproject extras installed into the image (comma-separated); the default is every component.
ARG EXTRAS=services,backtest,dashboard,operator,forecast

# ---- builder: the project wheel, installed with its runtime dependencies pinned by the lock file ----
FROM ${PYTHON_IMAGE} AS builder
ARG EXTRAS
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python -m venv /opt/inthegrid
# Dependencies first, in a layer that changes only with pyproject.toml, the lock file or EXTRAS (a
# change to the sources then rebuilds in seconds): the core and the chosen extras' requirements,
# read from pyproject.toml, each at its locked version (--constraint: the lock also pins the dev
# and local extras, which the image does not get).
COPY requirements.lock pyproject.toml ./
RUN python -c 'import sys, tomllib; \
project = tomllib.load(open("pyproject.toml", "rb"))["project"]; \
extras = [e for e in sys.argv[1].split(",") if e]; \
wanted = project["dependencies"] + [r for e in extras for r in project["optional-dependencies"][e]]; \
print("\n".join(r for r in wanted if not r.startswith("inthegrid")))' "$EXTRAS" >/tmp/requirements.txt \
 && /opt/inthegrid/bin/pip install --constraint requirements.lock -r /tmp/requirements.txt
# ... then the sources, built into a wheel and installed without resolving again; `pip check`
# fails the build if the wheel's requirements and the layer above ever disagree.
COPY README.md ./
COPY services/ services/
COPY operator/ operator/
RUN /opt/inthegrid/bin/pip wheel --no-deps --wheel-dir /wheels . \
 && /opt/inthegrid/bin/pip install --no-deps /wheels/inthegrid-*.whl \
 && /opt/inthegrid/bin/pip check \
 && /opt/inthegrid/bin/pip uninstall --yes pip setuptools \
 && find /opt/inthegrid -name '*.pyc' -path '*/tests/*' -delete \
 && rm -rf /wheels /root/.cache /tmp/requirements.txt

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
