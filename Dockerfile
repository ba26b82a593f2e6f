# Two stages: wheels are built with the build tools, the runtime image holds only the installed bot.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml requirements.lock README.md ./
COPY bot ./bot
COPY adapters ./adapters
COPY knowledge ./knowledge
RUN pip wheel --no-cache-dir --wheel-dir /wheels -c requirements.lock '.[slack,discord,postgres]'

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 careerbot
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels careerbot[slack,discord,postgres] \
    && rm -rf /wheels
# The knowledge is served from here; mount a directory over it for live edits (see docker-compose.yml).
COPY --chown=careerbot:careerbot knowledge /app/knowledge
WORKDIR /app
USER careerbot
ENV CAREERBOT_DATA_DIR=/home/careerbot/data \
    CAREERBOT_KNOWLEDGE=/app/knowledge \
    CAREERBOT_HTTP_PORT=3000 \
    PYTHONUNBUFFERED=1
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:3000/readyz', timeout=3)"
STOPSIGNAL SIGTERM
CMD ["careerbot", "run"]
