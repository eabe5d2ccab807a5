"""Address headers -> Address values, keeping the address even when the display name is broken."""
from __future__ import annotations

import email.utils
import re

from .decoding import decode_words, header_str, one_line
from .model import Address

_ENCODED_WORDS = re.compile(r"=\?[^?\s]+\?[qQbB]\?[^?]*\?=(?:[ \t\r\n]*=\?[^?\s]+\?[qQbB]\?[^?]*\?=)*")
_ANGLE_ADDR = re.compile(r"<\s*([^<>\s\"]+@[^<>\s\"]+?)\s*>")
# the lookbehind starts a match only where a run of address characters starts: linear time
_BARE_ADDR = re.compile(r"(?<![A-Za-z0-9.!#$%&'*+/=?^_`{|}~-])"
                        r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
# a To/Cc line of a few hundred people fits; past this a header is an attack, not a list
MAX_ADDRESS_HEADER = 20_000
_PLACEHOLDER = "qzEWx{}xWEzq"
_PLACEHOLDER_RE = re.compile(r"qzEWx(\d+)xWEzq")


def parse_addresses(raw: object) -> tuple[Address, ...]:
    """All mailboxes in a To/Cc/From-style header value. Never raises.

    Encoded words are swapped for atom placeholders before the address grammar runs, so a
    display name that decodes to commas, colons or CR/LF cannot split or hide the address
    (see tests/bugcases/15-encoded-crlf-header-injection.eml).
    """
    text = header_str(raw)[:MAX_ADDRESS_HEADER]
    if not text.strip():
        return ()
    words: list[str] = []

    def hide(match: re.Match[str]) -> str:
        words.append(decode_words(match.group(0)))
        return _PLACEHOLDER.format(len(words) - 1)

    masked = _ENCODED_WORDS.sub(hide, text)
    masked = re.sub(r"[\r\n]+", " ", masked)
    try:
        pairs = email.utils.getaddresses([masked])
    except Exception:  # noqa: BLE001 - the stdlib grammar on hostile input; fall back to regexes
        pairs = []
    out: list[Address] = []
    for name, addr in pairs:
        if "@" not in addr and not _is_system_name(addr):
            continue
        out.append(Address(email=_clean_addr(addr), name=_clean_name(name, words)))
    angle = {a.lower() for a in _ANGLE_ADDR.findall(masked)}
    if out and (not angle or any(a.email in angle for a in out)):
        return tuple(out)
    return _fallback(masked, words)


def first_address(raw: object) -> Address:
    """The first mailbox of a From-style header, or Address(None) when there is none."""
    found = parse_addresses(raw)
    return found[0] if found else Address(None)


def _is_system_name(addr: str) -> bool:
    # 'From: MAILER-DAEMON' with no domain is still a sender screening must see
    return addr.strip().lower() in ("mailer-daemon", "postmaster")


def _clean_addr(addr: str) -> str | None:
    addr = one_line(addr).strip("<> ").lower()
    return addr or None


def _clean_name(name: str, words: list[str]) -> str | None:
    name = _PLACEHOLDER_RE.sub(lambda m: words[int(m.group(1))], name)
    name = one_line(name).strip("\"' ")
    return name or None


def _fallback(masked: str, words: list[str]) -> tuple[Address, ...]:
    """Addresses from text the grammar could not read: '<a@b>' first, then a bare a@b."""
    match = _ANGLE_ADDR.search(masked)
    if match:
        name = masked[: match.start()]
        return (Address(email=_clean_addr(match.group(1)), name=_clean_name(name, words)),)
    match = _BARE_ADDR.search(masked)
    if match:
        return (Address(email=_clean_addr(match.group(0)), name=None),)
    return ()
