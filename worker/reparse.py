"""helpdesk reparse: re-read stored tickets with the current parser; list or apply the changes.

A ticket is re-read from its human inbound mail only (the request and the sender's follow-ups;
auto-replies and bounces noted on it are left out), the way a fresh cycle would read it: the first
message decides the type, and a conversation with follow-ups is then read as that type. Changes
are applied only to tickets staff have not touched (no edited fields, no staff action in the audit
log, status not in_progress/resolved), each with a `reparsed_by_update` event. Nothing is ever
queued to be sent. Logs carry references, type names and field names, never values.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import parsers
from parsers import ParseOptions, Request
from parsers.catalogue import REQUEST_TYPES
from sqlmodel import Session, select

from . import conversation
from .messages import mask_value
from .staff import AuditEntry
from .store import (STATUS_FOR_ACTION, Store, Ticket, TicketMessage, add_event,
                    human_messages_of_ticket)

log = logging.getLogger(__name__)

STAFF_STATUSES = frozenset({"in_progress", "resolved"})
SKIPPED_STATUSES = ("ignored", "superseded")  # machine mail, and tickets replaced by others
# audit actions that only look at a ticket; anything else means staff acted on it
LOOKING = frozenset({"view", "download_attachment", "search"})


@dataclass(frozen=True)
class TicketChange:
    """What the current parser would change on one ticket (values for the terminal only)."""

    reference: str
    old_type: str
    new_type: str
    old_fields: dict[str, Any]
    new_fields: dict[str, Any]
    old_missing: tuple[str, ...]
    new_missing: tuple[str, ...]
    applied: bool = False
    kept_because: str | None = None  # why it was not applied: "staff_edited", "dry_run", ...

    @property
    def changed_fields(self) -> tuple[str, ...]:
        names = set(self.old_fields) | set(self.new_fields)
        return tuple(sorted(n for n in names if self.old_fields.get(n) != self.new_fields.get(n)))


@dataclass
class ReparseReport:
    examined: int = 0
    unchanged: int = 0
    changes: list[TicketChange] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> tickets not re-read

    @property
    def applied(self) -> int:
        return sum(1 for c in self.changes if c.applied)

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


def touched_by_staff(session: Session, ticket: Ticket) -> bool:
    """Staff edited a field, acted on it (retype, assign, note, reply...) or own its status."""
    if ticket.edited_fields or ticket.status in STAFF_STATUSES or ticket.assignee:
        return True
    actions = session.exec(select(AuditEntry.action).where(AuditEntry.ticket_id == ticket.id))
    return any(a not in LOOKING for a in actions)


def _siblings(session: Session, message_row_id: int) -> list[int]:
    """Ids of the tickets a message opened (several when it held several requests)."""
    return list(session.exec(select(TicketMessage.ticket_id).where(
        TicketMessage.message_id == message_row_id, TicketMessage.role == "request")
        .order_by(TicketMessage.ticket_id)))  # type: ignore[arg-type]


def read_again(session: Session, ticket: Ticket, options: ParseOptions
               ) -> tuple[Request | None, str | None]:
    """The ticket's request as the current parser reads it, or (None, reason to skip)."""
    # people's mail only: auto-replies and bounces noted on the ticket never feed a re-read
    messages = human_messages_of_ticket(session, ticket.id or 0)
    siblings = _siblings(session, messages[0].id or 0) if messages else []
    if ticket.id not in siblings or any(not m.raw for m in messages):
        return None, "no_stored_request"
    result = parsers.parse(messages[0].raw, options)
    requests = list(result.requests)
    if result.error or not requests:
        return None, "unreadable"
    if len(siblings) == len(requests):
        request = requests[siblings.index(ticket.id)]
    else:  # the message now holds a different number of requests: staff split or merge
        return None, "request_count_changed"
    if len(messages) > 1 and request.type in REQUEST_TYPES:
        whole = conversation.reparse([m.raw for m in messages], options, request.type)
        request = whole or request
    return request, None


def _apply(session: Session, ticket: Ticket, request: Request, fields: dict[str, Any],
           now: datetime) -> None:
    old_type, old_missing = ticket.type, list(ticket.missing)
    changed = sorted(n for n in set(fields) | set(ticket.fields)
                     if fields.get(n) != ticket.fields.get(n))
    ticket.type, ticket.action = request.type, request.action
    ticket.status = STATUS_FOR_ACTION.get(request.action, "triage")
    ticket.fields, ticket.parsed_fields = fields, dict(fields)
    ticket.missing = list(request.missing)
    ticket.cues = mask_value([c.as_json() for c in request.cues])
    ticket.notes = list(request.notes)
    ticket.confidence = float(request.confidence)
    if request.sensitive:
        ticket.sensitive = True
        ticket.sensitive_kinds = sorted(set(ticket.sensitive_kinds) | set(request.sensitive))
    ticket.updated_at = now
    session.add(ticket)
    add_event(session, ticket.id, "reparsed_by_update", now, old_type=old_type,
              new_type=ticket.type, action=ticket.action, fields=changed,
              old_missing=old_missing, missing=list(ticket.missing))


def reparse_ticket(session: Session, ticket: Ticket, options: ParseOptions, now: datetime,
                   apply: bool, report: ReparseReport) -> None:
    """Re-read one ticket; record any change in `report`, applying it when allowed."""
    report.examined += 1
    if ticket.external:  # sender policy made it triage, whatever the parser says
        report.skip("external_sender")
        return
    request, reason = read_again(session, ticket, options)
    if request is None:
        report.skip(reason or "unreadable")
        return
    fields = mask_value(dict(request.fields))
    if (request.type, fields, list(request.missing)) == (ticket.type, ticket.fields,
                                                          list(ticket.missing)):
        report.unchanged += 1
        return
    kept = "dry_run" if not apply else ("staff_touched" if touched_by_staff(session, ticket)
                                        else None)
    change = TicketChange(ticket.reference or "", ticket.type, request.type, dict(ticket.fields),
                          fields, tuple(ticket.missing), tuple(request.missing),
                          applied=kept is None, kept_because=kept)
    report.changes.append(change)
    log.info("%s: %s -> %s; fields changed: %s; missing %s -> %s; %s", change.reference,
             change.old_type, change.new_type, ",".join(change.changed_fields) or "-",
             ",".join(change.old_missing) or "-", ",".join(change.new_missing) or "-",
             "applied" if change.applied else f"not applied ({kept})")
    if change.applied:
        _apply(session, ticket, request, fields, now)


def reparse_tickets(store: Store, options: ParseOptions, now: datetime, apply: bool,
                    references: list[str] | None = None) -> ReparseReport:
    """Re-read every open ticket (or those named) with the current parser; one transaction per
    ticket, so a failure on one leaves the others applied. Never queues a reply."""
    report = ReparseReport()
    with store.session() as session:
        query = select(Ticket.id).where(Ticket.status.not_in(SKIPPED_STATUSES),  # type: ignore[attr-defined]
                                        Ticket.purged_at.is_(None))  # type: ignore[union-attr]
        if references:
            query = query.where(Ticket.reference.in_([r.upper() for r in references]))  # type: ignore[union-attr]
        ids = list(session.exec(query.order_by(Ticket.id)))  # type: ignore[arg-type]
    for ticket_id in ids:
        with store.session() as session:
            ticket = session.get(Ticket, ticket_id)
            if ticket is not None:
                reparse_ticket(session, ticket, options, now, apply, report)
    log.info("reparse: %d examined, %d unchanged, %d changed, %d applied, skipped %s",
             report.examined, report.unchanged, len(report.changes), report.applied,
             report.skipped or "none")
    return report


def _value(value: Any) -> str:
    return "-" if value is None else str(value)


def format_report(report: ReparseReport, dry_run: bool) -> list[str]:
    """Lines for staff at the terminal: reference, old -> new, and the values that change."""
    lines: list[str] = []
    for c in report.changes:
        state = "would change" if dry_run else ("changed" if c.applied else
                                                f"NOT changed ({c.kept_because})")
        type_part = c.old_type if c.old_type == c.new_type else f"{c.old_type} -> {c.new_type}"
        lines.append(f"{c.reference}  {type_part}  {state}")
        for name in c.changed_fields:
            lines.append(f"    {name}: {_value(c.old_fields.get(name))} -> "
                         f"{_value(c.new_fields.get(name))}")
        if c.old_missing != c.new_missing:
            lines.append(f"    missing: {', '.join(c.old_missing) or '-'} -> "
                         f"{', '.join(c.new_missing) or '-'}")
    skipped = ", ".join(f"{n} {r}" for r, n in sorted(report.skipped.items())) or "none"
    kept = len(report.changes) - report.applied
    verb = "would change" if dry_run else f"differ ({report.applied} changed, {kept} kept)"
    lines.append(f"{report.examined} ticket(s) re-read: {len(report.changes)} {verb}, "
                 f"{report.unchanged} unchanged; skipped: {skipped}")
    return lines
