"""While the database cannot be reached, requests are answered 503 with Retry-After within
seconds (nothing was stored; the sender retries), never a 500 and never a hang."""

from __future__ import annotations

import socket
import time

from fastapi.testclient import TestClient
from tests.conftest import TEST_SECRET

from onduty.config import Settings
from onduty.web.app import create_app


def test_an_unreachable_database_is_a_503_in_seconds() -> None:
    with socket.socket() as s:  # a port nothing listens on: connections are refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = Settings(
        database_url=f"postgresql://postgres@127.0.0.1:{port}/gone", secret_key=TEST_SECRET
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        for method, path in (
            ("POST", "/integrations/acmestorefrontalertmanager0001"),
            ("GET", "/api/v1/incidents"),
            ("GET", "/readyz"),
        ):
            started = time.monotonic()
            answer = client.request(
                method, path, content=b"{}", headers={"Authorization": "Bearer odt_x"}
            )
            assert time.monotonic() - started < 10
            if path == "/readyz":  # the readiness probe says so in its own words
                assert answer.status_code == 503, answer.text
                continue
            assert answer.status_code == 503, (path, answer.text)
            assert answer.headers["retry-after"] == "5"
            assert answer.json() == {
                "error": "the database is unavailable; retry shortly",
                "field": None,
            }
