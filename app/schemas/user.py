"""Vendor account and store-settings shapes."""

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, EmailStr, Field

from app.domain.phones import check_whatsapp_characters
from app.domain.slugs import SLUG_MAX_LENGTH, SLUG_MIN_LENGTH, SLUG_PATTERN, is_reserved
from app.schemas.common import strip_text

PASSWORD_MIN = 8
PASSWORD_MAX = 128


def _not_reserved(slug: str) -> str:
    if is_reserved(slug):
        raise ValueError("this store link is reserved; choose another")
    return slug


def _lower(value: str) -> str:
    return value.lower()


# As typed; the routes turn it into wa.me digits with the app's DEFAULT_COUNTRY_CODE.
WhatsAppNumber = Annotated[str, Field(max_length=40), AfterValidator(check_whatsapp_characters)]
Password = Annotated[str, Field(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)]
Email = Annotated[EmailStr, Field(max_length=254), AfterValidator(_lower)]
StoreSlug = Annotated[
    str,
    BeforeValidator(strip_text),
    Field(min_length=SLUG_MIN_LENGTH, max_length=SLUG_MAX_LENGTH, pattern=SLUG_PATTERN),
    AfterValidator(_not_reserved),
]
StoreName = Annotated[str, BeforeValidator(strip_text), Field(min_length=3, max_length=100)]


class RegisterRequest(BaseModel):
    email: Email
    password: Password
    whatsapp_number: WhatsAppNumber


class StoreSettingsUpdate(BaseModel):
    store_name: StoreName | None = None
    store_slug: StoreSlug | None = None


class ProfileUpdate(BaseModel):
    whatsapp_number: WhatsAppNumber


class PasswordChange(BaseModel):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: Password


class AccountDeletion(BaseModel):
    password: str = Field(min_length=1, max_length=1024)


class UserProfile(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    email: str
    whatsapp_number: str
    store_url: str
    # The store's own page, the link to share: <SHARE_BASE_URL>/s/<slug>.
    share_url: str
    store_name: str | None
    store_slug: str
    banner_url: str | None
    created_at: datetime


class AccountProfile(UserProfile):
    """The profile as its owner sees it (`GET /api/users/me`)."""

    email_verified: bool
    pending_email: str | None = Field(
        description="A new address waiting for its confirmation link to be opened"
    )


class EmailChange(BaseModel):
    new_email: Email
    password: str = Field(min_length=1, max_length=1024)


class BannerUploaded(BaseModel):
    message: str
    banner_url: str
