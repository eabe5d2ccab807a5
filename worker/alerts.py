"""Staff alert when polling has failed for too long: one email when it starts, one on recovery.

The state lives in the store (mailbox_state.failing_since / alerted_at), so a restarted worker
or a second worker never sends the same alert again; the alert is claimed with a conditional
UPDATE before it is sent and released if sending fails (the next cycle tries again).
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from sqlalchemy import update

from .config import Settings
from .store import MailboxState, Store
from .transport import Transport

log = logging.getLogger(__name__)


def _message(settings: Settings, subject: str, body: str, now: datetime) -> EmailMessage:
    h = settings.helpdesk
    msg = EmailMessage()
    msg["From"] = f"{h.name} <{h.address}>"
    msg["To"] = settings.alerts.staff_address
    msg["Subject"] = subject
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid("alert", domain=h.message_id_domain)
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"
    msg.set_content(body)
    return msg


def check_poll_alert(st: Store, settings: Settings, transport: Transport,
                     now: datetime) -> str | None:
    """Send the 'polling is failing' or 'polling recovered' email if one is due.

    Returns "failing", "recovered" or None (nothing due, no staff address, or sending failed)."""
    if not settings.alerts.staff_address:
        return None
    name = settings.mailbox.name
    limit = timedelta(minutes=settings.alerts.poll_failing_minutes)
    table = MailboxState.__table__  # type: ignore[attr-defined]
    mine = table.c.mailbox == name
    with st.engine.begin() as conn:
        rows = conn.execute(table.select().where(mine)).mappings().all()
    failing = [r for r in rows if r["failing_since"] is not None]
    if failing and all(r["alerted_at"] is None for r in rows):
        since = min(r["failing_since"] for r in failing)
        if now - since < limit:
            return None
        kind, claim = "failing", (update(table).where(mine, table.c.failing_since.is_not(None),
                                                      table.c.alerted_at.is_(None))
                                  .values(alerted_at=now))
        errors = sorted({r["last_error"] or "unknown error" for r in failing})
        msg = _message(settings, f"Help desk worker: polling mailbox {name} is failing",
                       f"Polling the help desk mailbox '{name}' has failed since "
                       f"{since:%Y-%m-%d %H:%M} UTC.\nLast error: {'; '.join(errors)}\n\n"
                       "Incoming requests are not being filed. `helpdesk status` shows the "
                       "state; you will get one more email when polling recovers.\n", now)
    elif not failing and any(r["alerted_at"] is not None for r in rows):
        kind, claim = "recovered", (update(table).where(mine, table.c.alerted_at.is_not(None))
                                    .values(alerted_at=None))
        msg = _message(settings, f"Help desk worker: polling mailbox {name} has recovered",
                       f"Polling the help desk mailbox '{name}' works again "
                       f"({now:%Y-%m-%d %H:%M} UTC).\n", now)
    else:
        return None
    with st.engine.begin() as conn:  # claim it: a second worker finds nothing to claim
        if not conn.execute(claim).rowcount:
            return None
    try:
        with transport:
            transport.send(msg.as_bytes(), settings.helpdesk.address,
                           [settings.alerts.staff_address])
    except Exception as exc:  # noqa: BLE001 - the alert is retried next cycle
        log.warning("alert (%s) not sent: %s; will retry", kind, type(exc).__name__)
        undo = (update(table).where(mine).values(alerted_at=None) if kind == "failing"
                else update(table).where(mine, table.c.failing_since.is_(None))
                .values(alerted_at=now))
        with st.engine.begin() as conn:
            conn.execute(undo)
        return None
    log.warning("alert sent to staff: polling of mailbox %s %s", name, kind)
    return kind
