# One image for the server and the workers: `caviar serve` or `caviar worker`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --create-home --uid 1000 caviar
WORKDIR /app

COPY pyproject.toml README.md ./
COPY caviar ./caviar
COPY domain ./domain
COPY service ./service
COPY worker ./worker
COPY migrations ./migrations
COPY examples ./examples
RUN pip install .

USER caviar
ENV CAVIAR_CACHE_DIR=/home/caviar/.cache/caviar
EXPOSE 8000
CMD ["caviar", "serve", "--host", "0.0.0.0", "--port", "8000"]
