"""Builds the configured edges: mailbox (Maildir or IMAP), reply transport (Maildir or SMTP)."""
from __future__ import annotations

import logging
from datetime import datetime, timezone

from .config import Settings, secret_from_env
from .mailbox import Mailbox
from .maildir import MaildirMailbox, MaildirTransport
from .pipeline import WorkerContext
from .replies import ReplyRenderer
from .store import Store
from .transport import Transport

log = logging.getLogger(__name__)


def make_mailbox(settings: Settings) -> Mailbox:
    """A fresh (unconnected) mailbox; the pipeline enters it once per cycle."""
    mb = settings.mailbox
    if mb.kind == "maildir":
        return MaildirMailbox(mb.path, processed_folder=settings.imap.processed_folder,
                              failed_folder=settings.imap.failed_folder,
                              sent_folder=settings.imap.sent_folder, name=mb.name)
    from .mailbox import ImapMailbox

    imap = settings.imap
    password = secret_from_env(imap.password_env, "[imap] password_env") or ""
    return ImapMailbox(imap.host, imap.port, imap.username, password, security=imap.security,
                       inbox=imap.inbox, processed_folder=imap.processed_folder,
                       failed_folder=imap.failed_folder, sent_folder=imap.sent_folder,
                       timeout=imap.timeout, verify_tls=imap.verify_tls,
                       ca_file=str(imap.ca_file) if imap.ca_file else None, name=mb.name)


def make_transport(settings: Settings) -> Transport:
    if settings.outbox.kind == "maildir":
        return MaildirTransport(settings.outbox.path)
    from .smtp import SmtpTransport

    smtp = settings.smtp
    password = secret_from_env(smtp.password_env, "[smtp] password_env") if smtp.username else None
    return SmtpTransport(smtp.host, smtp.port, security=smtp.security, username=smtp.username,
                         password=password, timeout=smtp.timeout, verify_tls=smtp.verify_tls,
                         ca_file=str(smtp.ca_file) if smtp.ca_file else None)


def build_context(settings: Settings, store: Store | None = None) -> WorkerContext:
    """The worker's context from settings (the store must already be migrated)."""
    return WorkerContext(settings=settings, store=store or Store(settings.database.url),
                         open_mailbox=lambda: make_mailbox(settings),
                         renderer=ReplyRenderer(settings), options=settings.parse_options())


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
