"""Threading: which ticket a sender's follow-up belongs to, and re-parsing the ticket with it.

Rules from the catalogue's Outcomes: our reference in the subject; In-Reply-To/References naming
one of the ticket's messages or one of our replies; failing both, the same sender replying on the
ticket's own subject (behind Re:/AW:/Fwd:...) and quoting its text, while it awaits details.
"""
from __future__ import annotations

import logging
import re
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses
from typing import Any

import parsers
from parsers import ParseOptions, ParseResult, Request
from sqlmodel import Session

from . import store
from .store import Ticket

log = logging.getLogger(__name__)

# Re:, RE:, AW:, SV:, Fwd:, FW:, WG:, TR: and "[EXTERNAL]" tags, repeated
_SUBJECT_PREFIX = re.compile(r"^\s*((re|aw|sv|vs|fwd?|wg|tr|antw)\s*(\[\d+\])?\s*:|\[[^\]]*\])\s*",
                             re.I)
_QUOTE_MARK = re.compile(r"^[\s>|]+", re.M)
_WS = re.compile(r"\s+")
MAX_HEADER_BYTES = 256_000  # a message's headers read for its addresses, at most


def base_subject(subject: str | None) -> str:
    """The subject without reply/forward prefixes, white space folded, lower case."""
    s = subject or ""
    while True:
        stripped = _SUBJECT_PREFIX.sub("", s, count=1)
        if stripped == s:
            break
        s = stripped
    return _WS.sub(" ", s).strip().lower()


def may_follow_up(subject: str | None, reference_prefix: str) -> bool:
    """A subject find_tickets may thread by: a reply/forward prefix or one of our references."""
    return bool(_SUBJECT_PREFIX.match(subject or "")) or \
        f"{reference_prefix}-".lower() in (subject or "").lower()


def _fold(text: str) -> str:
    return _WS.sub(" ", _QUOTE_MARK.sub("", text)).strip().lower()


def quotes_text(reply_text: str, original_text: str) -> bool:
    """True when the reply quotes a distinctive line of the original (quote marks ignored)."""
    reply = _fold(reply_text)
    lines = [_fold(line) for line in original_text.splitlines()]
    distinctive = [line for line in lines if len(line) >= 20][:5]
    return any(line in reply for line in distinctive)


def our_message_ids_in(raw: bytes, reference_prefix: str, domain: str) -> list[str]:
    """Message-IDs of our replies quoted anywhere in a message: a bounce returns our headers
    (see worker.replies.reply_message_id for the form)."""
    pattern = re.compile(rb"<" + re.escape(reference_prefix.encode()) + rb"-\d+\.[0-9a-f]{16}@"
                         + re.escape(domain.encode()) + rb">", re.I)
    return list(dict.fromkeys(m.decode("ascii") for m in pattern.findall(raw)))


def find_tickets(session: Session, result: ParseResult, options: ParseOptions,
                 strict: bool = False) -> list[Ticket]:
    """The ticket(s) this message follows up, newest first; [] for a new conversation.

    strict: only our reference or thread headers count (for machine mail, which never quotes
    a ticket the way a person does)."""
    msg = result.message
    if msg is None:
        return []
    refs = list(result.ticket_refs)
    pattern = re.compile(rf"\b{re.escape(options.reference_prefix)}-\d+\b", re.I)
    refs += [r.upper() for r in pattern.findall(msg.subject or "")]
    by_ref = [t for r in dict.fromkeys(refs) if (t := store.ticket_by_reference(session, r))]
    if by_ref:
        return by_ref
    thread_ids = [msg.in_reply_to or "", *msg.references]
    by_header = store.tickets_of_message_ids(session, thread_ids)
    if by_header or strict:
        return by_header
    if not msg.sender.email or base_subject(msg.subject) == base_subject("") or \
            not _SUBJECT_PREFIX.match(msg.subject or ""):
        return []
    subject = base_subject(msg.subject)
    for ticket in store.awaiting_tickets_of(session, msg.sender.email):
        if base_subject(ticket.subject) != subject:
            continue
        originals = store.messages_of_ticket(session, ticket.id or 0)
        if any(quotes_text(msg.text, m.masked_request_text or "") for m in originals):
            return [ticket]
    return []


def participants(session: Session, ticket: Ticket, own: set[str]) -> set[str]:
    """Addresses on a ticket's conversation: its requester, and the From, Reply-To, To and Cc
    of its people's messages (lower case, our own addresses left out; auto-replies and
    bounces noted on it add nobody)."""
    found = {(ticket.requester_email or "").lower()}
    for stored in store.human_messages_of_ticket(session, ticket.id or 0):
        found.add((stored.sender_email or "").lower())
        if stored.raw:
            found |= header_addresses(stored.raw, ("from", "reply-to", "to", "cc"))
    return {a for a in found if a and a not in own}


def header_addresses(raw: bytes, names: tuple[str, ...]) -> set[str]:
    """Lower-case addresses in these headers of a raw message (unreadable ones skipped)."""
    try:
        headers = BytesHeaderParser(policy=compat32).parsebytes(raw[:MAX_HEADER_BYTES],
                                                                headersonly=True)
        values = [str(v) for n in names for v in headers.get_all(n) or []]
        return {a.strip().lower() for _, a in getaddresses(values) if "@" in a}
    except Exception:  # noqa: BLE001 - malformed headers name nobody
        return set()


def may_join(session: Session, ticket: Ticket, sender: str | None, own: set[str]) -> bool:
    """Threading cannot be forged: only someone already on the conversation joins a ticket."""
    return bool(sender) and sender.lower() in participants(session, ticket, own)


def reparse(raws: list[bytes], options: ParseOptions, ticket_type: str) -> Request | None:
    """The ticket's request re-read from the whole conversation (oldest message first).

    Returns the request of the ticket's own type, or None when the parser finds none.
    """
    found: Any = parsers.reparse_conversation(raws, options, ticket_type)
    requests = found.requests if isinstance(found, ParseResult) else found
    if isinstance(requests, Request):
        requests = [requests]
    for request in requests or ():
        if request.type == ticket_type:
            return request
    return None
