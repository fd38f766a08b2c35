"""The http check's probe: one GET with the check's timeout, its expected status and optional
body text. Probes go only where the policy file says: a redirect is followed only to the same
scheme, host and port (at most 5), and at most MAX_BODY bytes of an answer are read. No
database: the engine claims probes, runs them here outside any transaction, and records."""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx

MAX_BODY = 256 * 1024  # bytes read of an answer; the body text must appear in them
MAX_REDIRECTS = 5


@dataclass(frozen=True)
class Probe:
    check_id: str
    url: str
    timeout_s: float
    expect_status: int
    expect_body: str | None


@dataclass(frozen=True)
class Outcome:
    check_id: str
    ok: bool
    status: int | None
    seconds: float
    reason: str | None  # why it failed, for the history and the alert


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port


def run(probe: Probe, client: httpx.Client | None = None) -> Outcome:
    """Probe once; never raises (a failure is an Outcome with its reason)."""
    started = time.monotonic()
    deadline = started + probe.timeout_s

    def done(ok: bool, status: int | None, reason: str | None) -> Outcome:
        return Outcome(probe.check_id, ok, status, time.monotonic() - started, reason)

    own = client is None
    http = client or httpx.Client(follow_redirects=False, headers={"User-Agent": "onduty-check"})
    try:
        url = httpx.URL(probe.url)
        for _hop in range(MAX_REDIRECTS + 1):
            left = deadline - time.monotonic()
            if left <= 0:
                return done(False, None, f"no answer within {probe.timeout_s:g} s")
            with http.stream("GET", url, timeout=left, follow_redirects=False) as answer:
                if answer.is_redirect and answer.status_code != probe.expect_status:
                    target = url.join(answer.headers.get("location", ""))
                    if _origin(target) != _origin(url):
                        return done(
                            False,
                            answer.status_code,
                            f"redirected to another host ({target.host}), not followed",
                        )
                    url = target
                    continue
                body = b""
                for chunk in answer.iter_bytes():
                    body += chunk
                    if len(body) >= MAX_BODY or time.monotonic() > deadline:
                        break
                if time.monotonic() > deadline:
                    return done(
                        False, answer.status_code, f"no answer within {probe.timeout_s:g} s"
                    )
                if answer.status_code != probe.expect_status:
                    return done(
                        False,
                        answer.status_code,
                        f"status {answer.status_code}, expected {probe.expect_status}",
                    )
                if probe.expect_body and probe.expect_body.encode() not in body[:MAX_BODY]:
                    return done(
                        False,
                        answer.status_code,
                        f"{probe.expect_body!r} not in the first {len(body[:MAX_BODY])} bytes",
                    )
                return done(True, answer.status_code, None)
        return done(False, None, f"more than {MAX_REDIRECTS} redirects")
    except httpx.TimeoutException:
        return done(False, None, f"no answer within {probe.timeout_s:g} s")
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        return done(False, None, f"{type(exc).__name__}: {exc}"[:300])
    finally:
        if own:
            http.close()
