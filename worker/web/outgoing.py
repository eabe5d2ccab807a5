"""Staff-sent replies: the acknowledgement, the request for details, or a free-text message,
rendered by the worker's ReplyRenderer and queued in the same outbox the worker sends from."""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlmodel import Session

from parsers import ParseOptions, parse

from .. import store
from ..config import Settings
from ..replies import ReplyRenderer, ReplyTarget, reply_bytes
from ..store import OutboxItem, Ticket

log = logging.getLogger(__name__)

KINDS = ("ack", "request_details", "staff_reply")
STAFF_TEMPLATE = "web/mail/staff_reply"
MAX_MESSAGE = 10_000


class ReplyError(ValueError):
    """A reply that cannot be sent (nobody to answer, empty message, unknown kind)."""


class StaffReplyRenderer(ReplyRenderer):
    """The worker's renderer; with `staff_message` set, the body is the staff member's text."""

    def __init__(self, settings: Settings, staff_message: str | None = None) -> None:
        super().__init__(settings)
        self.staff_message = staff_message

    def render_bodies(self, kind: str, context: dict[str, Any]) -> tuple[str, str]:
        if self.staff_message is None:
            return super().render_bodies(kind, context)
        paragraphs = [p.splitlines() for p in self.staff_message.split("\n\n") if p.strip()]
        context = dict(context, staff_message=self.staff_message.strip(),
                       staff_paragraphs=paragraphs)
        text = self.env.get_template(f"{STAFF_TEMPLATE}.txt.j2").render(context)
        html = self.env.get_template(f"{STAFF_TEMPLATE}.html.j2").render(context)
        return text, html


def reply_target(session: Session, ticket: Ticket, settings: Settings) -> ReplyTarget | None:
    """Answer the ticket's latest message from a person (its Reply-To, else its From; never an
    auto-reply or bounce noted on it); None when that is our own address or there is none."""
    own = settings.helpdesk.address.lower()
    for stored in reversed(store.human_messages_of_ticket(session, ticket.id or 0)):
        result = parse(stored.raw, ParseOptions(own_addresses=(own,)))
        msg = result.message
        if msg is None:
            continue
        candidates = [a.email for a in msg.reply_to if a.email] or [msg.sender.email]
        first = next((c for c in candidates if c), None)
        if not first or first.lower() == own:
            continue
        return ReplyTarget(subject=msg.subject or ticket.subject or "",
                           message_id=msg.message_id, references=tuple(msg.references),
                           recipients=(first.lower(),))
    return None


def _as_kind(ticket: Ticket, kind: str) -> Ticket:
    """A detached copy whose action selects the template (the stored ticket is unchanged)."""
    copy = Ticket.model_validate(ticket.model_dump())
    copy.action = kind
    copy.status = "ready"
    return copy


def queue_staff_reply(session: Session, ticket: Ticket, kind: str, settings: Settings,
                      now: datetime, message: str | None = None) -> OutboxItem:
    """Render and queue one reply for `ticket`; raises ReplyError when it cannot be sent."""
    if kind not in KINDS:
        raise ReplyError("unknown reply")
    if kind == "staff_reply":
        message = (message or "").replace("\r\n", "\n").strip()
        if not message:
            raise ReplyError("write the message first")
        if len(message) > MAX_MESSAGE:
            raise ReplyError(f"the message is longer than {MAX_MESSAGE} characters")
    if kind == "request_details" and not ticket.missing:
        raise ReplyError("nothing is missing: send the acknowledgement instead")
    target = reply_target(session, ticket, settings)
    if target is None:
        raise ReplyError("this ticket has no sender we may answer")
    renderer = StaffReplyRenderer(settings, message if kind == "staff_reply" else None)
    template_kind = "triage" if kind == "staff_reply" else kind
    email = renderer.render(_as_kind(ticket, template_kind), target, now,
                            human=kind == "staff_reply")  # a person wrote it: RFC 3834
    if email is None:
        raise ReplyError("this ticket has no sender we may answer")
    item = OutboxItem(ticket_id=ticket.id, message_id=str(email["Message-ID"]).strip(),
                      kind=kind, sender=settings.helpdesk.address,
                      recipient=target.recipients[0], recipients=list(target.recipients),
                      data=reply_bytes(email), status="pending", next_attempt_at=now,
                      created_at=now)
    session.add(item)
    store.add_event(session, ticket.id, "reply_queued", now, kind=kind)
    log.info("%s: %s reply queued by staff", ticket.reference, kind)
    return item
