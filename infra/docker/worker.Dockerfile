# The ingest worker: OCPI, OCPP, REST and WebSocket feeds on port 8080.
# Build from the repository root: docker build -f infra/docker/worker.Dockerfile .
FROM python:3.11.11-slim-bookworm

# Microsoft ODBC Driver 18 for Azure SQL (pyodbc), from Microsoft's Debian 12 repository.
RUN apt-get update \
 && apt-get install -y --no-install-recommends curl gnupg ca-certificates \
 && curl -fsSL https://packages.microsoft.com/keys/microsoft.asc | gpg --dearmor -o /usr/share/keyrings/microsoft-prod.gpg \
 && echo "deb [arch=amd64,arm64 signed-by=/usr/share/keyrings/microsoft-prod.gpg] https://packages.microsoft.com/debian/12/prod bookworm main" > /etc/apt/sources.list.d/mssql-release.list \
 && apt-get update \
 && ACCEPT_EULA=Y apt-get install -y --no-install-recommends msodbcsql18 unixodbc \
 && apt-get purge -y curl gnupg && apt-get autoremove -y \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
# Only this part, the library and the command line, with this part's dependencies (extra "worker").
COPY shared ./shared
COPY chargeatlarge ./chargeatlarge
COPY ingest_worker ./ingest_worker
RUN pip install --no-cache-dir ".[worker]" \
 && useradd --system --uid 10001 --home-dir /data --create-home cal
USER 10001
ENV CAL_DATA_DIR=/data PYTHONUNBUFFERED=1
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/livez', timeout=4)"
ENTRYPOINT ["chargeatlarge"]
CMD ["worker", "--feeds", "/config/feeds.toml", "--host", "0.0.0.0", "--port", "8080"]
