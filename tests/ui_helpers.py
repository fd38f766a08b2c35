"""Signing in through the real login form and reading CSRF tokens out of pages."""

from __future__ import annotations

import re
from datetime import datetime

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from onduty.auth import service as auth_service

PASSWORD = "correct horse battery"


def make_login(
    session_factory: sessionmaker[Session],
    now: datetime,
    username: str,
    role: str,
    person: str | None = None,
) -> None:
    with session_factory() as s, s.begin():
        auth_service.create_login(
            s, username=username, password=PASSWORD, role=role, now=now, person_id=person
        )


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> None:
    answer = client.post(
        "/login",
        data={"username": username, "password": password, "next": "/"},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text


def csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)
