"""E-mail over SMTP: a multipart text + HTML message whose Message-ID comes from the outbox key."""

from __future__ import annotations

import hashlib
import re
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from onduty.clock import Clock
from onduty.notify import render
from onduty.notify.channels.base import (
    Address,
    ChannelError,
    Message,
    PermanentError,
    Receipt,
    RetryableError,
)
from onduty.notify.signing import IDEMPOTENCY_HEADER

_SAFE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


class EmailChannel:
    """Sends one message per call through the configured SMTP server (stdlib `smtplib`).

    Duplicates: SMTP has no idempotency, so a crash after the server accepted DATA sends the
    mail again on retry; both copies carry the same `Message-ID` (derived from the
    idempotency key), which mail stores and clients use to collapse repeats. Mails about one
    incident share a `References` header so clients thread them.
    Outcomes: SMTP 4xx replies, disconnects, timeouts and refused connections are retryable;
    5xx replies (e.g. `550` recipient rejected, `535` bad credentials) are permanent.
    """

    type = "email"

    def __init__(
        self,
        *,
        host: str,
        port: int,
        from_addr: str,
        clock: Clock,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout_s: float = 10,
    ) -> None:
        self._host = host
        self._port = port
        self._from = from_addr
        self._clock = clock
        self._username = username
        self._password = password
        self._starttls = starttls
        self._timeout = timeout_s
        self._domain = parseaddr(from_addr)[1].rpartition("@")[2] or "onduty.invalid"

    def message_id(self, idempotency_key: str) -> str:
        """Return the `Message-ID` for a key: the same key always gives the same id."""
        local = idempotency_key if _SAFE_ID.fullmatch(idempotency_key) else _digest(idempotency_key)
        return f"<onduty.{local}@{self._domain}>"

    def build(self, message: Message, address: Address) -> EmailMessage:
        """Return the MIME message `send` would transmit (also useful for previews)."""
        to = parseaddr(address.value)[1]
        if "@" not in to or any(c in address.value for c in "\r\n"):
            raise PermanentError(f"not an e-mail address: {address.value!r}")
        mail = EmailMessage()
        mail["From"] = self._from
        mail["To"] = address.value
        mail["Subject"] = render.subject(message)
        mail["Date"] = format_datetime(self._clock.now())
        mail["Message-ID"] = self.message_id(message.idempotency_key)
        if message.incident is not None:
            thread = f"<onduty.incident.{_digest(message.incident.id)}@{self._domain}>"
            mail["References"] = thread
            mail["In-Reply-To"] = thread
        mail[IDEMPOTENCY_HEADER] = message.idempotency_key
        # RFC 3834: tells vacation responders and ticket systems not to answer a page.
        mail["Auto-Submitted"] = "auto-generated"
        mail["X-Auto-Response-Suppress"] = "All"
        mail.set_content(render.text_body(message))
        mail.add_alternative(render.html_body(message), subtype="html")
        return mail

    def send(self, message: Message, address: Address) -> Receipt:
        mail = self.build(message, address)
        smtp = smtplib.SMTP(timeout=self._timeout)
        try:
            smtp.connect(self._host, self._port)
            if self._starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self._username:
                smtp.login(self._username, self._password or "")
            smtp.send_message(mail, from_addr=self._from, to_addrs=[parseaddr(address.value)[1]])
        except (smtplib.SMTPException, OSError) as exc:
            raise _classify(exc) from exc
        finally:
            _close(smtp)
        return Receipt(provider_id=mail["Message-ID"], detail=f"accepted by {self._host}")


def _classify(exc: smtplib.SMTPException | OSError) -> ChannelError:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        # One recipient per send, so the only refusal is ours.
        code, reply = next(iter(exc.recipients.values()), (0, b""))
        return _by_code(code, f"recipient refused: {code} {_text(reply)}")
    if isinstance(exc, smtplib.SMTPResponseException):
        return _by_code(exc.smtp_code, f"SMTP {exc.smtp_code} {_text(exc.smtp_error)}")
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return RetryableError(f"SMTP server disconnected: {exc}")
    if isinstance(exc, smtplib.SMTPException | ssl.SSLCertVerificationError):
        # Missing STARTTLS/AUTH support, no usable auth mechanism, an untrusted certificate:
        # configuration problems that no retry will fix.
        return PermanentError(f"SMTP: {exc}")
    return RetryableError(f"SMTP connection to server failed: {type(exc).__name__}: {exc}")


def _by_code(code: int, reason: str) -> ChannelError:
    if 500 <= code < 600:
        return PermanentError(reason, code=str(code))
    return RetryableError(reason)


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else reply


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def _close(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        # The send already succeeded or failed; a failed QUIT changes neither.
        smtp.close()
