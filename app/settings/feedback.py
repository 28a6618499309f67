"""Feedback settings: where reports go (Slack), who may send them, and how often."""

from pydantic import Field, SecretStr, field_validator

from app.settings.common import SettingsMixin


class FeedbackSettings(SettingsMixin):
    # A Slack incoming webhook; the URL itself is the credential. Unset: reports are stored only
    # (read them with `python -m app.feedback list`).
    SLACK_WEBHOOK_URL: SecretStr | None = None
    # Set: a report must carry `Authorization: Bearer <this key>` (the earlier backend's rule).
    # The web frontend sends no key, so leave it unset while it calls the API directly.
    FEEDBACK_SECRET_KEY: SecretStr | None = None
    # Reports per client address and window.
    FEEDBACK_RATE_LIMIT: int = Field(default=10, ge=1)
    FEEDBACK_RATE_LIMIT_WINDOW_SECONDS: int = Field(default=300, ge=1)

    @field_validator("SLACK_WEBHOOK_URL", "FEEDBACK_SECRET_KEY", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # Render's dashboard and `.env` files give an unset secret as an empty string.
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("SLACK_WEBHOOK_URL")
    @classmethod
    def _check_webhook(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(("https://", "http://")):
            raise ValueError(
                "must be the webhook's full URL (https://hooks.slack.com/services/...)"
            )
        return value

    @property
    def slack_configured(self) -> bool:
        return self.SLACK_WEBHOOK_URL is not None
