"""API tokens and web logins: create, verify, revoke (each change with its audit record).
Tokens are stored as SHA-256 digests (they are long and random, so a slow hash adds nothing);
passwords as argon2 hashes."""

from __future__ import annotations

import hashlib
import math
import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from onduty.audit import service as audit
from onduty.auth.models import ApiToken, LoginFailure
from onduty.errors import InvalidInput, NotFound, OndutyError
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
    in the audit log, which never holds a password or its hash)."""
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}, not {role!r}", "role")
    if len(password) < 8:
        raise InvalidInput("password must be at least 8 characters", "password")
    login = session.scalars(select(Login).where(Login.username == username)).first()
    before = None if login is None else {"role": login.role, "person": login.person_id}
    if login is None:
        login = Login(username=username, created_at=now)
        session.add(login)
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


class TooManyAttempts(OndutyError):
    """Logins for this username are paused after repeated failures."""

    def __init__(self, seconds: int) -> None:
        super().__init__(f"too many failed logins: try again in {seconds} s", "username")
        self.seconds = seconds


def login(
    session: Session, *, username: str, password: str, now: datetime, free_attempts: int = 5
) -> Login | None:
    """Check a password, slowing down guessing: after `free_attempts` failures each further
    attempt must wait twice as long as the last (1 s, 2 s, 4 s, … up to 15 minutes).

    Raises:
        TooManyAttempts: the username is paused; nothing was checked.
    """
    failure = session.get(LoginFailure, username)
    if failure is not None and failure.failures >= free_attempts:
        wait = timedelta(seconds=min(2 ** (failure.failures - free_attempts), 900))
        if now < failure.last_failure_at + wait:
            remaining = (failure.last_failure_at + wait - now).total_seconds()
            raise TooManyAttempts(max(1, math.ceil(remaining)))
    found = check_password(session, username=username, password=password)
    if found is None:
        if failure is None:
            failure = LoginFailure(username=username, failures=0)
            session.add(failure)
        failure.failures += 1
        failure.last_failure_at = now
    elif failure is not None:
        session.delete(failure)
    session.flush()
    return found


def check_password(session: Session, *, username: str, password: str) -> Login | None:
    login = session.scalars(select(Login).where(Login.username == username)).first()
    if login is None:
        # Spend the same time as a real check, so timing does not reveal which usernames exist.
        _hasher.hash(password)
        return None
    try:
        _hasher.verify(login.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    return login
