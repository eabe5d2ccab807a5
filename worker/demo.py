"""`helpdesk demo`: seed the Maildir inbox with bundled samples and run one real cycle."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from importlib import resources

from sqlmodel import select

from .config import ConfigError, Settings
from .edges import build_context, make_mailbox
from .maildir import MaildirMailbox
from .migrations import upgrade_database
from .outbox import SendReport
from .pipeline import CycleReport
from .scheduler import run_once
from .store import Store, StoredMessage, replies_of_ticket, tickets_of_message

log = logging.getLogger(__name__)


@dataclass
class DemoTicket:
    reference: str
    type: str
    action: str
    status: str
    missing: list[str]
    replies: list[str] = field(default_factory=list)  # "sent to x (kind)" / "held" ...
    earlier: bool = False  # made by an earlier demo run (its message was already stored)


@dataclass
class DemoReport:
    seeded: int
    poll: CycleReport
    send: SendReport
    tickets: list[DemoTicket]
    outbox_path: str
    sent_folder: str | None


def bundled_messages() -> list[tuple[str, bytes]]:
    folder = resources.files("worker").joinpath("demo_messages")
    return sorted((p.name, p.read_bytes()) for p in folder.iterdir() if p.name.endswith(".eml"))


def run_demo(settings: Settings) -> DemoReport:
    """Seed, poll once and send once through the production code path."""
    if settings.mailbox.kind != "maildir":
        raise ConfigError("demo seeds the local Maildir: set [mailbox] kind = \"maildir\"")
    upgrade_database(settings.database.url)
    mailbox = make_mailbox(settings)
    if not isinstance(mailbox, MaildirMailbox):
        raise ConfigError("demo needs the Maildir mailbox")
    samples = bundled_messages()
    with mailbox:
        for _name, data in samples:
            mailbox.deliver(data)
    store = Store(settings.database.url)
    try:
        ctx = build_context(settings, store)
        once = run_once(ctx)
        tickets = _tickets_for(store, once.poll)
    finally:
        store.close()
    where = settings.outbox.path if settings.outbox.kind == "maildir" else \
        f"{settings.smtp.host}:{settings.smtp.port}"
    return DemoReport(seeded=len(samples), poll=once.poll, send=once.send, tickets=tickets,
                      outbox_path=str(where), sent_folder=settings.imap.sent_folder)


def _tickets_for(store: Store, poll: CycleReport) -> list[DemoTicket]:
    out: dict[str, DemoTicket] = {}
    with store.session() as session:
        for outcome in poll.outcomes:
            row = session.exec(select(StoredMessage).where(
                StoredMessage.message_key == outcome.message_key)).first()
            if row is None:
                continue
            for t in tickets_of_message(session, row.id or 0):
                if t.reference in out:
                    continue
                replies = [f"{r.kind} {r.status}" + (f" to {r.recipient}" if r.status == "sent"
                                                      else "")
                           for r in replies_of_ticket(session, t.id or 0)]
                out[t.reference or ""] = DemoTicket(
                    reference=t.reference or "", type=t.type, action=t.action, status=t.status,
                    missing=list(t.missing), replies=replies,
                    earlier=outcome.outcome == "duplicate")
    return sorted(out.values(), key=lambda t: t.reference)


