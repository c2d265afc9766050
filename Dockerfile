# redigest in a container: the bot on Discord and/or Slack, its database on the /data volume.
#   docker build -t redigest .
#   docker run -d --name redigest --env-file .env -v redigest-data:/data redigest
# (compose.yaml does the same with a restart policy; compose.cluster.yaml runs it as several
# processes on PostgreSQL: the [postgres] extra is installed.) Without DISCORD_TOKEN or
# SLACK_BOT_TOKEN `redigest run` is the console, which needs `docker run -it`.

# --- build: the package and its dependencies in a virtualenv --------------------------------
FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY adapters ./adapters
COPY digest ./digest
RUN python -m venv /opt/redigest \
    && /opt/redigest/bin/pip install --no-cache-dir '.[postgres]' \
    && /opt/redigest/bin/redigest --help > /dev/null

# --- run: the virtualenv, the example threads, a user without privileges --------------------
FROM python:3.11-slim
ENV PATH=/opt/redigest/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    REDIGEST_DATABASE_PATH=/data/redigest.sqlite3 \
    REDIGEST_SAVED_THREADS=/app/examples \
    MPLCONFIGDIR=/tmp/matplotlib
RUN useradd --system --uid 10001 --user-group --home-dir /app --shell /usr/sbin/nologin redigest \
    && mkdir -p /data \
    && chown redigest:redigest /data
COPY --from=build /opt/redigest /opt/redigest
COPY examples /app/examples
WORKDIR /app
USER redigest
VOLUME ["/data"]
# Exit 0 while the bot runs, its database is readable and every chat is connected (see README).
HEALTHCHECK --interval=60s --timeout=15s --start-period=90s --retries=3 CMD ["redigest", "health"]
ENTRYPOINT ["redigest"]
CMD ["run"]
