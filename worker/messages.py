"""The stored form of an inbound message: its unique key, masked text and thread headers."""
from __future__ import annotations

import hashlib
import logging
import re
from datetime import datetime
from typing import Any
from email.parser import BytesHeaderParser
from email.policy import compat32

import parsers
from parsers import ParseResult

from .mailbox import RawMessage
from .store import StoredMessage

log = logging.getLogger(__name__)

_WS = re.compile(r"\s+")
# fallback masks when the parser offers none: NHS numbers (3-3-4 digits), NI numbers
_NHS = re.compile(r"(?<!\d)\d{3}[ -]?\d{3}[ -]?\d(\d{3})(?!\d)")
_NI = re.compile(r"\b[A-Z]{2}\s?\d{2}\s?\d{2}\s?\d(\d{1})\s?([A-D])\b", re.I)


def message_key(data: bytes) -> str:
    """Message-ID when the message has a usable one, else sha256 of the raw bytes."""
    headers = BytesHeaderParser(policy=compat32).parsebytes(data, headersonly=True)
    value = headers.get("Message-ID")
    mid = _WS.sub("", str(value)) if value is not None else ""
    if mid and len(mid) <= 255 and "@" in mid:
        return mid
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _fallback_mask(text: str) -> str:
    text = _NHS.sub(lambda m: "*******" + m.group(1), text)
    return _NI.sub(lambda m: "******" + m.group(1) + m.group(2), text)


def mask_sensitive(text: str) -> str:
    """NHS and National Insurance numbers masked to their last three characters."""
    parser_mask = getattr(parsers, "mask_sensitive", None)
    return parser_mask(text) if parser_mask is not None else _fallback_mask(text)


def mask_value(value: Any) -> Any:
    """A JSON value (fields, cues) with NHS and NI numbers masked in every string in it."""
    if isinstance(value, str):
        return mask_sensitive(value)
    if isinstance(value, dict):
        return {k: mask_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask_value(v) for v in value]
    return value


def header_bytes(data: bytes, limit: int = 256_000) -> bytes:
    """The header block of a raw message (at most `limit` bytes) with an empty body: enough
    to read who sent a message too large to parse, and whether it is machine mail."""
    head = data[:limit]
    ends = [i for i in (head.find(b"\r\n\r\n"), head.find(b"\n\n")) if i >= 0]
    head = head[:min(ends)] if ends else head.rsplit(b"\n", 1)[0]
    return head + b"\r\n\r\n"


def build_stored_message(raw: RawMessage, key: str, result: ParseResult | None,
                         crash: str | None, now: datetime, mailbox: str) -> StoredMessage:
    """The messages row for one fetched message (raw bytes kept; text stored masked)."""
    msg = result.message if result is not None else None
    error = crash or (result.error if result is not None else None)
    return StoredMessage(
        message_key=key,
        message_id=msg.message_id[:998] if msg and msg.message_id else None,
        raw_sha256=hashlib.sha256(raw.data).hexdigest(),
        raw=raw.data,
        mailbox=mailbox[:100],
        folder=raw.folder,
        uidvalidity=raw.uidvalidity,
        uid=raw.uid,
        subject=mask_sensitive(msg.subject or "") if msg else None,
        sender_email=msg.sender.email if msg else None,
        sent_date=msg.date if msg and msg.date and msg.date.tzinfo else None,
        received_at=now,
        in_reply_to=msg.in_reply_to[:998] if msg and msg.in_reply_to else None,
        reference_ids=list(msg.references) if msg else [],
        screen=result.screen if result is not None else None,
        parse_error=error,
        masked_text=mask_sensitive(msg.text) if msg else None,
        masked_request_text=mask_sensitive(result.request_text) if result is not None else None,
    )
