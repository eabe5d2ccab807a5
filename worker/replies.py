"""Replies: reply_context(ticket, settings, now) -> plain dict; ReplyRenderer.render -> Reply.

User text only ever reaches a template as data (autoescaped in HTML); it is never a template,
and the sender's message is never quoted back.
"""
from __future__ import annotations

import binascii
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.header import Header
from email.utils import format_datetime, formataddr
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from parsers import mask_sensitive

from .config import HelpdeskSettings, Settings, WEEKDAYS
from .store import Ticket

log = logging.getLogger(__name__)

TYPE_TITLES = {
    "add_address": "Add address", "worker_account": "Add, change or end worker",
    "worker_details": "Change a worker's personal details",
    "organisation": "Create or change an organisation",
    "professional": "Create or change a professional", "how_do_i": "How do I?",
    "duplicate_record": "Notification of duplicate record", "remove_lock": "Remove locks",
    "incident": "Report an incident or error", "person_record_change":
    "Change a person record and/or workflow", "design_change": "Request system design change",
    "restricted_record": "Restricted records", "account_locked": "Locked Mosaic login",
    "practice_question": "Practice or recording question",
    "work_base_change": "Change of work base", "unknown": "Your email",
}
FIELD_LABELS = {
    "person_id": "Person ID", "person_ids": "Person IDs", "keep_person_id": "Record to keep",
    "workstep_id": "Workstep ID", "postcode": "Postcode", "address": "Address",
    "address_type": "Address type", "start_date": "Start date", "end_date": "End date",
    "worker_name": "Worker's name", "worker_email": "Worker's email", "team": "Team",
    "job_title": "Job title", "line_manager": "Line manager", "details": "What changes",
    "changes": "Changes", "organisation_name": "Organisation", "organisation_type":
    "Organisation type", "professional_name": "Professional's name", "profession": "Profession",
    "question": "Question", "locked_by": "Locked by", "description": "Description",
    "error_message": "Error message", "occurred_at": "When it happened",
    "explanation": "Explanation", "change_kind": "Kind of change", "target":
    "What should change", "item_name": "Form, step or list", "access": "Who should have access",
    "reason": "Reason", "policy_read": "Restricted Records policy confirmed", "action": "Action",
    "phone": "Phone", "email": "Email", "surname": "Surname", "first_name": "First name",
    "mobile": "Mobile", "title": "Title",
}
REDIRECT_TYPES = ("account_locked", "practice_question", "work_base_change")
# catalogue values written as identifiers (dual_role, reference_data): shown with spaces
ENUM_FIELDS = frozenset({"action", "target", "change_kind", "address_type"})
# the sender's own prose: acknowledged, never quoted back (it may also hold personal details)
FREE_TEXT_FIELDS = frozenset({"question", "description", "explanation", "reason", "details",
                              "error_message"})
_LINE_BREAKS = re.compile(r"[\r\n]+")


@dataclass(frozen=True)
class ReplyTarget:
    """The inbound message a reply answers: who to, and the thread headers."""

    subject: str
    message_id: str | None
    references: tuple[str, ...]
    recipients: tuple[str, ...]


# "Surname, First" display names; a trailing part that is a suffix or post-nominal is no name
_NAME_SUFFIX = re.compile(r"^(jr|jnr|sr|snr|[ivx]+|mbe|obe|cbe|phd|msc|ba|bsc|ma|rgn|rmn)\.?$",
                          re.I)
_BRACKETED = re.compile(r"\s*(\([^)]*\)|\[[^\]]*\]|<[^>]*>)\s*")


def greeting_name(name: str | None) -> str | None:
    """The name a reply greets: "Ghosh, Anil" -> "Anil Ghosh"; bracketed notes ("(Adults)")
    dropped; None when nothing usable is left."""
    text = " ".join(_BRACKETED.sub(" ", name or "").split()).strip(" ,;")
    if not text or "@" in text:
        return None
    parts = [p.strip() for p in text.split(",")]
    if len(parts) == 2 and all(parts) and not _NAME_SUFFIX.match(parts[1]) and \
            len(parts[0].split()) <= 3 and len(parts[1].split()) <= 3:
        return f"{parts[1]} {parts[0]}"
    return text


def reply_kind(ticket: Ticket) -> str | None:
    """The template a ticket's reply uses, or None when it must never be answered."""
    if ticket.action == "ignore" or ticket.status == "ignored":
        return None
    if ticket.action == "redirect":
        return f"redirect/{ticket.type}" if ticket.type in REDIRECT_TYPES else "triage"
    if ticket.action in ("ack", "request_details", "triage"):
        return ticket.action
    return "triage"


def format_value(value: Any) -> str:
    """A field value as a reader sees it: lists joined, objects as 'Label: value' pairs."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return "; ".join(f"{FIELD_LABELS.get(k, k.replace('_', ' ').capitalize())}: "
                         f"{format_value(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(format_value(v) for v in value)
    return str(value)


def _shown_value(name: str, value: object) -> str:
    if name in FREE_TEXT_FIELDS:
        return f"received ({len(str(value).split())} words)"
    if name in ENUM_FIELDS and isinstance(value, str):
        return value.replace("_", " ")  # dual_role -> dual role
    return format_value(value)


def next_opening(now: datetime, h: HelpdeskSettings) -> datetime | None:
    """None while the help desk is open; otherwise when it next opens (in its own zone)."""
    local = now.astimezone(ZoneInfo(h.timezone))
    days = [WEEKDAYS.index(d) for d in h.opening_days]
    if not days:
        return None

    def is_open_day(d: date) -> bool:
        return d.weekday() in days and d not in h.closed_dates

    day = local.date()
    if is_open_day(day) and h.opening_time <= local.time() < h.closing_time:
        return None
    candidate = day if is_open_day(day) and local.time() < h.opening_time else day + timedelta(1)
    for _ in range(366):  # a year of closures at most
        if is_open_day(candidate):
            break
        candidate += timedelta(days=1)
    return datetime.combine(candidate, h.opening_time, tzinfo=ZoneInfo(h.timezone))


def describe_opening(when: datetime, now: datetime, tz: str) -> str:
    local_now = now.astimezone(ZoneInfo(tz))
    clock = when.strftime("%H:%M")
    if when.date() == local_now.date():
        return f"today at {clock}"
    if when.date() == local_now.date() + timedelta(days=1):
        return f"tomorrow ({when.strftime('%A')}) at {clock}"
    return f"on {when.strftime('%A')} {when.day} {when.strftime('%B')} at {clock}"


def reply_context(ticket: Ticket, settings: Settings, now: datetime) -> dict[str, Any]:
    """Everything a reply template may use, as plain data (no database object escapes)."""
    h = settings.helpdesk
    opening = next_opening(now, h)
    names = {"mon": "Monday", "tue": "Tuesday", "wed": "Wednesday", "thu": "Thursday",
             "fri": "Friday", "sat": "Saturday", "sun": "Sunday"}
    days = [names[d] for d in h.opening_days]
    hours = (f"{days[0]} to {days[-1]}" if len(days) > 1 else "".join(days)) + \
        f", {h.opening_time:%H:%M} to {h.closing_time:%H:%M}"
    fields = [{"name": k, "label": FIELD_LABELS.get(k, k.replace("_", " ").capitalize()),
               "value": _shown_value(k, v)} for k, v in ticket.fields.items()
              if v not in (None, "", [], {})] if not ticket.external else []
    return {
        "reference": ticket.reference,
        "type": ticket.type,
        "type_title": TYPE_TITLES.get(ticket.type, ticket.type.replace("_", " ").capitalize()),
        "action": ticket.action,
        "fields": fields,
        "missing": [{"name": m, "label": FIELD_LABELS.get(m, m.replace("_", " ").capitalize())}
                    for m in ticket.missing] if not ticket.external else [],
        "notes": list(ticket.notes),
        "sensitive": bool(ticket.sensitive),
        # an external sender is greeted without a name and told nothing the parser read
        "requester_name": None if ticket.external else greeting_name(ticket.requester_name),
        "out_of_hours": describe_opening(opening, now, h.timezone) if opening else None,
        "helpdesk": {"name": h.name, "address": h.address, "hours": hours,
                     "it_service_desk_phone": h.it_service_desk_phone,
                     "it_service_desk_option": h.it_service_desk_option,
                     "local_support_text": h.local_support_text,
                     "min_explanation_words": h.min_explanation_words},
    }


MAX_QUOTED_SUBJECT = 200  # characters of the sender's subject repeated in our reply's
MAX_HEADER_LINE = 998  # RFC 5322 2.1.1: no line of a message longer than this
MAX_THREAD_ID = 900  # a longer Message-ID cannot go on a header line: not threaded by it


def reply_subject(subject: str, reference: str | None, type_title: str,
                  prefix: str | None = None) -> str:
    """`Re: <their subject> [REF]`, on one line, without doubling Re: or the reference; with
    `prefix`, other tickets' [PREFIX-n] tags are dropped (a reply names one ticket only)."""
    subject = _LINE_BREAKS.sub(" ", subject or "").strip()
    if prefix and reference:
        other = re.compile(rf"\[\s*{re.escape(prefix)}-\d+\s*\]", re.I)
        subject = other.sub(lambda m: m.group(0) if reference.lower() in m.group(0).lower()
                            else "", subject)
        subject = " ".join(subject.split())
    if len(subject) > MAX_QUOTED_SUBJECT:  # a reply's subject stays readable and one line
        subject = subject[:MAX_QUOTED_SUBJECT].rstrip() + "\u2026"
    subject = subject or type_title
    if not re.match(r"(?i)^re\s*:", subject):
        subject = f"Re: {subject}"
    if reference and reference.lower() not in subject.lower():
        subject = f"{subject} [{reference}]"
    return subject


def reply_message_id(reference: str | None, domain: str) -> str:
    """A unique Message-ID in our domain, short enough not to be folded (some clients then
    keep the fold's leading space and miss the thread)."""
    return f"<{reference or 'reply'}.{secrets.token_hex(8)}@{domain}>"


class ReplyRenderer:
    """Jinja2 environment over `[templates] dir`; render(ticket, target, now) -> Reply."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(settings.templates.dir)),
            autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",),
                                                default_for_string=False),
            undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
            keep_trailing_newline=True)

    def guidance(self, field_name: str, context: dict[str, Any]) -> str:
        """Per-field guidance from templates/fields/<field>.txt.j2 (generic when none)."""
        try:
            template = self.env.get_template(f"fields/{field_name}.txt.j2")
        except jinja2.TemplateNotFound:
            template = self.env.get_template("fields/_generic.txt.j2")
        return template.render(context, field=field_name).strip()

    def render_bodies(self, kind: str, context: dict[str, Any]) -> tuple[str, str]:
        context = dict(context)
        context["missing"] = [dict(m, guidance=self.guidance(m["name"], context))
                              for m in context["missing"]]
        text = self.env.get_template(f"{kind}.txt.j2").render(context)
        html = self.env.get_template(f"{kind}.html.j2").render(context)
        return text, html

    def render(self, ticket: Ticket, target: ReplyTarget, now: datetime, *,
               kind: str | None = None, human: bool = False) -> Reply | None:
        """The reply for `ticket`, or None for tickets that are never answered.

        kind: another template than the ticket's own (e.g. "added", a follow-up's note).
        human: a person wrote it (a staff reply): no `Auto-Submitted` (RFC 3834 5.1), but
        `X-Loop` and `X-Auto-Response-Suppress` stay so it cannot start a loop either."""
        if reply_kind(ticket) is None:
            return None
        kind = kind or reply_kind(ticket)
        if kind is None or not target.recipients:
            return None
        h = self.settings.helpdesk
        context = reply_context(ticket, self.settings, now)
        text, html = self.render_bodies(kind, context)
        headers = [
            ("From", formataddr((h.name if h.name.isascii() else Header(h.name, "utf-8").encode(),
                                 h.address))),
            ("To", ", ".join(target.recipients)),
            ("Subject", reply_subject(mask_sensitive(target.subject), ticket.reference,
                                      context["type_title"],
                                      h.reference_prefix)),
            ("Date", format_datetime(now)),
            ("Message-ID", reply_message_id(ticket.reference, h.message_id_domain)),
        ]
        message_id = _one_line(target.message_id)
        if len(message_id) > MAX_THREAD_ID:
            message_id = ""  # our reference in the subject still threads the answer
        if message_id:
            refs = [r for r in map(_one_line, target.references)
                    if r and r != message_id and len(r) <= MAX_THREAD_ID][-9:]
            while len("References: " + " ".join(refs + [message_id])) > MAX_HEADER_LINE:
                refs = refs[1:]  # the oldest go first; the one we answer always stays
            headers += [("In-Reply-To", message_id), ("References", " ".join(refs + [message_id]))]
        if not human:
            headers.append(("Auto-Submitted", "auto-replied"))  # RFC 3834
        headers += [("X-Auto-Response-Suppress", "All"), ("X-Loop", h.address),
                    ("X-Helpdesk-Reference", ticket.reference or "")]
        return Reply(headers=headers, text=text, html=html)


@dataclass
class Reply:
    """A rendered reply: our headers and the two alternative bodies."""

    headers: list[tuple[str, str]]
    text: str
    html: str

    def __getitem__(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


def reply_bytes(reply: Reply) -> bytes:
    """The reply as sent: multipart/alternative, UTF-8 quoted-printable bodies, CRLF. Written by
    hand from headers we built ourselves: the stdlib generator costs ~2 ms a reply."""
    boundary = f"=_{secrets.token_hex(12)}"
    out = [_header_line(k, v) for k, v in reply.headers]
    out += ["MIME-Version: 1.0", f'Content-Type: multipart/alternative; boundary="{boundary}"']
    for subtype, body in (("plain", reply.text), ("html", reply.html)):
        encoded = binascii.b2a_qp(body.replace("\r\n", "\n").encode("utf-8"), istext=True)
        out += ["", f"--{boundary}", f'Content-Type: text/{subtype}; charset="utf-8"',
                "Content-Transfer-Encoding: quoted-printable", "",
                encoded.decode("ascii").rstrip("\n").replace("\n", "\r\n")]
    out += [f"--{boundary}--", ""]
    return "\r\n".join(out).encode("ascii")


def _header_line(name: str, value: object) -> str:
    text = value if isinstance(value, Header) else str(value)
    if isinstance(text, str) and text.isascii():
        # thread headers stay on one line (up to RFC 5322's 998): some clients keep a fold's
        # leading space in the ID and lose the thread
        limit = MAX_HEADER_LINE if name.lower() in ("message-id", "in-reply-to",
                                                    "references") else 78
        line = _fold(f"{name}: {text}", limit)
        if all(len(part) <= MAX_HEADER_LINE for part in line.split("\r\n")):
            return line
        # a word too long to fold: as RFC 2047 encoded words, which can be split anywhere
    header = text if isinstance(text, Header) else Header(text, "utf-8")
    # RFC 2047 encoded words, folded by the Header class itself
    return f"{name}: " + header.encode(linesep="\r\n", maxlinelen=78 - len(name) - 2)


def _fold(line: str, limit: int = 78) -> str:
    """Fold a header at white space (RFC 5322 2.2.3); a longer word stays whole."""
    if len(line) <= limit:
        return line
    out, current = [], ""
    for word in re.split(r"(?<=\S)(?=\s)", line):
        if current and len(current) + len(word) > limit:
            out.append(current)
            current = " " + word.lstrip() if word[:1].isspace() else word
        else:
            current += word
    out.append(current)
    return "\r\n".join(out)


def _one_line(value: str | None) -> str:
    return _LINE_BREAKS.sub(" ", value or "").strip()
