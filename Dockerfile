#
# Wasl in stages: `deps` makes a virtual environment with the locked dependencies
# (`deps-runtime` is the same without what only installs packages), the builder adds Wasl
# itself (editable) and compiles the gettext catalogs, and the runtime copies both and runs as
# a non-root user.
#
# The source tree keeps its layout under /app, and Wasl is installed into /opt/venv in editable
# mode. bot/core/i18n.py finds the catalogs at <repo>/locales (Path(__file__).parents[2]), and
# that holds here because the code runs from /app, not from site-packages. Every stage uses the
# same paths, so the editable install's pointers and the `wasl` script's shebang stay valid.
# (storage/migrations is package data and also sits under /app/storage.)
#
# Layers, from the most stable: the base image; the dependencies (change only with
# requirements.lock; without pip, setuptools and the libraries' tests); matplotlib's font cache; Wasl's few files in the virtual environment
# (its .pth, metadata and `wasl` script); the code. A release that changes only code rebuilds
# and ships the last two, a few megabytes.
#
# PYTHON_IMAGE may be any Debian-like image with Python 3.11 and its venv module (python3, not
# only python): `python:3.11-slim` by default; deploy/local/ builds one from Debian's packages.

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS deps

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH
RUN python3 -m venv /opt/venv

# At the exact versions and hashes of the lock, so a code change does not reinstall them and
# every image holds the same packages as CI.
COPY requirements.lock /tmp/requirements.lock
RUN pip install --require-hashes -r /tmp/requirements.lock \
    && rm /tmp/requirements.lock \
    && touch /opt/venv/.deps


# What the runtime copies: the dependencies without the tools that install them (pip and
# setuptools, which the builder still needs) and without numpy's and matplotlib's own tests.
FROM deps AS deps-runtime

RUN python -m pip uninstall --yes --quiet pip setuptools \
    && site=$(python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])") \
    && rm -rf "$site"/numpy/*/tests "$site"/numpy/tests "$site"/matplotlib/tests


FROM deps AS builder

WORKDIR /app
COPY . .
# What the editable install adds to the environment (a few files) is set apart in /overlay, so
# that the runtime copies it on top of the unchanged dependency layer.
RUN pip install --no-deps -e . \
    && if ls locales/*/LC_MESSAGES/messages.po > /dev/null 2>&1; then \
           pybabel compile -d locales -D messages --statistics; \
       fi \
    && python -m compileall -q bot handlers storage \
    && mkdir /overlay \
    && cd /opt/venv \
    && find . -newer .deps \( -type f -o -type l \) -print0 | tar --null -T - -cf - | tar -C /overlay -xf -


FROM ${PYTHON_IMAGE} AS runtime

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MPLCONFIGDIR=/var/cache/wasl/matplotlib \
    DATABASE_URL=sqlite:////data/wasl.db \
    WASL_HOST=0.0.0.0 \
    WASL_PORT=8080

RUN groupadd --system wasl \
    && useradd --system --gid wasl --home-dir /app --no-create-home --shell /usr/sbin/nologin wasl \
    && mkdir /data \
    && chown wasl:wasl /data

COPY --from=deps-runtime /opt/venv /opt/venv
# matplotlib keeps its font list in MPLCONFIGDIR: made once here and writable by wasl. (Without
# a writable one it rebuilds the list in a temporary folder in every process: 10 s a chart.)
RUN mkdir -p "$MPLCONFIGDIR" \
    && python -c "import matplotlib.font_manager" \
    && chown -R wasl:wasl /var/cache/wasl

COPY --from=builder /overlay/ /opt/venv/
COPY --from=builder /app /app
WORKDIR /app
USER wasl

# The SQLite database (unless DATABASE_URL points at PostgreSQL).
VOLUME ["/data"]
EXPOSE 8080

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('WASL_PORT', '8080') + '/healthz', timeout=4)"]

CMD ["wasl", "run"]
