"""MIME leaf -> Attachment: safe decoded filename, size, sha256, winmail.dat and .msg unpacked."""
from __future__ import annotations

import hashlib
import logging
import mimetypes
import re
from email.message import Message

from .decoding import decode_bytes, decode_header, header_str
from .model import Attachment

log = logging.getLogger(__name__)
# extract-msg and tnefparse log names and properties read from the file (personal data);
# what matters to us is only whether unpacking worked, logged below without content
logging.getLogger("extract_msg").setLevel(logging.CRITICAL)
logging.getLogger("tnefparse").setLevel(logging.CRITICAL)

_DRIVE = re.compile(r"^[A-Za-z]:")
# bidi overrides make "invoice\u202egnp.exe" display as "invoiceexe.png" (CVE-style spoofing)
_BIDI_CONTROLS = re.compile(r"[\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
MAX_FILENAME = 200
# a container inside a container inside ...: stop unpacking here
MAX_CONTAINER_DEPTH = 3
# real winmail.dat files hold a few dozen objects (a handful per attached file)
MAX_TNEF_OBJECTS = 2000
MAX_MSG_BYTES = 25_000_000


def safe_filename(raw: str | None) -> str | None:
    """A sender-supplied filename with any directory part removed ('../../x' -> 'x').

    Returns None when nothing usable is left ('', '.', '..').
    """
    if not raw:
        return None
    name = _BIDI_CONTROLS.sub("", decode_header(raw))
    name = re.split(r"[/\\]", name)[-1]
    name = _DRIVE.sub("", name).strip(" .")
    if not name:
        return None
    if len(name) > MAX_FILENAME:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: MAX_FILENAME - len(ext) - 1] + dot + ext) if dot and len(ext) < 16 \
            else name[:MAX_FILENAME]
    return name


def part_filename(part: Message) -> str | None:
    """The decoded filename of a MIME part (RFC 2231, RFC 2047 or raw 8-bit), path stripped."""
    try:
        raw = _decoded_params(part).get_filename()
    except Exception:  # noqa: BLE001 - malformed parameters are the sender's problem
        log.debug("unreadable filename parameter")
        return None
    return safe_filename(raw) if isinstance(raw, str) else None


def _decoded_params(part: Message) -> Message:
    """The part itself, or a stand-in holding its Content-Type/-Disposition decoded, when raw
    8-bit bytes would reach compat32's parameter parser (which turns them into U+FFFD)."""
    raw = [(k, v) for k, v in part.raw_items()
           if k.lower() in ("content-type", "content-disposition")]
    if all(isinstance(v, str) and v.isascii() for _, v in raw):
        return part
    stand_in = Message()
    for key, value in raw:
        stand_in[key] = header_str(value)
    return stand_in


def placeholder_name(content_type: str, index: int) -> str:
    """A name for a part that brought none, e.g. 'attachment-2.png'."""
    ext = mimetypes.guess_extension(content_type, strict=False) or ".bin"
    return f"attachment-{index}{ext}"


def make_attachment(filename: str, content_type: str, data: bytes, depth: int = 0) -> Attachment:
    """An Attachment for decoded bytes; TNEF (winmail.dat) and Outlook .msg files are unpacked."""
    contained: tuple[Attachment, ...] = ()
    if depth < MAX_CONTAINER_DEPTH:
        lower = filename.lower()
        if is_tnef(filename, content_type):
            contained = unpack_tnef(data, depth)
        elif lower.endswith(".msg") or content_type == "application/vnd.ms-outlook":
            contained = unpack_msg(data, depth)
    return Attachment(filename=filename, content_type=content_type, size=len(data),
                      sha256=hashlib.sha256(data).hexdigest(), data=data, contained=contained)


def _tnef_object_count(data: bytes, limit: int) -> int:
    """TNEF objects in a container, counted from their length fields (stops past `limit`)."""
    offset, count = 6, 0
    while offset + 11 <= len(data) and count <= limit:
        offset += int.from_bytes(data[offset + 5:offset + 9], "little") + 11
        count += 1
    return count


def unpack_tnef(data: bytes, depth: int = 0) -> tuple[Attachment, ...]:
    """The files inside an Outlook TNEF container; () when it cannot be read."""
    if _tnef_object_count(data, MAX_TNEF_OBJECTS) > MAX_TNEF_OBJECTS:
        # tnefparse copies the rest of the buffer for every object: quadratic on a flood
        log.info("winmail.dat not unpacked: too many TNEF objects")
        return ()
    try:
        from tnefparse import TNEF

        tnef = TNEF(data)
        files = [(a.long_filename() or a.name, a.data) for a in tnef.attachments]
    except Exception as exc:  # noqa: BLE001 - any parser failure on hostile bytes -> not unpacked
        log.info("winmail.dat not unpacked: %s", type(exc).__name__)
        return ()
    out = []
    for index, (name, payload) in enumerate(files, 1):
        if isinstance(name, bytes):
            name = name.decode("cp1252", errors="replace")
        ctype = mimetypes.guess_type(name or "")[0] or "application/octet-stream"
        out.append(make_attachment(safe_filename(name) or placeholder_name(ctype, index), ctype,
                                   bytes(payload or b""), depth + 1))
    return tuple(out)


def unpack_msg(data: bytes, depth: int = 0) -> tuple[Attachment, ...]:
    """The attachments of an Outlook .msg file; () when it cannot be read or is not one."""
    if not data.startswith(b"\xd0\xcf\x11\xe0") or len(data) > MAX_MSG_BYTES:  # OLE2 signature
        return ()
    try:
        import extract_msg

        with extract_msg.openMsg(data, delayAttachments=False, strict=False) as msg:
            files = [(getattr(a, "longFilename", None) or getattr(a, "shortFilename", None),
                      getattr(a, "data", None)) for a in getattr(msg, "attachments", [])]
    except Exception as exc:  # noqa: BLE001 - any parser failure on hostile bytes -> not unpacked
        log.info(".msg not unpacked: %s", type(exc).__name__)
        return ()
    out = []
    for index, (name, payload) in enumerate(files, 1):
        if not isinstance(payload, (bytes, bytearray)):
            continue  # an embedded message object: not a file
        ctype = mimetypes.guess_type(name or "")[0] or "application/octet-stream"
        out.append(make_attachment(safe_filename(name) or placeholder_name(ctype, index), ctype,
                                   bytes(payload), depth + 1))
    return tuple(out)


def tnef_body(attachment: Attachment) -> tuple[str, str] | None:
    """("plain" | "html", text) carried inside a winmail.dat, for mail whose MIME body is empty
    (Outlook rich text sent through some gateways). None when there is none."""
    if not is_tnef(attachment.filename, attachment.content_type) or \
            _tnef_object_count(attachment.data, MAX_TNEF_OBJECTS) > MAX_TNEF_OBJECTS:
        return None
    try:
        from tnefparse import TNEF

        tnef = TNEF(attachment.data)
        html, plain = tnef.htmlbody, tnef.body
    except Exception as exc:  # noqa: BLE001 - any parser failure on hostile bytes -> no body
        log.info("winmail.dat body not read: %s", type(exc).__name__)
        return None
    for kind, value in (("html", html), ("plain", plain)):
        if isinstance(value, bytes):
            value = decode_bytes(value.rstrip(b"\x00"), None)[0]
        if isinstance(value, str) and value.strip("\x00 \r\n"):
            return kind, value
    return None


def is_tnef(filename: str, content_type: str) -> bool:
    """An Outlook TNEF container, by type or by its conventional name."""
    return content_type in ("application/ms-tnef", "application/vnd.ms-tnef") \
        or filename.lower() == "winmail.dat"
