"""Raw bytes -> ParsedMessage: decoded headers, body text, attachments. (First version.)"""
from __future__ import annotations

import email
import email.policy
import email.utils
import hashlib
from email.message import EmailMessage

from inscriptis import get_text

from .model import Address, Attachment, ParsedMessage


class MessageTooComplex(ValueError):
    """The MIME structure is nested deeper than allowed (a MIME bomb)."""


def parse_message(data: bytes, max_depth: int = 50) -> ParsedMessage:
    msg = email.message_from_bytes(data, policy=email.policy.default)
    return _from_email(msg)


def _addr(value: str | None) -> Address:
    name, addr = email.utils.parseaddr(value or "")
    return Address(email=addr.lower() or None, name=name or None)


def _from_email(msg: EmailMessage) -> ParsedMessage:
    plain = html = None
    attachments = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        if part.get_filename():
            payload = part.get_payload(decode=True) or b""
            attachments.append(Attachment(part.get_filename(), ctype, len(payload),
                                          hashlib.sha256(payload).hexdigest(), payload))
        elif ctype == "text/plain" and plain is None:
            plain = part.get_content()
        elif ctype == "text/html" and html is None:
            html = part.get_content()
    text = plain if plain is not None else (get_text(html) if html else "")
    date = None
    try:
        date = email.utils.parsedate_to_datetime(msg["Date"]) if msg["Date"] else None
    except (TypeError, ValueError):
        date = None
    headers = {k.lower(): tuple(str(v) for v in msg.get_all(k, [])) for k in msg.keys()}
    return ParsedMessage(
        message_id=(msg["Message-ID"] or "").strip() or None,
        subject=str(msg["Subject"] or ""),
        date=date,
        sender=_addr(msg["From"]),
        in_reply_to=(msg["In-Reply-To"] or "").strip() or None,
        references=tuple(str(msg["References"] or "").split()),
        headers=headers,
        content_type=msg.get_content_type(),
        text=text,
        html=html,
        attachments=tuple(attachments),
    )
