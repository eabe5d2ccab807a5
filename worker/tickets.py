"""TicketWriter: turns one stored message's parse result into tickets and queued replies.

New conversation -> one ticket per request; a follow-up -> joins its ticket, which is re-parsed
and, once complete, acknowledged. Machine mail (ignore) gets a ticket and never a reply. Mail
naming a ticket joins it only from someone on its conversation; external senders (worker/
senders.py) get a `triage` ticket whose reply echoes nothing parsed. One ticket gets at most one
automatic reply per `repeat_reply_hours` unless the sender's mail filled a missing field.
"""
from __future__ import annotations

import dataclasses
import logging
from datetime import datetime, timedelta

import parsers
from parsers import ParseOptions, ParseResult, Request, Requester
from parsers import screening
from parsers.model import Address
from parsers.screening import is_robot_address, is_unanswerable
from sqlalchemy import bindparam, func, update
from sqlmodel import Session, select

from . import conversation, senders, store
from .config import Settings
from .messages import header_bytes, mask_sensitive, mask_value
from .replies import ReplyRenderer, ReplyTarget, reply_bytes, reply_kind
from .senders import SenderVerdict
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
            if crash is None and result is not None and result.error:
                return self._not_parsed(session, stored, result.error)
            return [self._unreadable(session, stored, crash)], "new", 0
        requests = list(result.requests) or [self._triage_request(result)]
        if self._nobody_to_answer(result):
            return self._no_sender(session, stored)
        if any(r.action == "ignore" for r in requests):
            return self._machine_mail(session, stored, result, requests[0])
        verdict = senders.assess(stored.raw, result.message, self.settings.helpdesk)
        threads = conversation.find_tickets(session, result, self.options)
        joinable = [t for t in threads if self._may_join(session, t, result, verdict)]
        if joinable:
            return self._follow_up(session, stored, result, joinable)
        named = threads[0] if threads else None
        if verdict.external:
            requests = requests[:1]  # one ticket for staff to look at
        tickets, replies = [], 0
        for request in requests:
            ticket = self._new_ticket(session, stored, result, request, verdict, named)
            replies += self._queue_reply(session, ticket, result)
            tickets.append(ticket)
        if named is not None:
            store.add_event(session, named.id, "named_by_outsider", self.now,
                            references=[t.reference for t in tickets])
            log.info("%s: named by mail from outside its conversation; opened %s",
                     named.reference, ",".join(t.reference or "" for t in tickets))
        return tickets, "new", replies

    def _may_join(self, session: Session, ticket: Ticket, result: ParseResult,
                  verdict: SenderVerdict) -> bool:
        """Only the requester or someone already on the conversation joins a ticket; mail
        failing authentication never does, and an external sender only joins external tickets."""
        if verdict.auth_failures or (verdict.external and not ticket.external):
            return False
        sender = result.message.sender.email if result.message else None
        return conversation.may_join(session, ticket, sender, self.own)

    # -- new tickets ---------------------------------------------------------------------
    def _triage_request(self, result: ParseResult) -> Request:
        sender = result.message.sender if result.message else None
        return Request("unknown", "triage", {}, (), 0.0,
                       Requester(email=sender.email if sender else None,
                                 name=sender.name if sender else None))

    def _new_ticket(self, session: Session, stored: StoredMessage, result: ParseResult,
                    request: Request, verdict: SenderVerdict = SenderVerdict(),
                    named: Ticket | None = None) -> Ticket:
        r = request.requester
        fields = mask_value(dict(request.fields))
        action = "triage" if verdict.external else request.action
        notes = list(request.notes) + (["external_sender"] if verdict.external else [])
        ticket = store.new_row(
            Ticket, type=request.type, action=action,
            status=STATUS_FOR_ACTION.get(action, "triage"),
            fields=fields, parsed_fields=dict(fields),
            missing=list(request.missing), cues=mask_value([c.as_json() for c in request.cues]),
            notes=notes, confidence=float(request.confidence),
            subject=stored.subject,
            external=verdict.external, auth_failures=list(verdict.auth_failures),
            linked_ticket_id=named.id if named is not None else None, purged_at=None,
            requester_email=(r.email or "").lower()[:320] or None,
            requester_name=(r.name or None) and r.name[:255],
            requester_team=(r.team or None) and r.team[:255],
            requester_phone=(r.phone or None) and r.phone[:64],
            sensitive=bool(request.sensitive), sensitive_kinds=list(request.sensitive),
            edited_fields=[],
            created_at=self.now, updated_at=self.now)
        return self._insert(session, ticket, stored, request.missing)

    def _unreadable(self, session: Session, stored: StoredMessage, error: str | None,
                    notes: tuple[str, ...] = ("unreadable",),
                    sender: str | None = None) -> Ticket:
        ticket = store.new_row(Ticket, type="unknown", action="triage", status="triage",
                               notes=list(notes), subject=stored.subject,
                               requester_email=(sender or stored.sender_email or "")
                               .lower()[:320] or None, created_at=self.now,
                               updated_at=self.now)
        ticket = self._insert(session, ticket, stored, ())
        store.add_event(session, ticket.id, "parse_error", self.now,
                        error=(error or "unknown").split(":")[0])
        return ticket

    def _not_parsed(self, session: Session, stored: StoredMessage, error: str
                    ) -> tuple[list[Ticket], str, int]:
        """Refused by the parser (over max_message_bytes, nested too deep): stored and triaged.
        Its headers alone say who to tell (and whether it is machine mail, never answered); the
        reply says that nothing in it has been read. A parser crash (a bug) is not answered:
        the message is replayed once the parser is fixed."""
        try:
            head = parsers.parse(header_bytes(stored.raw), self.options)
        except Exception as exc:  # noqa: BLE001 - unreadable headers: triaged, not answered
            log.warning("%s in the headers of a message not parsed", type(exc).__name__)
            head = None
        msg = head.message if head is not None else None
        if msg is not None and stored.message_id is None and stored.sender_email is None:
            # staff see who sent it, when and about what; the row was written before we read it
            values = {"subject": mask_sensitive(msg.subject or ""),
                      "sender_email": msg.sender.email,
                      "sent_date": msg.date if msg.date and msg.date.tzinfo else None,
                      "message_id": msg.message_id[:998] if msg.message_id else None,
                      "in_reply_to": msg.in_reply_to[:998] if msg.in_reply_to else None,
                      "reference_ids": list(msg.references)}
            session.execute(update(StoredMessage).where(StoredMessage.id == stored.id)
                            .values(**values))
            for name, value in values.items():
                setattr(stored, name, value)
        ticket = self._unreadable(session, stored, error, ("unreadable", error.split(":")[0]),
                                  msg.sender.email if msg else None)
        if head is None or msg is None or head.screen is not None:
            return [ticket], "new", 0
        return [ticket], "new", self._queue_reply(session, ticket, head)

    def _nobody_to_answer(self, result: ParseResult) -> bool:
        """No address to answer (no From, no Reply-To: an empty file, garbage, a broken script)
        and nothing else marks it as machine mail. The parser screens it (nobody to reply to);
        the worker still shows it to staff."""
        msg = result.message
        if msg is None or result.screen != "auto_reply" or not is_unanswerable(msg):
            return False
        as_if_sent = dataclasses.replace(msg, sender=Address(email="someone@sender.invalid"))
        return screening.screen(as_if_sent, self.options) is None

    def _no_sender(self, session: Session, stored: StoredMessage
                   ) -> tuple[list[Ticket], str, int]:
        """A `triage` ticket staff see, never a reply: there is nobody to send one to."""
        ticket = store.new_row(Ticket, type="unknown", action="triage", status="triage",
                               notes=["no_sender_address"], subject=stored.subject,
                               requester_email=None, created_at=self.now, updated_at=self.now)
        ticket = self._insert(session, ticket, stored, ())
        store.add_event(session, ticket.id, "not_answered", self.now,
                        reason="no sender address: nobody to reply to")
        log.info("%s: no sender address; triage for staff, no reply", ticket.reference)
        return [ticket], "new", 0

    def _insert(self, session: Session, ticket: Ticket, stored: StoredMessage,
                missing: tuple[str, ...] | list[str]) -> Ticket:
        ticket.id = store.new_id(session, Ticket)  # a batch allocates ids up front
        if ticket.id is not None:  # the reference goes in with the row
            ticket.reference = self._reference(ticket.id)
            store.insert_row(session, ticket)
        else:  # core INSERT ... RETURNING id, then the reference it makes
            store.insert_row(session, ticket)
            ticket.reference = self._reference(ticket.id or 0)
            session.connection().execute(_SET_REFERENCE, {"tid": ticket.id,
                                                          "ref": ticket.reference})
        store.link_message(session, ticket.id or 0, stored.id or 0, "request", self.now)
        store.add_event(session, ticket.id, "created", self.now, type=ticket.type,
                        action=ticket.action, missing=list(missing))
        return ticket

    def _reference(self, ticket_id: int) -> str:
        return f"{self.settings.helpdesk.reference_prefix}-{ticket_id:06d}"

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
                failed = self._bounced_to(session, ticket, result, ours)
                ticket.last_reply_error = "bounced: the reply could not be delivered" + \
                    (f" to {', '.join(failed)}" if failed else "")
                ticket.updated_at = self.now
                session.add(ticket)
                store.add_event(session, ticket.id, "reply_bounced", self.now,
                                recipients=failed)
        return tickets, "note", 0

    def _bounced_to(self, session: Session, ticket: Ticket, result: ParseResult,
                    ours: list[str]) -> list[str]:
        """The recipients the bounce names as failed; failing that, those of our bounced
        reply(ies) on this ticket."""
        named = [a.lower() for a in (result.message.bounced_recipients if result.message
                                     else ()) if a]
        if named:
            return list(dict.fromkeys(named))[:20]
        rows = session.exec(select(OutboxItem).where(OutboxItem.ticket_id == ticket.id,
                                                     OutboxItem.message_id.in_(ours)))  # type: ignore[attr-defined]
        return list(dict.fromkeys(r for row in rows for r in row.recipients))[:20]

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
                replies += self._note_added(session, ticket, result)
                continue
            before = set(ticket.missing)
            self._reparse(session, ticket, result)
            if before - set(ticket.missing) or not self._replied_recently(session, ticket):
                replies += self._queue_reply(session, ticket, result)
            else:  # nothing new: an auto-responder echoing us, or a person staff should call
                store.add_event(session, ticket.id, "reply_suppressed", self.now,
                                reason="no_new_details")
                log.info("%s: follow-up filled nothing missing; not asked again", ticket.reference)
        return targets, "follow_up", replies

    def _note_added(self, session: Session, ticket: Ticket, result: ParseResult) -> int:
        """A follow-up on a ticket not awaiting details gets a short "added to MDHD-n" note,
        unless the ticket had an automatic reply within repeat_reply_hours (a "thank you" for
        our acknowledgement, or an auto-responder, gets nothing) or is closed as machine mail."""
        if ticket.status in ("ignored", "superseded") or self._replied_recently(session, ticket):
            return 0
        return self._queue_reply(session, ticket, result, kind="added")

    def _replied_recently(self, session: Session, ticket: Ticket) -> bool:
        since = self.now - timedelta(hours=self.settings.helpdesk.repeat_reply_hours)
        count = session.execute(select(func.count()).select_from(OutboxItem).where(
            OutboxItem.ticket_id == ticket.id, OutboxItem.created_at >= since)).scalar()
        return bool(count)

    def _reparse(self, session: Session, ticket: Ticket, result: ParseResult) -> None:
        # the people's mail only: an auto-reply noted on the ticket names other people,
        # phone numbers and IDs that are not the requester's answer
        raws = [m.raw for m in store.human_messages_of_ticket(session, ticket.id or 0) if m.raw]
        request = conversation.reparse(raws, self.options, ticket.type)
        follow_sensitive = {k for r in result.requests for k in r.sensitive}
        if request is None:
            log.info("%s: follow-up re-parse found no %s request", ticket.reference, ticket.type)
        else:
            kept = {k: ticket.fields[k] for k in ticket.edited_fields if k in ticket.fields}
            fields = mask_value(dict(request.fields))
            ticket.parsed_fields = dict(fields)
            ticket.fields = {**fields, **kept}
            ticket.missing = [m for m in request.missing if m not in kept]
            ticket.action = "request_details" if ticket.missing else "ack"
            ticket.status = STATUS_FOR_ACTION[ticket.action]
            ticket.cues = mask_value([c.as_json() for c in request.cues])
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
        first = next((c for c in candidates if c and not is_robot_address(c)), None)
        if not first or first.lower() in self.own or \
                first.lower().endswith("@" + self.settings.helpdesk.message_id_domain.lower()):
            return ()  # nobody to answer, a robot, or our own mail coming back: never reply
        return (first.lower(),)

    def _queue_reply(self, session: Session, ticket: Ticket, result: ParseResult,
                     kind: str | None = None) -> int:
        msg = result.message
        if msg is None or reply_kind(ticket) is None or result.screen is not None:
            return 0  # machine mail is never answered, whatever its ticket says
        target = ReplyTarget(subject=msg.subject or "", message_id=msg.message_id,
                             references=tuple(msg.references),
                             recipients=self._recipients(result))
        email = self.renderer.render(ticket, target, self.now, kind=kind)
        if email is None:
            return 0
        kind = kind or reply_kind(ticket)
        store.insert_values(
            session, OutboxItem, ticket_id=ticket.id, message_id=str(email["Message-ID"]).strip(),
            kind=kind or "", sender=self.settings.helpdesk.address,
            recipient=target.recipients[0], recipients=list(target.recipients),
            data=reply_bytes(email), status="pending", attempts=0, next_attempt_at=self.now,
            claimed_at=None, last_error=None, created_at=self.now, sent_at=None,
            appended_sent=False)
        return 1
