"""Sender policy: allowed sender domains and Authentication-Results verdicts -> external sender.

External mail still becomes a ticket (a `triage` one, flagged for staff), but its reply echoes
nothing the parser read, and it never joins a ticket of someone else's conversation.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import compat32

from parsers import ParsedMessage

from .config import HelpdeskSettings

log = logging.getLogger(__name__)

# RFC 8601: "authserv-id; method=result (comment) prop=value; ..."
_RESULT = re.compile(r"(?:^|;)\s*(dmarc|spf|dkim)\s*=\s*([a-z]+)", re.I)
_COMMENT = re.compile(r"\([^()]*\)")
# only a hard "fail": softfail and temperror are common on legitimate forwarded mail
_FAILING = frozenset({"fail"})
MAX_HEADER_BYTES = 256_000  # headers beyond this are not read for verdicts


@dataclass(frozen=True)
class SenderVerdict:
    """Whether mail comes from outside the help desk's trusted senders, and why."""

    external: bool = False
    outside_domains: bool = False
    auth_failures: tuple[str, ...] = ()


def authentication_failures(values: Iterable[str]) -> tuple[str, ...]:
    """Failing verdicts ("dmarc=fail", "spf=fail", ...) in the first Authentication-Results
    header: the receiving server prepends its own, so later ones came from elsewhere (and may
    have been written by the sender)."""
    for value in values:
        text = _COMMENT.sub(" ", " ".join(str(value).split()))
        found = [f"{m.group(1).lower()}={m.group(2).lower()}" for m in _RESULT.finditer(text)
                 if m.group(2).lower() in _FAILING]
        return tuple(dict.fromkeys(found))
    return ()


def _headers(raw: bytes) -> list[str]:
    head = raw[:MAX_HEADER_BYTES]
    parsed = BytesHeaderParser(policy=compat32).parsebytes(head, headersonly=True)
    return [str(v) for v in parsed.get_all("Authentication-Results") or []]


def in_domains(address: str | None, domains: tuple[str, ...]) -> bool:
    """True when `address` is at one of `domains` or a subdomain of one."""
    domain = (address or "").rpartition("@")[2].strip().lower().rstrip(".")
    return bool(domain) and any(domain == d or domain.endswith("." + d) for d in domains)


def assess(raw: bytes, msg: ParsedMessage | None, h: HelpdeskSettings) -> SenderVerdict:
    """The verdict for one inbound message. Every address a reply would go to (From and
    Reply-To) must be in an allowed domain when an allow-list is configured."""
    failures: tuple[str, ...] = ()
    if h.distrust_failed_authentication:
        try:
            failures = authentication_failures(_headers(raw))
        except Exception:  # noqa: BLE001 - a header we cannot read is no verdict
            log.warning("Authentication-Results could not be read")
    outside = False
    if h.allowed_sender_domains and msg is not None:
        addresses = [msg.sender.email, *(a.email for a in msg.reply_to)]
        outside = any(a and not in_domains(a, h.allowed_sender_domains) for a in addresses) \
            or not any(addresses)
    return SenderVerdict(external=outside or bool(failures), outside_domains=outside,
                         auth_failures=failures)
