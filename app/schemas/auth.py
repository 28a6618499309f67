"""Login and token shapes."""

from typing import Annotated

from pydantic import BaseModel, Field

from app.schemas.user import Password


class LoginRequest(BaseModel):
    email: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=1024)


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"


class SessionStatus(BaseModel):
    authenticated: bool


# Tokens are 43 characters; anything far longer is not one, and is not hashed.
AccountToken = Annotated[str, Field(min_length=1, max_length=256)]


class PasswordResetRequest(BaseModel):
    email: str = Field(min_length=1, max_length=320)


class PasswordResetConfirm(BaseModel):
    token: AccountToken
    new_password: Password


class TokenSubmission(BaseModel):
    token: AccountToken


class Detail(BaseModel):
    detail: str
