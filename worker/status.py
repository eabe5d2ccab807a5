"""`helpdesk status`: per mailbox, how polling and sending stand; unhealthy when polling has failed
(or not succeeded) for longer than [alerts] poll_failing_minutes."""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from .config import Settings
from .mailbox import Mailbox
from .store import PARSER_CRASHED, MailboxState, OutboxItem, StoredMessage, Store

log = logging.getLogger(__name__)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


Counts = tuple[int | None, int | None, str | None]


def _mailbox_counts(open_mailbox: Callable[[], Mailbox]) -> Counts:
    """(waiting in the inbox, in the failed folder, error) straight from the mailbox."""
    try:
        with open_mailbox() as mailbox:
            waiting = mailbox.count_waiting()
            count_failed = getattr(mailbox, "count_failed", None)
            return waiting, count_failed() if count_failed else None, None
    except Exception as exc:  # noqa: BLE001 - status reports an unreachable mailbox, never dies
        return None, None, type(exc).__name__


def collect_status(st: Store, settings: Settings, now: datetime,
                   open_mailbox: Callable[[], Mailbox] | None) -> dict[str, Any]:
    """Everything `helpdesk status` prints; `healthy` False when polling is failing too long."""
    limit = timedelta(minutes=settings.alerts.poll_failing_minutes)
    with st.session() as session:
        states = list(session.execute(select(MailboxState)).scalars().all())
        outbox = dict(session.execute(select(OutboxItem.status, func.count())
                                      .group_by(OutboxItem.status)).all())
        crashed_error = StoredMessage.parse_error.startswith(PARSER_CRASHED)  # type: ignore[union-attr]
        crashed = session.execute(select(func.count()).select_from(StoredMessage)
                                  .where(crashed_error)).scalar_one()
    names = sorted({s.mailbox for s in states} | {settings.mailbox.name})
    mailboxes = []
    healthy = True
    for name in names:
        rows = [s for s in states if s.mailbox == name]
        last_ok = max((s.last_poll_at for s in rows if s.last_poll_at), default=None)
        failing = min((s.failing_since for s in rows if s.failing_since), default=None)
        last_error = next((s.last_error for s in rows if s.failing_since), None)
        problem = None
        if failing is not None and now - failing > limit:
            problem = f"polling has failed since {_iso(failing)}"
        elif rows and last_ok is not None and now - last_ok > limit + timedelta(
                seconds=settings.schedule.poll_seconds):
            problem = f"no successful poll since {_iso(last_ok)} (is the worker running?)"
        healthy = healthy and problem is None
        entry: dict[str, Any] = {
            "mailbox": name, "last_successful_poll": _iso(last_ok),
            "failing_since": _iso(failing), "last_error": last_error,
            "alerted": any(s.alerted_at for s in rows), "problem": problem}
        if open_mailbox is not None and name == settings.mailbox.name:
            waiting, failed, error = _mailbox_counts(open_mailbox)
            entry.update(messages_waiting=waiting, messages_in_failed_folder=failed,
                         mailbox_error=error)
        mailboxes.append(entry)
    return {
        "healthy": healthy, "checked_at": _iso(now),
        "poll_failing_minutes": settings.alerts.poll_failing_minutes,
        "mailboxes": mailboxes,
        "outbox": {"backlog": outbox.get("pending", 0) + outbox.get("sending", 0),
                   "sending": outbox.get("sending", 0), "failed": outbox.get("failed", 0),
                   "held": outbox.get("held", 0), "sent": outbox.get("sent", 0)},
        "messages_parser_crashed": crashed,
    }


def format_status(status: dict[str, Any]) -> str:
    lines = [f"status: {'OK' if status['healthy'] else 'FAILING'} (checked {status['checked_at']}"
             f", alert after {status['poll_failing_minutes']} min)"]
    for m in status["mailboxes"]:
        lines.append(f"mailbox {m['mailbox']}: last successful poll "
                     f"{m['last_successful_poll'] or 'never'}")
        if m["failing_since"]:
            lines.append(f"  failing since {m['failing_since']}: {m['last_error']}"
                         f"{' (staff alerted)' if m['alerted'] else ''}")
        if "messages_waiting" in m:
            if m["mailbox_error"]:
                lines.append(f"  mailbox unreachable now ({m['mailbox_error']})")
            else:
                failed = m["messages_in_failed_folder"]
                lines.append(f"  messages waiting: {m['messages_waiting']}, in the failed folder: "
                             f"{'-' if failed is None else failed}")
        if m["problem"]:
            lines.append(f"  PROBLEM: {m['problem']}")
    o = status["outbox"]
    lines.append(f"outbox: {o['backlog']} waiting to send ({o['sending']} being sent), "
                 f"{o['failed']} failed, {o['held']} held for staff, {o['sent']} sent")
    lines.append(f"messages the parser crashed on: {status['messages_parser_crashed']}")
    return "\n".join(lines)
