"""Helpers for the loop, forgery, sender-policy, hostile-input and privacy tests: mail builders,
a real-server worker (Dovecot + aiosmtpd) and a Maildir + SQLite one, and store read-outs."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from imapclient import IMAPClient
from sqlmodel import select

from tests.servers import DovecotServer, ImapAccount, SmtpServer, write_worker_config
from worker.config import load_settings
from worker.edges import build_context, make_transport
from worker.migrations import upgrade_database
from worker.outbox import SendReport, send_pending
from worker.pipeline import CycleReport, WorkerContext, poll_once
from worker.store import OutboxItem, StoredMessage, Ticket, TicketEvent, TicketMessage

PASSWORD_ENV = "HELPDESK_TEST_IMAP_PASSWORD"
DESK = "mosaic.helpdesk@example-council.gov.uk"
_counter = iter(range(1, 10**9))


def mail(body: str = "Please add a new home address for Mosaic ID 2049113.", *,
         sender: str = "Ellie Pritchard <ellie.pritchard@example-council.gov.uk>",
         subject: str = "New address", headers: dict[str, str] | None = None,
         message_id: str | None = None) -> bytes:
    """A plain text message from a person, with extra headers (order kept)."""
    n = next(_counter)
    lines = [f"From: {sender}", f"To: {DESK}", f"Subject: {subject}",
             "Date: Tue, 16 Feb 2027 09:30:00 +0000",
             f"Message-ID: {message_id or f'<t{n}.{id(object())}@example-council.gov.uk>'}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    lines += ["MIME-Version: 1.0", 'Content-Type: text/plain; charset="utf-8"']
    return ("\r\n".join(lines) + "\r\n\r\n" + body.replace("\n", "\r\n") + "\r\n").encode()


def parsed(data: bytes) -> EmailMessage:
    return message_from_bytes(data, policy=policy.default)  # type: ignore[return-value]


def plain_text(data: bytes) -> str:
    part = parsed(data).get_body(preferencelist=("plain",))
    return part.get_content() if part is not None else ""


def html_text(data: bytes) -> str:
    part = parsed(data).get_body(preferencelist=("html",))
    return part.get_content() if part is not None else ""


def reply_to(original: bytes, ours: bytes, body: str, *, sender: str | None = None,
             subject: str | None = None, extra: dict[str, str] | None = None) -> bytes:
    """A reply to one of our replies (In-Reply-To/References set), by default from the
    original sender."""
    src, reply = parsed(original), parsed(ours)
    return mail(body, sender=sender or str(src["From"]),
                subject=subject if subject is not None else f"Re: {reply['Subject']}",
                headers={"In-Reply-To": str(reply["Message-ID"]),
                         "References": str(reply["Message-ID"]), **(extra or {})})


def state(ctx: WorkerContext) -> tuple[list[Ticket], list[OutboxItem], list[TicketMessage]]:
    with ctx.store.session() as s:
        return (list(s.exec(select(Ticket).order_by(Ticket.id))),  # type: ignore[arg-type]
                list(s.exec(select(OutboxItem).order_by(OutboxItem.id))),  # type: ignore[arg-type]
                list(s.exec(select(TicketMessage))))


def messages(ctx: WorkerContext) -> list[StoredMessage]:
    with ctx.store.session() as s:
        return list(s.exec(select(StoredMessage).order_by(StoredMessage.id)))  # type: ignore[arg-type]


def events(ctx: WorkerContext, kind: str | None = None) -> list[TicketEvent]:
    with ctx.store.session() as s:
        query = select(TicketEvent).order_by(TicketEvent.id)  # type: ignore[arg-type]
        if kind:
            query = query.where(TicketEvent.kind == kind)
        return list(s.exec(query))


# -- the real servers --------------------------------------------------------------------------

def imap_deliver(dovecot: DovecotServer, account: ImapAccount, *data: bytes) -> None:
    with IMAPClient(dovecot.host, dovecot.plain_port, ssl=False, timeout=10) as client:
        client.login(account.username, account.password)
        for item in data:
            client.append("INBOX", item)


def imap_count(dovecot: DovecotServer, account: ImapAccount, folder: str) -> int:
    with IMAPClient(dovecot.host, dovecot.plain_port, ssl=False, timeout=10) as client:
        client.login(account.username, account.password)
        if not client.folder_exists(folder):
            return 0
        return int(client.folder_status(folder, [b"MESSAGES"])[b"MESSAGES"])


@contextmanager
def real_worker(tmp_path: Path, dovecot: DovecotServer, account: ImapAccount,
                smtp: SmtpServer, db_url: str, monkeypatch, extra: str = ""
                ) -> Iterator[WorkerContext]:
    """A worker on this Dovecot account and SMTP server with a migrated store."""
    monkeypatch.setenv(PASSWORD_ENV, account.password)
    monkeypatch.delenv("HELPDESK_DATABASE_URL", raising=False)
    config = write_worker_config(tmp_path / "config.toml", dovecot, account, smtp, db_url,
                                 password_env=PASSWORD_ENV, batch_size=50, extra=extra)
    upgrade_database(db_url)
    ctx = build_context(load_settings(config))
    try:
        yield ctx
    finally:
        ctx.store.close()


def real_cycle(ctx: WorkerContext, now: datetime) -> tuple[CycleReport, SendReport]:
    """One poll and one send, as `helpdesk run --once` does, with the clock passed in."""
    poll = poll_once(ctx, now)
    sent = send_pending(ctx.store, make_transport(ctx.settings), ctx.settings, now, None)
    return poll, sent


def store_dump(ctx: WorkerContext, skip: frozenset[tuple[str, str]] = frozenset()) -> str:
    """Every value of every column of every table as text (JSON as written, our replies'
    bytes decoded to their headers and bodies), except the (table, column) pairs in `skip`."""
    import json as _json

    from sqlalchemy import select as core_select
    from sqlmodel import SQLModel

    out: list[str] = []
    with ctx.store.engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            for row in conn.execute(core_select(table)).mappings():
                for column, value in row.items():
                    if (table.name, column) in skip or value is None:
                        continue
                    if isinstance(value, (bytes, memoryview)):
                        data = bytes(value)
                        out.append(data.decode("latin-1"))
                        if table.name == "outbox" and data:
                            out += [str(parsed(data)["Subject"]), plain_text(data),
                                    html_text(data)]
                    elif isinstance(value, (dict, list)):
                        out.append(_json.dumps(value, ensure_ascii=False))
                    else:
                        out.append(str(value))
    return "\n".join(out)
