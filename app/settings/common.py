"""What every settings mixin shares: the project folder, list parsing, URL clean-up."""

import json
from pathlib import Path
from typing import Any

from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MIB = 1024 * 1024


def split_list(value: Any) -> Any:
    """Accept a JSON list or a comma-separated string, as typed into Render's dashboard."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [item.strip() for item in text.split(",") if item.strip()]
    return value


def strip_base_url(value: str | None) -> str | None:
    """A base URL without its trailing slash; empty means unset."""
    text = (value or "").strip().rstrip("/")
    return text or None


class SettingsMixin(BaseSettings):
    """Base of every mixin: the same environment, `.env` file and case rules for all of them."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)
