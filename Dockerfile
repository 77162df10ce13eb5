# Heartbeat Operator: one image for every process (workers on any task queue, the bot, or `hbo up`).
#
#   docker build -t heartbeat-operator .
#   docker run --rm -e TEMPORAL_ADDRESS=temporal.example:7233 heartbeat-operator hbo worker --queue execution
#
# docker-compose.temporal.yml builds this image for its worker-* and bot services.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# bubblewrap: every command runs in its sandbox (EXECUTION_SANDBOX=auto); the compose file's
# worker-execution service gives the container what bubblewrap needs to start there.
RUN apt-get update \
    && apt-get install -y --no-install-recommends bubblewrap \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src

# Dependencies first, in their own layer: it is rebuilt only when pyproject.toml changes.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# Then the project itself (what gets copied is filtered by .dockerignore).
COPY . .
RUN pip install . \
    && rm -rf build ./*.egg-info

# Run as an unprivileged user; job workspaces, notes and reports live under /data.
RUN useradd --create-home --home-dir /home/hbo --uid 10001 --user-group --shell /usr/sbin/nologin hbo \
    && mkdir -p /data \
    && chown hbo:hbo /data
ENV HBO_DATA_DIR=/data
VOLUME ["/data"]

USER hbo
WORKDIR /home/hbo

# Default: every task queue in one process. Pick queues with `hbo worker --queue NAME`
# (repeatable), or run `hbo bot` for the Telegram bot only.
CMD ["hbo", "worker"]
