"""The contract as data: request types, their required fields per action, redirects, ignores."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RequestType:
    """One web form: its fields, and which are required (per `action` where the form has one)."""

    name: str
    title: str
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    # extra required fields for a value of the `action` field
    required_for_action: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def missing(self, fields: dict[str, Any]) -> tuple[str, ...]:
        """Required fields absent from `fields`, in the catalogue's order."""
        need = list(self.required)
        action = fields.get("action")
        if isinstance(action, str):
            need += [f for f in self.required_for_action.get(action, ()) if f not in need]
        return tuple(f for f in need if fields.get(f) in (None, "", [], {}) or fields.get(f) is False)


REQUEST_TYPES: dict[str, RequestType] = {t.name: t for t in (
    RequestType("add_address", "Add address", ("person_id", "address", "postcode"),
                ("address_type", "start_date")),
    RequestType("worker_account", "Add, change or end worker", ("action", "worker_name"),
                ("worker_email", "line_manager"),
                {"add": ("team", "job_title", "start_date"), "end": ("end_date",),
                 "change": ("details",), "dual_role": ("team",)}),
    RequestType("worker_details", "Change a worker's personal details", ("worker_name", "changes")),
    RequestType("organisation", "Create or change an organisation", ("action", "organisation_name"),
                ("organisation_type", "phone"),
                {"create": ("address", "postcode"), "change": ("changes",)}),
    RequestType("professional", "Create or change a professional",
                ("action", "professional_name", "profession", "organisation_name"), ("phone", "email"),
                {"change": ("changes",)}),
    RequestType("how_do_i", "How do I?", ("question",)),
    RequestType("duplicate_record", "Notification of duplicate record", ("person_ids",),
                ("keep_person_id",)),
    RequestType("remove_lock", "Remove locks", ("workstep_id",), ("locked_by",)),
    RequestType("incident", "Report an incident or error", ("description",),
                ("error_message", "workstep_id", "person_id", "occurred_at")),
    RequestType("person_record_change", "Change a person record and/or workflow",
                ("workstep_id", "person_id", "explanation"), ("change_kind",)),
    RequestType("design_change", "Request system design change", ("target", "description"),
                ("item_name",)),
    RequestType("restricted_record", "Restricted records", ("person_id", "access", "reason", "policy_read"),
                ()),
)}

# not the help desk's business: the reply points elsewhere
REDIRECTS: tuple[str, ...] = ("account_locked", "practice_question", "work_base_change")
# machine mail, never answered
IGNORES: tuple[str, ...] = ("auto_reply", "bounce", "bulk")
UNKNOWN = "unknown"


def missing_fields(type_name: str, fields: dict[str, Any]) -> tuple[str, ...]:
    return REQUEST_TYPES[type_name].missing(fields)


def action_for(type_name: str, missing: tuple[str, ...]) -> str:
    """The outcome a type and its missing fields lead to."""
    if type_name in REDIRECTS:
        return "redirect"
    if type_name in IGNORES:
        return "ignore"
    if type_name not in REQUEST_TYPES:
        return "triage"
    return "request_details" if missing else "ack"
