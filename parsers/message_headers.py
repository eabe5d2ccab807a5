"""Header fields of a stdlib (compat32) message -> decoded values: IDs, dates, content type."""
from __future__ import annotations

import email.utils
import re
from datetime import datetime, timezone
from email.message import Message

from .decoding import decode_header, header_str, one_line

# a long To/References line fits; anything longer is cut (the raw message keeps it all)
MAX_HEADER_VALUE = 20_000
_MESSAGE_ID = re.compile(r"<[^<>\s]+>")


def raw_header(msg: Message, name: str) -> str | None:
    """The first raw value of a header (compat32: 8-bit bytes surrogate-escaped)."""
    for key, value in msg.raw_items():
        if key.lower() == name:
            return value if isinstance(value, str) else str(value)
    return None


def decoded_headers(msg: Message) -> dict[str, tuple[str, ...]]:
    """Every header, lower-case name -> decoded one-line values in order of appearance."""
    out: dict[str, list[str]] = {}
    for key, value in msg.raw_items():
        decoded = decode_header(value)[:MAX_HEADER_VALUE]
        out.setdefault(one_line(header_str(key)).lower(), []).append(decoded)
    return {k: tuple(v) for k, v in out.items()}


def content_type_of(msg: Message) -> str:
    """The part's MIME type, lower-case; text/plain when missing or unreadable (RFC 2045)."""
    try:
        return one_line(msg.get_content_type())
    except Exception:  # noqa: BLE001 - stdlib on a malformed header; RFC 2045 default applies
        return "text/plain"


def report_type_of(msg: Message) -> str | None:
    """multipart/report's report-type parameter, lower-case, or None."""
    try:
        value = msg.get_param("report-type")
    except Exception:  # noqa: BLE001 - malformed parameters
        return None
    return one_line(header_str(value)).lower() or None if isinstance(value, str) else None


def date_of(raw: str | None) -> datetime | None:
    """An RFC 5322 Date value -> aware datetime (no zone read as UTC), None when unreadable."""
    if not raw:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(one_line(header_str(raw)))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed


def message_ids(raw: str | None) -> tuple[str, ...]:
    """Message-ID tokens ('<...>') in a References/In-Reply-To value, in order, no repeats."""
    if not raw:
        return ()
    text = one_line(header_str(raw))
    tokens = _MESSAGE_ID.findall(text) or [t for t in text.split() if "@" in t]
    return tuple(dict.fromkeys(tokens))


def first_message_id(raw: str | None) -> str | None:
    """The first Message-ID token, else the trimmed value itself, else None."""
    found = message_ids(raw)
    if found:
        return found[0]
    text = one_line(header_str(raw)) if raw else ""
    return text or None
