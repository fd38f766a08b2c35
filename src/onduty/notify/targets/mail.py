"""The `mail` target: a plain-text e-mail to an address that is no person's contact method
(status page subscribers), over the same SMTP server as the e-mail channel."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from onduty.clock import Clock
from onduty.notify.channels.base import PermanentError, Receipt
from onduty.notify.channels.email import _classify, _close, _digest
from onduty.notify.signing import IDEMPOTENCY_HEADER
from onduty.notify.targets.base import Call


class MailTarget:
    """Sends `payload` {to, subject, text, unsubscribe?}. The Message-ID comes from the
    idempotency key (a resend after a crash is the same mail to mail stores); a payload with an
    `unsubscribe` URL carries RFC 2369/8058 List-Unsubscribe headers. Outcomes as the e-mail
    channel's: SMTP 4xx and connection trouble retry, 5xx is permanent."""

    name = "mail"

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
        self._host, self._port, self._from, self._clock = host, port, from_addr, clock
        self._username, self._password, self._starttls = username, password, starttls
        self._timeout = timeout_s
        self._domain = parseaddr(from_addr)[1].rpartition("@")[2] or "onduty.invalid"

    def build(self, call: Call) -> EmailMessage:
        to, subject, text = (call.payload.get(k) for k in ("to", "subject", "text"))
        if not isinstance(to, str) or "@" not in to or any(c in to for c in "\r\n"):
            raise PermanentError(f"not an e-mail address: {to!r}")
        if not isinstance(subject, str) or not isinstance(text, str):
            raise PermanentError("mail target payload needs subject and text")
        mail = EmailMessage()
        mail["From"] = self._from
        mail["To"] = to
        mail["Subject"] = subject.replace("\r", " ").replace("\n", " ")
        mail["Date"] = format_datetime(self._clock.now())
        mail["Message-ID"] = f"<onduty.{_digest(call.idempotency_key)}@{self._domain}>"
        mail[IDEMPOTENCY_HEADER] = call.idempotency_key
        mail["Auto-Submitted"] = "auto-generated"
        unsubscribe = call.payload.get("unsubscribe")
        if isinstance(unsubscribe, str):
            mail["List-Unsubscribe"] = f"<{unsubscribe}>"
            mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        mail.set_content(text)
        return mail

    def send(self, call: Call) -> Receipt:
        mail = self.build(call)
        smtp = smtplib.SMTP(timeout=self._timeout)
        try:
            smtp.connect(self._host, self._port)
            if self._starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self._username:
                smtp.login(self._username, self._password or "")
            smtp.send_message(mail, from_addr=self._from, to_addrs=[str(mail["To"])])
        except (smtplib.SMTPException, OSError) as exc:
            raise _classify(exc) from exc
        finally:
            _close(smtp)
        return Receipt(provider_id=mail["Message-ID"], detail=f"accepted by {self._host}")
