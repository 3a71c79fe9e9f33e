# The hub's image: one image for every process (web, relay, worker, scheduler); the command picks the role.
# Build: docker build -t hub .    Run: see deploy/compose.yaml and docs/production.md
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HUB_CONFIG=/etc/hub/hub.yaml

WORKDIR /app
COPY . .
# constraints.txt: the exact versions CI tested
RUN pip install --no-cache-dir -c constraints.txt . \
 && useradd --system --uid 10001 --home-dir /var/lib/hub --create-home hub

USER hub
WORKDIR /var/lib/hub
EXPOSE 8000
ENTRYPOINT ["hub"]
CMD ["web", "--bind", "0.0.0.0:8000"]
