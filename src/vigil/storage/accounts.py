"""Console accounts: users (argon2 password hashes), login sessions and API tokens.

Secrets never reach the database in the clear: passwords are argon2 hashes,
and session cookies and API tokens are random 32-byte values stored only as
their SHA-256 (a fast hash is enough for values with 256 bits of entropy; it
lets a request be authenticated with one indexed lookup).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update

from vigil.storage.db import ApiToken, User, UserSession
from vigil.storage.store import Store

Role = Literal["viewer", "operator", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "operator", "admin")
_hasher = PasswordHasher()
# Verified against when the user does not exist, so timing does not reveal which usernames exist.
_DUMMY_HASH = _hasher.hash("vigil-no-such-user")


def role_rank(role: str) -> int:
    """viewer < operator < admin; unknown roles rank below everything."""
    return ROLES.index(role) if role in ROLES else -1  # type: ignore[arg-type]


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now(now: datetime | None = None) -> datetime:
    return now or datetime.now(UTC)


@dataclass(frozen=True)
class UserInfo:
    id: int
    username: str
    role: Role
    disabled: bool
    created_at: datetime


@dataclass(frozen=True)
class SessionInfo:
    user: UserInfo
    csrf_token: str
    expires_at: datetime


@dataclass(frozen=True)
class TokenInfo:
    id: int
    name: str
    username: str
    role: Role
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


@dataclass(frozen=True)
class TokenUser:
    """Who a live bearer token acts as: its user, with the lower of the token's and the user's role."""

    user: UserInfo
    token_id: int
    role: Role


#: ``last_used_at`` is written at most this often per token (not on every request).
LAST_USED_RESOLUTION = timedelta(seconds=60)


def _user(row: User) -> UserInfo:
    return UserInfo(row.id, row.username, row.role, row.disabled, row.created_at)  # type: ignore[arg-type]


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")


def create_user(store: Store, username: str, password: str, role: str) -> UserInfo:
    """Add a user; raises ``ValueError`` for a bad role, empty password or a taken name."""
    _check_role(role)
    username = username.strip()
    if not username or len(username) > 128:
        raise ValueError("username must be 1 to 128 characters")
    if len(password) < 8:
        raise ValueError("password must be at least 8 characters")
    with store.session() as s:
        if s.scalar(select(User.id).where(User.username == username)) is not None:
            raise ValueError(f"user {username!r} already exists")
        row = User(
            username=username, password_hash=_hasher.hash(password), role=role, disabled=False, created_at=_now()
        )
        s.add(row)
        s.flush()
        return _user(row)


def list_users(store: Store) -> list[UserInfo]:
    with store.read_session() as s:
        return [_user(r) for r in s.scalars(select(User).order_by(User.username))]


def get_user(store: Store, username: str) -> UserInfo | None:
    with store.read_session() as s:
        row = s.scalar(select(User).where(User.username == username))
        return None if row is None else _user(row)


def set_disabled(store: Store, username: str, disabled: bool = True) -> UserInfo:
    """Disable (or re-enable) a user; disabling also ends their sessions."""
    with store.session() as s:
        row = s.scalar(select(User).where(User.username == username))
        if row is None:
            raise KeyError(f"no user {username!r}")
        row.disabled = disabled
        if disabled:
            s.execute(delete(UserSession).where(UserSession.user_id == row.id))
        return _user(row)


def set_password(store: Store, username: str, password: str) -> None:
    if len(password) < 8:
        raise ValueError("password must be at least 8 characters")
    with store.session() as s:
        row = s.scalar(select(User).where(User.username == username))
        if row is None:
            raise KeyError(f"no user {username!r}")
        row.password_hash = _hasher.hash(password)


def authenticate(store: Store, username: str, password: str) -> UserInfo | None:
    """The enabled user whose password matches, else ``None`` (same cost either way)."""
    with store.read_session() as s:
        row = s.scalar(select(User).where(User.username == username))
        stored = row.password_hash if row is not None else _DUMMY_HASH
        user = _user(row) if row is not None else None
    try:
        _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or user.disabled:
        return None
    return user


# -- sessions -------------------------------------------------------------------------


def create_session(store: Store, user: UserInfo, ttl: timedelta, *, now: datetime | None = None) -> tuple[str, str]:
    """Start a session; returns ``(cookie value, csrf token)``."""
    now = _now(now)
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    with store.session() as s:
        s.execute(delete(UserSession).where(UserSession.expires_at <= now))
        s.add(UserSession(id=_digest(token), user_id=user.id, csrf_token=csrf, created_at=now, expires_at=now + ttl))
    return token, csrf


def get_session(store: Store, token: str, *, now: datetime | None = None) -> SessionInfo | None:
    """The live session for a cookie value, if it exists, has not expired and its user is enabled."""
    with store.read_session() as s:
        row = s.get(UserSession, _digest(token))
        if row is None or row.expires_at <= _now(now):
            return None
        user = s.get(User, row.user_id)
        if user is None or user.disabled:
            return None
        return SessionInfo(_user(user), row.csrf_token, row.expires_at)


def delete_session(store: Store, token: str) -> None:
    with store.session() as s:
        s.execute(delete(UserSession).where(UserSession.id == _digest(token)))


# -- API tokens -----------------------------------------------------------------------


def _token_info(row: ApiToken, username: str) -> TokenInfo:
    return TokenInfo(
        row.id, row.name, username, row.role, row.created_at, row.revoked_at, row.last_used_at  # type: ignore[arg-type]
    )


def lower_role(a: str, b: str) -> Role:
    """The lesser of two roles (an unknown role counts as none: viewer is the floor only for known roles)."""
    if role_rank(a) < 0 or role_rank(b) < 0:
        raise ValueError(f"unknown role {a if role_rank(a) < 0 else b!r}")
    return ROLES[min(role_rank(a), role_rank(b))]


def create_token(store: Store, user: UserInfo, name: str, role: str | None = None) -> tuple[int, str]:
    """A new bearer token acting as ``user`` with ``role`` (default: the user's); returns ``(id, token)``.

    Raises ``ValueError`` if ``role`` is above the user's own: a token never grants
    more than its creator has. The token itself is not stored, only its hash.
    """
    role = user.role if role is None else role
    _check_role(role)
    if role_rank(role) > role_rank(user.role):
        raise ValueError(f"a token's role ({role}) cannot be above its creator's ({user.role})")
    token = "vgl_" + secrets.token_urlsafe(32)
    with store.session() as s:
        row = ApiToken(name=name, token_hash=_digest(token), user_id=user.id, role=role, created_at=_now())
        s.add(row)
        s.flush()
        return row.id, token


def list_tokens(store: Store) -> list[TokenInfo]:
    q = select(ApiToken, User.username).join(User, User.id == ApiToken.user_id).order_by(ApiToken.id)
    with store.read_session() as s:
        return [_token_info(t, u) for t, u in s.execute(q)]


def revoke_token(store: Store, token_id: int, *, now: datetime | None = None) -> bool:
    """Revoke a token; ``False`` if there is no such (unrevoked) token."""
    with store.session() as s:
        row = s.get(ApiToken, token_id)
        if row is None or row.revoked_at is not None:
            return False
        row.revoked_at = _now(now)
        return True


def user_for_token(store: Store, token: str, *, now: datetime | None = None, touch: bool = True) -> TokenUser | None:
    """The enabled user a live bearer token acts as, and the role it has (at most the user's current role).

    With ``touch``, records the use in ``last_used_at`` (at most once per
    :data:`LAST_USED_RESOLUTION`, so busy integrations do not write on every call).
    """
    now = _now(now)
    with store.read_session() as s:
        row = s.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(token)))
        if row is None or row.revoked_at is not None:
            return None
        user = s.get(User, row.user_id)
        if user is None or user.disabled or role_rank(row.role) < 0 or role_rank(user.role) < 0:
            return None
        found = TokenUser(_user(user), row.id, lower_role(row.role, user.role))
        stale = row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION
    if touch and stale:
        with store.session() as s:
            s.execute(update(ApiToken).where(ApiToken.id == found.token_id).values(last_used_at=now))
    return found
