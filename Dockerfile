# syntax=docker/dockerfile:1
#
# Wasl in two stages: the builder makes a virtual environment with Wasl installed and the gettext
# catalogs compiled; the runtime copies it and runs as a non-root user.
#
# The source tree keeps its layout under /app, and Wasl is installed into /opt/venv in editable
# mode. bot/core/i18n.py finds the catalogs at <repo>/locales (Path(__file__).parents[2]), and
# that holds here because the code runs from /app, not from site-packages. Both stages use the
# same paths, so the editable install's pointers and the `wasl` script's shebang stay valid.
# (storage/migrations is package data and also sits under /app/storage.)

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH
WORKDIR /app
RUN python -m venv /opt/venv

# Dependencies first, at the exact versions and hashes of the lock, so a code change does not
# reinstall them and every image holds the same packages as CI.
COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock

COPY . .
RUN pip install --no-deps -e . \
    && if ls locales/*/LC_MESSAGES/messages.po > /dev/null 2>&1; then \
           pybabel compile -d locales -D messages --statistics; \
       fi \
    && python -m compileall -q bot handlers storage


FROM ${PYTHON_IMAGE} AS runtime

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DATABASE_URL=sqlite:////data/wasl.db \
    WASL_HOST=0.0.0.0 \
    WASL_PORT=8080

RUN groupadd --system wasl \
    && useradd --system --gid wasl --home-dir /app --no-create-home --shell /usr/sbin/nologin wasl \
    && mkdir /data \
    && chown wasl:wasl /data

COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /app /app
WORKDIR /app
USER wasl

# The SQLite database (unless DATABASE_URL points at PostgreSQL).
VOLUME ["/data"]
EXPOSE 8080

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('WASL_PORT', '8080') + '/healthz', timeout=4)"]

CMD ["wasl", "run"]
