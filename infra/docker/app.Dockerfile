# The Shiny dashboard on port 8000, behind Container Apps authentication.
# Build from the repository root: docker build -f infra/docker/app.Dockerfile .
FROM python:3.11.11-slim-bookworm

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
# Only this part, the library and the command line, with this part's dependencies (extra "app").
COPY shared ./shared
COPY chargeatlarge ./chargeatlarge
COPY report_app ./report_app
RUN pip install --no-cache-dir ".[app]" \
 && useradd --system --uid 10001 --home-dir /data --create-home cal
USER 10001
ENV CAL_DATA_DIR=/data PYTHONUNBUFFERED=1
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/', timeout=4)"
ENTRYPOINT ["chargeatlarge"]
CMD ["app", "--host", "0.0.0.0", "--port", "8000"]
