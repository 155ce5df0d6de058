# One image for every role: worker, beat, flower and the Zendesk simulator.
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
# zendesk-setup writes the webhook's signing secret here (a named volume takes this owner).
RUN mkdir -p /srv/state && chown nobody /srv/state
USER nobody
