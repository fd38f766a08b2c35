"""`onduty serve --demo` as a real process: it migrates, loads Acme, prints a login and answers."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ONDUTY = str(Path(sys.executable).parent / "onduty")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_demo_server_answers_healthz(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONDUTY_")}
    env["ONDUTY_DATABASE_URL"] = f"sqlite:///{tmp_path / 'demo.db'}"
    log = (tmp_path / "out.log").open("w+")
    proc = subprocess.Popen(
        [ONDUTY, "serve", "--demo", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=tmp_path,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).json() == {"status": "ok"}:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, (tmp_path / "out.log").read_text()
            assert time.monotonic() < deadline, "the demo did not answer within 60 s"
            time.sleep(0.2)
        ready = httpx.get(f"{base}/readyz").json()
        assert ready["status"] == "ok"
        output = (tmp_path / "out.log").read_text()
        login = re.search(r"login: admin / (\S+)", output)
        assert login, output
        with httpx.Client(base_url=base) as browser:
            signed = browser.post("/login", data={"username": "admin", "password": login.group(1)})
            assert signed.status_code == 303
            home = browser.get("/").text
            assert "Acme Commerce" in home and "Checkout" in home
            services = browser.get("/services").text
            assert f"{base}/integrations/acmestorefrontalertmanager0001" in services
        openapi = httpx.get(f"{base}/api/openapi.json").json()
        assert openapi["info"]["title"] == "onduty"
        assert f"open {base}/" in output
        token = re.search(r"API token \(admin\): (\S+)", output)
        assert token
        listed = httpx.get(
            f"{base}/api/v1/integrations", headers={"Authorization": f"Bearer {token.group(1)}"}
        )
        assert listed.status_code == 200 and len(listed.json()) == 7
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()
