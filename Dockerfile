# Octopus Photos in a container: `docker compose up` (compose.yaml), then http://<this-machine>:8000/.
# Multi-stage: the build stage resolves exactly uv.lock into a virtual environment; the runtime
# stage is the slim Python base with that environment and nothing else (no compiler, no uv, no
# pip), run as a non-root user, with the data dir as a volume. docs/install.md, "Docker".
# tests/test_packaging_docker.py checks this file and runs its command outside a container.

FROM python:3.11-slim-bookworm AS build
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/octopus
RUN pip install --no-cache-dir "uv==0.13.9"
WORKDIR /src
# Dependencies first: this layer is reused until uv.lock changes.
COPY pyproject.toml uv.lock README.md LICENSE ./
RUN uv sync --frozen --no-dev --no-install-project
COPY src ./src
COPY eventstore ./eventstore
COPY projections ./projections
COPY webroot ./webroot
# --no-editable: the program (with its SQL and UI as package data) goes into the environment, so
# the runtime stage needs nothing from /src.
RUN uv sync --frozen --no-dev --no-editable

FROM python:3.11-slim-bookworm
# pip and ensurepip are not needed to run (about 15 MB).
RUN rm -rf /usr/local/lib/python3.11/site-packages/pip* /usr/local/lib/python3.11/ensurepip \
           /usr/local/bin/pip* \
 && useradd --system --uid 10001 --user-group --home-dir /data --no-create-home --shell /usr/sbin/nologin octopus \
 && mkdir -p /data && chown octopus:octopus /data && chmod 0700 /data
# The same path as in the build stage: the environment's scripts name their interpreter by it.
COPY --from=build /opt/octopus /opt/octopus
ENV PATH=/opt/octopus/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    OCTOPUS_STORAGE_DATA_DIR=/data \
    OCTOPUS_SERVER_HOST=0.0.0.0 \
    OCTOPUS_SERVER_PORT=8000
USER octopus
VOLUME /data
EXPOSE 8000
# No curl in the image: the interpreter asks. /api/health needs no account; 127.0.0.1 is always a
# name the server answers to (docs/admin.md, "Serving the home network").
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/api/health', timeout=4).status != 200)"]
# `docker stop` sends SIGTERM, which `octopus serve` answers with a clean shutdown.
STOPSIGNAL SIGTERM
ENTRYPOINT ["octopus"]
CMD ["serve"]
