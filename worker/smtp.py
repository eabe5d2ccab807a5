"""SMTP reply transport (smtplib): one connection per outbox run, server answers mapped to retry or give up."""
from __future__ import annotations

import logging
import smtplib

from worker.mailbox import tls_context
from worker.transport import PermanentSendError, TemporarySendError

log = logging.getLogger(__name__)


def _error_for(code: int, what: str) -> Exception:
    """5xx is the server's final word; anything else (4xx, odd codes) may work later."""
    if 500 <= code < 600:
        return PermanentSendError(f"{what}: {code}")
    return TemporarySendError(f"{what}: {code}")


class SmtpTransport:
    """The production Transport. Connects on the first send, reuses the connection, QUITs on exit."""

    def __init__(self, host: str, port: int, *, security: str = "tls", username: str | None = None,
                 password: str | None = None, timeout: float = 30.0, verify_tls: bool = True,
                 ca_file: str | None = None) -> None:
        if security not in ("tls", "starttls", "plain"):
            raise ValueError(f"smtp security must be tls, starttls or plain, not {security!r}")
        self.host, self.port, self.security, self.timeout = host, port, security, timeout
        self.username, self._password = username or None, password
        self.verify_tls, self.ca_file = verify_tls, ca_file or None
        self._smtp: smtplib.SMTP | None = None
        self._unreachable: TemporarySendError | None = None
        self._sent_on_connection = 0

    def __enter__(self) -> "SmtpTransport":
        self._unreachable = None
        return self

    def __exit__(self, *exc: object) -> None:
        self._close(quit_first=True)

    # -- connection -----------------------------------------------------------------------------

    def _connect(self) -> smtplib.SMTP:
        """Open, secure and authenticate a connection; failures are TemporarySendError (not the reply's fault)."""
        ctx = tls_context(self.verify_tls, self.ca_file) if self.security != "plain" else None
        smtp: smtplib.SMTP | None = None
        try:
            if self.security == "tls":
                smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=ctx)
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            smtp.ehlo()
            if self.security == "starttls":
                smtp.starttls(context=ctx)  # raises SMTPNotSupportedError rather than go on in clear
                smtp.ehlo()
            if self.username:
                smtp.login(self.username, self._password or "")
        except (smtplib.SMTPException, OSError) as err:
            if smtp is not None:
                smtp.close()
            # Login refused or TLS not offered is a configuration problem, not the reply's: retry later.
            raise TemporarySendError(f"smtp {self.host}:{self.port}: connect failed: "
                                     f"{type(err).__name__}: {getattr(err, 'smtp_code', '')}") from err
        log.debug("smtp %s:%d: connected (%s)", self.host, self.port, self.security)
        self._sent_on_connection = 0
        return smtp

    def _close(self, quit_first: bool) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        if quit_first:
            try:
                smtp.quit()
                return
            except (smtplib.SMTPException, OSError) as err:  # already gone: just drop the socket
                log.debug("smtp: QUIT failed (%s)", type(err).__name__)
        smtp.close()

    # -- sending --------------------------------------------------------------------------------

    def send(self, data: bytes, sender: str, recipients: list[str]) -> None:
        """Send one rendered reply. Raises PermanentSendError (5xx) or TemporarySendError (4xx, network).

        A connection the server closed since the previous send (or closes with 421, as servers
        limiting messages per connection do) is reopened once; a server found unreachable in this
        run is not tried again for the following replies (they fail fast).
        """
        if not recipients:
            raise PermanentSendError("no recipients")
        if self._unreachable is not None:
            raise TemporarySendError(str(self._unreachable))
        reused = self._smtp is not None and self._sent_on_connection > 0
        try:
            self._send_once(data, sender, recipients)
        except smtplib.SMTPServerDisconnected:
            self._close(quit_first=False)
            if not reused:
                raise self._mark_unreachable("server closed the connection") from None
            log.info("smtp %s:%d: server closed the connection; reconnecting once", self.host, self.port)
            try:
                self._send_once(data, sender, recipients)
            except smtplib.SMTPServerDisconnected:
                self._close(quit_first=False)
                raise self._mark_unreachable("server closed the connection again") from None

    def _mark_unreachable(self, why: str) -> TemporarySendError:
        self._unreachable = TemporarySendError(f"smtp {self.host}:{self.port}: {why}")
        return self._unreachable

    def _send_once(self, data: bytes, sender: str, recipients: list[str]) -> None:
        """One attempt on the current (or a new) connection; only SMTPServerDisconnected escapes unmapped."""
        if self._smtp is None:
            try:
                self._smtp = self._connect()
            except TemporarySendError as err:
                self._unreachable = err
                raise
        smtp = self._smtp
        options = ["SMTPUTF8"] if not all(a.isascii() for a in [sender, *recipients]) else []
        if options and not smtp.has_extn("smtputf8"):
            raise PermanentSendError("a non-ASCII address and the server lacks SMTPUTF8")
        try:
            refused = smtp.sendmail(sender, recipients, data, mail_options=options)
        except smtplib.SMTPServerDisconnected:
            raise
        except smtplib.SMTPRecipientsRefused as err:  # smtplib has already sent RSET
            codes = sorted({code for code, _ in err.recipients.values()})
            if 421 in codes:  # the server is closing this connection (smtplib closed it)
                self._close(quit_first=False)
                raise smtplib.SMTPServerDisconnected("421 at RCPT") from err
            if any(500 <= c < 600 for c in codes) and not any(400 <= c < 500 for c in codes):
                raise PermanentSendError(f"every recipient refused: {codes}") from err
            raise TemporarySendError(f"every recipient refused: {codes}") from err
        except smtplib.SMTPResponseException as err:  # sender refused, DATA refused, ... (RSET sent)
            if err.smtp_code == 421:  # closing this connection, e.g. a messages-per-connection limit
                self._close(quit_first=False)
                raise smtplib.SMTPServerDisconnected(f"421 from {type(err).__name__}") from err
            raise _error_for(err.smtp_code, type(err).__name__) from err
        except (smtplib.SMTPException, OSError) as err:
            self._close(quit_first=False)
            raise self._mark_unreachable(f"{type(err).__name__} while sending") from err
        self._sent_on_connection += 1
        if refused:  # delivered to the others: resending would duplicate it for them
            log.warning("smtp: reply accepted for %d recipient(s), refused for %d (codes %s)",
                        len(recipients) - len(refused), len(refused),
                        sorted({code for code, _ in refused.values()}))

