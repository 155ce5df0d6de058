# One image for every role in docker-compose.yml: zendesk-setup, the webhook receiver, the workers,
# beat, Flower, and the simulators of docker-compose.sim.yml.
FROM python:3.11-slim
WORKDIR /srv
COPY requirements.txt .
RUN pip install --no-cache-dir --require-hashes -r requirements.txt
COPY app app
COPY workers workers
COPY sim sim
# Flower reads its configuration (login, bind address) from the working directory.
COPY flowerconfig.py .
ENV PYTHONUNBUFFERED=1
# Where the runtime user writes: zendesk-setup the webhook's signing secret, `python -m app train` the
# local model. docker-compose.yml mounts named volumes here, and a new named volume takes the image's
# owner (a host folder would not: Docker creates a missing one as root).
RUN mkdir -p /srv/state /srv/models && chown nobody /srv/state /srv/models
USER nobody
