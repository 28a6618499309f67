"""Settings: URL normalising, list parsing, and refusing unsafe production configurations."""

import pytest
from pydantic import ValidationError

from app.settings import DEFAULT_SQLITE_URL, Settings, settings_error
from app.settings.auth import DEV_SECRET_KEY

STRONG = "Zq8-kV2pX_7nRt4sLw9yBc3mHd6jFg1e"  # 32 bytes, as random as secrets.token_urlsafe
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


SAFE = {
    "SECRET_KEY": STRONG,
    "DATABASE_URL": PG,
    "CORS_ORIGINS": "https://a.b",
}
# Refused in staging and in production alike: what a deployment sets that exposes accounts.
UNSAFE_ANYWHERE = {
    "no SECRET_KEY": ({"SECRET_KEY": None}, "SECRET_KEY"),
    "short secret": ({"SECRET_KEY": "short"}, "SECRET_KEY"),
    "development secret": (
        {"SECRET_KEY": "development-secret-key-not-for-production"},
        "SECRET_KEY",
    ),
    "development secret in spaces": (
        {"SECRET_KEY": f"  {DEV_SECRET_KEY} \t"},
        "SECRET_KEY",
    ),
    "one repeated character": ({"SECRET_KEY": "k" * 48}, "SECRET_KEY"),
    "two characters repeated": ({"SECRET_KEY": "ab" * 24}, "SECRET_KEY"),
    "known default in capitals": ({"SECRET_KEY": " CHANGEME "}, "SECRET_KEY"),
    "wildcard origin": ({"CORS_ORIGINS": "*"}, "CORS_ORIGINS"),
    "wildcard with SameSite=Lax": (
        {"CORS_ORIGINS": "*", "COOKIE_SAMESITE": "lax"},
        "CORS_ORIGINS",
    ),
    "wildcard subdomain": ({"CORS_ORIGINS": "https://*.onrender.com"}, "CORS_ORIGINS"),
    "null origin": ({"CORS_ORIGINS": "https://a.b,null"}, "CORS_ORIGINS"),
    "insecure cookie": ({"COOKIE_SECURE": "false"}, "COOKIE_SECURE"),
    "any proxy trusted": ({"TRUSTED_PROXIES": "*"}, "TRUSTED_PROXIES"),
}
# Refused in production only: its defaults need these set.
UNSAFE_IN_PRODUCTION = {
    "SQLite": ({"DATABASE_URL": None}, "SQLite"),
    "no origins for a cross-site cookie": ({"CORS_ORIGINS": ""}, "CORS_ORIGINS"),
}


def deployment(environment: str, values: dict[str, object]) -> Settings:
    merged = {"ENVIRONMENT": environment, **SAFE, **values}
    return settings(**{key: value for key, value in merged.items() if value is not None})


@pytest.mark.parametrize("environment", ["staging", "production"])
@pytest.mark.parametrize("case", sorted(UNSAFE_ANYWHERE))
def test_unsafe_settings_are_refused_with_one_line(
    environment: str, case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("SECRET_KEY", "DATABASE_URL", "CORS_ORIGINS", "TRUSTED_PROXIES"):
        monkeypatch.delenv(name, raising=False)
    values, reason = UNSAFE_ANYWHERE[case]
    with pytest.raises(ValidationError) as refused:
        deployment(environment, values)
    line = settings_error(refused.value)
    assert line.startswith(f"configuration error: refusing to start in {environment}: ")
    assert reason in line and "\n" not in line


@pytest.mark.parametrize("case", sorted(UNSAFE_IN_PRODUCTION))
def test_production_refuses_its_unsafe_defaults(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    values, reason = UNSAFE_IN_PRODUCTION[case]
    with pytest.raises(ValidationError, match=reason):
        deployment("production", values)
    assert deployment("staging", values).ENVIRONMENT == "staging"


def test_staging_on_sqlite_without_origins_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "CORS_ORIGINS"):
        monkeypatch.delenv(name, raising=False)
    staging = settings(ENVIRONMENT="staging", SECRET_KEY=STRONG)
    assert staging.is_sqlite and staging.CORS_ORIGINS == []
    assert not staging.cookie_secure  # its default; only an explicit false is refused


def test_sqlite_in_production_only_when_allowed() -> None:
    allowed = settings(
        ENVIRONMENT="production",
        SECRET_KEY=STRONG,
        ALLOW_SQLITE_IN_PRODUCTION=True,
        CORS_ORIGINS="https://a.b",
    )
    assert allowed.is_sqlite
