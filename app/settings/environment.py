"""Which deployment this is; several concerns pick their defaults from it."""

from typing import Literal

from app.settings.common import SettingsMixin

Environment = Literal["development", "staging", "production"]
ENVIRONMENTS: tuple[Environment, ...] = ("development", "staging", "production")


class EnvironmentSettings(SettingsMixin):
    ENVIRONMENT: Environment = "development"
    PROJECT_NAME: str = "QuickVendor API"
    VERSION: str = "1.0.0"

    @property
    def is_production(self) -> bool:
        return self.ENVIRONMENT == "production"

    def per_environment(self, setting: float | None, defaults: tuple[float, float, float]) -> float:
        """The setting when given, else the default for development, staging, production."""
        if setting is not None:
            return setting
        return dict(zip(ENVIRONMENTS, defaults, strict=True))[self.ENVIRONMENT]
