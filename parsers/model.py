"""Values passed between parser stages: small frozen dataclasses, no mail-parser objects."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Address:
    """One mailbox: lower-cased address (or None when absent/unparseable) and display name."""

    email: str | None
    name: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"email": self.email, "name": self.name}


@dataclass(frozen=True)
class Attachment:
    """A customer attachment. `filename` is the decoded name with any path stripped."""

    filename: str
    content_type: str
    size: int
    sha256: str
    data: bytes = field(repr=False, compare=False, default=b"")
    # files unpacked from a container (winmail.dat), as Attachments themselves
    contained: tuple["Attachment", ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "filename": self.filename,
            "content_type": self.content_type,
            "size": self.size,
            "sha256": self.sha256,
        }


@dataclass(frozen=True)
class ParsedMessage:
    """A message normalised for the classifier: decoded headers, body text, attachments.

    `text` is the whole body as text (from the HTML part where there is no plain one);
    `forwarded` holds messages attached as message/rfc822 (forward-as-attachment), parsed
    the same way, whose text is *not* merged into `text`.
    """

    message_id: str | None
    subject: str
    date: datetime | None
    sender: Address
    to: tuple[Address, ...] = ()
    cc: tuple[Address, ...] = ()
    reply_to: tuple[Address, ...] = ()
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    # lower-cased header name -> list of decoded values, for the headers screening needs
    headers: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False)
    content_type: str = "text/plain"
    text: str = ""
    html: str | None = None
    attachments: tuple[Attachment, ...] = ()
    forwarded: tuple["ParsedMessage", ...] = ()
    defects: tuple[str, ...] = ()
    # multipart/report's report-type ("delivery-status", "disposition-notification"), lower-case
    report_type: str | None = None
    # addresses a delivery status notification says failed (Final-Recipient, X-Failed-Recipients)
    bounced_recipients: tuple[str, ...] = ()

    def header(self, name: str) -> str | None:
        """First value of a header (case-insensitive), or None."""
        values = self.headers.get(name.lower())
        return values[0] if values else None


@dataclass(frozen=True)
class Cue:
    """Why the parser decided something: which rule, which words, on which line."""

    target: str  # "type" or a field name
    rule: str  # e.g. "phrase:already working in this step" or "label:Workstep ID"
    text: str = ""  # the words that matched (from the message)
    line: int | None = None  # 1-based line in request_text
    weight: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {"target": self.target, "rule": self.rule, "text": self.text,
                "line": self.line, "weight": self.weight}


@dataclass(frozen=True)
class Requester:
    email: str | None
    name: str | None = None
    team: str | None = None
    phone: str | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"email": self.email, "name": self.name}
        if self.team:
            out["team"] = self.team
        if self.phone:
            out["phone"] = self.phone
        return out


@dataclass(frozen=True)
class Request:
    """One typed request found in a message (or the single redirect/ignore/triage outcome)."""

    type: str
    action: str  # ack | request_details | redirect | ignore | triage
    fields: dict[str, Any]
    missing: tuple[str, ...]
    confidence: float
    requester: Requester
    cues: tuple[Cue, ...] = ()
    # kinds of sensitive data the message carried: "nhs_number", "ni_number", "date_of_birth", ...
    sensitive: tuple[str, ...] = ()
    # extra notes for the reply, e.g. "organisation_request_needed"
    notes: tuple[str, ...] = ()

    def as_json(self, explain: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": self.type,
            "action": self.action,
            "fields": self.fields,
            "missing": list(self.missing),
            "confidence": round(self.confidence, 2),
            "requester": self.requester.as_json(),
        }
        if self.sensitive:
            out["sensitive"] = list(self.sensitive)
        if self.notes:
            out["notes"] = list(self.notes)
        if explain:
            out["cues"] = [c.as_json() for c in self.cues]
        return out


@dataclass(frozen=True)
class ParseOptions:
    """Values the parser needs from config; the parser never reads config itself."""

    min_explanation_words: int = 12
    triage_below_confidence: float = 0.45
    # our own ticket reference prefix, e.g. "MDHD" -> "[MDHD-000123]"; never taken as an ID
    reference_prefix: str = "MDHD"
    # our own addresses/domains: mail from them is our own and never answered
    own_addresses: tuple[str, ...] = ()
    # Max MIME nesting depth before the message is rejected as a MIME bomb
    max_mime_depth: int = 50


@dataclass(frozen=True)
class ParseResult:
    """Everything the pure parser says about one raw message."""

    message: ParsedMessage | None
    requests: tuple[Request, ...] = ()
    request_text: str = ""
    screen: str | None = None  # auto_reply | bounce | bulk | None
    error: str | None = None
    # references of our own tickets named in subject/body, e.g. ("MDHD-000123",)
    ticket_refs: tuple[str, ...] = ()
