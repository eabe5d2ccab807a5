"""Bytes and header text -> clean Unicode: charset fallbacks, RFC 2047 words, control characters."""
from __future__ import annotations

import base64
import binascii
import codecs
import logging
import quopri
import re
import unicodedata
from email.message import Message

from charset_normalizer import from_bytes as guess_charsets

log = logging.getLogger(__name__)

# Labels mail software writes that Python's codecs do not know, or knows too narrowly.
# Latin-1 and ASCII map to windows-1252 as browsers do: Outlook labels cp1252 text (curly
# quotes, en dash) iso-8859-1 (see tests/bugcases/09-html-only-no-text-part.eml).
CHARSET_ALIASES = {
    "unknown-8bit": None, "x-unknown": None, "unknown": None, "default": None,
    "8bit": None, "binary": None, "x-user-defined": None, "charset": None,
    "us-ascii": "ascii", "ascii": "ascii", "ansi_x3.4-1968": "ascii",
    "iso-8859-1": "cp1252", "iso8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252",
    "l1": "cp1252", "iso_8859-1": "cp1252", "windows-1252": "cp1252",
    "gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "euc-cn": "gb18030",
    "shift_jis": "cp932", "shift-jis": "cp932", "sjis": "cp932", "x-sjis": "cp932",
    "ks_c_5601-1987": "cp949", "euc-kr": "cp949", "iso-8859-8-i": "iso8859_8",
    "iso-2022-jp": "iso2022_jp_ext", "utf8": "utf-8", "utf-7": "utf-7",
    "x-mac-roman": "mac_roman", "macintosh": "mac_roman",
}
# single-byte Western labels that senders often put on UTF-8 text
_WESTERN = {"ascii", "cp1252", "iso8859_15", "iso8859-15", "latin9"}
# what charset-normalizer calls Western European text on short samples: read as cp1252
_GUESS_AS_CP1252 = {"cp1250", "cp1252", "latin_1", "iso8859_15", "iso8859_2", "mac_roman",
                    "mac_latin2", "cp850", "cp437", "ascii", "utf_8"}
_GUESS_ALIASES = {"mac_cyrillic": "cp1251"}
_CONTROL_RUN = re.compile(r"[\s\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_TEXT_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([qQbB])\?([^?]*)\?=")
_ENCODED_GAP = re.compile(r"(?<=\?=)[ \t\r\n]+(?==\?)")


def python_codec(label: str | None) -> str | None:
    """A mail charset label -> a Python codec name, or None when unknown or meaningless."""
    if not label:
        return None
    name = label.strip().strip("\"'").lower().split("*", 1)[0]  # RFC 2231 language suffix
    if name in CHARSET_ALIASES:
        return CHARSET_ALIASES[name]
    try:
        return codecs.lookup(name).name
    except (LookupError, ValueError, TypeError):  # ValueError: a NUL in the label
        return None


def decode_bytes(data: bytes, declared: str | None) -> tuple[str, bool]:
    """Decode text bytes: declared charset, then UTF-8, then a guess, then windows-1252.

    Returns (text, fell_back); fell_back is True when the declared charset was missing,
    unknown or wrong for these bytes. Never raises; the text has no lone surrogates.
    """
    codec = python_codec(declared)
    if b"\x1b$" in data or b"\x1b(" in data:
        # ISO-2022-JP escape sequences: 7-bit Japanese, often with no or a wrong label
        if codec is None or not codec.startswith("iso2022"):
            codec = "iso2022_jp_ext"
    if codec is not None:
        if codec in _WESTERN and not data.isascii() and _is_utf8(data):
            return data.decode("utf-8"), True  # UTF-8 wearing a Latin-1 label
        try:
            return clean_surrogates(data.decode(codec)), False
        except (UnicodeError, LookupError):
            if codec.startswith("iso2022"):
                return _decode_iso2022(data), True
            if codec.replace("_", "-") == "utf-7" and data.isascii():
                # a shift sequence with stray bits at its end (a lax encoder): keep the
                # characters it holds, drop the partial one
                return data.decode("utf-7", errors="replace").replace("\ufffd", ""), True
    if _is_utf8(data):
        return data.decode("utf-8"), declared is not None and codec not in ("utf-8", "ascii")
    return _guess(data), True


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _decode_iso2022(data: bytes) -> str:
    for codec in ("iso2022_jp_2", "iso2022_jp_3", "iso2022_jp_ext"):
        try:
            return data.decode(codec)
        except UnicodeError:
            continue
    return data.decode("iso2022_jp_ext", errors="replace")


def _guess(data: bytes) -> str:
    """Undeclared 8-bit text: charset-normalizer for non-Western scripts, else windows-1252.

    Only text that is largely non-ASCII (Cyrillic, Greek, CJK...) is worth a guess: a few
    accented letters in Western text are windows-1252, and detectors misread short samples.
    """
    high = len(data.translate(None, bytes(range(128))))  # count of bytes >= 0x80
    if high >= 8 and high * 4 >= len(data):
        try:
            best = guess_charsets(data[:20000]).best()
        except Exception:  # noqa: BLE001 - a detector failure must not lose the text
            log.warning("charset detection failed; using windows-1252")
            best = None
        if best is not None and best.encoding not in _GUESS_AS_CP1252:
            codec = _GUESS_ALIASES.get(best.encoding, best.encoding)
            try:
                text = clean_surrogates(data.decode(codec))
            except (UnicodeError, LookupError):
                text = ""
            if text and _mostly_non_latin(text):
                return text
    return data.decode("cp1252", errors="replace")


def _mostly_non_latin(text: str) -> bool:
    """Whether most non-ASCII letters are of another script (Cyrillic, Greek, CJK...).

    Short Western text fools detectors into Baltic or Central European code pages (see
    tests/bugcases/102-declared-utf8-really-cp1252.eml); windows-1252 is right for those.
    """
    letters = [c for c in text if not c.isascii() and c.isalpha()]
    if not letters:
        return False
    latin = sum(1 for c in letters if unicodedata.name(c, "").startswith("LATIN"))
    return latin * 2 < len(letters)


def clean_surrogates(text: str) -> str:
    """Replace lone surrogates (from surrogateescape or odd codecs) so the text encodes as UTF-8."""
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text


def clean_text(text: str) -> str:
    """Body text: no NULs or stray control characters, newlines as \\n, no lone surrogates."""
    text = clean_surrogates(text).replace("\r\n", "\n").replace("\r", "\n")
    return _TEXT_CONTROL.sub("", text).replace("\xa0", " ").replace("\ufeff", "")


def one_line(text: str) -> str:
    """Header text safe to re-emit: every run of white space or control characters -> one space."""
    return _CONTROL_RUN.sub(" ", clean_surrogates(text)).strip()


def header_str(raw: object) -> str:
    """A compat32 header value (str with surrogate-escaped 8-bit bytes, or Header) -> text.

    Raw 8-bit bytes are read as UTF-8, else windows-1252 (see bugcase 16-raw-latin1-display-name).
    Encoded words are left for decode_words.
    """
    if raw is None:
        return ""
    if not isinstance(raw, str):
        # email.header.Header: built by compat32 when the raw value had 8-bit bytes
        chunks = getattr(raw, "_chunks", None)
        if chunks is None:
            return clean_surrogates(str(raw))
        out = []
        for value, charset in chunks:
            if isinstance(value, bytes):
                out.append(decode_bytes(value, str(charset) if charset else None)[0])
            else:
                out.append(header_str(value))
        return "".join(out)
    if _SURROGATE.search(raw) is None:
        return raw
    data = raw.encode("utf-8", "surrogateescape")
    return decode_bytes(data, None)[0] if not _is_utf8(data) else data.decode("utf-8")


def decode_words(text: str) -> str:
    """Decode RFC 2047 encoded words leniently (unknown charsets, missing padding, split
    multi-byte characters across adjacent words). Never raises."""
    if "=?" not in text:
        return text
    text = _ENCODED_GAP.sub("", text)  # white space between adjacent words is not text
    out: list[str] = []
    pos = 0
    pending: list[tuple[str | None, bytes]] = []
    for match in _ENCODED_WORD.finditer(text):
        if match.start() > pos:
            out.append(_flush(pending))
            out.append(text[pos:match.start()])
        charset, kind, payload = match.groups()
        data = _word_bytes(kind.lower(), payload)
        if pending and pending[-1][0] == charset.lower():
            pending[-1] = (pending[-1][0], pending[-1][1] + data)
        else:
            out.append(_flush(pending))
            pending.append((charset.lower(), data))
        pos = match.end()
    out.append(_flush(pending))
    out.append(text[pos:])
    return "".join(out)


def _flush(pending: list[tuple[str | None, bytes]]) -> str:
    text = "".join(decode_bytes(data, charset)[0] for charset, data in pending)
    pending.clear()
    return text


def _word_bytes(kind: str, payload: str) -> bytes:
    raw = payload.encode("ascii", "replace")
    if kind == "q":
        return quopri.decodestring(raw.replace(b"_", b" "), header=False)
    return lenient_b64decode(raw)


def lenient_b64decode(data: bytes) -> bytes:
    """Base64 with junk characters dropped and missing '=' padding restored."""
    cleaned = re.sub(rb"[^A-Za-z0-9+/]", b"", data)
    cleaned = cleaned[: len(cleaned) - len(cleaned) % 4 if len(cleaned) % 4 == 1 else None]
    try:
        return base64.b64decode(cleaned + b"=" * (-len(cleaned) % 4))
    except (binascii.Error, ValueError):
        return b""


def decode_header(raw: object) -> str:
    """A raw header value -> one line of clean text (8-bit fallback, RFC 2047, controls collapsed)."""
    return one_line(decode_words(header_str(raw)))


def payload_text(part: Message) -> str:
    """A non-multipart part's undecoded payload as text (8-bit bytes surrogate-escaped).

    compat32's get_payload() decodes 8-bit payloads with the declared charset, which raises
    on labels like "utf\\x00-8"; this reads the stored value without that step.
    """
    if part.is_multipart():
        return ""
    try:
        raw = part.get_payload()
    except (LookupError, ValueError, TypeError, UnicodeError):
        raw = part._payload  # noqa: SLF001 - the only non-decoding accessor compat32 has
    return raw if isinstance(raw, str) else ""


def decoded_payload(part: Message) -> bytes:
    """A leaf part's bytes after its transfer encoding, leniently. Never raises.

    The stdlib hands back the undecoded base64 text when the data length is one more than a
    multiple of four (InvalidBase64LengthDefect); the dangling character is dropped here.
    """
    try:
        data = part.get_payload(decode=True)
    except Exception:  # noqa: BLE001 - stdlib decoders on hostile transfer encodings
        data = None
    cte = header_str(part.get("content-transfer-encoding", "")).strip().lower()
    broken = any(type(d).__name__ == "InvalidBase64LengthDefect" for d in part.defects)
    if cte == "base64" and (broken or not isinstance(data, bytes)):
        return lenient_b64decode(payload_text(part).encode("utf-8", "surrogateescape"))
    if isinstance(data, bytes):
        return data
    return payload_text(part).encode("utf-8", "surrogateescape")
