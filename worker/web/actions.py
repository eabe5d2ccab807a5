"""What staff do to a ticket: retype, edit fields, re-parse, assign, status, note, reply.

Each function changes the ticket inside the caller's transaction and appends one audit entry
per change (who, when, field, old and new value). The parser's own values stay in
`parsed_fields`; staff values go to `fields`, their names to `edited_fields`.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlmodel import Session

from parsers.catalogue import action_for

from .. import conversation, store
from ..config import Settings
from ..messages import mask_value
from ..staff import account_names, audit
from ..store import STATUS_FOR_ACTION, Ticket
from .fields import FieldError, all_types, fields_of_type, missing_for, parse_value
from .outgoing import queue_staff_reply
from .queue import STATUSES

log = logging.getLogger(__name__)

# statuses the parser's outcome decides; staff statuses (in_progress, resolved) are kept
OUTCOME_STATUSES = frozenset({"triage", "awaiting_details", "ready", "redirected"})


class ActionError(ValueError):
    """A staff action that was refused, with the reason to show."""


def _set(session: Session, ticket: Ticket, actor: str, now: datetime, name: str,
         value: Any) -> bool:
    old = getattr(ticket, name)
    if old == value:
        return False
    setattr(ticket, name, value)
    audit(session, actor, ticket.id, f"change_{name}", now, field=name, old=old, new=value)
    return True


def _recompute(session: Session, ticket: Ticket, actor: str, now: datetime) -> None:
    """Missing fields and action follow the type and fields; so does an outcome status."""
    missing = missing_for(ticket.type, ticket.fields)
    _set(session, ticket, actor, now, "missing", missing)
    _set(session, ticket, actor, now, "action", action_for(ticket.type, tuple(missing)))
    if ticket.status in OUTCOME_STATUSES:
        _set(session, ticket, actor, now, "status",
             STATUS_FOR_ACTION.get(ticket.action, ticket.status))


def _touch(session: Session, ticket: Ticket, now: datetime) -> None:
    ticket.updated_at = now
    session.add(ticket)


def change_type(session: Session, ticket: Ticket, new_type: str, actor: str,
                now: datetime) -> None:
    if new_type not in all_types():
        raise ActionError("unknown type")
    if _set(session, ticket, actor, now, "type", new_type):
        _recompute(session, ticket, actor, now)
        _touch(session, ticket, now)


def edit_fields(session: Session, ticket: Ticket, form: dict[str, str], actor: str,
                now: datetime) -> dict[str, str]:
    """Apply the submitted field values; returns {field: reason} for any refused (then
    nothing is changed)."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    for name in fields_of_type(ticket.type, ticket.fields):
        if name not in form:
            continue
        try:
            values[name] = parse_value(ticket.type, name, form[name])
        except FieldError as exc:
            errors[name] = str(exc)
    if errors:
        return errors
    fields = dict(ticket.fields)
    edited = list(ticket.edited_fields)
    for name, value in values.items():
        if fields.get(name) == value:
            continue
        audit(session, actor, ticket.id, "edit_field", now, field=name, old=fields.get(name),
              new=value)
        if value is None:
            fields.pop(name, None)
        else:
            fields[name] = value
        if name not in edited:
            edited.append(name)
    if fields != ticket.fields:
        ticket.fields = fields
        ticket.edited_fields = edited
        _recompute(session, ticket, actor, now)
        _touch(session, ticket, now)
    return {}


def rerun_parser(session: Session, ticket: Ticket, settings: Settings, actor: str,
                 now: datetime) -> bool:
    """Re-read the conversation (the request and people's follow-ups, never the auto-replies
    and bounces noted on the ticket) as this ticket's type; staff-edited fields are kept.
    False when the parser finds no request of this type."""
    raws = [m.raw for m in store.human_messages_of_ticket(session, ticket.id or 0) if m.raw]
    request = conversation.reparse(raws, settings.parse_options(), ticket.type) if raws else None
    audit(session, actor, ticket.id, "rerun_parser", now)
    if request is None:
        return False
    parsed = mask_value(dict(request.fields))  # NHS/NI numbers masked, as the worker stores
    kept = {k: ticket.fields[k] for k in ticket.edited_fields if k in ticket.fields}
    fields = {**parsed, **kept}
    for name in sorted(set(fields) | set(ticket.fields)):
        if fields.get(name) != ticket.fields.get(name):
            audit(session, actor, ticket.id, "parser_field", now, field=name,
                  old=ticket.fields.get(name), new=fields.get(name))
    ticket.parsed_fields = dict(parsed)
    ticket.fields = fields
    ticket.cues = mask_value([c.as_json() for c in request.cues])
    ticket.notes = list(request.notes)
    ticket.confidence = float(request.confidence)
    _recompute(session, ticket, actor, now)
    _touch(session, ticket, now)
    return True


def assign(session: Session, ticket: Ticket, assignee: str | None, actor: str,
           now: datetime) -> None:
    if assignee and assignee not in account_names(session):
        raise ActionError("no such staff account")
    if _set(session, ticket, actor, now, "assignee", assignee or None):
        _touch(session, ticket, now)


def set_status(session: Session, ticket: Ticket, status: str, actor: str, now: datetime) -> None:
    if status not in STATUSES:
        raise ActionError("unknown status")
    if _set(session, ticket, actor, now, "status", status):
        _touch(session, ticket, now)


def add_note(session: Session, ticket: Ticket, text: str, actor: str, now: datetime) -> None:
    text = text.replace("\r\n", "\n").strip()
    if not text:
        raise ActionError("the note is empty")
    if len(text) > 10_000:
        raise ActionError("the note is longer than 10,000 characters")
    audit(session, actor, ticket.id, "note", now, new=text)
    _touch(session, ticket, now)


def send_reply(session: Session, ticket: Ticket, kind: str, settings: Settings, actor: str,
               now: datetime, message: str | None = None) -> None:
    item = queue_staff_reply(session, ticket, kind, settings, now, message)
    audit(session, actor, ticket.id, "queue_reply", now, field=kind, new=item.message_id)
    _touch(session, ticket, now)
