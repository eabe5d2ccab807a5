"""Raw bytes -> ParsedMessage: decoded headers, body text, attachments, forwarded messages.

mail-parser (the project's MIME library) parses the structure and reports defects; the body,
headers and attachments are then read from its stdlib message tree here, because the library
alone gets several hostile cases wrong (tests/bugcases/: 7bit ISO-2022-JP, forwarded .eml text
merged into the body, unused boundaries, unknown-8bit, raw 8-bit headers, encoded CR/LF).

Decisions: text/plain is preferred over its HTML alternative (kept in `html` for staff); HTML
is rendered by inscriptis, never regex. A part is an attachment when it has a filename, says
Content-Disposition: attachment, or is not text; an unnamed image inside multipart/related is
the HTML's own picture (a logo, cid:) and is dropped, a named one (a pasted screenshot) kept.
message/rfc822 parts are parsed into `forwarded` and kept as an .eml attachment, never merged
into `text`. Detached signatures are dropped. A missing subject is "" (no placeholder).
"""
from __future__ import annotations

import email
import logging
import quopri
from dataclasses import dataclass, field
from email.message import Message

import mailparser

from .addresses import first_address, parse_addresses
from .attachments import (make_attachment, part_filename, placeholder_name, safe_filename,
                          tnef_body)
from .body import html_to_text, part_text
from .decoding import (clean_text, decode_header, decoded_payload, header_str,
                       lenient_b64decode, one_line, payload_text)
from .message_headers import (content_type_of, date_of, decoded_headers, first_message_id,
                              message_ids, raw_header, report_type_of)
from .mime_depth import DepthExceeded, measure_depth
from .model import Attachment, ParsedMessage

log = logging.getLogger(__name__)


def _drop_library_record(record: logging.LogRecord) -> bool:
    """mail-parser logs decoded header text and attachment names (personal data) and warns
    about parts this module reads itself; its problems reach us as defects instead."""
    return False


for _name in ("mailparser.core", "mailparser.utils"):
    logging.getLogger(_name).addFilter(_drop_library_record)

# message/* parts that are forwarded mail; other message/* (delivery-status,
# disposition-notification) are machine reports read by screening, not mail
_FORWARD_TYPES = ("message/rfc822", "message/global")
# text parts that are not the sender's words
_REPORT_TEXT = ("text/rfc822-headers", "text/calendar")
# detached S/MIME and PGP signatures (proof of origin) and Mac resource forks: not files
# the sender chose to attach
_SIGNATURES = ("application/pkcs7-signature", "application/x-pkcs7-signature",
               "application/pgp-signature", "application/applefile")  # + AppleDouble metadata


class MessageTooComplex(ValueError):
    """The MIME structure is nested deeper than allowed (a MIME bomb)."""


def parse_message(data: bytes, max_depth: int = 50) -> ParsedMessage:
    """Parse raw RFC 5322 bytes into a ParsedMessage.

    Never raises for bad input except MessageTooComplex (MIME nesting deeper than
    `max_depth`, found by a linear pre-scan before any recursive parser runs).
    """
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    data = bytes(data)
    try:
        measure_depth(data, max_depth)
    except DepthExceeded as exc:
        raise MessageTooComplex(str(exc)) from None
    try:
        msg, defects = _parse_tree(data)
        return _from_tree(msg, max_depth, 0, defects)
    except RecursionError:
        # the pre-scan and the stdlib disagree about some structure: still a bomb
        raise MessageTooComplex("MIME nesting too deep") from None


def parse_headers(data: bytes, limit: int = 256_000) -> ParsedMessage:
    """Only the top-level header block of a message (at most `limit` bytes), its body left
    empty: who sent a message refused as too complex, when, about what. Never raises."""
    head = bytes(data[:limit]).replace(b"\r\n", b"\n")
    cut = head.find(b"\n\n")
    head = head[:cut] if cut >= 0 else head.rsplit(b"\n", 1)[0]
    try:
        return parse_message(head + b"\n\n", max_depth=2)
    except Exception:  # noqa: BLE001 - unreadable headers: an empty message
        return parse_message(b"\n\n")


# mail-parser decodes headers with email.header.decode_header, which is quadratic in the
# number of encoded words: 20,000 of them take seconds. No person's mail has that many.
MAX_ENCODED_WORDS_FOR_LIBRARY = 2000
# the stdlib re-parses MIME parameters on every get_param(), quadratically in their number;
# real Content-Type/-Disposition values (boundary, charset, an RFC 2231 filename) are short
MAX_MIME_PARAM_HEADER = 4096
# RFC 5322 lines stop at 998 characters; a longer subject is an attack on every later stage
MAX_SUBJECT = 1000


def _parse_tree(data: bytes) -> tuple[Message, list[str]]:
    """The stdlib message tree, checked by mail-parser, and the defect names it found."""
    msg = email.message_from_bytes(data)
    defects = _shorten_mime_headers(msg)
    if data.count(b"=?") > MAX_ENCODED_WORDS_FOR_LIBRARY:
        return msg, defects + ["ExcessiveEncodedWordsDefect"]
    try:
        parsed = mailparser.MailParser(msg)
        return parsed.message, sorted(set(defects) | parsed.defects_categories)
    except RecursionError:
        raise MessageTooComplex("MIME nesting too deep") from None
    except Exception as exc:  # noqa: BLE001 - a library bug must not lose the message
        log.warning("mail-parser failed (%s); reading with the stdlib only", type(exc).__name__)
        return msg, defects + ["MailParserFailedDefect"]


def _shorten_mime_headers(msg: Message) -> list[str]:
    """Cut over-long Content-Type/-Disposition values (a parameter flood) in place."""
    cut = False
    for part in msg.walk():
        for name, value in part.raw_items():
            if name.lower() in ("content-type", "content-disposition") \
                    and isinstance(value, str) and len(value) > MAX_MIME_PARAM_HEADER:
                part.replace_header(name, value[:MAX_MIME_PARAM_HEADER])
                cut = True
    return ["OversizedMimeHeaderDefect"] if cut else []


@dataclass
class _Walk:
    """What one walk over a message tree collects (mutable, local to this module)."""

    max_depth: int
    depth: int
    segments: list[tuple[str, str]] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    forwarded: list[ParsedMessage] = field(default_factory=list)
    defects: dict[str, None] = field(default_factory=dict)
    bounced: dict[str, None] = field(default_factory=dict)
    unnamed: int = 0

    def defect(self, name: str) -> None:
        self.defects.setdefault(name, None)


def _from_tree(msg: Message, max_depth: int, depth: int,
               defects: list[str] | None = None) -> ParsedMessage:
    if depth > max_depth:  # forwards of forwards: the pre-scan counts them, this is a backstop
        raise MessageTooComplex(f"forwarded messages nested deeper than {max_depth}")
    walk = _Walk(max_depth=max_depth, depth=depth)
    for name in defects or ():
        walk.defect(name)
    walk.segments = _body(msg, walk, top=True)
    if not any(t.strip() for _, t in walk.segments):
        walk.segments = [seg for a in walk.attachments if (seg := tnef_body(a))][:1]
    for part in msg.walk():  # after _body: decoding adds e.g. InvalidBase64PaddingDefect
        for found in getattr(part, "defects", ()):
            walk.defect(type(found).__name__)
    headers = decoded_headers(msg)
    for value in headers.get("x-failed-recipients", ()):
        for addr in parse_addresses(value):
            if addr.email:
                walk.bounced.setdefault(addr.email, None)
    text = "\n".join(t if kind == "plain" else html_to_text(t, walk.defect)
                     for kind, t in walk.segments if kind in ("plain", "html"))
    html = "\n".join(t for kind, t in walk.segments if kind in ("html", "html_view"))
    return ParsedMessage(
        message_id=first_message_id(raw_header(msg, "message-id")),
        subject=decode_header(raw_header(msg, "subject"))[:MAX_SUBJECT],
        date=date_of(raw_header(msg, "date")),
        sender=first_address(raw_header(msg, "from")),
        to=parse_addresses(raw_header(msg, "to")),
        cc=parse_addresses(raw_header(msg, "cc")),
        reply_to=parse_addresses(raw_header(msg, "reply-to")),
        in_reply_to=first_message_id(raw_header(msg, "in-reply-to")),
        references=message_ids(raw_header(msg, "references")),
        headers=headers,
        content_type=content_type_of(msg),
        text=clean_text(text).strip("\n"),
        html=clean_text(html) if html else None,
        attachments=tuple(walk.attachments),
        forwarded=tuple(walk.forwarded),
        defects=tuple(walk.defects),
        report_type=report_type_of(msg),
        bounced_recipients=tuple(walk.bounced),
    )


def _body(part: Message, walk: _Walk, top: bool = False, related: bool = False,
          level: int = 0) -> list[tuple[str, str]]:
    """The part's body segments ('plain' | 'html' | 'html_view', text); attachments and
    forwarded messages are collected on `walk` as a side effect."""
    if level > walk.max_depth:
        raise MessageTooComplex(f"MIME nesting deeper than {walk.max_depth}")
    ctype = content_type_of(part)
    payload = part.get_payload() if part.is_multipart() else None
    if isinstance(payload, list):
        if ctype in _FORWARD_TYPES or (ctype.startswith("message/") and len(payload) == 1
                                       and ctype != "message/delivery-status"):
            if ctype in _FORWARD_TYPES:
                _forward(part, payload, walk)
            return []
        if ctype == "message/delivery-status":
            _read_dsn(payload, walk)
            return []
        children = [c for c in payload if isinstance(c, Message)]
        if ctype == "multipart/alternative":
            return _alternative([_body(c, walk, level=level + 1) for c in children])
        inner_related = ctype == "multipart/related"
        return [seg for c in children
                for seg in _body(c, walk, related=inner_related, level=level + 1)]
    if ctype.startswith("message/"):
        if ctype in _FORWARD_TYPES:
            _forward_encoded(part, walk)
        return []
    if ctype in _SIGNATURES:
        return []
    filename = part_filename(part)
    disposition = _disposition(part)
    is_body_type = ctype in ("text/plain", "text/html") or ctype.startswith("multipart/") \
        or (ctype.startswith("text/") and ctype not in _REPORT_TEXT and not filename)
    if filename or (disposition == "attachment" and not top) or not is_body_type:
        if related and not filename:
            return []  # a picture the HTML draws (cid:), not something the sender attached
        if ctype in _REPORT_TEXT and not filename and ctype != "text/calendar":
            return []
        _attach(part, ctype, filename, walk)
        return []
    text, fell_back = part_text(part)
    if fell_back:
        walk.defect("CharsetDecodeDefect")
    return [("html" if ctype == "text/html" else "plain", text)] if text.strip() else []


def _alternative(choices: list[list[tuple[str, str]]]) -> list[tuple[str, str]]:
    """Text/plain is preferred; the HTML alternative is kept for the staff view only."""
    plain = next((c for c in choices if any(k == "plain" for k, _ in c)), None)
    html = next((c for c in reversed(choices) if any(k == "html" for k, _ in c)), None)
    if plain is None:
        return html or next((c for c in choices if c), [])
    view = [("html_view", t) for k, t in (html or []) if k == "html" and html is not plain]
    return plain + view


def _disposition(part: Message) -> str | None:
    try:
        value = part.get_content_disposition()
    except Exception:  # noqa: BLE001 - malformed header
        return None
    return value.lower() if isinstance(value, str) else None


def _attach(part: Message, ctype: str, filename: str | None, walk: _Walk) -> None:
    data = decoded_payload(part)
    if filename is None:
        walk.unnamed += 1
        filename = placeholder_name(ctype, walk.unnamed)
    if filename.lower().endswith(".eml") and data.strip():
        # a forwarded message some clients label application/octet-stream: read it too
        _forward_encoded(part, walk, data, keep_attachment=False)
    walk.attachments.append(make_attachment(filename, ctype, data))


def _forward(part: Message, payload: list, walk: _Walk) -> None:
    inner = payload[0]
    if not isinstance(inner, Message):
        return
    encoded = payload_text(inner)
    if not inner.keys() and encoded and _transfer_encoding(part) in (
            "base64", "quoted-printable"):
        # the stdlib parses message/rfc822 bodies as mail even when they are encoded
        # (RFC 2046 forbids it, Outlook and some gateways do it): decode and parse again
        _forward_encoded(part, walk, _decode_transfer(encoded, _transfer_encoding(part)))
        return
    walk.forwarded.append(_from_tree(inner, walk.max_depth, walk.depth + 1))
    data = _serialise(inner)
    name = part_filename(part) or _eml_name(inner)
    walk.attachments.append(make_attachment(name, "message/rfc822", data))


def _transfer_encoding(part: Message) -> str:
    return one_line(header_str(part.get("content-transfer-encoding", ""))).lower()


def _decode_transfer(text: str, cte: str) -> bytes:
    raw = text.encode("utf-8", "surrogateescape")
    return lenient_b64decode(raw) if cte == "base64" else quopri.decodestring(raw)


def _forward_encoded(part: Message, walk: _Walk, data: bytes | None = None,
                     keep_attachment: bool = True) -> None:
    """message/rfc822 sent base64/quoted-printable encoded: parse the decoded bytes."""
    data = decoded_payload(part) if data is None else data
    if not data.strip():
        return
    remaining = walk.max_depth - walk.depth - 1
    try:
        measure_depth(data, remaining)
    except DepthExceeded as exc:
        raise MessageTooComplex(str(exc)) from None
    inner, _ = _parse_tree(data)
    walk.forwarded.append(_from_tree(inner, walk.max_depth, walk.depth + 1))
    if keep_attachment:
        walk.attachments.append(make_attachment(part_filename(part) or _eml_name(inner),
                                                "message/rfc822", data))


def _serialise(msg: Message) -> bytes:
    try:
        return msg.as_bytes()
    except Exception:  # noqa: BLE001 - re-serialising hostile structure; keep what we can
        try:
            return msg.as_string().encode("utf-8", "surrogateescape")
        except Exception:  # noqa: BLE001
            return b""


def _eml_name(inner: Message) -> str:
    subject = decode_header(raw_header(inner, "subject"))
    return (safe_filename(f"{subject[:80]}.eml") if subject else None) or "forwarded-message.eml"


def _read_dsn(blocks: list, walk: _Walk) -> None:
    """Failed recipients from a message/delivery-status part (RFC 3464 per-recipient blocks)."""
    for block in blocks:
        if not isinstance(block, Message):
            continue
        action = one_line(header_str(block.get("Action", "failed"))).lower()
        recipient = block.get("Final-Recipient") or block.get("Original-Recipient")
        if recipient is None or not action.startswith("failed"):
            continue
        value = one_line(header_str(recipient))
        addr = value.split(";", 1)[-1].strip().strip("<>").lower()
        if addr:
            walk.bounced.setdefault(addr, None)
