"""The stored form of an inbound message: its unique key, masked text and thread headers."""
from __future__ import annotations

import hashlib
import logging
import re
from datetime import datetime
from collections.abc import Sequence
from email.parser import BytesHeaderParser
from email.policy import compat32
from typing import Any, Protocol

import parsers
from parsers import ParseResult
from sqlmodel import Session, select

from .mailbox import RawMessage
from .store import StoredMessage, new_row

log = logging.getLogger(__name__)

_WS = re.compile(r"\s+")
_WS_BYTES = re.compile(rb"\s+")
# fallback masks when the parser offers none: NHS numbers (3-3-4 digits), NI numbers
_NHS = re.compile(r"(?<!\d)\d{3}[ -]?\d{3}[ -]?\d(\d{3})(?!\d)")
_NI = re.compile(r"\b[A-Z]{2}\s?\d{2}\s?\d{2}\s?\d(\d{1})\s?([A-D])\b", re.I)


# header fields added on the way, which differ between two deliveries of one message
# (RFC 5321 trace fields, delivery and filtering stamps, mailbox-format fields)
_TRACE_FIELDS = frozenset({
    "received", "return-path", "delivered-to", "envelope-to", "authentication-results",
    "received-spf", "arc-seal", "arc-message-signature", "arc-authentication-results",
    "status", "content-length", "lines", "x-original-to", "x-delivered-to", "x-envelope-to",
    "x-envelope-from", "x-received", "x-uid", "x-status", "x-keywords", "x-rcpt-to",
    "x-eopattributedmessage", "x-originating-ip", "x-virus-scanned"})
_TRACE_PREFIXES = (b"x-spam", b"x-ms-exchange-organization-", b"x-ms-exchange-crosstenant-",
                   b"x-ms-exchange-transport-", b"x-forefront-", b"x-microsoft-antispam",
                   b"x-mozilla-status", b"x-ms-office365-filtering-", b"x-proofpoint-",
                   b"x-mimecast-", b"x-google-smtp-source", b"x-gm-")
CONTENT_PREFIX = "sha256:"


def message_key(data: bytes) -> str:
    """Message-ID when the message has a usable one, else the hash of its content
    (see content_sha256). A different message reusing a stored Message-ID is re-keyed by
    its content hash when it is stored (resolve_keys)."""
    try:
        headers = BytesHeaderParser(policy=compat32).parsebytes(data, headersonly=True)
        value = headers.get("Message-ID")
        mid = _WS.sub("", str(value)) if value is not None else ""
    except Exception:  # noqa: BLE001 - unreadable headers: keyed by content
        mid = ""
    if mid and len(mid) <= 255 and "@" in mid:
        return mid
    return CONTENT_PREFIX + content_sha256(data)


def content_sha256(data: bytes) -> str:
    """SHA-256 of a message without its trace fields (Received, Return-Path, Delivered-To,
    Authentication-Results, spam and transport stamps): header lines unfolded and white space folded, line ends
    normalised. Two deliveries of one message hash the same; a different message does not."""
    norm = data.replace(b"\r\n", b"\n")
    cut = norm.find(b"\n\n")
    head, body = (norm, b"") if cut < 0 else (norm[:cut], norm[cut + 2:])
    digest = hashlib.sha256()
    field: list[bytes] = []

    def add(lines: list[bytes]) -> None:
        if not lines:
            return
        name = lines[0].split(b":", 1)[0].strip().lower() if b":" in lines[0] else b""
        if name.decode("latin-1") in _TRACE_FIELDS or name.startswith(_TRACE_PREFIXES):
            return
        digest.update(b" ".join(_WS_BYTES.split(b" ".join(lines).strip())) + b"\n")

    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t") and field:
            field.append(line)
        else:
            add(field)
            field = [line]
    add(field)
    digest.update(b"\n" + body.rstrip())
    return digest.hexdigest()


class _Keyed(Protocol):
    key: str

    @property
    def raw(self) -> RawMessage: ...


def resolve_keys(session: Session, items: Sequence[_Keyed]) -> set[str]:
    """Which of a batch's messages are stored already; gives each new one a unique key.

    The same message delivered twice (same Message-ID, same content, different trace headers;
    or the same bytes again after a UIDVALIDITY change) keeps the stored key and counts as
    stored. A different message reusing a stored (or batch-mate's) Message-ID is re-keyed by
    its content hash, so it is stored and filed on its own."""
    by_key = {i.key for i in items if not i.key.startswith(CONTENT_PREFIX)}
    stored: dict[str, str] = {}
    if by_key:
        stored = {k: sha for k, sha in session.exec(
            select(StoredMessage.message_key, StoredMessage.raw_sha256)
            .where(StoredMessage.message_key.in_(list(by_key))))}  # type: ignore[union-attr]
    stored_content: dict[str, str] = {}
    batch_content: dict[str, str] = {}
    for item in items:
        data = item.raw.data
        if not item.key.startswith(CONTENT_PREFIX):
            content = content_sha256(data)
            if item.key in stored and stored[item.key] != hashlib.sha256(data).hexdigest():
                if item.key not in stored_content:
                    raw = session.exec(select(StoredMessage.raw).where(
                        StoredMessage.message_key == item.key)).first()
                    stored_content[item.key] = content_sha256(raw or b"")
                if stored_content[item.key] != content:
                    log.info("uid=%s: Message-ID reused by a different message; keyed by "
                             "content", item.raw.uid)
                    item.key = CONTENT_PREFIX + content
            elif item.key not in stored and batch_content.setdefault(item.key, content) != content:
                item.key = CONTENT_PREFIX + content
    # the very same bytes stored under an older key form (before content keys)
    by_raw: dict[str, list[_Keyed]] = {}
    for i in items:
        if i.key.startswith(CONTENT_PREFIX):
            by_raw.setdefault(hashlib.sha256(i.raw.data).hexdigest(), []).append(i)
    if by_raw:
        for key, sha in session.exec(select(StoredMessage.message_key, StoredMessage.raw_sha256)
                                     .where(StoredMessage.raw_sha256.in_(list(by_raw)))):  # type: ignore[attr-defined]
            for same in by_raw[sha]:
                same.key = key
    keys = [i.key for i in items]
    return set(session.exec(select(StoredMessage.message_key)
                            .where(StoredMessage.message_key.in_(keys))))  # type: ignore[union-attr]


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
    return new_row(
        StoredMessage, message_key=key,
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
