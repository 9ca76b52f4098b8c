# syntax=docker/dockerfile:1
# Multi-stage build: wheels in a builder, a slim non-root runtime running uvicorn.
FROM python:3.11-slim AS builder
WORKDIR /src
RUN python -m venv /opt/venv
ENV PATH="/opt/venv/bin:$PATH" PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
COPY pyproject.toml ./
COPY app ./app
RUN pip install --upgrade pip && pip install .

FROM python:3.11-slim AS runtime
RUN groupadd --system yjrisk && useradd --system --gid yjrisk --home /srv/yjrisk yjrisk
WORKDIR /srv/yjrisk
COPY --from=builder /opt/venv /opt/venv
COPY alembic.ini ./
COPY migrations ./migrations
COPY app ./app
# The service runs as a user who cannot write here: compile the app's and the migrations'
# bytecode now, or every process (each `yjrisk tick` from cron) compiles them again.
RUN python -m compileall -q app migrations
# PYTHONPATH: the copied tree (with alembic.ini and migrations/ beside app/) is what runs.
ENV PATH="/opt/venv/bin:$PATH" PYTHONPATH=/srv/yjrisk PYTHONUNBUFFERED=1 YJ_ENV=production
USER yjrisk
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)"
# Migrations run as a separate release step: `docker run IMAGE yjrisk migrate`.
# `yjrisk serve` runs uvicorn with the header-read and keep-alive timeouts from the settings.
CMD ["yjrisk", "serve", "--host", "0.0.0.0", "--port", "8000", "--no-migrate"]
