# syntax=docker/dockerfile:1
# pdqhash (Meta's PDQ perceptual hash, intake.likeness) is published as source only: its C++ is compiled
# here, in a stage of its own, so that no compiler reaches the image that parses witnesses' files.
FROM python:3.11-slim-bookworm AS wheels
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
COPY requirements.txt .
RUN pip wheel --no-cache-dir --wheel-dir /wheels -r requirements.txt

FROM python:3.11-slim-bookworm

RUN apt-get update \
    && apt-get install -y --no-install-recommends libmagic1 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --create-home --home-dir /srv/intake intake

WORKDIR /srv/intake/app
COPY requirements.txt .
RUN --mount=type=bind,from=wheels,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links /wheels -r requirements.txt
COPY . .
RUN SECRET_KEY=only-for-collectstatic python manage.py collectstatic --noinput --verbosity 0

ENV PYTHONUNBUFFERED=1 \
    INTAKE_DATA_DIR=/srv/intake/data \
    GUNICORN_BIND=0.0.0.0:8000
RUN mkdir -p /srv/intake/data && chown intake /srv/intake/data
USER intake
EXPOSE 8000
CMD ["gunicorn", "--config", "config/gunicorn.py", "config.wsgi"]
