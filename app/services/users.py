"""Vendor accounts: registration, profile, store settings, password and deletion."""

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.slugs import base_slug_for, first_free_slug
from app.images.encode import EncodedPhoto
from app.mail.compose import EmailComposer
from app.models import StoreAlias, User, UserSession
from app.models.base import new_id, utcnow
from app.schemas.user import AccountProfile, RegisterRequest, UserProfile
from app.security.passwords import PasswordHasher
from app.services import account_tokens, photos, recovery
from app.services.bodies import share_url
from app.services.errors import EmailTakenError, SlugTakenError, WrongPasswordError
from app.settings import Settings
from app.storage import Storage

# A slug picked just before a concurrent registration took it: try the next free one.
SLUG_ATTEMPTS = 5


def profile_of(user: User, settings: Settings) -> UserProfile:
    return UserProfile(
        id=user.id,
        email=user.email,
        whatsapp_number=user.whatsapp_number,
        store_url=f"{settings.FRONTEND_URL}/store/{user.store_slug}",
        share_url=share_url(settings.share_base_url, user.store_slug),
        store_name=user.store_name,
        store_slug=user.store_slug,
        banner_url=user.banner_url,
        created_at=user.created_at,
    )


async def account_profile(
    session: AsyncSession, settings: Settings, *, user: User
) -> AccountProfile:
    """The profile with the address's state: verified, and any change waiting for its link."""
    pending = await account_tokens.pending_email(session, user_id=user.id)
    return AccountProfile(
        **profile_of(user, settings).model_dump(),
        email_verified=user.email_verified,
        pending_email=pending,
    )


async def _taken_slugs(session: AsyncSession, base: str) -> set[str]:
    """Slugs and kept old links (which the storefront matches first) starting with `base`."""
    slugs = select(User.store_slug).where(
        (User.store_slug == base) | User.store_slug.startswith(f"{base}-", autoescape=True)
    )
    aliases = select(StoreAlias.alias).where(
        (StoreAlias.alias == base) | StoreAlias.alias.startswith(f"{base}-", autoescape=True)
    )
    return set(await session.scalars(slugs.union(aliases)))


async def _alias_of_another(session: AsyncSession, *, slug: str, user_id: str) -> bool:
    owner = await session.scalar(select(StoreAlias.user_id).where(StoreAlias.alias == slug))
    return owner is not None and owner != user_id


async def register(
    session: AsyncSession,
    hasher: PasswordHasher,
    composer: EmailComposer,
    settings: Settings,
    *,
    data: RegisterRequest,
) -> User:
    """Create a vendor and queue their verification email in the same transaction; the unique
    index on email decides between concurrent sign-ups."""
    hashed = await hasher.hash(data.password)
    base = base_slug_for(data.email.split("@", 1)[0])
    for _ in range(SLUG_ATTEMPTS):
        slug = first_free_slug(base, await _taken_slugs(session, base))
        user = User(
            id=new_id("user"),
            email=data.email,
            hashed_password=hashed,
            whatsapp_number=data.whatsapp_number,
            store_slug=slug,
        )
        session.add(user)
        try:
            await session.flush()  # the token and the email job refer to the vendor's row
            await recovery.queue_verification(session, composer, settings, user=user)
            await session.commit()
        except IntegrityError:
            await session.rollback()
            if await session.scalar(select(User.id).where(User.email == data.email)):
                raise EmailTakenError from None
            continue
        return user
    raise SlugTakenError


async def update_store(
    session: AsyncSession, *, user: User, changes: dict[str, str | None]
) -> User:
    """Apply store name/slug changes; a slug another store holds raises SlugTakenError."""
    if "store_slug" in changes and changes["store_slug"] is None:
        del changes["store_slug"]  # every store keeps a link
    new_slug = changes.get("store_slug")
    # Another vendor's old link (kept from the earlier backend) would win over this slug.
    if new_slug and await _alias_of_another(session, slug=new_slug, user_id=user.id):
        raise SlugTakenError
    for field, value in changes.items():
        setattr(user, field, value)
    if changes:
        user.updated_at = utcnow()
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise SlugTakenError from None
    return user


async def update_whatsapp(session: AsyncSession, *, user: User, whatsapp_number: str) -> User:
    user.whatsapp_number = whatsapp_number
    user.updated_at = utcnow()
    await session.commit()
    return user


async def change_password(
    session: AsyncSession,
    hasher: PasswordHasher,
    *,
    user: User,
    current_session_id: str,
    current_password: str,
    new_password: str,
) -> None:
    """Set a new password, revoke every other session and every emailed link, all in one
    transaction."""
    ok, _ = await hasher.verify_and_update(current_password, user.hashed_password)
    if not ok:
        raise WrongPasswordError
    user.hashed_password = await hasher.hash(new_password)
    user.updated_at = utcnow()
    await session.execute(
        update(UserSession)
        .where(
            UserSession.user_id == user.id,
            UserSession.id != current_session_id,
            UserSession.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow())
    )
    await account_tokens.revoke_all(session, user_id=user.id)
    await session.commit()


async def set_banner(
    session: AsyncSession, storage: Storage, *, user: User, image: EncodedPhoto
) -> str:
    """Store the new banner, point the store at it, then remove the one it replaces."""
    new = await photos.store(
        session, storage, folder=photos.banner_folder(user.id), images={0: image}
    )
    previous = user.banner_url
    user.banner_url = new.urls[0]
    user.updated_at = utcnow()
    await photos.commit_or_release(session, storage, new=new)
    await photos.release(session, storage, urls=[previous])
    return new.urls[0]


async def remove_banner(session: AsyncSession, storage: Storage, *, user: User) -> bool:
    """Clear the banner; False when there was none."""
    previous = user.banner_url
    if not previous:
        return False
    user.banner_url = None
    user.updated_at = utcnow()
    await session.commit()
    await photos.release(session, storage, urls=[previous])
    return True


async def delete_account(
    session: AsyncSession, storage: Storage, hasher: PasswordHasher, *, user: User, password: str
) -> None:
    """Delete the vendor with products, sessions, emailed links and queued emails (ON DELETE
    CASCADE), then their photos."""
    ok, _ = await hasher.verify_and_update(password, user.hashed_password)
    if not ok:
        raise WrongPasswordError
    user_id = user.id
    urls = await photos.vendor_photo_urls(session, user_id=user_id)
    await session.execute(delete(User).where(User.id == user_id))
    await session.commit()
    await photos.release(session, storage, urls=urls)
