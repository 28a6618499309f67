"""Readers for the Dockerfile and render.yaml, shared by the tests that check them."""

import json
import re
import secrets
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
# What an operator types into Render's dashboard for each `sync: false` key.
DASHBOARD_SAMPLES = {
    "CORS_ORIGINS": "https://quickvendor.example.com",
    "FRONTEND_URL": "https://quickvendor.example.com",
    "SHARE_BASE_URL": "",  # left empty: the service's own URL
    "SENTRY_DSN": "https://public@o0.ingest.sentry.io/0",
    "SENTRY_TEST_TOKEN": secrets.token_urlsafe(24),
    "S3_BUCKET": "quickvendor-photos",
    "S3_REGION": "auto",
    "S3_ENDPOINT_URL": "https://account.r2.cloudflarestorage.com",
    "S3_PUBLIC_BASE_URL": "https://photos.quickvendor.example.com",
    "S3_ACCESS_KEY_ID": "sample-key-id",
    "S3_SECRET_ACCESS_KEY": secrets.token_urlsafe(24),
    "SMTP_HOST": "smtp.example.com",
    "SMTP_USERNAME": "quickvendor",
    "SMTP_PASSWORD": secrets.token_urlsafe(24),
    "EMAIL_FROM": "QuickVendor <no-reply@quickvendor.example.com>",
    "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T000/B000/sample",
}


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str

    def exec_form(self) -> list[str]:
        """The JSON array after any `--flag=value` options (HEALTHCHECK's, for one)."""
        text = self.arguments
        if self.keyword == "HEALTHCHECK":
            text = text.split(" CMD ", 1)[1]
        words: list[str] = json.loads(text)
        return words


def dockerfile() -> list[Instruction]:
    text = (ROOT / "Dockerfile").read_text()
    joined = re.sub(r"\\\n", " ", text)
    instructions = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, arguments = line.partition(" ")
            instructions.append(Instruction(keyword.upper(), " ".join(arguments.split())))
    return instructions


def final_stage() -> list[Instruction]:
    instructions = dockerfile()
    last_from = max(i for i, step in enumerate(instructions) if step.keyword == "FROM")
    return instructions[last_from:]


def image_env() -> dict[str, str]:
    """ENV of the final stage (`KEY=value` pairs, quotes removed)."""
    env: dict[str, str] = {}
    for step in final_stage():
        if step.keyword == "ENV":
            for pair in shlex.split(step.arguments):
                key, _, value = pair.partition("=")
                env[key] = value
    return env


def blueprint() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "render.yaml").read_text())
    return data


def web_service() -> dict[str, Any]:
    [service] = [s for s in blueprint()["services"] if s["type"] == "web"]
    return service


def commented_worker_service() -> dict[str, Any]:
    """The background worker service render.yaml carries commented out (a paid plan), as Render
    would read it once uncommented."""
    lines = (ROOT / "render.yaml").read_text().splitlines()
    start = lines.index("  # - type: worker")
    block = []
    for line in lines[start:]:
        if not line.startswith("  #"):
            break
        block.append(re.sub(r"^  # ?", "", line))
    [service] = yaml.safe_load("\n".join(block))
    return dict(service)


def python_modules(command: list[str] | str) -> list[str]:
    """The modules a shell command runs with `python -m`."""
    text = command if isinstance(command, str) else " ".join(command)
    return re.findall(r"python -m ([\w.]+)", text)


def blueprint_environment() -> dict[str, str]:
    """The environment Render gives the service from the Blueprint (secrets stood in for)."""
    values = {}
    for item in web_service()["envVars"]:
        key = item["key"]
        if "value" in item:
            values[key] = str(item["value"])
        elif item.get("generateValue"):
            values[key] = secrets.token_urlsafe(32)  # Render: a base64-encoded 256-bit secret
        elif "fromDatabase" in item:
            values[key] = "postgres://quickvendor:pw@dpg-example-a:5432/quickvendor"
        elif "fromService" in item:
            values[key] = "redis://red-example:6379"
        else:
            values[key] = DASHBOARD_SAMPLES[key]
    return values
