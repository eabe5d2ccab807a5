"""export_corrections(store, DIR): staff-corrected tickets as labelled samples (NAME.eml + NAME.json).

The label describes the *first* message of the conversation, as the corpus does: a value staff
typed that does not occur in that message (a workstep ID given over the phone, or in a later
reply) is not something a parser could find there, so the label lists it as missing instead.
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from parsers import parse
from parsers.catalogue import action_for

from .. import store
from ..staff import AuditEntry
from ..store import Store, Ticket
from .fields import missing_for

log = logging.getLogger(__name__)

CORRECTION_ACTIONS = ("change_type", "edit_field")
# values a parser copies out of the text (so they must occur in it); the others are derived
# (normalised dates, choices, yes/no) or free text the corpus only checks for presence
DERIVED = frozenset({"action", "target", "change_kind", "address_type", "policy_read",
                     "start_date", "end_date", "occurred_at", "question", "description",
                     "explanation", "reason", "details", "error_message"})
_NON_ALNUM = re.compile(r"[\W_]+")


@dataclass
class ExportReport:
    written: list[str]
    skipped: int = 0


def _fold(text: str) -> str:
    return _NON_ALNUM.sub("", text.casefold())


def occurs(value: Any, folded_text: str) -> bool:
    """Whether a field value can be read from the text (case, spacing, punctuation folded)."""
    if isinstance(value, dict):
        return all(occurs(v, folded_text) for v in value.values())
    if isinstance(value, (list, tuple)):
        return all(occurs(v, folded_text) for v in value)
    if isinstance(value, str):
        return _fold(value) in folded_text
    return True


def label_of(ticket: Ticket, message_text: str) -> dict[str, Any]:
    """The corpus label of one ticket, judged against its first message's text."""
    folded = _fold(message_text)
    fields = {k: v for k, v in ticket.fields.items()
              if v not in (None, "", [], {}) and (k in DERIVED or occurs(v, folded))}
    missing = missing_for(ticket.type, fields)
    return {"type": ticket.type, "action": action_for(ticket.type, tuple(missing)),
            "fields": fields, "missing": missing}


def corrected_ticket_ids(session: Session) -> list[int]:
    rows = session.execute(select(AuditEntry.ticket_id).where(
        AuditEntry.action.in_(CORRECTION_ACTIONS),  # type: ignore[attr-defined]
        AuditEntry.ticket_id.is_not(None)).distinct())  # type: ignore[union-attr]
    return sorted(r[0] for r in rows)


def _sample(session: Session, ticket: Ticket) -> tuple[str, bytes, dict[str, Any]] | None:
    messages = store.messages_of_ticket(session, ticket.id or 0)
    if not messages:
        return None
    first = messages[0]
    result = parse(first.raw)
    text = (result.message.text if result.message else "") + "\n" + (
        result.message.subject if result.message else "")
    siblings = store.tickets_of_message(session, first.id or 0)
    labels = [label_of(t, text) for t in siblings]
    body = labels[0] if len(labels) == 1 else {"requests": labels}
    name = (siblings[0].reference or f"ticket-{siblings[0].id}").lower()
    return name, first.raw, body


def export_corrections(st: Store, directory: Path) -> ExportReport:
    """Write NAME.eml + NAME.json for each staff-corrected ticket; a message holding several
    requests is written once, with all of its tickets under "requests"."""
    directory.mkdir(parents=True, exist_ok=True)
    report = ExportReport(written=[])
    seen: set[str] = set()
    with st.session() as session:
        for ticket_id in corrected_ticket_ids(session):
            ticket = session.get(Ticket, ticket_id)
            sample = _sample(session, ticket) if ticket is not None else None
            if sample is None:
                report.skipped += 1
                continue
            name, raw, body = sample
            if name in seen:
                continue
            seen.add(name)
            (directory / f"{name}.eml").write_bytes(raw)
            (directory / f"{name}.json").write_text(
                json.dumps(body, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
            report.written.append(name)
    log.info("exported %d corrected sample(s), %d skipped", len(report.written), report.skipped)
    return report
