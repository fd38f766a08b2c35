"""API tokens and web logins: create, verify, revoke (each change with its audit record).
Tokens are stored as SHA-256 digests (they are long and random, so a slow hash adds nothing);
passwords as argon2 hashes."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from onduty.audit import service as audit
from onduty.auth.models import ApiToken
from onduty.errors import InvalidInput, NotFound
from onduty.people.models import Login, Person

ROLES = ("viewer", "responder", "manager", "admin")
TOKEN_PREFIX = "odt_"
MAX_TOKEN_NAME = 100  # api_token.name holds 100 characters
_hasher = PasswordHasher()


def role_allows(role: str, needed: str) -> bool:
    """Roles are ordered: viewers read, responders act, managers and admins configure."""
    return ROLES.index(role) >= ROLES.index(needed)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    session: Session,
    *,
    person_id: str | None,
    role: str,
    now: datetime,
    name: str | None = None,
    actor: str = audit.SYSTEM,
) -> str:
    """Store a new token and return it; this is the only time its plain text exists."""
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}, not {role!r}", "role")
    if name is not None and len(name) > MAX_TOKEN_NAME:
        raise InvalidInput(f"name: at most {MAX_TOKEN_NAME} characters", "name")
    if person_id is not None and session.get(Person, person_id) is None:
        raise NotFound(f"no person with id {person_id!r}", "person")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        person_id=person_id,
        role=role,
        token_hash=_digest(token),
        prefix=token[:10],
        name=name,
        created_at=now,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="token.create",
        object_type="api_token",
        object_id=str(row.id),
        at=now,
        after={"prefix": row.prefix, "role": role, "person": person_id, "name": name},
    )
    return token


def verify_token(session: Session, token: str) -> ApiToken | None:
    """The live token matching `token`, or None."""
    row = session.scalars(select(ApiToken).where(ApiToken.token_hash == _digest(token))).first()
    if row is None or row.revoked_at is not None:
        return None
    return row


def revoke_token(session: Session, *, token_id: int, now: datetime, actor: str) -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFound(f"no token with id {token_id}", "id")
    row.revoked_at = now
    audit.record(
        session,
        actor=actor,
        action="token.revoke",
        object_type="api_token",
        object_id=str(row.id),
        at=now,
        before={"prefix": row.prefix, "revoked": False},
        after={"revoked": True},
    )
    return row


def list_tokens(session: Session) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).order_by(ApiToken.id)))


MAX_USERNAME = 64  # the column's length
MAX_PASSWORD = 1024  # far above any passphrase; bounds the work a request can ask of argon2


def check_lengths(*, username: str, password: str) -> None:
    """Refuse an empty, overlong or NUL-holding username and an overlong password before any
    other work."""
    if not username:
        raise InvalidInput("the username is empty", "username")
    if len(username) > MAX_USERNAME:
        raise InvalidInput(f"the username is longer than {MAX_USERNAME} characters", "username")
    if "\x00" in username:  # PostgreSQL can neither store nor compare one
        raise InvalidInput("the username must not contain a NUL character", "username")
    if len(password) > MAX_PASSWORD:
        raise InvalidInput(f"the password is longer than {MAX_PASSWORD} characters", "password")


def create_login(
    session: Session,
    *,
    username: str,
    password: str,
    role: str,
    now: datetime,
    person_id: str | None = None,
    actor: str = audit.SYSTEM,
) -> Login:
    """Create a login, or give an existing one a new password, role and person (`login.reset`
    in the audit log, which never holds a password or its hash); a new password ends every
    session of the login."""
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}, not {role!r}", "role")
    check_lengths(username=username, password=password)
    if len(password) < 8:
        raise InvalidInput("password must be at least 8 characters", "password")
    login = find_login(session, username)
    before = None if login is None else {"role": login.role, "person": login.person_id}
    if login is None:
        login = Login(username=username, created_at=now, session_epoch=0, disabled=False)
        session.add(login)
    else:
        end_sessions(login)
    login.password_hash = _hasher.hash(password)
    login.role = role
    login.person_id = person_id
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="login.create" if before is None else "login.reset",
        object_type="login",
        object_id=username,
        at=now,
        before=before,
        after={"role": role, "person": person_id, "password": "set"},
    )
    return login


def find_login(session: Session, username: str) -> Login | None:
    return session.scalars(select(Login).where(Login.username == username)).first()


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether `password` matches; argon2 takes a tenth of a second of CPU, so the web layer
    runs this off its event loop. Without a hash (no such login) a hash is computed anyway, so
    the time taken does not reveal which usernames exist."""
    if password_hash is None:
        _hasher.hash(password)
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def end_sessions(login: Login) -> None:
    """Every session cookie issued so far for `login` stops working at its next request."""
    login.session_epoch += 1


def set_disabled(
    session: Session, *, username: str, disabled: bool, now: datetime, actor: str = audit.SYSTEM
) -> Login:
    """Disable a login (its sessions end and it cannot sign in) or enable it again
    (`login.disable` or `login.enable` in the audit log)."""
    login = find_login(session, username)
    if login is None:
        raise NotFound(f"no login named {username!r}", "username")
    if disabled and not login.disabled:
        end_sessions(login)
    before = {"disabled": login.disabled}
    login.disabled = disabled
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="login.disable" if disabled else "login.enable",
        object_type="login",
        object_id=username,
        at=now,
        before=before,
        after={"disabled": disabled},
    )
    return login
