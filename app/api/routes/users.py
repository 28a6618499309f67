"""Vendor registration, profile and store settings."""

from fastapi import APIRouter, Depends, HTTPException, Request, status

from app.api.authentication import AuthDep, CurrentUser
from app.api.deps import (
    ComposerDep,
    EventsDep,
    HasherDep,
    LimiterDep,
    SessionDep,
    SettingsDep,
    StorageDep,
)
from app.api.forms import field_error
from app.api.limits import limit_registration, password_check
from app.api.responses import errors
from app.domain.phones import normalise_whatsapp
from app.observability.events import BusinessEvent
from app.schemas.user import (
    AccountDeletion,
    AccountProfile,
    PasswordChange,
    ProfileUpdate,
    RegisterRequest,
    StoreSettingsUpdate,
    UserProfile,
)
from app.services import users as users_service
from app.services.errors import EmailTakenError, SlugTakenError, WrongPasswordError
from app.settings import Settings

router = APIRouter(prefix="/api/users", tags=["users"])


def whatsapp_digits(raw: str, settings: Settings) -> str:
    """The digits wa.me needs, local numbers read with this app's DEFAULT_COUNTRY_CODE; else 422."""
    try:
        return normalise_whatsapp(raw, settings.DEFAULT_COUNTRY_CODE)
    except ValueError as exc:
        raise field_error("whatsapp_number", f"Value error, {exc}") from None


@router.post(
    "/register",
    response_model=UserProfile,
    status_code=status.HTTP_201_CREATED,
    responses=errors(400, 409, 413, 422, 429),
    dependencies=[Depends(limit_registration)],
)
async def register(
    data: RegisterRequest,
    session: SessionDep,
    settings: SettingsDep,
    hasher: HasherDep,
    composer: ComposerDep,
    events: EventsDep,
) -> UserProfile:
    """Create a vendor account with its own store link, and email a link to verify it."""
    number = whatsapp_digits(data.whatsapp_number, settings)
    data = data.model_copy(update={"whatsapp_number": number})
    try:
        user = await users_service.register(session, hasher, composer, settings, data=data)
    except EmailTakenError:
        raise HTTPException(status.HTTP_409_CONFLICT, "Email already registered") from None
    except SlugTakenError:
        raise HTTPException(
            status.HTTP_409_CONFLICT, "Could not reserve a store link, please retry"
        ) from None
    events.record(BusinessEvent.USER_REGISTERED, user_id=user.id)
    return users_service.profile_of(user, settings)


@router.get("/me", response_model=AccountProfile, responses=errors(401))
async def read_me(user: CurrentUser, session: SessionDep, settings: SettingsDep) -> AccountProfile:
    """The logged-in vendor's profile, store link, and whether the email is confirmed."""
    return await users_service.account_profile(session, settings, user=user)


@router.patch("/me", response_model=UserProfile, responses=errors(400, 401, 403, 413, 422))
async def update_me(
    data: ProfileUpdate, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> UserProfile:
    """Change the WhatsApp number shoppers reach."""
    number = whatsapp_digits(data.whatsapp_number, settings)
    user = await users_service.update_whatsapp(session, user=user, whatsapp_number=number)
    return users_service.profile_of(user, settings)


@router.put("/me/store", response_model=UserProfile, responses=errors(400, 401, 403, 409, 413, 422))
async def update_store(
    data: StoreSettingsUpdate, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> UserProfile:
    """Rename the store or change its link; an explicit null clears the name."""
    changes = data.model_dump(include=data.model_fields_set)
    try:
        user = await users_service.update_store(session, user=user, changes=changes)
    except SlugTakenError:
        raise HTTPException(status.HTTP_409_CONFLICT, "Store link already taken") from None
    return users_service.profile_of(user, settings)


@router.post(
    "/me/password",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(400, 401, 403, 413, 422, 429),
)
async def change_password(
    request: Request,
    data: PasswordChange,
    auth: AuthDep,
    session: SessionDep,
    hasher: HasherDep,
    limiter: LimiterDep,
    settings: SettingsDep,
) -> None:
    """Set a new password; every other session is logged out."""
    async with password_check(request, limiter, settings, user_id=auth.user.id):
        try:
            await users_service.change_password(
                session,
                hasher,
                user=auth.user,
                current_session_id=auth.session_id,
                current_password=data.current_password,
                new_password=data.new_password,
            )
        except WrongPasswordError:
            raise HTTPException(
                status.HTTP_400_BAD_REQUEST, "Current password is incorrect"
            ) from None


@router.delete(
    "/me", status_code=status.HTTP_204_NO_CONTENT, responses=errors(400, 401, 403, 413, 422, 429)
)
async def delete_me(
    request: Request,
    data: AccountDeletion,
    user: CurrentUser,
    session: SessionDep,
    hasher: HasherDep,
    storage: StorageDep,
    limiter: LimiterDep,
    settings: SettingsDep,
) -> None:
    """Delete the account with its products, sessions and photos, after confirming the password."""
    async with password_check(request, limiter, settings, user_id=user.id):
        try:
            await users_service.delete_account(
                session, storage, hasher, user=user, password=data.password
            )
        except WrongPasswordError:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, "Password is incorrect") from None
