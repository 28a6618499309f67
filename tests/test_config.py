"""Settings: URL normalising, list parsing, and refusing unsafe production configurations."""

import pytest
from pydantic import ValidationError

from app.settings import DEFAULT_SQLITE_URL, Settings

STRONG = "k" * 48
PG = "postgresql+asyncpg://u:p@db.example/quickvendor"


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@h:5432/db", "postgresql+asyncpg://u:p@h:5432/db"),
        ("postgresql://u:p@h/db?sslmode=require", "postgresql+asyncpg://u:p@h/db?sslmode=require"),
        ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("sqlite:///./local.db", "sqlite+aiosqlite:///./local.db"),
        ("", DEFAULT_SQLITE_URL),
    ],
)
def test_database_url_normalising(given: str, expected: str) -> None:
    assert expected == settings(DATABASE_URL=given).DATABASE_URL


def test_unset_database_url_means_sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert settings().is_sqlite


@pytest.mark.parametrize(
    "raw",
    ["https://a.example, https://b.example/", '["https://a.example", "https://b.example"]'],
)
def test_cors_origins_from_the_dashboard_or_json(raw: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORS_ORIGINS", raw)
    assert settings().CORS_ORIGINS == ["https://a.example", "https://b.example"]


def test_production_starts_with_safe_settings() -> None:
    prod = settings(
        ENVIRONMENT="production", SECRET_KEY=STRONG, DATABASE_URL=PG, CORS_ORIGINS="https://a.b"
    )
    assert prod.cookie_samesite == "none" and prod.cookie_secure
    assert prod.ACCESS_TOKEN_EXPIRE_MINUTES == 7 * 24 * 60


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({"SECRET_KEY": None}, "SECRET_KEY"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"SECRET_KEY": "development-secret-key-not-for-production"}, "SECRET_KEY"),
        ({"DATABASE_URL": None}, "SQLite"),
        ({"CORS_ORIGINS": ""}, "CORS_ORIGINS"),
        ({"CORS_ORIGINS": "*"}, "CORS_ORIGINS"),
        ({"CORS_ORIGINS": "https://*.onrender.com"}, "CORS_ORIGINS"),
    ],
)
def test_production_refuses_unsafe_settings(values: dict[str, object], reason: str) -> None:
    base: dict[str, object] = {
        "ENVIRONMENT": "production",
        "SECRET_KEY": STRONG,
        "DATABASE_URL": PG,
        "CORS_ORIGINS": "https://a.b",
    }
    base.update(values)
    base = {key: value for key, value in base.items() if value is not None}
    with pytest.raises(ValidationError, match=reason):
        settings(**base)


def test_sqlite_in_production_only_when_allowed() -> None:
    allowed = settings(
        ENVIRONMENT="production",
        SECRET_KEY=STRONG,
        ALLOW_SQLITE_IN_PRODUCTION=True,
        CORS_ORIGINS="https://a.b",
    )
    assert allowed.is_sqlite
