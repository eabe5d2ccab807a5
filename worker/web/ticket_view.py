"""The ticket page's data: fields beside the message, sources marked, conversation in order."""
from __future__ import annotations

import logging
from datetime import datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

from sqlmodel import Session

from parsers import Attachment, ParseOptions, parse

from .. import store
from ..replies import FIELD_LABELS, TYPE_TITLES
from ..staff import audit_of_ticket
from ..store import StoredMessage, Ticket
from .fields import as_form_text, fields_of_type
from .render import highlight, needles_of, sanitise_html

log = logging.getLogger(__name__)


def label(name: str) -> str:
    return FIELD_LABELS.get(name, name.replace("_", " ").capitalize())


def type_title(name: str) -> str:
    if name == "unknown":
        return "Unknown (needs a type)"
    return TYPE_TITLES.get(name, name.replace("_", " ").capitalize())


def flat_attachments(attachments: tuple[Attachment, ...]) -> list[Attachment]:
    """Attachments and the files unpacked from them (winmail.dat), in one numbered list."""
    out: list[Attachment] = []
    for a in attachments:
        out.append(a)
        out.extend(a.contained)
    return out


def _inbound(stored: StoredMessage, needles: list[tuple[str, str]], own: str) -> dict[str, Any]:
    result = parse(stored.raw, ParseOptions(own_addresses=(own,)))
    msg = result.message
    text = msg.text if msg else (stored.masked_text or "")
    return {
        "kind": "in", "id": stored.id, "when": stored.received_at,
        "subject": (msg.subject if msg else stored.subject) or "",
        "sender": msg.sender.email if msg else stored.sender_email,
        "sender_name": msg.sender.name if msg else None,
        "text": highlight(text or "", needles),
        "html": sanitise_html(msg.html) if msg and msg.html else None,
        "attachments": [{"index": i, "filename": a.filename, "size": a.size,
                         "content_type": a.content_type}
                        for i, a in enumerate(flat_attachments(msg.attachments if msg else ()))],
        "error": stored.parse_error or (result.error if result else None),
    }


def _reply_text(data: bytes) -> tuple[str, str]:
    msg = message_from_bytes(data, policy=default_policy)
    assert isinstance(msg, EmailMessage)
    body = msg.get_body(preferencelist=("plain",))
    text = body.get_content() if body is not None else ""
    return str(msg.get("Subject", "")), text


def field_rows(ticket: Ticket) -> list[dict[str, Any]]:
    rows = []
    for name in fields_of_type(ticket.type, ticket.fields):
        rows.append({"name": name, "label": label(name),
                     "value": as_form_text(ticket.fields.get(name)),
                     "parsed": as_form_text(ticket.parsed_fields.get(name)),
                     "edited": name in ticket.edited_fields,
                     "missing": name in ticket.missing,
                     "multiline": name in ("changes", "description", "explanation", "question",
                                           "reason", "details", "error_message", "address")})
    return rows


def ticket_page(session: Session, ticket: Ticket, own_address: str) -> dict[str, Any]:
    """Everything the ticket template shows, as plain data."""
    needles = needles_of(ticket.fields, ticket.cues)
    timeline: list[dict[str, Any]] = [
        _inbound(m, needles, own_address) for m in store.messages_of_ticket(session, ticket.id or 0)]
    for r in store.replies_of_ticket(session, ticket.id or 0):
        subject, text = _reply_text(r.data)
        timeline.append({"kind": "out", "id": r.id, "when": r.created_at, "subject": subject,
                         "text": text, "status": r.status, "reply_kind": r.kind,
                         "recipients": r.recipients, "sent_at": r.sent_at,
                         "error": r.last_error})
    entries = audit_of_ticket(session, ticket.id or 0)
    for e in entries:
        if e.action == "note":
            timeline.append({"kind": "note", "when": e.created_at, "actor": e.actor,
                             "text": e.new_value or ""})
    timeline.sort(key=lambda item: (item["when"], {"in": 0, "out": 1, "note": 2}[item["kind"]]))
    first_retype = next((e for e in entries if e.action == "change_type"), None)
    return {
        "ticket": ticket, "type_title": type_title(ticket.type), "fields": field_rows(ticket),
        "parser_type": first_retype.old_value if first_retype else None,
        "missing": [{"name": m, "label": label(m)} for m in ticket.missing],
        "cues": ticket.cues, "timeline": timeline,
        "linked_to": (session.get(Ticket, ticket.linked_ticket_id)
                      if ticket.linked_ticket_id else None),
        "named_by": store.tickets_naming(session, ticket.id or 0),
        "audit": [{"when": e.created_at, "actor": e.actor, "action": e.action,
                   "field": e.field, "old": e.old_value, "new": e.new_value} for e in entries],
    }


def attachment_of(session: Session, ticket: Ticket, message_row_id: int,
                  index: int) -> Attachment | None:
    """One attachment of one of this ticket's messages (None if not this ticket's)."""
    for stored in store.messages_of_ticket(session, ticket.id or 0):
        if stored.id == message_row_id:
            result = parse(stored.raw)
            if result.message is None:
                return None
            files = flat_attachments(result.message.attachments)
            return files[index] if 0 <= index < len(files) else None
    return None


def when_text(when: datetime | None) -> str:
    return when.strftime("%Y-%m-%d %H:%M UTC") if when else "-"
