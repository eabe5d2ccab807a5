"""TicketWriter: turns one stored message's parse result into tickets and queued replies.

New conversation -> one ticket per request; a follow-up -> joins its ticket, which is re-parsed
and, once complete, acknowledged. Machine mail (ignore) gets a ticket and never a reply.
"""
from __future__ import annotations

import logging
from datetime import datetime

from parsers import ParseOptions, ParseResult, Request, Requester
from sqlalchemy import bindparam, update
from sqlmodel import Session

from . import conversation, store
from .config import Settings
from .replies import ReplyRenderer, ReplyTarget, reply_bytes, reply_kind
from .store import STATUS_FOR_ACTION, OutboxItem, StoredMessage, Ticket

log = logging.getLogger(__name__)

_TICKETS = Ticket.__table__  # type: ignore[attr-defined]
_SET_REFERENCE = (update(_TICKETS).where(_TICKETS.c.id == bindparam("tid"))
                  .values(reference=bindparam("ref")))


class TicketWriter:
    """Files messages into tickets inside the caller's transaction; never commits."""

    def __init__(self, settings: Settings, renderer: ReplyRenderer, options: ParseOptions,
                 now: datetime) -> None:
        self.settings = settings
        self.renderer = renderer
        self.options = options
        self.now = now
        self.own = {a.lower() for a in options.own_addresses}

    # -- entry ---------------------------------------------------------------------------
    def file(self, session: Session, stored: StoredMessage, result: ParseResult | None,
             crash: str | None) -> tuple[list[Ticket], str, int]:
        """Tickets touched, the outcome ("new" | "follow_up") and how many replies were queued."""
        if result is None or result.message is None or result.error:
            ticket = self._unreadable(session, stored, crash or (result.error if result else None))
            return [ticket], "new", 0
        requests = list(result.requests) or [self._triage_request(result)]
        if any(r.action == "ignore" for r in requests):
            return self._machine_mail(session, stored, result, requests[0])
        threads = conversation.find_tickets(session, result, self.options)
        if threads:
            return self._follow_up(session, stored, result, threads)
        tickets, replies = [], 0
        for request in requests:
            ticket = self._new_ticket(session, stored, result, request)
            replies += self._queue_reply(session, ticket, result)
            tickets.append(ticket)
        return tickets, "new", replies

    # -- new tickets ---------------------------------------------------------------------
    def _triage_request(self, result: ParseResult) -> Request:
        sender = result.message.sender if result.message else None
        return Request("unknown", "triage", {}, (), 0.0,
                       Requester(email=sender.email if sender else None,
                                 name=sender.name if sender else None))

    def _new_ticket(self, session: Session, stored: StoredMessage, result: ParseResult,
                    request: Request) -> Ticket:
        r = request.requester
        ticket = Ticket(
            type=request.type, action=request.action,
            status=STATUS_FOR_ACTION.get(request.action, "triage"),
            fields=dict(request.fields), parsed_fields=dict(request.fields),
            missing=list(request.missing), cues=[c.as_json() for c in request.cues],
            notes=list(request.notes), confidence=float(request.confidence),
            subject=result.message.subject if result.message else None,
            requester_email=(r.email or "").lower()[:320] or None,
            requester_name=(r.name or None) and r.name[:255],
            requester_team=(r.team or None) and r.team[:255],
            requester_phone=(r.phone or None) and r.phone[:64],
            sensitive=bool(request.sensitive), sensitive_kinds=list(request.sensitive),
            edited_fields=[],  # every default_factory given: pydantic inspects factories (slow)
            created_at=self.now, updated_at=self.now)
        return self._insert(session, ticket, stored, request.missing)

    def _unreadable(self, session: Session, stored: StoredMessage, error: str | None) -> Ticket:
        ticket = Ticket(type="unknown", action="triage", status="triage",
                        notes=["unreadable"], subject=stored.subject,
                        requester_email=stored.sender_email, created_at=self.now,
                        updated_at=self.now)
        ticket = self._insert(session, ticket, stored, ())
        store.add_event(session, ticket.id, "parse_error", self.now,
                        error=(error or "unknown").split(":")[0])
        return ticket

    def _insert(self, session: Session, ticket: Ticket, stored: StoredMessage,
                missing: tuple[str, ...] | list[str]) -> Ticket:
        store.insert_row(session, ticket)  # core INSERT ... RETURNING id: cheap at volume
        ticket.reference = f"{self.settings.helpdesk.reference_prefix}-{ticket.id:06d}"
        session.connection().execute(_SET_REFERENCE, {"tid": ticket.id, "ref": ticket.reference})
        store.link_message(session, ticket.id or 0, stored.id or 0, "request", self.now)
        store.add_event(session, ticket.id, "created", self.now, type=ticket.type,
                        action=ticket.action, missing=list(missing))
        return ticket

    def supersede_unreadable(self, session: Session, stored: StoredMessage) -> None:
        """The triage ticket a parser crash made for this message gives way to real ones."""
        for ticket in store.tickets_of_message(session, stored.id or 0):
            if "unreadable" in ticket.notes and ticket.status == "triage":
                ticket.status, ticket.updated_at = "superseded", self.now
                session.add(ticket)
                store.add_event(session, ticket.id, "superseded", self.now,
                                reason="re-parsed after a parser fix")

    # -- machine mail ---------------------------------------------------------------------
    def _machine_mail(self, session: Session, stored: StoredMessage, result: ParseResult,
                      request: Request) -> tuple[list[Ticket], str, int]:
        """Never answered. An auto-reply or bounce about one of our tickets is kept as a note on
        that ticket (a bounce also marks its reply undelivered); other machine mail gets an
        `ignored` ticket of its own."""
        h = self.settings.helpdesk
        ours = conversation.our_message_ids_in(stored.raw, h.reference_prefix,
                                               h.message_id_domain)
        tickets = conversation.find_tickets(session, result, self.options, strict=True) or \
            store.tickets_of_message_ids(session, ours)
        if not tickets:
            return [self._new_ticket(session, stored, result, request)], "new", 0
        for ticket in tickets:
            store.link_message(session, ticket.id or 0, stored.id or 0, request.type, self.now)
            store.add_event(session, ticket.id, request.type, self.now)
            if request.type == "bounce" and ours:
                ticket.last_reply_error = "bounced: the reply could not be delivered"
                ticket.updated_at = self.now
                session.add(ticket)
        return tickets, "note", 0

    # -- follow-ups ----------------------------------------------------------------------
    def _follow_up(self, session: Session, stored: StoredMessage, result: ParseResult,
                   threads: list[Ticket]) -> tuple[list[Ticket], str, int]:
        awaiting = [t for t in threads if t.status == "awaiting_details"]
        targets = awaiting or threads[:1]
        replies = 0
        for ticket in targets:
            store.link_message(session, ticket.id or 0, stored.id or 0, "follow_up", self.now)
            store.add_event(session, ticket.id, "follow_up", self.now, status=ticket.status)
            if ticket.status != "awaiting_details":
                continue  # a "thank you" on a done ticket: staff see it; no reply loop
            self._reparse(session, ticket, result)
            replies += self._queue_reply(session, ticket, result)
        return targets, "follow_up", replies

    def _reparse(self, session: Session, ticket: Ticket, result: ParseResult) -> None:
        raws = [m.raw for m in store.messages_of_ticket(session, ticket.id or 0)]
        request = conversation.reparse(raws, self.options, ticket.type)
        follow_sensitive = {k for r in result.requests for k in r.sensitive}
        if request is None:
            log.info("%s: follow-up re-parse found no %s request", ticket.reference, ticket.type)
        else:
            kept = {k: ticket.fields[k] for k in ticket.edited_fields if k in ticket.fields}
            ticket.parsed_fields = dict(request.fields)
            ticket.fields = {**request.fields, **kept}
            ticket.missing = [m for m in request.missing if m not in kept]
            ticket.action = "request_details" if ticket.missing else "ack"
            ticket.status = STATUS_FOR_ACTION[ticket.action]
            ticket.cues = [c.as_json() for c in request.cues]
            ticket.notes = list(request.notes)
            ticket.confidence = float(request.confidence)
            follow_sensitive |= set(request.sensitive)
        if follow_sensitive:
            ticket.sensitive = True
            ticket.sensitive_kinds = sorted(set(ticket.sensitive_kinds) | follow_sensitive)
        ticket.updated_at = self.now
        session.add(ticket)
        store.add_event(session, ticket.id, "reparsed", self.now, action=ticket.action,
                        missing=list(ticket.missing))

    # -- replies -------------------------------------------------------------------------
    def _recipients(self, result: ParseResult) -> tuple[str, ...]:
        msg = result.message
        if msg is None:
            return ()
        candidates = [a.email for a in msg.reply_to if a.email] or [msg.sender.email]
        first = next((c for c in candidates if c), None)
        if not first or first.lower() in self.own:
            return ()  # nobody to answer, or our own mail coming back: never reply
        return (first.lower(),)

    def _queue_reply(self, session: Session, ticket: Ticket, result: ParseResult) -> int:
        msg = result.message
        if msg is None or reply_kind(ticket) is None:
            return 0
        target = ReplyTarget(subject=msg.subject or "", message_id=msg.message_id,
                             references=tuple(msg.references),
                             recipients=self._recipients(result))
        email = self.renderer.render(ticket, target, self.now)
        if email is None:
            return 0
        store.insert_values(
            session, OutboxItem, ticket_id=ticket.id, message_id=str(email["Message-ID"]).strip(),
            kind=reply_kind(ticket) or "", sender=self.settings.helpdesk.address,
            recipient=target.recipients[0], recipients=list(target.recipients),
            data=reply_bytes(email), status="pending", attempts=0, next_attempt_at=self.now,
            claimed_at=None, last_error=None, created_at=self.now, sent_at=None,
            appended_sent=False)
        return 1
