# syntax=docker/dockerfile:1
# Build: docker build -t baseten-slack-bot .
# Run:   docker run -e BASETEN_API_KEY=... -e SLACK_BOT_TOKEN=... -e SLACK_SIGNING_SECRET=... \
#          -p 3000:3000 -v baseten-bot-data:/data baseten-slack-bot

# Both stages use one exact tag: the venv built in the first runs on the second's interpreter.
# 3.11.7 is the interpreter requirements.lock was frozen with and the suite runs on.
FROM python:3.11.7-slim-bookworm AS build
WORKDIR /src
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
COPY requirements.lock ./
RUN python -m venv /opt/venv && /opt/venv/bin/pip install --no-compile -r requirements.lock
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY migrations ./migrations
# pip check: the lock and the package's own requirements agree, nothing missing or clashing
RUN /opt/venv/bin/pip install --no-compile --no-deps . && /opt/venv/bin/pip check

FROM python:3.11.7-slim-bookworm
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    DATABASE_URL=sqlite:////data/baseten-bot.db \
    HOST=0.0.0.0 \
    PORT=3000
RUN useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin bot \
    && mkdir -p /data && chown bot:bot /data
COPY --from=build /opt/venv /opt/venv
USER bot
WORKDIR /data
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import os,urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT','3000'), timeout=4).status == 200 else 1)"
STOPSIGNAL SIGTERM
CMD ["baseten-bot", "serve"]
