# QuickVendor API image. Build: docker build -t quickvendor-api .
# Run: docker run -p 8000:8000 -e DATABASE_URL=... -e SECRET_KEY=... -e CORS_ORIGINS=... quickvendor-api
# Start-up runs the pre-start step (wait for the database, migrate under an advisory lock), then
# the server on $PORT with $WEB_CONCURRENCY workers. See README, "Deploy".

ARG PYTHON_IMAGE=python:3.12-slim-bookworm

# Build stage: the virtual environment, from uv.lock exactly (every dependency ships wheels, so no
# compiler is needed even here).
FROM ${PYTHON_IMAGE} AS build
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1 \
    UV_PYTHON_DOWNLOADS=never \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN pip install --no-cache-dir "uv==0.13.9"
WORKDIR /app
COPY pyproject.toml uv.lock ./
RUN uv sync --locked --no-dev --no-install-project
COPY alembic.ini ./
COPY alembic ./alembic
COPY app ./app
RUN python -m compileall -q app alembic

# Runtime stage: the interpreter, the environment and the code; no uv, pip caches or build files.
FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 quickvendor \
    && useradd --system --uid 10001 --gid quickvendor --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin quickvendor
WORKDIR /app
COPY --from=build /app /app
# MALLOC_ARENA_MAX: without it glibc gives the password-hashing threads arenas of their own that
# keep the freed Argon2 buffers (README, "Load").
ENV PATH="/app/.venv/bin:${PATH}" \
    MALLOC_ARENA_MAX=2 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ENVIRONMENT=production \
    HOST=0.0.0.0 \
    PORT=8000
# The code stays owned by root: the server cannot rewrite it.
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-m", "app.healthcheck"]
CMD ["sh", "-c", "python -m app.prestart && exec python -m app.serve"]
